"""What every bench measures with: processes' CPU and memory from /proc, and the one percentile definition.

Percentiles are **nearest-rank**: the p-th percentile of n values is the
ceil(p/100 · n)-th smallest. It is always a value that was observed (a p99
latency is one some request really had), it needs no interpolation choice,
and every bench uses it, so the p50/p99 figures in docs/benchmarks.md are
computed one way. (Before issue 24 the benches used four: nearest-rank,
floor, and ``statistics.quantiles`` inclusive and exclusive.)
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
CHECKOUT = Path(__file__).resolve().parents[2]  # holds the ``tests`` package: benches' children import it


def percentile(values: Iterable[float], p: float) -> float:
    """Nearest-rank ``p``-th percentile (0 < p <= 100) of ``values``, in any order; nan when there are none."""
    if not 0 < p <= 100:
        raise ValueError(f"a percentile is above 0 and at most 100, not {p}")
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(0, math.ceil(p * len(ordered) / 100) - 1)]


def median(values: Iterable[float]) -> float:
    """The nearest-rank 50th percentile: of an even count, the lower middle value (not the mean of the two)."""
    return percentile(values, 50)


def child_env() -> dict[str, str]:
    """This environment with the checkout first on PYTHONPATH: a bench's ``python -m tests.bench.X`` children
    find the ``tests`` package wherever the bench was started from."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")]))
    return env


# -- /proc ----------------------------------------------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields from the 3rd (state) on, or None if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # after "pid (comm) ": comm may hold spaces and parentheses


def cpu_seconds(pids: Iterable[int], reaped_children: bool = False) -> float:
    """User + system CPU so far of these processes (all their threads); with ``reaped_children``, also of
    their children that have exited and been waited for."""
    last = 15 if reaped_children else 13  # fields [11:13]: utime stime; [13:15]: cutime cstime
    total = 0.0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            total += sum(int(x) for x in fields[11:last]) / TICK
    return total


def family(pid: int) -> list[int]:
    """``pid`` and its descendants (a PostgreSQL server's backends)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))):
            children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent not idle (all cores, every process)."""
    with open("/proc/stat") as fh:
        ticks = [int(x) for x in fh.readline().split()[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / TICK


def rss_kib(pid: int) -> int:
    """A process's resident memory (KiB)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class CpuMeter:
    """CPU share (100 % = one core) of named process groups over a window; ``machine``: of all processes."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self._start: dict[str, float] = {}
        self._began = 0.0

    def start(self) -> None:
        self._began = time.perf_counter()
        self._start = {name: cpu_seconds(pids()) for name, pids in self.groups.items()}
        self._start["machine"] = machine_busy_seconds()

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self._began
        out = {name: 100.0 * (cpu_seconds(pids()) - self._start[name]) / wall for name, pids in self.groups.items()}
        out["machine"] = 100.0 * (machine_busy_seconds() - self._start["machine"]) / wall
        return out


def stats(values: Sequence[float]) -> tuple[float, float, float]:
    """min, median, max."""
    ordered = sorted(values)
    return ordered[0], median(ordered), ordered[-1]
