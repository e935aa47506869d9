"""The checker bench's synthetic history is a valid run that gives every rule work to do."""

from __future__ import annotations

import json

from chaos.checker import check
from tests.bench.checker import main, synthetic_run
from tests.bench.checker_scale import judge_folder, write_run


def test_synthetic_run_is_valid_and_exercises_every_rule():
    ops, logs, metrics = synthetic_run(3000, rooms=3, members=4, seed=5)
    assert 3000 <= len(ops) <= 3010
    r = check(ops, logs, metrics)
    assert r.verdict == "valid", (r.violations[:3], r.incomplete[:3])
    assert r.sends_ok > 300 and r.sends_failed > 0 and r.sends_indefinite_appeared > 0
    assert r.delivered_by_push > 0 and r.delivered_by_poll > 0
    assert r.push_failures == r.push_failures_counted == r.delivered_by_poll
    assert r.faults_applied > 0 and r.fault_windows and r.reconnects > 0
    assert len(r.members) == 12 and all(m.final_poll for m in r.members)


def test_bench_prints_one_row_per_size(capsys):
    main(["500", "1000", "--repeat", "1"])
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split() == ["history", "records", "load", "s", "check()", "s", "cpu", "s", "cpu", "us/rec",
                               "peak", "MiB", "verdict"]
    assert [row.split()[-1] for row in rows[1:]] == ["valid", "valid"]
    assert all(float(row.split()[-2]) > 10 for row in rows[1:])  # peak MiB of the process that judged it


def test_bench_judges_a_real_run_folder(tmp_path, capsys):
    """``--run``: a finished run's history, logs and metrics, judged like a synthetic one."""
    ops, logs, metrics = synthetic_run(800)
    (tmp_path / "logs").mkdir()
    (tmp_path / "history.jsonl").write_text("".join(json.dumps(op.to_dict()) + "\n" for op in ops))
    (tmp_path / "logs" / "node0.1.log").write_text("".join(json.dumps(line) + "\n" for line in logs["node0"]))
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    main(["--run", str(tmp_path), "--repeat", "1"])
    [row] = capsys.readouterr().out.splitlines()[1:]
    assert row.split()[0] == tmp_path.name[:28] and int(row.split()[1]) == len(ops) and row.split()[-1] == "valid"


def test_the_scale_bench_judges_its_folder_as_pushchat_chaos_check_does(tmp_path):
    """``python -m tests.bench.checker_scale``'s folder, written and judged in one small step: valid."""
    written = write_run(tmp_path / "run", 600, rooms=2, members=3)
    got = judge_folder(tmp_path / "run")
    assert written >= 600 and got["verdict"] == "valid", (got["violations"], got["incomplete"])
