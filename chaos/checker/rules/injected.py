"""Injected faults are told apart from real ones, and each is one structured line that agrees with the counters.

A node or gate with fault points (``system.faultpoints``) logs every fault
it injects as a ``fault_injected`` WARNING (``point``, ``action``, ``fault``)
and counts it in ``pushchat_faults_injected_total{point,action}``; nothing
else. So a push dropped on purpose is neither a ``push_dropped`` line nor
in the drop counter (the ``push_logs`` rule never sees it as an unlogged
drop), and it is reported here, as ``injected_drops``, apart from the real
``push_drops``. Per process incarnation the lines are compared with the
counters, as ``push_logs`` does for real failures.
"""

from __future__ import annotations

from collections import Counter
from typing import Mapping

from chaos.checker.evidence import Evidence, split_sample, unbalanced
from chaos.checker.model import InjectedCheck
from chaos.checker.rules.base import Finding, rule
from chaos.checker.rules.push_logs import incarnation

COUNTER = "pushchat_faults_injected_total"
#: result field -> the (point, action) pairs it adds up
BY_ACTION: dict[str, tuple[tuple[str, str], ...]] = {
    "injected_drops": (("push", "drop"),),
    "injected_duplicates": (("push", "duplicate"),),
    "injected_reorders": (("push", "reorder"),),
    "injected_delays": (("push", "delay"), ("rpc", "delay"), ("store", "delay")),
    "injected_aborts": (("rpc", "abort"),),
    "injected_store_failures": (("store", "fail"),),
}


@rule("injected", owns=("injected_faults", "injected_faults_counted", *BY_ACTION, "injected_log_mismatches",
                        "injected"),
      kinds=("unlogged_injected_fault", "uncounted_injected_fault"), requires=("fault_points",))
def injected(ev: Evidence) -> Finding:
    found = Finding()
    n = dict.fromkeys(("injected_faults", "injected_faults_counted", *BY_ACTION, "injected_log_mismatches"), 0)
    latest: dict[str, int] = {}
    for process in ev.logs:
        base, number = incarnation(process)
        latest[base] = max(latest.get(base, 0), number)
    by_pair: Counter[tuple[str, str]] = Counter()
    checks: list[InjectedCheck] = []
    compared: set[str] = set()
    for process in sorted(ev.logs):
        logged: Counter[str] = Counter()
        for line in ev.log_lines(process, "fault_injected"):
            pair = (str(line.get("point", "")), str(line.get("action", "")))
            by_pair[pair] += 1
            logged["/".join(pair)] += 1
        base, number = incarnation(process)
        samples = None
        if number == latest.get(base, number):
            samples = ev.metrics.get(process, ev.metrics.get(base))
            compared.add(process if process in ev.metrics else base)
        counted = _counted(samples) if samples is not None else None
        if logged or counted:
            checks.append(InjectedCheck(process, dict(logged), counted, counted is not None))
            if counted is not None:
                _compare(found, n, process, dict(logged), counted)
    for process in sorted(set(ev.metrics) - compared):  # counters with no log at all
        counted = _counted(ev.metrics[process])
        if counted:
            checks.append(InjectedCheck(process, {}, counted, True))
            _compare(found, n, process, {}, counted)
    n["injected_faults"] = sum(by_pair.values())
    n["injected_faults_counted"] = sum(sum(_counted(s).values()) for s in ev.metrics.values())
    for name, pairs in BY_ACTION.items():
        n[name] = sum(by_pair[p] for p in pairs)
    found.values.update(n, injected=checks)
    return found


def _counted(samples: Mapping[str, float]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for sample, value in samples.items():
        name, labels = split_sample(sample)
        if name == COUNTER:
            out[f"{labels.get('point', '')}/{labels.get('action', '')}"] += int(round(float(value)))
    return {k: v for k, v in out.items() if v}


def _compare(found: Finding, n: dict[str, int], process: str, logged: dict[str, int], counted: dict[str, int]) -> None:
    for what, lines, count in unbalanced(logged, counted):
        n["injected_log_mismatches"] += 1
        if count > lines:
            found.violation("unlogged_injected_fault", f"{process} counted {count} injected {what} faults but "
                            f"logged {lines} fault_injected lines")
        else:
            found.violation("uncounted_injected_fault", f"{process} logged {lines} injected {what} faults but its "
                            f"counter says {count}")
