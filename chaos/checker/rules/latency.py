"""Visibility latency: deliver time minus send invoke time, for each member's first showing of
another member's message (own messages are not a visibility latency)."""

from __future__ import annotations

import math
from array import array

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
    series: list[LatencyPoint] = []
    latencies = array("d")
    step = 1  # the series keeps every step-th latency
    for room, member in ev.members:
        for d in ev.showings_of((room, member)).first:
            send = d.send
            if send is None or send.invoke is None or send.sender == member:
                continue
            if len(latencies) % step == 0:
                series.append(LatencyPoint(send.invoke, d.time - send.invoke, room, member, send.sender, d.source))
                if len(series) > SERIES_LIMIT:
                    series, step = series[::2], step * 2
            latencies.append(d.time - send.invoke)
    ordered = numpy.frombuffer(latencies, dtype=numpy.float64).copy() if latencies else numpy.empty(0)
    ordered.sort()  # in place, 8 bytes each: not a float object per latency
    series.sort(key=lambda p: (p.send_time, p.member))
    return Finding({"latency_series": series, **{name: _float(quantile(ordered, q)) for name, q in zip(NAMES, QUANTILES)}})


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
