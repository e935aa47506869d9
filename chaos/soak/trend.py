"""Does a resource grow? A trend per process and resource over a soak's samples, judged by an allowance (pure).

The trend is the Theil–Sen slope (the median of the slopes between every two samples): a fault's
spike or a reconnect storm moves a few pairs, not the median, so a level that swings under chaos
but does not climb fits flat, while a leak that adds a little every cycle fits its rate.

Only samples after the warm-up count (caches fill, pools open, every client joins), and only
one incarnation's: a restart starts a process's memory over, so the longest-lived incarnation is
judged. A resource grows too much when both hold:

- its fitted rise over the judged window exceeds the allowance's **floor** (less is noise:
  the allocator's arenas, a reconnect storm's sockets); and
- its rate exceeds the allowance's **per hour**: a share of its level, plus, for a store, a number
  of bytes per acknowledged send (a store is meant to grow with what it keeps).

The allowances (:data:`ALLOWANCES`) and why are stated in ``docs/harness.md`` ("Soaks").
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Iterable, Mapping, Sequence

from chaos.soak.samples import RESOURCES, Sample

HOUR = 3600.0
MIN_POINTS = 5          # fewer samples after the warm-up: too few to fit, said so (not passed, not failed)
MiB = 1024 * 1024


@dataclass(frozen=True)
class Allowance:
    """How much growth of one resource is not a leak (see the module's docstring)."""

    per_hour: float = 0.0        # a share of the level per hour (0.05: 5 %/h)
    floor: float = 0.0           # a rise over the window below this is noise, whatever its rate
    floor_share: float = 0.0     # ... or below this share of the level, if larger
    per_send: float = 0.0        # bytes a store may add per acknowledged send
    unit: str = ""

    def hourly(self, level: float, sends_per_hour: float) -> float:
        return self.per_hour * abs(level) + self.per_send * max(0.0, sends_per_hour)

    def noise(self, level: float) -> float:
        return max(self.floor, self.floor_share * abs(level))


ALLOWANCES: dict[str, Allowance] = {
    "rss_bytes": Allowance(per_hour=0.05, floor=8 * MiB, unit="B"),
    "fds": Allowance(per_hour=0.05, floor=8, floor_share=0.1),
    "tasks": Allowance(per_hour=0.05, floor=16, floor_share=0.1),
    "sessions": Allowance(per_hour=0.05, floor=4, floor_share=0.1),
    "streams": Allowance(per_hour=0.05, floor=4, floor_share=0.1),
    "tracked": Allowance(per_hour=0.05, floor=8, floor_share=0.1),
    "gate_streams": Allowance(floor=1),
    "rooms": Allowance(floor=1),
    "store_bytes": Allowance(per_send=4096, floor=4 * MiB, unit="B"),
    "close_wait": Allowance(floor=16, floor_share=0.1),
}


def theil_sen(points: Sequence[tuple[float, float]]) -> float:
    """The median slope between every two points of distinct ``x`` (0.0 for fewer than two)."""
    slopes = [(y2 - y1) / (x2 - x1) for i, (x1, y1) in enumerate(points) for x2, y2 in points[i + 1:] if x2 != x1]
    return statistics.median(slopes) if slopes else 0.0


@dataclass(frozen=True)
class Trend:
    """One process's one resource, fitted and judged. ``verdict``: ok, GROWS, or "too few samples"."""

    process: str
    resource: str
    incarnation: int
    incarnations: int            # how many the process had in the soak (its latest sampled incarnation's number)
    points: int
    first: float
    last: float
    level: float                 # the median after the warm-up
    per_hour: float              # the fitted slope, per hour
    rise: float                  # the fitted rise over the judged window
    allowed_per_hour: float
    noise: float
    verdict: str

    @property
    def grows(self) -> bool:
        return self.verdict == "GROWS"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def fit(process: str, resource: str, samples: Sequence[Sample], warmup: float,
        allowances: Mapping[str, Allowance] = ALLOWANCES) -> Trend | None:
    """The trend of ``resource`` in ``process``'s ``samples`` (any order); None if it never reported it."""
    mine = sorted((s for s in samples if s.process == process and resource in s.values), key=lambda s: s.t)
    if not mine:
        return None
    incarnations = sorted({s.incarnation for s in mine})  # a life too short to be sampled has none here
    judged = [s for s in mine if s.t >= warmup]
    by_life = {n: [s for s in judged if s.incarnation == n] for n in incarnations}
    incarnation = max(incarnations, key=lambda n: (len(by_life[n]), n))
    life = by_life[incarnation]
    allowance = allowances[resource]
    if len(life) < MIN_POINTS:
        last = mine[-1].values[resource]
        return Trend(process, resource, incarnation, incarnations[-1], len(life), mine[0].values[resource], last,
                     last, 0.0, 0.0, 0.0, 0.0, "too few samples")
    points = [(s.t, s.values[resource]) for s in life]
    slope = theil_sen(points)
    span = life[-1].t - life[0].t
    level = statistics.median(y for _, y in points)
    sends_per_hour = (life[-1].sends_ok - life[0].sends_ok) / span * HOUR if span > 0 else 0.0
    per_hour, rise = slope * HOUR, slope * span
    allowed, noise = allowance.hourly(level, sends_per_hour), allowance.noise(level)
    verdict = "GROWS" if rise > noise and per_hour > allowed else "ok"
    return Trend(process, resource, incarnation, incarnations[-1], len(life), points[0][1], points[-1][1], level,
                 per_hour, rise, allowed, noise, verdict)


def fit_all(samples: Iterable[Sample], warmup: float, allowances: Mapping[str, Allowance] = ALLOWANCES,
            resources: Sequence[str] | None = None) -> list[Trend]:
    """Every process's every resource it reported, by process then resource (in ``resources`` order)."""
    samples = list(samples)
    order = list(resources or RESOURCES)
    processes = sorted({s.process for s in samples}, key=_process_order)
    trends = [fit(p, r, samples, warmup, allowances) for p in processes for r in order]
    return [t for t in trends if t is not None]


def _process_order(name: str) -> tuple[str, int]:
    head = name.rstrip("0123456789")
    return head, int(name[len(head):] or 0)
