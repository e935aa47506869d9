"""The conflicting_seq rule: two different messages under one (room, seq) is a deposed owner's write."""

from __future__ import annotations

from chaos.checker import check
from tests.chaos.checker.checker_histories import kinds, valid_run
from tests.chaos.checker.rules.test_durability import with_store


def renumber(ops: list[dict], cmid: str, seq: int) -> None:
    """Make the acknowledgement of ``cmid`` say ``seq`` (as a second owner numbering the same slot would)."""
    for op in ops:
        if op["f"] == "send" and op["type"] == "ok" and op["value"]["client_msg_id"] == cmid:
            op["value"]["seq"] = seq


def test_quiet_on_a_valid_run():
    ops, logs, metrics = valid_run()
    r = check(with_store(ops, "postgres"), logs, metrics)
    assert r.verdict == "valid" and r.conflicting_seq == 0


def test_two_messages_acknowledged_under_one_seq_are_a_conflict_naming_both():
    ops, logs, metrics = valid_run()
    renumber(ops, "c1", 1)  # a1 was acknowledged as #1 too
    r = check(with_store(ops, "postgres"), logs, metrics)
    assert r.verdict == "invalid" and "conflicting_seq" in kinds(r) and r.conflicting_seq == 1
    [v] = [v for v in r.violations if v.kind == "conflicting_seq"]
    assert v.room == "General" and "General #1 carried 2 different messages" in v.reason
    assert "a1" in v.reason and "c1" in v.reason


def test_a_display_that_contradicts_an_acknowledgement_is_a_conflict_too():
    ops, logs, metrics = valid_run()
    for op in ops:
        if op["f"] == "deliver" and op["process"] == "bob" and op["value"]["client_msg_id"] == "a3":
            op["value"]["seq"] = 2  # bob was shown a3 as #2, which carried c1... and a2
    r = check(with_store(ops, "sqlite"), logs, metrics)
    assert "conflicting_seq" in kinds(r)


def test_a_memory_store_numbering_again_after_a_restart_is_not_judged():
    ops, logs, metrics = valid_run()
    renumber(ops, "c1", 1)
    r = check(with_store(ops, "memory"), logs, metrics)
    assert "conflicting_seq" not in kinds(r) and r.conflicting_seq == 0
