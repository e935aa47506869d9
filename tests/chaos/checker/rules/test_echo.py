"""A member is never pushed its own message, unless the run's rooms push to senders; then the echo is expected."""

from __future__ import annotations

from chaos.checker import check
from tests.chaos.checker.checker_histories import Run, kinds, valid_run

ECHO_MODE = {"level": "INFO", "event": "room_config", "push_to_sender": True}
DEFAULT_MODE = {"level": "INFO", "event": "room_config", "push_to_sender": False}


def _pushes(echo: bool) -> tuple[list[dict], dict, dict]:
    """The valid run with some of its pushes recorded: carol's c1 to alice and bob, alice's a3 to bob and carol,
    and (echo) each back to its sender."""
    ops, logs, metrics = valid_run()
    run = Run()
    run.ops = ops[:-1]  # before the done phase
    run.push("alice", "c1", "carol", seq=2)
    run.push("bob", "c1", "carol", seq=2)
    if echo:
        run.push("carol", "c1", "carol", seq=2)
    run.push("bob", "a3", "alice", seq=4)
    run.push("carol", "a3", "alice", seq=4)
    if echo:
        run.push("alice", "a3", "alice", seq=4)
    run.done()
    return run.ops, logs, metrics


def test_quiet_when_nobody_is_pushed_its_own_message():
    ops, logs, metrics = _pushes(echo=False)
    logs["node0"].append(DEFAULT_MODE)
    r = check(ops, logs, metrics)
    assert r.verdict == "valid" and r.own_pushes == 0


def test_an_echo_to_the_sender_is_invalid_by_default():
    ops, logs, metrics = _pushes(echo=True)
    r = check(ops, logs, metrics)  # no room_config line at all: the default mode
    assert kinds(r) == {"pushed_own_message"} and r.own_pushes == 2
    assert "carol was pushed its own message c1 (seq 2) in General, and 1 of its own in all" in r.violations[0].reason
    assert "alice was pushed its own message a3 (seq 4) in General, and 1 of its own in all" in r.violations[1].reason


def test_the_echo_is_expected_when_a_node_runs_with_push_to_sender():
    ops, logs, metrics = _pushes(echo=True)
    logs["node0"].append(ECHO_MODE)
    r = check(ops, logs, metrics)
    assert r.verdict == "valid" and r.own_pushes == 2


def test_no_echo_at_all_under_push_to_sender_is_invalid():
    """alice and carol each had a message acknowledged, then were pushed the other's, never their own."""
    ops, logs, metrics = _pushes(echo=False)
    logs["node0"].append(ECHO_MODE)
    r = check(ops, logs, metrics)
    assert kinds(r) == {"echo_missing"} and r.own_pushes == 0
    assert [(v.member, v.room) for v in r.violations] == [("alice", "General"), ("carol", "General")]


def test_a_member_pushed_nothing_after_its_sends_is_not_judged_under_push_to_sender():
    """A member whose stream was down after its sends got no push at all: a missing echo proves nothing."""
    ops, logs, metrics = valid_run()
    logs["node0"].append(ECHO_MODE)
    r = check(ops, logs, metrics)
    assert r.verdict == "valid"
