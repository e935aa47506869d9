"""Visibility latency: deliver time minus send invoke time, for each member's first showing of
another member's message (own messages are not a visibility latency)."""

from __future__ import annotations

import math

from chaos.checker.evidence import Evidence
from chaos.checker.model import QUANTILES, LatencyPoint
from chaos.checker.rules.base import Finding, rule

NAMES: tuple[str, ...] = ("latency_min", "latency_p50", "latency_p95", "latency_p99", "latency_max")


def quantile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank quantile, as Jepsen's checkers take it."""
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(math.floor(q * len(sorted_values))))]


@rule("latency", owns=(*NAMES, "latency_series"))
def latency(ev: Evidence) -> Finding:
    series: list[LatencyPoint] = []
    for room, member in ev.members:
        for d in ev.showings_of((room, member)).first:
            send = d.send
            if send is None or send.invoke is None or send.sender == member:
                continue
            series.append(LatencyPoint(send.invoke, d.time - send.invoke, room, member, send.sender, d.source))
    latencies = sorted(p.latency for p in series)
    series.sort(key=lambda p: (p.send_time, p.member))
    return Finding({"latency_series": series, **{name: quantile(latencies, q) for name, q in zip(NAMES, QUANTILES)}})
