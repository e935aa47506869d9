"""The timestamps rule: a room's acknowledged timestamps grow strictly with its seqs, whatever the clock did."""

from __future__ import annotations

from chaos.checker import check
from tests.chaos.checker.checker_histories import kinds, valid_run
from tests.chaos.checker.rules.test_durability import with_store


def stamp(ops: list[dict], cmid: str, timestamp: int) -> None:
    for op in ops:
        if op["f"] == "send" and op["type"] == "ok" and op["value"]["client_msg_id"] == cmid:
            op["value"]["timestamp"] = timestamp


def test_quiet_on_a_valid_run():
    ops, logs, metrics = valid_run()
    r = check(with_store(ops, "sqlite"), logs, metrics)
    assert r.verdict == "valid" and r.timestamp_regressions == 0


def test_a_message_stamped_before_the_one_before_it_is_a_regression():
    ops, logs, metrics = valid_run()
    stamp(ops, "a2", 500)  # the clock jumped back and the room believed it
    r = check(with_store(ops, "sqlite"), logs, metrics)
    assert r.verdict == "invalid" and kinds(r) == {"timestamp_regression"} and r.timestamp_regressions == 1
    [v] = r.violations
    assert v.room == "General" and v.message == "a2" and "General #3 (a2) is stamped 500" in v.reason


def test_an_equal_stamp_is_a_regression_too_and_a_memory_store_is_not_judged():
    ops, logs, metrics = valid_run()
    stamp(ops, "c1", 1001)  # the same as a1's
    assert check(with_store(ops, "postgres"), logs, metrics).timestamp_regressions == 1
    assert check(with_store(ops, "memory"), logs, metrics).timestamp_regressions == 0
