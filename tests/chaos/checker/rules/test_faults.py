"""The faults rule: faults applied and skipped, each one's window from start to heal (or to the run's end)."""

from __future__ import annotations

from chaos.checker import Evidence, check
from chaos.checker.rules.faults import faults
from tests.chaos.checker.checker_histories import Run, valid_run


def test_quiet_on_a_valid_run_with_its_one_window():
    ops, logs, metrics = valid_run()
    found = faults(Evidence.read(ops, logs, metrics))
    assert found.violations == [] and found.incomplete == []
    [window] = found.values["fault_windows"]
    starts = [op["time"] for op in ops if op["f"] == "fault"]
    assert (window.id, window.kind, window.target, window.start, window.end) == (
        0, "stop_reading", "client bob", starts[0], starts[1])


def test_windows_pair_starts_with_heals_by_id_and_an_unhealed_one_lasts_to_the_end():
    run = Run()
    run.fault("start", id=1, fault="kill", target="node0")
    run.fault("start", id=2, fault="pause", target="gate0")
    run.fault("skipped", id=3, fault="kill", target="node9", reason="no such node")
    run.fault("heal", id=2, fault="pause", target="gate0")
    run.fault("heal", id=7, fault="pause", target="gate0")   # heals nothing that started
    run.fault("error", id=1, fault="kill", target="node0", error="boom")
    run.done()
    found = faults(Evidence.read(run.ops))
    assert (found.values["faults_applied"], found.values["faults_skipped"]) == (2, 1)
    assert [(w.id, w.kind, w.start, w.end) for w in found.values["fault_windows"]] == [
        (2, "pause", 0.02, 0.04), (1, "kill", 0.01, 0.07)]


def test_a_fault_without_an_id_is_paired_by_kind_and_target():
    run = Run()
    run.add("nemesis", "info", "fault", fault="latency", target="link a", phase="start")
    run.add("nemesis", "info", "fault", fault="latency", target="link a", phase="heal")
    [window] = faults(Evidence.read(run.ops)).values["fault_windows"]
    assert (window.id, window.start, window.end) == (("latency", "link a"), 0.01, 0.02)


def test_faults_never_make_a_run_invalid():
    ops, logs, metrics = valid_run()
    run = Run()
    run.ops = ops[:-1]
    run.fault("start", id=5, fault="kill", target="node0")
    run.done()
    r = check(run.ops, logs, metrics)
    assert r.verdict == "valid" and r.faults_applied == 2 and r.fault_windows[-1].end == r.duration
