"""Each message pushed or shown is filed under the room it was sent to."""

from __future__ import annotations

from chaos.checker import check
from tests.chaos.checker.checker_histories import Run, kinds, valid_run


def _two_rooms(misfile: bool, shown: bool = False) -> tuple[list[dict], dict, dict]:
    """The valid run, then bob in Movies too; alice sends m1 there; bob's client gets General's a3 pushed
    (misfile: filed under Movies, where seq 1 is m1), and maybe shows it there."""
    ops, logs, metrics = valid_run()
    run = Run()
    run.ops = ops[:-1]
    run.join("bob", "Movies")
    run.join("alice", "Movies")
    run.send("alice", "m1", room="Movies")
    run.push("bob", "m1", "alice", seq=1, room="Movies")
    run.show("bob", "m1", "alice", room="Movies")
    run.push("bob", "a3", "alice", seq=1 if misfile else 4, room="Movies" if misfile else "General")
    if shown:
        run.add("bob", "ok", "deliver", room="Movies", seq=1, client_msg_id="a3", sender="alice", source="push")
    for who in ("alice", "bob"):
        run.final_poll(who, ["m1"], room="Movies")
    run.done()
    return run.ops, logs, metrics


def test_quiet_when_every_push_is_filed_under_its_room():
    r = check(*_two_rooms(misfile=False))
    assert r.verdict == "valid" and r.misfiled == 0


def test_a_push_filed_under_another_room_is_invalid_even_if_the_client_dropped_it():
    """Bob's Movies already had seq 1: the client drops the push as known, nothing is shown wrong."""
    r = check(*_two_rooms(misfile=True))
    assert kinds(r) == {"misfiled"} and r.misfiled == 1 and r.phantom == 0
    [v] = r.violations
    assert (v.room, v.member) == ("Movies", "bob")
    assert "bob was pushed a3 (seq 1) under Movies, but it was sent to General; seq 1 there is m1" in v.reason


def test_a_message_shown_under_another_room_is_misfiled_once_per_member_and_room():
    r = check(*_two_rooms(misfile=True, shown=True))
    assert "misfiled" in kinds(r) and r.misfiled == 2
    assert [v.reason for v in r.violations if v.kind == "misfiled"][0].endswith("(2 such in Movies)")
