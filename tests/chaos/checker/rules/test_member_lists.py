"""The presence rule: after the final poll each member's list must be the room's members."""

from __future__ import annotations

from chaos.checker import Evidence, check
from chaos.checker.rules.member_lists import presence
from tests.chaos.checker.checker_histories import Run, valid_run


def run_with(final: dict[str, list[str]], leave: str | None = None) -> Run:
    run = Run()
    for who in ("alice", "bob", "carol"):
        run.join(who)
    run.add("bob", "ok", "member", room="General", user="carol", joined=True, source="push")
    if leave:
        run.add(leave, "ok", "leave", room="General")
    for who, members in final.items():
        run.add(who, "ok", "final_presence", room="General", members=members, away=[], reads={})
    return run


def test_converged_lists_are_valid_and_counted() -> None:
    everyone = ["alice", "bob", "carol"]
    found = presence(Evidence.read(run_with({"alice": everyone, "bob": everyone, "carol": everyone}).ops))
    assert found.violations == [] and found.values == {"presence_checked": 3, "presence_diverged": 0}


def test_a_member_missing_from_a_view_or_one_that_left_still_shown_is_rejected() -> None:
    run = run_with({"alice": ["alice", "bob"], "bob": ["alice", "bob", "carol"]}, leave="carol")
    found = presence(Evidence.read(run.ops))
    [violation] = found.violations
    assert (violation.kind, violation.member) == ("presence_diverged", "bob") and "extra carol" in violation.reason
    run = run_with({"alice": ["alice", "carol"], "bob": ["alice", "bob", "carol"], "carol": ["alice", "bob", "carol"]})
    [violation] = presence(Evidence.read(run.ops)).violations
    assert violation.member == "alice" and "missing bob" in violation.reason


def test_a_run_without_presence_records_is_not_judged_and_a_doctored_one_is_invalid() -> None:
    history, logs, metrics = valid_run()
    assert check(history, logs, metrics).presence_checked == 0
    last = max(op["index"] for op in history)
    extra = {"index": last + 1, "time": 99.0, "process": "bob", "type": "ok", "f": "final_presence",
             "value": {"room": "General", "members": ["bob"], "away": [], "reads": {}}}
    results = check([*history, extra], logs, metrics)
    assert results.verdict == "invalid" and results.presence_diverged == 1
