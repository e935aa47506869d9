"""The read_replies rule: a reader's MarkRead replies never go back, whatever it asked for."""

from __future__ import annotations

from chaos.checker import check
from tests.chaos.checker.checker_histories import continued, kinds, valid_run


def _marks(answers: list[tuple[int, int]], reset: bool = False):
    ops, logs, metrics = valid_run()
    run = continued(ops, -4)
    if reset:
        run.add("bob", "info", "history_reset", room="General")
    for seq, at in answers:
        run.add("bob", "invoke", "mark_read", room="General", seq=seq)
        run.add("bob", "ok", "mark_read", room="General", seq=seq, read_seq=at)
    for who in ("alice", "bob", "carol"):
        run.final_poll(who, ["a1", "c1", "a2", "a3"])
    run.done()
    return check(run.ops, logs, metrics)


def test_a_stale_mark_answered_with_the_position_kept_is_fine():
    r = _marks([(3, 3), (1, 3), (4, 4)])
    assert r.verdict == "valid" and r.read_regressions == 0, r.violations


def test_a_stale_mark_that_moved_the_position_back_is_a_violation():
    r = _marks([(3, 3), (1, 1)])
    assert r.verdict == "invalid" and kinds(r) == {"read_position_regressed"} and r.read_regressions == 1


def test_a_room_that_started_over_is_not_judged():
    assert _marks([(3, 3), (1, 1)], reset=True).read_regressions == 0
