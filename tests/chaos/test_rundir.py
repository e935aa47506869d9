"""The run folder's owner: results.json reads back as what was written, old runs stay readable, logs are found."""

from __future__ import annotations

import json
from pathlib import Path

from chaos import checker
from tests.bench.checker import synthetic_run
from chaos.checker.model import (Failover, FaultWindow, HostileAttack, InjectedCheck, LatencyPoint, MemberStats,
                                 PushAccount, PushLogCheck, Results, Violation)
from chaos.rundir import Judgement, RunFolder, log_file_key
from chaos.scenario.model import ExpectationOutcome


def _every_detail() -> Results:
    """Results with one of each kind of detail record, as a run with faults, attacks and a failover has."""
    return Results(
        verdict="invalid", lost=1, failover_max=2.5, push_share=0.75, latency_p99=0.012, violation_count=1,
        members=[MemberStats("General", "bob", expected=3, shown=2, lost=1, by_push=2, final_poll=True)],
        violations=[Violation("lost", "bob never showed alice#3", room="General", member="bob", message="alice#3")],
        incomplete=["node0#2 has no metrics (killed)"],
        push_logs=[PushLogCheck("node0", "push_failed", {"gate_buffer_full": 2}, None, False, "killed")],
        push_accounts=[PushAccount("gate0", 10, 9, 1), PushAccount("bob", 4, 4, 0, client=True)],
        latency_series=[LatencyPoint(1.5, 0.01, "General", "bob", "alice", "push")],
        fault_windows=[FaultWindow(3, "kill", "node 0", 1.0, 2.0)],
        failover_times=[Failover("General", "node0", "node1", 100.0, 102.5, 2.5)],
        hostile_attacks=[HostileAttack("forged_token", attempts=4, refused={"UNAUTHENTICATED": 4})],
        injected=[InjectedCheck("gate0", {"push/drop": 2}, {"push/drop": 2}, True)])


def _judged(results: Results) -> Judgement:
    return Judgement("forgets", results, [ExpectationOutcome("lost", "== 0", results.lost, results.lost == 0)],
                     passed=results.lost == 0, description="bob forgets", run_seconds=7.25)


def test_results_json_reads_back_as_the_results_that_were_written(tmp_path: Path) -> None:
    ops, logs, metrics = synthetic_run(400, rooms=2, members=3)
    for results in (checker.check(ops, logs, metrics), _every_detail()):
        folder = RunFolder(tmp_path / results.verdict)
        folder.make()
        folder.write_judgement(_judged(results))
        back = folder.read_judgement()
        assert back == _judged(results)
        assert back is not None and back.results.members and isinstance(back.results.members[0], MemberStats)
        assert json.loads(folder.results.read_text()) == _judged(results).to_dict()


def test_a_run_written_before_newer_fields_existed_is_still_read(tmp_path: Path) -> None:
    doc = _judged(_every_detail()).to_dict()
    del doc["run_seconds"], doc["description"]
    for name in ("hostile_attacks", "hostile_attempts", "injected", "presence_checked", "typing_shown",
                 "failover_times", "push_accounts"):
        del doc["results"][name]
    doc["results"]["a_field_no_longer_known"] = 3
    folder = RunFolder(tmp_path)
    folder.results.write_text(json.dumps(doc))
    back = folder.read_judgement()
    assert back is not None and back.run_seconds is None and back.description == ""
    assert back.results.hostile_attacks == [] and back.results.hostile_attempts == 0
    assert back.results.failover_times == [] and back.results.violations == _every_detail().violations
    assert back.expectations == [ExpectationOutcome("lost", "== 0", 1, False)] and back.passed is False


def test_a_folder_without_a_judgement_reads_as_none(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    assert folder.read_judgement() is None  # broke off before judging
    folder.results.write_text('{"scenario": "x"}')
    assert folder.read_judgement() is None  # no results in it
    folder.results.write_text("{not json")
    assert folder.read_judgement() is None


def test_server_logs_are_each_incarnations_and_no_one_elses(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path).make()
    for path in (folder.server_log("node0", 1), folder.server_log("node0", 2), folder.server_log("gate1", 1),
                 folder.logs / "client-bob.log", folder.load_worker_err(0)):
        path.write_text("")
    found = [(name, n, log_file_key(path)) for name, n, path in folder.server_logs()]
    assert found == [("gate1", 1, "gate1"), ("node0", 1, "node0"), ("node0", 2, "node0#2")]
