"""The receipts rule: monotone per (reader, viewer), never ahead of what the reader was sent, converged."""

from __future__ import annotations

from chaos.checker import Evidence
from chaos.checker.rules.receipts import receipts
from tests.chaos.checker.checker_histories import Run


def two_sent() -> Run:
    """alice and bob in General; alice sent a1 and a2 (#1, #2), bob has been pushed #1."""
    run = Run()
    for who in ("alice", "bob"):
        run.join(who)
    run.send("alice", "a1")
    run.send("alice", "a2")
    run.add("bob", "ok", "deliver", room="General", seq=1, client_msg_id="a1", sender="alice", source="push")
    return run


def base() -> Run:
    run = two_sent()
    run.add("bob", "ok", "deliver", room="General", seq=2, client_msg_id="a2", sender="alice", source="push")
    run.add("bob", "invoke", "mark_read", room="General", seq=2)
    run.add("bob", "ok", "mark_read", room="General", seq=2, read_seq=2)
    return run


def final(run: Run, alice_sees: int, bob_sees: int) -> None:
    run.add("alice", "ok", "final_presence", room="General", members=["alice", "bob"], away=[],
            reads={"bob": alice_sees} if alice_sees else {})
    run.add("bob", "ok", "final_presence", room="General", members=["alice", "bob"], away=[],
            reads={"bob": bob_sees} if bob_sees else {})


def test_pushed_then_polled_positions_that_converge_are_valid() -> None:
    run = base()
    run.add("alice", "ok", "read", room="General", user="bob", read_seq=1, source="push")
    run.add("alice", "ok", "read", room="General", user="bob", read_seq=2, source="poll")
    run.add("bob", "ok", "read", room="General", user="alice", read_seq=2, source="members")  # alice's own send
    final(run, 2, 2)
    found = receipts(Evidence.read(run.ops))
    assert found.violations == []
    assert found.values == {"receipts_shown": 3, "receipt_regressions": 0, "receipts_ahead": 0, "receipts_diverged": 0}


def test_a_position_that_moves_back_for_a_viewer_is_rejected() -> None:
    run = base()
    run.add("alice", "ok", "read", room="General", user="bob", read_seq=2, source="push")
    run.add("alice", "ok", "read", room="General", user="bob", read_seq=1, source="poll")
    final(run, 2, 2)
    [violation] = receipts(Evidence.read(run.ops)).violations
    assert (violation.kind, violation.member) == ("receipt_regressed", "alice")


def test_a_position_beyond_what_the_reader_was_sent_is_rejected() -> None:
    run = two_sent()
    run.add("alice", "ok", "read", room="General", user="bob", read_seq=2, source="push")  # bob only had #1
    [violation] = receipts(Evidence.read(run.ops)).violations
    assert violation.kind == "receipt_ahead" and "only been sent up to #1" in violation.reason


def test_final_positions_that_differ_or_trail_the_acknowledged_mark_are_rejected() -> None:
    run = base()
    final(run, 1, 2)
    kinds = {(v.kind, v.member) for v in receipts(Evidence.read(run.ops)).violations}
    assert ("receipt_diverged", "alice") in kinds
    run = base()
    final(run, 0, 0)  # nobody shows bob's acknowledged #2
    assert {v.kind for v in receipts(Evidence.read(run.ops)).violations} == {"receipt_diverged"}
