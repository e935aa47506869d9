"""Visibility latency: deliver time minus send invoke time, for each member's first showing of
another member's message (own messages are not a visibility latency)."""

from __future__ import annotations

import math

import numpy

from chaos.checker.evidence import Evidence
from chaos.checker.model import QUANTILES, LatencyPoint
from chaos.checker.rules.base import Finding, rule

NAMES: tuple[str, ...] = ("latency_min", "latency_p50", "latency_p95", "latency_p99", "latency_max")


def quantile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank quantile, as Jepsen's checkers take it."""
    if len(sorted_values) == 0:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(math.floor(q * len(sorted_values))))]


#: Points of ``latency_series`` kept for the plot: past it, every 2nd, 4th, … (a soak shows 10^7 messages; a
#: point each was a quarter of a kilobyte). The quantiles are always of every latency.
SERIES_LIMIT = 100_000


@rule("latency", owns=(*NAMES, "latency_series"))
def latency(ev: Evidence) -> Finding:
    a = ev.arrays
    parts: list[tuple[str, str, numpy.ndarray, numpy.ndarray]] = []  # (room, member, first showings, latencies)
    for room, member in ev.members:
        m = a.member((room, member))
        msg = m.fmsg
        invoked = a.invoke[msg]
        counted = numpy.flatnonzero(a.sent[msg] & ~numpy.isnan(invoked) & (a.sender[msg] != a.person(member)))
        parts.append((room, member, counted, m.ftime[counted] - invoked[counted]))
    latencies = numpy.concatenate([p[3] for p in parts]) if parts else numpy.empty(0)
    step = series_step(len(latencies))
    series: list[LatencyPoint] = []
    done = 0  # latencies of the members before
    for room, member, counted, lat in parts:
        m = a.member((room, member))
        for k in range((-done) % step, len(counted), step):
            i = int(counted[k])
            send = ev.sends[a.keys[m.fmsg[i]]]
            series.append(LatencyPoint(send.invoke, float(lat[k]), room, member, send.sender,
                                       a.sources[m.fsource[i]]))
        done += len(counted)
    latencies.sort()  # in place, 8 bytes each: not a float object per latency
    series.sort(key=lambda p: (p.send_time, p.member))
    return Finding({"latency_series": series, **{name: _float(quantile(latencies, q))
                                                  for name, q in zip(NAMES, QUANTILES)}})


def series_step(count: int) -> int:
    """Every how many latencies the series keeps one: the smallest power of two that keeps at most
    ``SERIES_LIMIT`` (as halving the series each time it outgrew the limit did)."""
    step = 1
    while -(-count // step) > SERIES_LIMIT:
        step *= 2
    return step


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
