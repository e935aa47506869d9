"""The throughput rule: the share of sends made that ended acknowledged (per send, not per second)."""

from __future__ import annotations

from chaos.checker import check
from tests.chaos.checker.checker_histories import continued, valid_run


def test_every_send_acknowledged_is_a_share_of_one():
    assert check(*valid_run()).sends_ok_share == 1.0


def test_sends_left_indefinite_lower_the_share():
    """Two sends of six never settled (the shape a forgotten dedup window leaves): 4 of 6 acknowledged."""
    ops, logs, metrics = valid_run()
    run = continued(ops, -4)
    run.send("carol", "c2", outcome="info", error="UNAVAILABLE")
    run.send("carol", "c3", outcome="info", error="UNAVAILABLE")
    run.show("alice", "c2", "carol", source="poll")
    run.show("alice", "c3", "carol", source="poll")
    for who in ("alice", "bob", "carol"):
        run.final_poll(who, ["a1", "c1", "a2", "a3", "c2", "c3"])
    run.done()
    r = check(run.ops, logs, metrics)
    assert (r.sends_ok, r.sends_indefinite, r.sends_ok_share) == (4, 2, round(4 / 6, 4))


def test_no_sends_no_share():
    ops, logs, metrics = valid_run()
    kept = [op for op in ops if op["f"] != "send"]
    assert check(kept, logs, metrics).sends_ok_share is None
