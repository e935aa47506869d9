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


def _reference(ev) -> tuple[int, list[tuple[str, str, str, int]]]:
    """The rule as it was (every acknowledged message asked per reconnect): misses, and per violation the
    member, room, first missed message and count."""
    import bisect
    first_shown = {m: {d.key: d.time for d in s.first} for m, s in ev.showings.items()}
    reset = {(str(op.value.get("room", "")), op.process) for op in ev.history_resets}
    misses, said = 0, []
    for op in ev.reconnects:
        ends = ev.link_down.get(op.process, [])
        i = bisect.bisect_left(ends, op.time)
        if i == 0:
            continue
        lost_at = ends[i - 1]
        for room, sends in sorted(ev.acked_by_room.items()):
            member = (room, op.process)
            joined = ev.joined.get(member)
            if joined is None or joined > lost_at or member in ev.left or member in ev.truncated or member in reset:
                continue
            shown = first_shown.get(member, {})
            missed = [s for s in sends if s.sender != op.process and s.invoke is not None and s.invoke >= joined
                      and s.ok is not None and s.ok < lost_at and shown.get((room, s.client_msg_id), -1.0) > op.time]
            if missed:
                misses += len(missed)
                said.append((op.process, room, missed[0].client_msg_id, len(missed)))
    return misses, said


def test_recovery_judges_as_asking_every_message_per_reconnect_did():
    import random
    from chaos.checker import Evidence
    from chaos.checker.rules.recovery import recovery
    total = 0
    for seed in range(20):
        rng, run = random.Random(seed), Run()
        people = ("alice", "bob", "carol")
        for room in ("General", "Side"):
            for who in people:
                run.join(who, room)
        pending: list[tuple[str, str, str]] = []  # (member, room, message) not shown yet
        for k in range(60):
            room, who = rng.choice(("General", "Side")), rng.choice(people)
            run.send(who, f"{who}{k}", outcome=rng.choice(("ok", "ok", "ok", "info")), room=room)
            pending += [(other, room, f"{who}{k}") for other in people if other != who]
            rng.shuffle(pending)
            while pending and rng.random() < 0.7:
                member, r, cmid = pending.pop()
                run.show(member, cmid, cmid.rstrip("0123456789"), room=r, source=rng.choice(("push", "poll")))
            if rng.random() < 0.15:
                member = rng.choice(people)
                run.add(member, "info", "stream_end", error="UNAVAILABLE")
                run.add(member, "ok", "reconnect", client_id=f"127.0.0.1:1/{member}{k}", recovered=1)
        ev = Evidence.read(run.ops)
        found = recovery(ev)
        misses, said = _reference(ev)
        assert found.values["recovery_misses"] == misses
        assert [(v.member, v.room, v.message, int(v.reason.split("not shown ")[1].split()[0]))
                for v in found.violations] == said
        total += misses
    assert total > 0  # the histories do miss some: the comparison is not of zeros
