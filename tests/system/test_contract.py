"""The push failure reasons are declared once (system.contract), and the system uses exactly those."""

from __future__ import annotations

from system import contract
from system.metrics import Metrics
from system.push import PushError


def _subclasses(cls: type) -> list[type]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_subclasses(sub))]


def test_every_push_error_carries_a_declared_node_reason() -> None:
    assert sorted(c.reason for c in _subclasses(PushError)) == sorted(contract.NODE_FAILURE_REASONS)


def test_counters_start_with_every_declared_reason_at_zero() -> None:
    node, gate = Metrics("node").snapshot(), Metrics("gate").snapshot()
    assert node["pushchat_push_failed_total"] == dict.fromkeys(contract.NODE_FAILURE_REASONS, 0.0)
    assert gate["pushchat_push_dropped_total"] == dict.fromkeys(contract.GATE_DROP_REASONS, 0.0)


def test_node_and_gate_reasons_are_distinct() -> None:
    reasons = contract.PUSH_FAILURE_REASONS
    assert len(set(reasons)) == len(reasons) == len(contract.NODE_FAILURE_REASONS) + len(contract.GATE_DROP_REASONS)
