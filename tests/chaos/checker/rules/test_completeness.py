"""The completeness rule: a run that did not finish, or a member without a final poll, is unknown."""

from __future__ import annotations

from chaos.checker import Evidence, check
from chaos.checker.rules.completeness import completeness
from tests.chaos.checker.checker_histories import valid_run, without


def test_quiet_on_a_complete_run():
    found = completeness(Evidence.read(*valid_run()))
    assert found.incomplete == [] and found.violations == [] and found.values == {}


def test_incomplete_history_is_unknown():
    ops, logs, metrics = valid_run()
    r = check(ops[:-1], logs, metrics)
    assert r.verdict == "unknown" and "phase done" in r.incomplete[0]
    r = check(without(ops, f="final_poll", process="bob"), logs, metrics)
    assert r.verdict == "unknown" and r.incomplete == ["bob has no successful final poll of General"]


def test_the_unfinished_run_is_named_first_then_each_member_without_a_final_poll():
    ops, logs, metrics = valid_run()
    ops = without(without(ops[:-1], f="final_poll", process="carol"), f="final_poll", process="alice")
    assert completeness(Evidence.read(ops)).incomplete == [
        "no 'phase done' record: the run did not finish", "alice has no successful final poll of General",
        "carol has no successful final poll of General"]


def test_a_member_that_left_owes_no_final_poll():
    ops, logs, metrics = valid_run()
    ops = without(ops, f="final_poll", process="bob")
    ops.append({"index": len(ops), "time": 0.0, "process": "bob", "type": "ok", "f": "leave",
                "value": {"room": "General"}})
    assert completeness(Evidence.read(ops)).incomplete == []
