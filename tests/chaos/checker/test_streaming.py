"""The streaming checker judges as the checker before it did: same results, field by field, on saved runs.

``data/saved/`` holds two small real runs (``seeded-random-chaos``, ``presence-gate-kill``, 4 s each) and a
doctored one (``node-kill-restart`` with showings dropped, doubled, swapped and one never sent), each with
the results the in-memory checker on main gave it (``expected.json``, see data/saved/README.md). The history
is streamed from its file, as ``pushchat chaos run`` and ``check`` now judge it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.checker import Evidence, check
from chaos.history import HistoryError, read, records
from chaos.rundir import RunFolder

RUNS = Path(__file__).parent / "data" / "saved"


def _plain(results) -> dict:
    return json.loads(results.to_json())


@pytest.mark.parametrize("name", sorted(p.name for p in RUNS.iterdir() if p.is_dir()))
def test_a_streamed_history_is_judged_as_the_in_memory_checker_judged_it(name):
    folder = RunFolder(RUNS / name)
    expected = json.loads((RUNS / name / "expected.json").read_text())
    streamed = check(records(folder.history), folder.read_server_logs(), folder.read_metrics())
    assert _plain(streamed) == expected
    assert _plain(check(read(folder.history), folder.read_server_logs(), folder.read_metrics())) == expected


def _kinds(name: str) -> set[str]:
    return {v["kind"] for v in json.loads((RUNS / name / "expected.json").read_text())["violations"]}


def test_the_doctored_runs_are_caught_for_what_was_done_to_them():
    assert {"lost", "duplicate", "reordered", "phantom"} <= _kinds("node-kill-restart-doctored")
    assert {"misfiled", "pushed_own_message", "failed_send_appeared", "conflicting_seq", "duplicate", "phantom",
            "reordered"} <= _kinds("seeded-random-chaos-doctored")


def test_records_stream_a_file_forgiving_only_a_cut_off_last_line(tmp_path):
    lines = (RUNS / "presence-gate-kill" / "history.jsonl").read_text().splitlines(keepends=True)[:5]
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(lines) + lines[0][:20])
    assert [r[0] for r in records(cut)] == [op.index for op in read(cut)] == [0, 1, 2, 3, 4]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(lines[0] + "not json\n" + lines[1])
    with pytest.raises(HistoryError, match="bad.jsonl:2"):
        list(records(bad))


def test_a_stream_out_of_index_order_is_refused_and_a_list_is_sorted():
    ops = [op.to_dict() for op in read(RUNS / "presence-gate-kill" / "history.jsonl")][:50]
    shuffled = ops[25:] + ops[:25]
    with pytest.raises(HistoryError, match="index order"):
        Evidence.read(iter(shuffled))
    assert Evidence.read(shuffled).joined == Evidence.read(iter(ops)).joined
