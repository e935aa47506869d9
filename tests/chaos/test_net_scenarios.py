"""Scenarios at the IP layer (network: namespaces), run for real: what they promise, and that they can fail.

These are the network scenarios CI runs (as root, with nftables; the others run with ``chaos run --all``): the
shipped half-open-gate-link, and a doctored run showing its detection expectation is not a formality.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from chaos import run as chaos_run

from chaos.infra import netns
from chaos.infra.netplan import parse_namespace

try:
    netns.preflight()
    REASON = ""
except netns.NetworkUnavailable as exc:
    REASON = str(exc)

pytestmark = [pytest.mark.chaos, pytest.mark.skipif(bool(REASON), reason=REASON)]


# The cut (1.0-7.0 s) whole and half a second of sends after its heal: the suite's budget is tight, and the
# recovery wait and final poll still prove nothing was lost.
CUT_AND_AFTER = 7.5
KEEPALIVE_OFF = ("--keepalive-ms", "2147483647", "--keepalive-timeout-ms", "60000", "--ping-timeout-ms", "60000")


def _mine() -> list[str]:
    return [ns for ns in netns.leftovers()[0] if parse_namespace(ns)[1] == os.getpid()]  # type: ignore[index]


def test_half_open_gate_link_is_noticed_by_keepalive(chaos) -> None:  # type: ignore[no-untyped-def]
    result = chaos.run("half-open-gate-link", duration=CUT_AND_AFTER)
    assert result.passed, result.explain()
    assert result.run.results.cuts_noticed == 1 and result.run.results.detection_max is not None
    assert _mine() == []  # the run's namespaces went with it


def test_a_gate_without_keepalive_fails_half_open_gate_link(chaos, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Keepalive off on the gate (its flags, given last, win): the cut goes unnoticed.

    Off means gRPC's "never" (INT_MAX) between pings, which also leaves TCP_USER_TIMEOUT unset, and a minute
    for a ping's ack: a long interval alone is not off (gRPC sets TCP_USER_TIMEOUT to the keepalive timeout
    whenever keepalive is on, and the kernel then ends a connection whose data goes unacknowledged)."""
    plan_for = chaos_run.plan_for

    def doctored(scenario, creds=None):  # type: ignore[no-untyped-def]
        plan = plan_for(scenario, creds)
        return dataclasses.replace(plan, gate_args=(*plan.gate_args, *KEEPALIVE_OFF))

    monkeypatch.setattr(chaos_run, "plan_for", doctored)
    result = chaos.run("half-open-gate-link", duration=CUT_AND_AFTER)
    assert not result.passed
    assert next(o for o in result.run.outcomes if o.name == "cuts_unnoticed").passed is False
    assert any(v.kind == "cut_unnoticed" for v in result.run.results.violations)
    assert _mine() == []
