"""The send_failed_by_push rule: a push failure never fails a send, seen from the client or the node."""

from __future__ import annotations

import pytest

from chaos.checker import PUSH_ERROR, Evidence, check
from chaos.checker.rules.send_failed_by_push import send_failed_by_push
from tests.chaos.checker.checker_histories import continued, valid_run, kinds
from system import contract


def test_quiet_on_a_valid_run():
    found = send_failed_by_push(Evidence.read(*valid_run()))
    assert found.violations == [] and found.values == {"sends_failed_by_push": 0}


def test_send_failed_because_of_a_push_is_invalid():
    ops, logs, metrics = valid_run()
    run = continued(ops, -1)
    run.send("carol", "c2", outcome="fail", error="INTERNAL: push to gate failed: gate_buffer_full")
    run.done()
    r = check(run.ops, logs, metrics)
    assert r.verdict == "invalid" and r.sends_failed_by_push == 1 and kinds(r) == {"send_failed_by_push"}
    assert r.sends_failed == 1


def test_send_call_failed_on_the_node_because_of_a_push_is_invalid():
    ops, logs, metrics = valid_run()
    logs["node0"].append({"level": "WARNING", "event": "call_failed", "type": "ChatRoom", "id": "ChatRoom-General",
                          "method": "SendMessage", "code": "INTERNAL", "error": "PushMessageToClient: gate_not_connected"})
    logs["node0"].append({"level": "WARNING", "event": "call_failed", "type": "ChatRoom", "id": "ChatRoom-General",
                          "method": "Join", "code": "INTERNAL", "error": "push hub closed"})
    r = check(ops, logs, metrics)
    assert r.verdict == "invalid" and r.sends_failed_by_push == 1


def test_a_send_failed_by_a_push_counts_once_though_both_ends_saw_it():
    """INTERNAL: the client records it as indefinite (info), the node logs call_failed; one send, one count."""
    ops, logs, metrics = valid_run()
    run = continued(ops, -1)
    run.send("carol", "c2", outcome="info",
             error="INTERNAL: internal error: GateNotConnected('push to 127.0.0.1:1/b failed (gate_not_connected)')")
    run.done()
    logs["node0"].append({"level": "WARNING", "event": "call_failed", "type": "ChatRoom", "id": "ChatRoom-General",
                          "method": "SendMessage", "code": "INTERNAL",
                          "error": "internal error: GateNotConnected('push to 127.0.0.1:1/b failed')"})
    r = check(run.ops, logs, metrics)
    assert r.sends_failed_by_push == 1 and kinds(r) == {"send_failed_by_push"}
    assert (r.sends_failed, r.sends_indefinite) == (0, 1)  # what sends_failed == 0 alone would not see


def test_a_node_line_beyond_what_clients_blamed_counts_on_its_own():
    """A call that failed by a push and was retried to success: only the node saw it."""
    ops, logs, metrics = valid_run()
    line = {"level": "WARNING", "event": "call_failed", "type": "ChatRoom", "id": "ChatRoom-General",
            "method": "SendMessage", "code": "UNAVAILABLE", "error": "push failed: gate_buffer_full"}
    logs["node0"] += [line, line]
    run = continued(ops, -1)
    run.send("carol", "c2", outcome="fail", error="UNAVAILABLE: push failed: gate_buffer_full")
    run.done()
    assert check(run.ops, logs, metrics).sends_failed_by_push == 2


def test_unrelated_send_failures_are_counted_not_blamed_on_push():
    ops, logs, metrics = valid_run()
    run = continued(ops, -1)
    run.send("carol", "c2", outcome="fail", error="UNAVAILABLE: connection refused to pushchat gate")
    run.send("carol", "c3", outcome="info", error="DEADLINE_EXCEEDED")
    run.done()
    r = check(run.ops, logs, metrics)
    assert r.verdict == "valid" and (r.sends_failed, r.sends_indefinite, r.sends_failed_by_push) == (1, 1, 0)


@pytest.mark.parametrize("reason", contract.PUSH_FAILURE_REASONS)
def test_every_reason_the_system_defines_is_recognised_in_a_send_error(reason):
    assert PUSH_ERROR.search(f"INTERNAL: {reason.upper()}")
    ops, logs, metrics = valid_run()
    run = continued(ops, -1)
    run.send("carol", "c2", outcome="info", error=f"INTERNAL: {reason}")
    run.done()
    found = send_failed_by_push(Evidence.read(run.ops, logs, metrics))
    assert [(v.kind, v.member, v.message) for v in found.violations] == [("send_failed_by_push", "carol", "c2")]
    assert f"send c2 from carol in General failed (info) because of a push: 'INTERNAL: {reason}'" == \
        found.violations[0].reason
