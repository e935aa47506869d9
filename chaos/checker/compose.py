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
from chaos.checker.model import NotApplicable, Results
from chaos.checker import systems
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
    res = Results(duration=evidence.duration, system=evidence.system)
    rules = list(RULES)
    findings: dict[str, Finding] = {}
    na: dict[str, str] = {}  # field -> why it is n/a
    for r in in_order(rules):  # each field has one owner: setting them as they come is order-free
        why = _not_applicable(r.requires, r.needs, evidence.system, na)
        if why is not None:  # the rule cannot judge this system's runs: n/a, its fields never a silent 0
            findings[r.name] = Finding(not_applicable=dict.fromkeys(r.owns, why))
            res.not_applicable.append(NotApplicable(r.name, list(r.owns), why))
            na.update(findings[r.name].not_applicable)
            continue
        found = findings[r.name] = r.run(evidence, {name: getattr(res, name) for name in r.needs})
        for name, value in found.values.items():
            setattr(res, name, value)
        by_reason: dict[str, list[str]] = {}
        for name, why in found.not_applicable.items():
            by_reason.setdefault(why, []).append(name)
            na[name] = why
        res.not_applicable += [NotApplicable(r.name, names, why) for why, names in by_reason.items()]
    for r in rules:
        res.violations.extend(findings[r.name].violations)
        res.incomplete.extend(findings[r.name].incomplete)
    res.violation_count = len(res.violations)
    res.verdict = "invalid" if res.violations else "unknown" if res.incomplete else "valid"
    return res


def _not_applicable(requires: tuple[str, ...], needs: tuple[str, ...], system: str, na: dict[str, str]) -> str | None:
    """Why a rule cannot judge a run of ``system``: it requires what the system does not expose, or it needs a
    number another rule could not give; None when it can."""
    lacking = systems.missing(system, requires)
    if lacking:
        return systems.reason(system, lacking)
    unjudged = [n for n in needs if n in na]
    if unjudged:
        return f"needs {', '.join(unjudged)}, which is n/a: {na[unjudged[0]]}"
    return None
