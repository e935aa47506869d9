"""The hostile rule: every attack counted; refused ones by code; an accepted one is a violation."""

from __future__ import annotations

from chaos.checker import Evidence, check
from chaos.checker.rules.hostile import hostile
from tests.chaos.checker.checker_histories import Run, valid_run


def attack(run: Run, kind: str, outcome: str, **value: object) -> None:
    run.add("mallory", "invoke", "attack", attack=kind)
    run.add("mallory", outcome, "attack", attack=kind, **value)


def test_refused_attacks_are_counted_by_code_and_are_no_violation() -> None:
    run = Run()
    attack(run, "delete_room", "fail", code="PERMISSION_DENIED", room="General")
    attack(run, "delete_room", "fail", code="PERMISSION_DENIED", room="General")
    attack(run, "expired_token", "fail", code="UNAUTHENTICATED")
    attack(run, "flood", "fail", code="RESOURCE_EXHAUSTED")
    attack(run, "hijack_join", "info", error="UNAVAILABLE: connection reset")
    found = hostile(Evidence.read(run.ops))
    v = found.values
    assert (v["hostile_attempts"], v["hostile_refused"], v["hostile_accepted"], v["hostile_inconclusive"]) == (5, 4, 0, 1)
    assert [(a.attack, a.attempts, a.refused) for a in v["hostile_attacks"]] == [
        ("delete_room", 2, {"PERMISSION_DENIED": 2}), ("expired_token", 1, {"UNAUTHENTICATED": 1}),
        ("flood", 1, {"RESOURCE_EXHAUSTED": 1}), ("hijack_join", 1, {})]
    assert found.violations == []


def test_an_accepted_attack_is_a_violation_naming_it() -> None:
    run = Run()
    attack(run, "impersonate", "ok", room="General", what="stored as bob's")
    found = hostile(Evidence.read(run.ops))
    [violation] = found.violations
    assert (violation.kind, violation.member, violation.room) == ("hostile_accepted", "mallory", "General")
    assert "impersonate" in violation.reason and "stored as bob's" in violation.reason


def test_a_run_with_an_accepted_attack_is_invalid_and_one_without_attackers_is_untouched() -> None:
    history, logs, metrics = valid_run()
    assert check(history, logs, metrics).hostile_attempts == 0
    run = Run()
    attack(run, "delete_room", "ok", room="General")
    last = max(op["index"] for op in history)
    ops = list(history) + [{**op, "index": last + 1 + op["index"]} for op in run.ops]
    results = check(ops, logs, metrics)
    assert results.verdict == "invalid" and results.hostile_accepted == 1
