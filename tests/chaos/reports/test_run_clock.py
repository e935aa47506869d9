"""One time origin in a run's report: stalled-client's fault reads the same window in the fault table, on the
timeline and in the latency plot's shading, every time labelled, though its scenario file counts from the
workload's start (1.0-5.0 s) and the run's clock from the run's (the workload began 1 s in)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from chaos.reports import tables as report
from chaos.scenario import files as scenario_file
from chaos.history import History
from chaos.rundir import RunFolder
from chaos.run import check_folder
from chaos.run_clock import ORIGIN

ROOT = Path(__file__).resolve().parents[3]
T0 = 1_800_000_000.0


def _stalled_client_run(folder: Path) -> None:
    """stalled-client's history as a run writes it: setup at 0, the workload 1 s in, its fault applied a little
    after workload + 1.0 s (the nemesis is a task), healed 4 s later, then the run ends."""
    scenario = scenario_file.read_scenario(ROOT / "scenarios" / "stalled-client.yaml")
    [fault] = scenario.schedule(scenario.seed)
    clock = iter([0.0, 0.0, 1.0, 2.05, 2.5, 2.6, 6.05, 8.0]).__next__
    h = History(folder / "history.jsonl", clock=clock)
    h.info("runner", "phase", {"name": "setup", "started_at": T0})
    h.info("runner", "phase", {"name": "workload"})
    value = {"fault": fault.kind, "target": str(fault.target), "params": {}, "id": fault.id, "names": ["bob"]}
    h.info("nemesis", "fault", {**value, "phase": "start"})
    h.invoke("alice", "send", {"room": "General", "client_msg_id": "alice-1"})
    h.ok("alice", "send", {"room": "General", "client_msg_id": "alice-1", "seq": 1})
    h.info("nemesis", "fault", {**value, "phase": "heal"})
    h.info("runner", "phase", {"name": "done"})
    h.close()
    RunFolder(folder).write_schedule([fault])
    check_folder(folder, scenario, run_seconds=8.0)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stalled-client")
    _stalled_client_run(folder)
    return folder


def test_stalled_clients_fault_reads_one_window_in_the_table_the_timeline_and_the_plot(run_folder: Path) -> None:
    page = html.unescape((run_folder / "report.html").read_text())

    table = re.search(r'<table class="schedule">.*?</table>', page, re.S)
    assert table is not None
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(<td.*?)</tr>", table[0])]
    assert [r[1:6] for r in rows] == [["stop_reading", "client bob", "2.050", "6.050", "applied"]]

    bar = re.search(r"<title>stop_reading\(\) on client bob \[bob\]: ([\d.]+)-([\d.]+)s</title>", page)
    assert bar is not None and (bar[1], bar[2]) == ("2.050", "6.050")

    judged = RunFolder(run_folder).read_judgement()
    assert judged is not None
    figure = report.latency_figure(judged.results, None)
    [shade] = [p for p in figure.axes[0].patches if p.get_gid() == "fault 0"]
    assert (round(shade.get_x(), 3), round(shade.get_x() + shade.get_width(), 3)) == (2.05, 6.05)

    # every place with times says which clock, and the fault table bridges to the scenario file's
    assert figure.axes[0].get_xlabel() == f"send time ({ORIGIN})"
    assert f"Times are in {ORIGIN}" in page and f"start, end: {ORIGIN}" in page and f"time ({ORIGIN})" in page
    assert "counts from the workload's start (1.0 s here): stop_reading client bob at 1-5 s." in page


def test_the_per_member_table_says_what_expected_means(run_folder: Path) -> None:
    page = html.unescape((run_folder / "report.html").read_text())
    legend = re.search(r'<p class="muted" id="members-legend">(.*?)</p>\s*<table class="members">', page, re.S)
    assert legend is not None and legend[1].startswith("expected: messages others sent to the room after this "
                                                       "member joined that the server acknowledged")
    assert '<th title="messages others sent' in page


def test_in_a_browser_no_timeline_group_name_overlaps_a_lane_or_bar_label(run_folder: Path) -> None:
    """The "faults" heading ran into "stop_reading client bob", the first fault lane's label (chromium's boxes)."""
    from tests.chaos.reports.browser import render

    shown = render(run_folder / "report.html", lambda page: page.evaluate("""() => {
        const box = e => { const r = e.getBoundingClientRect();
                           return [r.left, r.top, r.right, r.bottom, e.textContent]; };
        const all = s => [...document.querySelectorAll('svg.timeline ' + s)].map(box);
        return {groups: all('text.group'), labels: all('text.lane-label').concat(all('text.bar-label'))}; }"""))
    assert shown.errors == [] and shown.requests == []
    groups, labels = shown.value["groups"], shown.value["labels"]
    assert [g[4] for g in groups] == ["phases", "faults"] and "stop_reading client bob" in [b[4] for b in labels]
    overlaps = [(g[4], b[4]) for g in groups for b in labels
                if g[0] < b[2] and b[0] < g[2] and g[1] < b[3] and b[1] < g[3]]
    assert overlaps == []
