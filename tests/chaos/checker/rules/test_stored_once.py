"""The stored_once rule: a retried send never takes a second seq."""

from __future__ import annotations

from chaos.checker import check
from tests.chaos.checker.checker_histories import continued, kinds, valid_run
from tests.chaos.checker.rules.test_durability import with_store


def test_quiet_on_a_valid_run_with_an_acknowledged_retry():
    ops, logs, metrics = valid_run()
    run = continued(ops, -1)
    run.add("alice", "ok", "send", room="General", client_msg_id="a1", seq=1, timestamp=1001, duplicate=True)
    run.done()
    r = check(with_store(run.ops, "sqlite"), logs, metrics)
    assert r.verdict == "valid" and r.stored_twice == 0, r.violations


def test_a_message_the_server_holds_under_two_seqs_was_stored_twice():
    ops, logs, metrics = valid_run()
    for op in ops:
        if op["f"] == "final_poll" and op["process"] == "bob":
            op["value"]["messages"].append({"seq": 5, "client_msg_id": "a2", "sender": "alice"})
    r = check(with_store(ops, "postgres"), logs, metrics)
    assert r.verdict == "invalid" and "stored_twice" in kinds(r) and r.stored_twice == 1
    [v] = [v for v in r.violations if v.kind == "stored_twice"]
    assert v.room == "General" and v.message == "a2" and "#3" in v.reason and "#5 (final poll)" in v.reason


def test_with_a_memory_store_a_history_that_started_over_may_store_a_retry_again():
    ops, logs, metrics = valid_run()
    run = continued(ops, -1)
    run.add("alice", "ok", "send", room="General", client_msg_id="a1", seq=9, timestamp=2000, duplicate=False)
    run.done()
    assert check(with_store(run.ops, "memory"), logs, metrics).stored_twice == 0
