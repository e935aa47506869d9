"""The push books balance per node, per gate and per member; a push that vanished unrecorded is a violation."""

from __future__ import annotations

import pytest

from chaos.checker import check
from tests.chaos.checker.checker_histories import kinds, valid_run

GATE_LINE = {"level": "INFO", "event": "client_unregistered"}


def test_quiet_when_every_book_balances():
    ops, logs, metrics = valid_run()
    r = check(ops, logs, metrics)
    assert r.verdict == "valid" and r.push_unbalanced == 0
    assert {(a.process, a.attempted, a.delivered, a.failed) for a in r.push_accounts} == {
        ("node0", 8, 7, 1), ("gate0", 7, 6, 1)}


def test_a_node_push_that_vanished_unrecorded_is_invalid():
    ops, logs, metrics = valid_run()
    metrics["node0"]["pushchat_push_attempted_total"] = 9.0  # one push neither delivered nor failed
    r = check(ops, logs, metrics)
    assert r.verdict == "invalid" and kinds(r) == {"unbalanced_pushes"} and r.push_unbalanced == 1
    assert "node0 attempted 9 pushes but delivered to a gate queue 7 + failed 1: +1 went unrecorded" \
        in r.violations[0].reason


def test_a_gate_push_that_vanished_unrecorded_is_invalid_even_if_polls_repaired_it():
    ops, logs, metrics = valid_run()  # every member shows every message: only the books tell
    metrics["gate0"]["pushchat_push_delivered_total"] = 5.0
    r = check(ops, logs, metrics)
    assert kinds(r) == {"unbalanced_pushes"} and r.lost == 0
    assert "gate0 attempted 7 pushes but delivered to a client queue 5 + dropped 1" in r.violations[0].reason


def test_queued_then_lost_pushes_count_once():
    """A node's gate_disconnected and a gate's unsent pushes were delivered to a queue first."""
    ops, logs, metrics = valid_run()
    metrics["node0"]['pushchat_push_failed_total{reason="gate_disconnected"}'] = 2.0
    metrics["gate0"]['pushchat_push_dropped_total{reason="client_disconnected"}'] = 3.0
    metrics["gate0"]["pushchat_push_unsent_total"] = 3.0
    r = check(ops, logs, metrics)
    assert "unbalanced_pushes" not in kinds(r)


@pytest.mark.parametrize("received, valid", [(2, True), (3, True), (4, False)])
def test_a_member_cannot_receive_more_pushes_than_its_gates_wrote(received: int, valid: bool):
    ops, logs, metrics = valid_run()
    ops = [op for op in ops if op["f"] != "push"]
    last = ops[-1]["index"]
    ops += [{"index": last + 1 + i, "time": 0.001 * i, "process": "bob", "type": "ok", "f": "push",
             "value": {"room": "General", "seq": i}} for i in range(received)]
    ops += [{"index": last + 100 + i, "time": 0.0, "process": "bob", "type": "ok", "f": f,
             "value": {"client_id": cid}} for i, (f, cid) in enumerate([("connect", "g/b1"), ("reconnect", "g/b2")])]
    logs["gate0"] = logs["gate0"] + [{**GATE_LINE, "client_id": "127.0.0.1:1/bob2", "queued": 0, "sent": 0},
                                     {**GATE_LINE, "client_id": "g/b1", "queued": 2, "sent": 1},
                                     {**GATE_LINE, "client_id": "g/b2", "queued": 2, "sent": 2}]
    r = check(ops, logs, metrics)
    assert ("pushes_beyond_sent" not in kinds(r)) is valid
    if not valid:
        assert "bob received 4 pushes but its gates wrote 3 to its streams (127.0.0.1:1/bob2, g/b1, g/b2)" \
            in r.violations[0].reason


def test_a_member_whose_gate_never_said_is_not_compared():
    ops, logs, metrics = valid_run()
    last = ops[-1]["index"]
    ops += [{"index": last + 1, "time": 0.0, "process": "bob", "type": "ok", "f": "connect",
             "value": {"client_id": "g/b1"}},
            {"index": last + 2, "time": 0.0, "process": "bob", "type": "ok", "f": "push",
             "value": {"room": "General", "seq": 1}}]
    r = check(ops, logs, metrics)  # gate killed: no client_unregistered line for g/b1
    assert "pushes_beyond_sent" not in kinds(r) and not any(a.client for a in r.push_accounts)


@pytest.mark.chaos
def test_quiet_on_a_real_run_with_stalls_drops_and_reconnects(chaos):
    result = chaos.run_yaml("""
name: books
description: a stalled member and a dropped link; every book must still balance
topology: {nodes: 1, gates: 1, clients: [alice, bob, carol], rooms: [General], client_buffer: 5}
workload: {duration: 4.0, rate: 30, senders: [alice, carol], text_bytes: 2000}
recovery_wait: 3.0
faults:
  - {kind: stop_reading, target: client bob, start: 0.5, duration: 2.0}
  - {kind: reset_peer, target: client carol, start: 1.0, duration: 0.5}
expect: {verdict: valid}
""")
    r = result.results
    assert result.passed, result.explain()
    books = {a.process: a for a in r.push_accounts}
    assert {"node0", "gate0", "alice", "bob", "carol"} <= set(books), books
    assert all(a.balanced for a in books.values()) and r.push_unbalanced == 0
    assert r.push_drops > 0 and books["gate0"].failed > 0  # the stall's drops are in the gate's book
    assert r.seq_gaps == 0 and r.recovery_misses == 0
