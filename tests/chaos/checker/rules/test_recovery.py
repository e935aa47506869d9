"""A reconnected member has caught up by the time it says so; what only the final poll showed is counted."""

from __future__ import annotations

from chaos.checker import check
from chaos.scenario.model import Expectation, evaluate
from tests.chaos.checker.checker_histories import Run, kinds


def _outage(recovered: bool, reset: bool = False) -> Run:
    """bob's stream ends after a1 and a2 are acknowledged; he reconnects; a3 comes after."""
    run = Run()
    for who in ("alice", "bob"):
        run.join(who)
    run.add("runner", "info", "phase", name="workload")
    run.send("alice", "a1")
    run.show("bob", "a1", "alice")
    run.send("alice", "a2")                      # its push to bob is lost with his stream
    run.add("bob", "info", "stream_end", error="UNAVAILABLE: reset")
    run.send("alice", "a2b")                     # while bob is away
    run.add("bob", "invoke", "reconnect", attempt=2, error="UNAVAILABLE: refused", wait=0.2)
    if reset:
        run.add("bob", "info", "history_reset", room="General")
    if recovered:
        run.add("bob", "invoke", "poll", room="General", after_seq=1, reason="recovery")
        run.show("bob", "a2", "alice", source="poll")
        run.show("bob", "a2b", "alice", source="poll")
    run.add("bob", "ok", "reconnect", client_id="127.0.0.1:1/bob2", recovered=1 if recovered else 0)
    run.send("alice", "a3")
    run.show("bob", "a3", "alice")
    run.add("runner", "info", "phase", name="final_poll")
    if not recovered:
        run.show("bob", "a2", "alice", source="poll")  # the final poll repaired it
        run.show("bob", "a2b", "alice", source="poll")
    run.final_poll("alice", ["a1", "a2", "a2b", "a3"])
    run.final_poll("bob", ["a1", "a2", "a2b", "a3"])
    run.done()
    return run


def test_quiet_when_the_recovery_poll_caught_up():
    r = check(_outage(recovered=True).ops)
    assert r.verdict == "valid" and r.recovery_misses == 0 and r.shown_by_final_poll == 0


def test_a_reconnection_that_did_not_catch_up_is_a_miss_even_if_the_final_poll_repaired_it():
    r = check(_outage(recovered=False).ops)
    assert "recovery_missed" in kinds(r) and r.recovery_misses == 2 and r.lost == 0
    v = next(v for v in r.violations if v.kind == "recovery_missed")
    assert (v.member, v.room, v.message) == ("bob", "General", "a2")
    assert "bob said it had recovered" in v.reason and "acknowledged before its link was down" in v.reason


def test_messages_first_shown_by_the_final_poll_are_counted_and_fail_an_expectation_of_recovery():
    r = check(_outage(recovered=False).ops)
    assert r.shown_by_final_poll == 2
    outcome, = evaluate([Expectation("shown_by_final_poll", "==", 0)], r)
    assert not outcome.passed


def test_a_room_whose_history_started_over_is_not_judged():
    r = check(_outage(recovered=False, reset=True).ops)
    assert "recovery_missed" not in kinds(r)
