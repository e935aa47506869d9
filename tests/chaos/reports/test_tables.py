"""Tables show the run's numbers; the plot is a real PNG with the fault windows."""

from __future__ import annotations

import json
import re

from chaos.checker import EXPECTABLE, FaultWindow, LatencyPoint, MemberStats, Results, Violation
from chaos.reports.tables import (SUMMARY_LEGEND_LINES, SummaryRow, campaign_scenarios_table, expectations_table,
                          latency_line, plot_latency, results_detail, row_dict, summary_table)
from chaos.scenario.model import ExpectationOutcome
from chaos.scenario.files import DEFAULT_FOLDER


def sample_results() -> Results:
    return Results(
        verdict="invalid", lost=2, duplicates=1, reordered=0, sends_ok=120, sends_failed=3, sends_indefinite=1,
        delivered_by_push=230, delivered_by_poll=17, push_failures=9, push_drops=4, latency_p50=0.0123,
        latency_p99=0.4567,
        members=[MemberStats("General", "bob", expected=120, shown=118, lost=2, by_push=100, by_poll=17,
                             final_poll=True)],
        violations=[Violation("lost", f"bob never showed a{i} from alice in General", "General", "bob", f"a{i}")
                    for i in range(25)],
        incomplete=["carol has no successful final poll of General"],
        latency_series=[LatencyPoint(0.1 * i, 0.005 + 0.1 * (i % 7), "General", m, "alice", s)
                        for i in range(60) for m, s in (("bob", "push"), ("carol", "poll"))],
        fault_windows=[FaultWindow(0, "stop_reading", "client bob", 1.0, 3.0),
                       FaultWindow(1, "kill", "node 0", 2.0, 2.5)])


def test_summary_table_shows_the_numbers_in_aligned_columns():
    outcomes = [ExpectationOutcome("lost", "== 0", 2, False), ExpectationOutcome("sends_ok", "> 0", 120, True)]
    ok_row = SummaryRow("baseline", Results(sends_ok=50, delivered_by_push=100), [
        ExpectationOutcome("verdict", "== valid", "valid", True)], 8.04)
    text = summary_table([SummaryRow("stalled-client", sample_results(), outcomes, 12.34), ok_row])
    header, rule, bad, good = text.splitlines()
    assert header.split()[:3] == ["scenario", "verdict", "expect"]
    assert bad.split() == ["stalled-client", "invalid", "1/2", "FAIL", "120/3/1", "230/9/4", "17", "2", "0", "1",
                           "0", "0", "0", "-", "12", "457", "12.3"]
    assert good.split()[:4] == ["baseline", "valid", "1/1", "ok"]
    assert good.split()[-3:] == ["-", "-", "8.0"]  # no latency measured
    assert len(rule) >= len(header.rstrip()) and good.index("valid") == bad.index("invalid")


def test_summary_shows_seq_conflicts_and_failovers():
    r = Results(conflicting_seq=1, failovers=2, failover_max=2.87)
    text = summary_table([SummaryRow("node-permanent-loss", r, [], 9.0)])
    [row] = columns(text)
    assert row["seq conflicts"] == "1" and row["failover s"] == "2 (max 2.9)"


def columns(text: str) -> list[dict[str, str]]:
    """A summary table as one dict per row, by header (cells are two or more spaces apart)."""
    header, _, *rows = text.splitlines()
    names = re.split(r"\s{2,}", header.strip())
    return [dict(zip(names, re.split(r"\s{2,}", row.strip()))) for row in rows]


def test_summary_shows_each_kind_of_loss_in_its_own_column():
    # node-kill-restart: every member showed every message it was sent (lost 0), but the
    # restarted node forgot 60 acknowledged messages; the scenario expects that, so it is "ok".
    forgetful = Results(verdict="valid", sends_ok=150, lost=0, lost_by_server=60, delivered_by_push=280)
    phantoms = Results(verdict="invalid", sends_ok=10, lost=3, phantom=2)
    text = summary_table([
        SummaryRow("node-kill-restart", forgetful, [ExpectationOutcome("lost_by_server", "> 0", 60, True)], 14.0),
        SummaryRow("odd", phantoms, [ExpectationOutcome("verdict", "== valid", "invalid", False)], 3.0)])
    kill, odd = columns(text)
    assert (kill["expect"], kill["lost"], kill["lost by server"], kill["phantom"]) == ("1/1 ok", "0", "60", "0")
    assert (odd["lost"], odd["lost by server"], odd["phantom"]) == ("3", "0", "2")


def test_a_summary_wider_than_the_terminal_is_folded_into_blocks_that_fit(capsys) -> None:
    long = Results(verdict="invalid", sends_ok=12000, sends_failed=30, sends_indefinite=10, delivered_by_push=23000,
                   push_failures=900, push_drops=400, delivered_by_poll=1700, lost=2, lost_by_server=60,
                   failovers=2, failover_max=2.87, latency_p50=0.0123, latency_p99=0.4567)
    rows = [SummaryRow("link-drop-after-last-send", long, [ExpectationOutcome("lost", "== 0", 2, False)] * 10, 99.9),
            SummaryRow("baseline", Results(verdict="valid", sends_ok=50), [], 8.0)]
    wide = columns(summary_table(rows))
    for width in (100, 80):
        text = summary_table(rows, width=width)
        blocks = text.split("\n\n")
        assert len(blocks) > 1 and max(map(len, text.splitlines())) <= width
        assert all(block.startswith("scenario ") for block in blocks)  # each block names its rows
        folded = [{**a, **b} for a, b in zip(*(columns(block) for block in blocks[:2]))]
        for block in blocks[2:]:
            folded = [{**a, **b} for a, b in zip(folded, columns(block))]
        assert folded == wide  # every column, every cell, only laid out differently


def test_the_summary_legend_is_a_few_short_lines_that_tell_each_abbreviation():
    assert 3 <= len(SUMMARY_LEGEND_LINES) <= 8 and max(map(len, SUMMARY_LEGEND_LINES)) <= 96
    told = "\n".join(SUMMARY_LEGEND_LINES)
    for term in ("sends:", "pushes:", "lost:", "lost by server:", "dup, reord:", "phantom:", "seq conflicts:",
                 "failover:"):
        assert term in told


def test_a_campaigns_push_cell_reads_plainly_and_names_the_counters_only_where_they_disagree():
    totals = dict(runs=2, met=2, failed=0, not_judged=0, sends_ok=10, sends_failed=0, sends_indefinite=0, lost=0,
                  lost_by_server=0, duplicates=0, reordered=0, conflicting_seq=0, longest_run=3.0)
    doc = {"scenarios": {
        "quiet": {**totals, "push_failures": 0, "push_failures_counted": 0, "push_drops": 0, "push_drops_counted": 0},
        "odd": {**totals, "push_failures": 3, "push_failures_counted": 5, "push_drops": 2, "push_drops_counted": 2}}}
    quiet, odd = columns(campaign_scenarios_table(doc))
    assert quiet["push failed/dropped"] == "0/0"
    assert odd["push failed/dropped"] == "3 (5 counted)/2"


def test_latency_line_gives_every_quantile_in_ms_and_the_sources():
    line = latency_line(Results(latency_min=0.002, latency_p50=0.0123, latency_p95=0.2, latency_p99=0.4567,
                                latency_max=1.5, delivered_by_push=230, delivered_by_poll=17, delivered_by_join=3))
    assert line == ("visibility latency (ms): min 2  p50 12  p95 200  p99 457  max 1500;  "
                    "shown by push 230, by poll 17, by join 3")
    assert "p50 -" in latency_line(Results())  # nothing shown to another member: no figure, not 0


def test_expectations_table_marks_failures():
    text = expectations_table([ExpectationOutcome("lost", "== 0", 2, False),
                               ExpectationOutcome("verdict", "valid or invalid", "valid", True)])
    rows = [line.split() for line in text.splitlines()[2:]]
    assert rows == [["lost", "==", "0", "2", "NO"], ["verdict", "valid", "or", "invalid", "valid", "yes"]]


def test_results_detail_lists_members_violations_and_gaps():
    text = results_detail(sample_results())
    bob = next(line for line in text.splitlines() if line.startswith("General") and "bob" in line)
    assert bob.split() == ["General", "bob", "120", "118", "100", "17", "0", "2", "0", "0", "0", "yes"]
    assert "violations (25):" in text and "[lost] bob never showed a0 from alice" in text
    assert "... and 5 more in results.json" in text
    assert "carol has no successful final poll of General" in text
    same_from_json = results_detail(json.loads(sample_results().to_json()))
    assert same_from_json == text


def test_latency_plot_is_a_png(tmp_path):
    path = plot_latency(sample_results(), None, tmp_path / "latency.png", title="stalled-client")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    empty = plot_latency(Results(), [FaultWindow(0, "kill", "node 0", 1.0, 2.0)], tmp_path / "empty.png")
    assert empty.read_bytes()[:4] == b"\x89PNG"


def test_row_dict_is_json_ready():
    row = SummaryRow("x", sample_results(), [ExpectationOutcome("lost", "== 0", 2, False)], 1.0)
    doc = json.loads(json.dumps(row_dict(row)))
    assert doc["passed"] is False and doc["results"]["lost"] == 2 and doc["expectations"][0]["actual"] == 2


def test_every_result_name_is_documented_for_scenario_authors():
    readme = (DEFAULT_FOLDER / "README.md").read_text()
    assert [name for name in EXPECTABLE if f"`{name}`" not in readme] == []
