"""Compose the registered rules into one judgement of a run.

Each rule reads the shared evidence and returns its finding; the results
take each rule's numbers, its violations (in registration order) and what
it could not decide. The verdict is the conjunction: invalid if any rule
found a violation, else unknown if any could not decide, else valid.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Mapping

from chaos.checker.evidence import Evidence, LogLine
from chaos.checker.model import Results
from chaos.checker.rules.base import RULES, Finding, in_order
from chaos.history import Op


def check(history: Iterable[Op | Mapping[str, Any]],
          logs: Mapping[str, list[LogLine]] | None = None,
          metrics: Mapping[str, Mapping[str, float]] | None = None) -> Results:
    """Check a run. ``logs``: process (``node0``, ``gate1``, ``node0#2`` for a later
    incarnation) → parsed JSON log lines; ``metrics``: process → flattened
    samples scraped at the end from the processes alive then."""
    with gc_paused():
        return judge(Evidence.read(history, logs, metrics))


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile: indexing a history allocates millions of objects, none in a
    cycle, and each full collection walked them all again (a third of check()'s time at 10^6 records)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def judge(evidence: Evidence) -> Results:
    """Run every registered rule on already indexed evidence and merge their findings."""
    res = Results(duration=evidence.duration)
    rules = list(RULES)
    findings: dict[str, Finding] = {}
    for r in in_order(rules):  # each field has one owner: setting them as they come is order-free
        found = findings[r.name] = r.run(evidence, {name: getattr(res, name) for name in r.needs})
        for name, value in found.values.items():
            setattr(res, name, value)
    for r in rules:
        res.violations.extend(findings[r.name].violations)
        res.incomplete.extend(findings[r.name].incomplete)
    res.violation_count = len(res.violations)
    res.verdict = "invalid" if res.violations else "unknown" if res.incomplete else "valid"
    return res
