"""A rule that needs what the run's system does not expose says n/a with the reason: never a silent pass.

A Goverse run (the setup record says ``system: goverse``) has no seq numbers, no read of a room, none of our
log events or counters: those rules are n/a; the rest judge it, in Goverse's mode (it pushes to senders too).
"""

from __future__ import annotations

from chaos.reports import tables as report
from chaos.checker import check
from chaos.scenario.model import Expectation, evaluate
from tests.chaos.checker.checker_histories import Run, kinds

PUSH_FAILED = {"ts": "2026-01-01T00:00:01.000000+00:00", "level": "WARNING", "event": "push_failed",
               "client_id": "127.0.0.1:7/x", "reason": "gate_not_connected", "room": "General",
               "error": "gate 127.0.0.1:7 not connected to this node"}


def _goverse_run(echo: bool = True) -> list[dict]:
    """alice and carol send, everyone is pushed everything (the senders too, when ``echo``); no final poll."""
    run = Run()
    run.add("runner", "info", "phase", name="setup", system="goverse", store="memory")
    for who in ("alice", "bob", "carol"):
        run.join(who)
    run.add("runner", "info", "phase", name="workload")
    for cmid, sender in (("alice#1", "alice"), ("carol#1", "carol"), ("alice#2", "alice")):
        run.add(sender, "invoke", "send", room="General", client_msg_id=cmid, text=cmid)
        run.add(sender, "ok", "send", room="General", client_msg_id=cmid)
        for who in ("alice", "bob", "carol"):
            if who != sender or echo:
                run.push(who, cmid, sender, seq=0)
                run.show(who, cmid, sender)
    run.add("runner", "info", "phase", name="final_poll")
    run.done()
    return run.ops


def test_rules_goverse_cannot_feed_are_na_with_the_reason_and_the_rest_judge():
    r = check(_goverse_run(), {"node0": [PUSH_FAILED]}, {})
    na = {item.rule: item for item in r.not_applicable}
    assert r.system == "goverse" and r.verdict == "valid" and r.lost == 0 and r.own_pushes == 3
    assert {"conflicting_seq", "numbering", "stored_once", "timestamps", "recovery", "accounting", "streams",
            "injected", "failover", "detection", "rooms", "presence"} <= set(na)
    assert "sequence numbers" in na["conflicting_seq"].reason and "goverse" in na["conflicting_seq"].reason
    assert r.na_reason("lost_by_server") and "read of a room" in r.na_reason("lost_by_server")
    assert r.na_reason("push_failures_counted") and r.na_reason("push_failures") is None
    assert r.push_failures == 1  # Goverse's line fed the push-logging rule
    assert r.na_reason("lost") is None and r.na_reason("duplicates") is None and r.na_reason("sends_ok") is None


def test_an_expectation_on_an_na_number_does_not_hold():
    r = check(_goverse_run(), {}, {})
    out = {o.name: o for o in evaluate([Expectation("lost_by_server", "==", 0), Expectation("lost", "==", 0)], r)}
    assert not out["lost_by_server"].passed and str(out["lost_by_server"].actual).startswith("n/a: goverse")
    assert out["lost"].passed
    again = evaluate([Expectation("lost_by_server", "==", 0)], r.to_dict())  # results.json, as `chaos check` reads
    assert not again[0].passed


def test_reports_say_na_not_zero():
    r = check(_goverse_run(), {}, {})
    text = report.results_detail(r)
    assert "n/a for goverse" in text and "conflicting_seq (conflicting_seq): goverse does not expose" in text
    assert report.judged(r, "lost_by_server") == "n/a" and report.judged(r, "lost") == 0


def test_goverse_must_push_to_senders_too():
    """Its mode, as --push-to-sender is ours: members pushed others' messages but never their own are judged."""
    r = check(_goverse_run(echo=False), {}, {})
    assert kinds(r) == {"echo_missing"}


def test_a_pushchat_run_has_nothing_na():
    ops = _goverse_run(echo=False)
    ops[0]["value"]["system"] = "pushchat"
    r = check(ops, {}, {})
    assert r.not_applicable == [] and r.system == "pushchat"
