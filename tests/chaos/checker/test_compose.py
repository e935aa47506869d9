"""The composed checker: the rules' findings merged into one result, and the verdict their conjunction."""

from __future__ import annotations

import json

import pytest

from chaos.checker import (DERIVED, RESULT_FIELDS, RULES, Evidence, Finding, Results, check, judge, rule,
                           unregister)
from tests.chaos.checker.checker_histories import valid_run, without


@pytest.fixture
def extra_rules():
    """Names of rules a test registers; they are taken out again whatever happens."""
    names: list[str] = []
    yield names
    for name in names:
        unregister(name)


def test_valid_run_is_valid_with_its_numbers():
    ops, logs, metrics = valid_run()
    r = check(ops, logs, metrics)
    assert r.verdict == "valid", r.violations + r.incomplete
    assert (r.lost, r.duplicates, r.reordered, r.phantom, r.lost_by_server) == (0, 0, 0, 0, 0)
    assert (r.sends_ok, r.sends_failed, r.sends_indefinite) == (4, 0, 0)
    assert (r.push_failures, r.push_failures_counted, r.push_drops, r.push_drops_counted) == (1, 1, 1, 1)
    assert (r.delivered_by_push, r.delivered_by_poll, r.delivered_by_join) == (7, 1, 0)
    assert r.reconnects == 1 and r.faults_applied == 1
    bob = next(m for m in r.members if m.member == "bob")
    assert (bob.expected, bob.shown, bob.by_push, bob.by_poll, bob.final_poll) == (4, 4, 3, 1, True)
    assert [(w.kind, w.target) for w in r.fault_windows] == [("stop_reading", "client bob")]
    assert all(c.comparable for c in r.push_logs)


def test_results_serialise_to_json():
    r = check(*valid_run())
    doc = json.loads(r.to_json())
    assert doc["verdict"] == "valid" and doc["sends_ok"] == 4 and len(doc["members"]) == 3


def test_invalid_beats_unknown():
    ops, logs, metrics = valid_run()
    assert check(without(ops[:-1], f="deliver", process="carol"), logs, metrics).verdict == "invalid"


def test_duration_is_the_time_of_the_last_record():
    ops, logs, metrics = valid_run()
    assert check(ops, logs, metrics).duration == ops[-1]["time"] and check([]).duration == 0.0


def test_a_rule_registered_later_contributes_to_the_verdict(extra_rules):
    ops, logs, metrics = valid_run()
    assert check(ops, logs, metrics).verdict == "valid"

    @rule("at_most_three_sends", kinds=("too_many_sends",), needs=("sends_ok",))
    def at_most_three_sends(ev: Evidence, given: dict) -> Finding:
        found = Finding()
        if given["sends_ok"] > 3:
            found.violation("too_many_sends", f"{given['sends_ok']} sends acknowledged, at most 3 allowed")
        return found
    extra_rules.append("at_most_three_sends")

    r = check(ops, logs, metrics)
    assert r.verdict == "invalid"
    assert [(v.kind, v.reason) for v in r.violations] == [("too_many_sends", "4 sends acknowledged, at most 3 allowed")]
    assert r.violation_count == 1 and r.sends_ok == 4  # the other rules' numbers are untouched
    unregister(extra_rules.pop())
    assert check(ops, logs, metrics).verdict == "valid"


def test_a_rule_that_cannot_decide_makes_a_valid_run_unknown(extra_rules):
    @rule("needs_a_witness")
    def needs_a_witness(ev: Evidence) -> Finding:
        return Finding(incomplete=["no witness"])
    extra_rules.append("needs_a_witness")
    r = check(*valid_run())
    assert r.verdict == "unknown" and r.incomplete == ["no witness"]


def test_a_rule_runs_after_the_rules_whose_numbers_it_needs_whatever_their_order(extra_rules):
    place = [r.name for r in RULES].index("reconnects")
    builtin = unregister("reconnects")  # its field is taken by the test's own rule below
    seen: dict[str, int] = {}
    try:
        @rule("reads_reconnects", needs=("reconnects",))  # registered before the owner of what it reads
        def reads_reconnects(ev: Evidence, given: dict) -> Finding:
            seen["reconnects"] = given["reconnects"]
            return Finding()
        extra_rules.append("reads_reconnects")

        @rule("counts_reconnects_twice", owns=("reconnects",))
        def counts_reconnects_twice(ev: Evidence) -> Finding:
            return Finding({"reconnects": 2 * len(ev.reconnects)})
        extra_rules.append("counts_reconnects_twice")
        r = check(*valid_run())
    finally:
        for name in reversed(extra_rules):
            unregister(name)
        extra_rules.clear()
        RULES.insert(place, builtin)
    assert r.reconnects == 2 == seen["reconnects"]


def test_every_result_field_has_exactly_one_owner():
    owners: dict[str, list[str]] = {}
    for r in RULES:
        for name in r.owns:
            owners.setdefault(name, []).append(r.name)
    assert {name: rules for name, rules in owners.items() if len(rules) > 1} == {}
    assert sorted(set(RESULT_FIELDS) - set(DERIVED) - set(owners)) == []
    kinds = [k for r in RULES for k in r.kinds]
    assert len(kinds) == len(set(kinds))


def test_a_rule_may_not_take_another_rules_field_or_kind_or_a_derived_one():
    with pytest.raises(ValueError, match="lost already belong to 'members'"):
        rule("mine", owns=("lost",))(lambda ev: Finding())
    with pytest.raises(ValueError, match="phantom already belong to 'members'"):
        rule("mine", kinds=("phantom",))(lambda ev: Finding())
    with pytest.raises(ValueError, match="verdict are derived"):
        rule("mine", owns=("verdict",))(lambda ev: Finding())
    with pytest.raises(ValueError, match="no result field lots"):
        rule("mine", needs=("lots",))(lambda ev: Finding())
    assert "mine" not in [r.name for r in RULES]


def test_a_rule_that_sets_what_it_does_not_own_or_reports_an_undeclared_kind_fails_loudly(extra_rules):
    rule("greedy")(lambda ev: Finding({"lost": 7}))
    extra_rules.append("greedy")
    with pytest.raises(ValueError, match="'greedy' set lost, which it does not own"):
        check(*valid_run())
    unregister(extra_rules.pop())
    rule("vague")(lambda ev: _flag(Finding()))
    extra_rules.append("vague")
    with pytest.raises(ValueError, match="'vague' reported odd"):
        check(*valid_run())


def _flag(found: Finding) -> Finding:
    found.violation("odd", "a kind the rule never declared")
    return found


def test_judge_takes_evidence_already_read():
    ops, logs, metrics = valid_run()
    assert judge(Evidence.read(ops, logs, metrics)).to_dict() == check(ops, logs, metrics).to_dict()
    assert isinstance(judge(Evidence.read([])), Results)
