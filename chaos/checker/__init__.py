"""Judge a run: history + node/gate logs + metrics → results and a verdict.

Pure: no I/O, nothing imported from the topology (only the names the
system promises in its logs, ``system.contract``). The promises checked
are the project's: every acknowledged message reaches every member (by
push, or by polling after push failed), shown once and in order; every
push failure is a structured line (WARNING; INFO for a routine drop) whose
count equals the counters; and
no send fails because a push failed.

The judgement is composed, as Maelstrom composes checkers: the history is
read once into shared :class:`Evidence` (``evidence.py``), each rule in
``rules/`` reads it and returns its finding, and :func:`check`
(``compose.py``) merges them; the run is valid only if every rule finds it
so. The record types are in ``model.py``.
"""

from __future__ import annotations

from chaos.checker.model import (DERIVED, EXPECTABLE, QUANTILES, RESULT_FIELDS, SOURCES, FaultWindow,
                                 LatencyPoint, MemberStats, PushLogCheck, Results, Summary, Violation)
from chaos.checker.evidence import Evidence, split_sample
from chaos.checker.rules import RULES, Finding, Rule, register, rule, unregister
from chaos.checker.rules.latency import quantile
from chaos.checker.rules.push_logs import PUSH_EVENTS
from chaos.checker.rules.send_failed_by_push import PUSH_ERROR, PUSH_REASONS
from chaos.checker.compose import check, judge

__all__ = ["check", "judge", "Evidence", "Results", "Summary", "MemberStats", "Violation", "PushLogCheck",
           "LatencyPoint", "FaultWindow", "EXPECTABLE", "QUANTILES", "SOURCES", "DERIVED",
           "RESULT_FIELDS", "PUSH_REASONS", "PUSH_ERROR", "PUSH_EVENTS", "split_sample", "quantile",
           "RULES", "Rule", "Finding", "rule", "register", "unregister"]
