"""The sends rule: outcomes counted, and a definite failure that turns up stored is a violation."""

from __future__ import annotations

from chaos.checker import Evidence, check
from chaos.checker.rules.sends import sends
from tests.chaos.checker.checker_histories import continued, valid_run, kinds


def test_quiet_on_a_valid_run():
    found = sends(Evidence.read(*valid_run()))
    assert found.violations == []
    assert found.values == {"sends_ok": 4, "sends_failed": 0, "sends_indefinite": 0, "sends_indefinite_appeared": 0,
                            "sends_failed_appeared": 0, "lost_by_server": 0}


def test_indefinite_send_that_appears_is_fine_and_counted_apart():
    ops, logs, metrics = valid_run()
    run = continued(ops, -4)  # before the final polls
    run.send("carol", "c2", outcome="info", error="DEADLINE_EXCEEDED")
    run.show("alice", "c2", "carol", source="poll")
    run.add("carol", "invoke", "send", room="General", client_msg_id="c3", text="x")  # never answered
    for who in ("alice", "bob", "carol"):
        run.final_poll(who, ["a1", "c1", "a2", "a3", "c2"])
    run.done()
    r = check(run.ops, logs, metrics)
    assert r.verdict == "valid", r.violations
    assert (r.sends_indefinite, r.sends_indefinite_appeared, r.sends_ok) == (2, 1, 4)


def test_definite_failure_that_appears_is_invalid():
    ops, logs, metrics = valid_run()
    run = continued(ops, -4)
    run.send("carol", "c2", outcome="fail", error="UNAVAILABLE")
    run.show("alice", "c2", "carol", source="poll")
    for who in ("alice", "bob", "carol"):
        run.final_poll(who, ["a1", "c1", "a2", "a3", "c2"])
    run.done()
    r = check(run.ops, logs, metrics)
    assert r.verdict == "invalid" and kinds(r) == {"failed_send_appeared"}


def test_definite_failure_found_only_by_the_final_poll_is_invalid_too():
    ops, logs, metrics = valid_run()
    run = continued(ops, -4)
    run.send("carol", "c2", outcome="fail", error="UNAVAILABLE")
    for who in ("alice", "bob", "carol"):
        run.final_poll(who, ["a1", "c1", "a2", "a3", "c2"])
    run.done()
    found = sends(Evidence.read(run.ops, logs, metrics))
    assert [v.kind for v in found.violations] == ["failed_send_appeared"] and found.values["sends_failed_appeared"] == 1
    assert "send c2 from carol in General failed definitely, yet it was stored" in found.violations[0].reason


def test_server_forgetting_an_acked_message_is_lost_by_server():
    ops, logs, metrics = valid_run()
    for op in ops:
        if op["f"] == "final_poll":
            op["value"]["messages"] = [m for m in op["value"]["messages"] if m["client_msg_id"] != "a1"]
    r = check(ops, logs, metrics)
    assert r.lost_by_server == 1 and r.lost == 0 and r.verdict == "valid"


def _with_history_limit(ops: list[dict], limit: int) -> list[dict]:
    setup = {"index": 0, "time": 0.0, "process": "runner", "type": "info", "f": "phase",
             "value": {"name": "setup", "store": "memory", "system": "pushchat", "history_limit": limit}}
    return [setup] + [{**op, "index": op["index"] + 1} for op in ops]


def test_a_message_the_room_trimmed_by_its_history_limit_is_not_lost_by_server():
    """A room keeps its last history_limit messages: at the final poll (last seq 4), a room that keeps 3 no
    longer holds seq 1 by design; one that keeps 4 must still hold it, so it is lost by the server."""
    ops, logs, metrics = valid_run()
    for op in ops:
        if op["f"] == "final_poll":
            op["value"]["messages"] = [m for m in op["value"]["messages"] if m["client_msg_id"] != "a1"]
    assert check(_with_history_limit(ops, 3), logs, metrics).lost_by_server == 0
    assert check(_with_history_limit(ops, 4), logs, metrics).lost_by_server == 1
