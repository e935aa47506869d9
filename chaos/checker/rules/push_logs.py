"""Every push failure is one structured line at its level, and the lines agree with the counters.

The level is ``system.contract.push_log_level``'s: WARNING, but INFO for a routine drop (the client left).

Per process incarnation (``node0``, ``node0#2`` after a restart), the
``push_failed`` / ``push_dropped`` lines per reason are compared with the
incarnation's counters. Only the incarnation alive at the end was scraped:
an earlier one's lines are reported as not comparable, not as a violation.
A counter with no log at all is compared with no lines.

A system with push failure lines but not our counters (Goverse: its text
lines, recognised by ``chaos.infra.goverse_logs``) has its lines counted and
their fields checked; the counts to compare them with are n/a, and so is
the level (our contract's, not its).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Mapping

from chaos.checker import systems
from chaos.checker.evidence import Evidence, LogLine, split_sample, unbalanced
from chaos.checker.model import PushLogCheck
from chaos.checker.rules.base import Finding, rule
from system.contract import push_log_level

#: log event -> (its counter, the fields docs/architecture.md promises)
PUSH_EVENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "push_failed": ("pushchat_push_failed_total", ("room", "user", "client_id", "reason")),
    "push_dropped": ("pushchat_push_dropped_total", ("client_id", "reason")),
}


def incarnation(process: str) -> tuple[str, int]:
    """``node0#2`` → ``('node0', 2)``; ``node0`` is the first."""
    base, _, number = process.partition("#")
    return base, int(number) if number.isdigit() else 1


@rule("push_logs", owns=("push_failures", "push_failures_counted", "push_drops", "push_drops_counted",
                         "push_log_mismatches", "push_logs"),
      kinds=("push_log_level", "push_log_fields", "unlogged_push_failure", "uncounted_push_failure"), requires=("push_failure_lines",))
def push_logs(ev: Evidence) -> Finding:
    found = Finding()
    n = dict.fromkeys(("push_failures", "push_failures_counted", "push_drops", "push_drops_counted",
                       "push_log_mismatches"), 0)
    checks: list[PushLogCheck] = []
    metrics = ev.metrics
    latest: dict[str, int] = {}
    for process in ev.logs:
        base, number = incarnation(process)
        latest[base] = max(latest.get(base, 0), number)

    def metrics_of(process: str) -> Mapping[str, float] | None:
        base, number = incarnation(process)
        if number != latest.get(base, number):
            return metrics.get(process) if process != base else None
        return metrics.get(process, metrics.get(base))

    used_metrics = set()
    counters = not systems.missing(ev.system, ("counters",))
    for process in sorted(ev.logs):
        samples = metrics_of(process) if counters else None
        if samples is not None:
            used_metrics.add(process if process in metrics else incarnation(process)[0])
        for event, (counter, required) in PUSH_EVENTS.items():
            logged = _logged(found, n, process, event, required if counters else ("client_id", "reason"),
                             ev.log_lines(process, event), level=counters)
            counted = _counted(samples, counter) if samples is not None else None
            _compare(found, n, checks, process, event, logged, counted,
                     "" if counters else f"{ev.system} has no counters of ours: lines only")
    for process in sorted(set(metrics) - used_metrics):  # counters with no log at all
        for event, (counter, _) in PUSH_EVENTS.items():
            _compare(found, n, checks, process, event, {}, _counted(metrics[process], counter))
    for process, samples in metrics.items():
        n["push_failures_counted"] += sum(_counted(samples, PUSH_EVENTS["push_failed"][0]).values())
        n["push_drops_counted"] += sum(_counted(samples, PUSH_EVENTS["push_dropped"][0]).values())
    found.values.update(n, push_logs=checks)
    if not counters:
        why = systems.reason(ev.system, systems.missing(ev.system, ("counters",)))
        for name in ("push_failures_counted", "push_drops_counted", "push_log_mismatches"):
            del found.values[name]
            found.not_applicable[name] = why
    return found


def _logged(found: Finding, n: dict[str, int], process: str, event: str, required: tuple[str, ...],
            lines: list[LogLine], level: bool = True) -> dict[str, int]:
    """Lines per reason; each line's fields checked, and its level (``level``: our contract's)."""
    logged: Counter[str] = Counter()
    for line in lines:
        wanted = logging.getLevelName(push_log_level(str(line.get("reason", ""))))
        if level and line.get("level") != wanted:
            found.violation("push_log_level", f"{process} logged {event} at level {line.get('level')!r}, not {wanted}")
            continue
        missing = [name for name in required if name not in line]
        if missing:
            found.violation("push_log_fields", f"{process} logged {event} without {', '.join(missing)}")
        logged[str(line.get("reason", ""))] += 1
        n["push_failures" if event == "push_failed" else "push_drops"] += 1
    return dict(logged)


def _counted(samples: Mapping[str, float], counter: str) -> dict[str, int]:
    counted: Counter[str] = Counter()
    for sample, value in samples.items():
        name, labels = split_sample(sample)
        if name == counter:
            counted[labels.get("reason", "")] += int(round(float(value)))
    return {reason: k for reason, k in counted.items() if k}


def _compare(found: Finding, n: dict[str, int], checks: list[PushLogCheck], process: str, event: str,
             logged: dict[str, int], counted: dict[str, int] | None, note: str = "") -> None:
    if not logged and not counted:
        return
    if counted is None:
        checks.append(PushLogCheck(process, event, logged, None, False, note or
                                   "no metrics (process gone or restarted): not comparable"))
        return
    checks.append(PushLogCheck(process, event, logged, counted, True))
    for reason, n_logged, n_counted in unbalanced(logged, counted):
        n["push_log_mismatches"] += 1
        if n_counted > n_logged:
            found.violation("unlogged_push_failure", f"unlogged drop: {process} counted {n_counted} {event} "
                            f"({reason or 'no reason'}) but logged {n_logged} lines")
        else:
            found.violation("uncounted_push_failure", f"logged but not counted: {process} logged {n_logged} "
                            f"{event} ({reason or 'no reason'}) lines but its counter says {n_counted}")
