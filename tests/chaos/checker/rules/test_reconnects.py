"""The reconnects rule: successful reconnections counted, failed attempts not."""

from __future__ import annotations

from chaos.checker import Evidence, check
from chaos.checker.rules.reconnects import reconnects
from tests.chaos.checker.checker_histories import Run, valid_run


def test_counts_successful_reconnections_only():
    run = Run()
    run.add("bob", "invoke", "reconnect", attempt=1)
    run.add("bob", "fail", "reconnect", attempt=1)
    run.add("bob", "invoke", "reconnect", attempt=2)
    run.add("bob", "ok", "reconnect", attempt=2, client_id="127.0.0.1:1/bob2", recovered=0)
    run.add("carol", "ok", "reconnect", attempt=1, client_id="127.0.0.1:1/carol2", recovered=3)
    found = reconnects(Evidence.read(run.ops))
    assert found.values == {"reconnects": 2} and found.violations == []


def test_reconnecting_is_not_a_violation():
    r = check(*valid_run())
    assert r.verdict == "valid" and r.reconnects == 1
