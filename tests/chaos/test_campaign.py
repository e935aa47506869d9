"""`pushchat chaos campaign` as a CI job runs it: two short scenarios x two seeds, two at a time.

One campaign feeds the tests here: ``steady`` meets its expectations, and
``forgets`` cannot (bob stops reading and every push to him is dropped at his
gate, then the node, keeping rooms in memory, is SIGKILLed: what bob missed is gone, and
the scenario claims nothing is lost). So the campaign must exit 1, print its
matrix with the losses, totals that add up, and the command that re-runs a
failed cell, which then fails the same way with the same fault schedule.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml

from chaos import outcome
from chaos.cli import main as cli

from chaos.cli import chaos as cli_chaos
from chaos.campaign import TOTALS, SeedsError, parse_seeds
from tests.chaos.reports.browser import render

ROOT = Path(__file__).resolve().parents[2]

STEADY = """\
name: steady
description: Two members, no faults; nothing is lost.
topology: {clients: [alice, bob]}
workload: {duration: 2.0, rate: 5}
recovery_wait: 2.0
expect: {verdict: valid, lost: "== 0", sends_ok: "> 0"}
"""

FORGETS = """\
name: forgets
description: Bob stops reading, then the node (rooms in memory) is SIGKILLed; what bob missed is gone.
topology: {clients: [alice, bob], store: memory}
workload: {duration: 2.0, rate: 50, senders: [alice], text_bytes: 4000}
recovery_wait: 2.0
faults:
  - {kind: stop_reading, target: client bob, start: 0.2, duration: 1.5}
  - {kind: push_drop, target: client bob, start: 0.2, duration: 0.8, percent: 100}
  - {kind: kill, target: node 0, start: 1.0, duration: 0.4}
expect: {verdict: invalid, lost: "== 0"}
"""


def chaos_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaos.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    here = tmp_path_factory.mktemp("scenarios")
    files = []
    for text in (STEADY, FORGETS):
        path = here / f"{text.split()[1]}.yaml"
        path.write_text(text)
        files.append(str(path))
    out = tmp_path_factory.mktemp("campaign") / "out"
    done = chaos_cli("chaos", "campaign", "--scenarios", ",".join(files), "--seeds", "2", "--jobs", "2",
                     "--duration", "2", "--keep", "failed", "--out", str(out))
    return done, out


def block(text: str, title: str) -> list[str]:
    """The lines of one titled block of the campaign's output, up to the next blank line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    body = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        body.append(line)
    return body


@pytest.mark.chaos
def test_a_failed_cell_makes_the_campaign_exit_1_with_its_matrix_and_rerun_command(campaign) -> None:
    done, out = campaign
    assert done.returncode == outcome.NOT_MET, done.stdout + done.stderr
    text = done.stdout[done.stdout.index("\nMatrix\n") + 8:done.stdout.index("\nPer scenario\n")]
    assert max(map(len, text.splitlines())) <= 100  # a pipe gets 100 columns: wide cells fold the matrix
    headers: list[str] = []
    cells: dict[str, list[str]] = {}
    for part in text.strip().split("\n\n"):  # its blocks of columns, each starting with the scenario's
        header, _, *rows = [line for line in part.splitlines() if not line.startswith("  ")]  # no legend
        headers += re.split(r"\s{2,}", header.strip())[1:]
        for row in rows:
            cells.setdefault(row.split()[0], []).extend(re.split(r"\s{2,}", row.strip())[1:])
    assert headers == ["seed 1", "seed 2"]
    assert cells["steady"] == ["valid", "valid"]
    for cell in cells["forgets"]:
        assert cell.startswith("FAIL ") and re.search(r"\blost [1-9]\d*\b", cell), cell
    # one progress line per finished run in a pipe, the last one complete
    assert re.search(r"campaign 4/4 done, 0 running, 2 failed", done.stderr)
    for seed in (1, 2):
        line = next(line for line in done.stdout.splitlines() if line.strip().startswith("pushchat chaos run")
                    and f"--seed {seed}" in line and "forgets" in line)
        assert f"--out {out}/forgets/seed-{seed}-rerun" in line and "--duration 2" in line
        assert (out / "forgets" / f"seed-{seed}" / "history.jsonl").is_file()  # the failed cell kept its folder


@pytest.mark.chaos
def test_campaign_json_holds_every_cell_and_totals_that_add_up(campaign) -> None:
    done, out = campaign
    doc = json.loads((out / "campaign.json").read_text())
    assert doc["exit_code"] == 1 and doc["jobs"] == 2 and doc["seeds"] == [1, 2]
    assert [(c["scenario"], c["seed"], c["outcome"]) for c in doc["cells"]] == [
        ("steady", 1, "met"), ("forgets", 1, "failed"), ("steady", 2, "met"), ("forgets", 2, "failed")]
    for name in TOTALS:
        assert doc["totals"][name] == sum(c["summary"][name] or 0 for c in doc["cells"]), name
        assert sum(s[name] for s in doc["scenarios"].values()) == doc["totals"][name], name
    assert doc["totals"]["runs"] == 4 and doc["totals"]["met"] == 2 and doc["totals"]["failed"] == 2
    assert doc["totals"]["sends_ok"] > 0 and doc["totals"]["lost"] > 0 and doc["totals"]["faults_applied"] > 0
    assert doc["scenarios"]["forgets"]["lost"] > 0 and doc["scenarios"]["steady"]["lost"] == 0
    # the printed totals are campaign.json's
    totals = "\n".join(block(done.stdout, "Campaign totals"))
    assert f"acknowledged sends: {doc['totals']['sends_ok']} " in totals
    assert f"push drops: {doc['totals']['push_drops']} logged, {doc['totals']['push_drops_counted']} counted" in totals
    assert len(doc["slowest"]) == 4 and doc["slowest"][0]["duration"] >= doc["slowest"][-1]["duration"]
    for cell in doc["cells"]:
        assert (out / cell["folder"] / "results.json").is_file() and (out / cell["folder"] / "report.html").is_file()
    # --keep failed: a cell that met its expectations keeps its page and numbers; a failed one keeps everything
    assert sorted(p.name for p in (out / "steady" / "seed-1").iterdir()) == ["report.html", "results.json",
                                                                            "run.log"]
    assert {"history.jsonl", "logs", "schedule.json", "forgets.yaml"} <= {
        p.name for p in (out / "forgets" / "seed-1").iterdir()}


@pytest.mark.chaos
def test_junit_xml_has_one_testcase_per_cell_and_failures_carry_the_expectations_and_violations(campaign) -> None:
    _, out = campaign
    xml = JUnitXml.fromfile(str(out / "junit.xml"))
    [suite] = list(xml)
    cases = {case.name: case for case in suite}
    assert set(cases) == {"steady[seed=1]", "steady[seed=2]", "forgets[seed=1]", "forgets[seed=2]"}
    assert (suite.tests, suite.failures, suite.errors) == (4, 2, 0)
    for name in ("steady[seed=1]", "steady[seed=2]"):
        assert cases[name].is_passed and cases[name].classname == "pushchat.chaos.steady"
    for seed in (1, 2):
        [failure] = cases[f"forgets[seed={seed}]"].result
        assert isinstance(failure, Failure) and not isinstance(failure, Error)
        assert failure.message.startswith("1 of 2 expectations not met: lost == 0 (actual ")
        assert re.search(r"expectation\s+wanted\s+actual\s+ok", failure.text)
        assert re.search(r"lost\s+== 0\s+[1-9]\d*\s+NO", failure.text)
        assert "[lost] bob never showed" in failure.text
        assert "re-run: pushchat chaos run " in failure.text and f"--seed {seed}" in failure.text


@pytest.mark.chaos
def test_the_printed_rerun_command_reproduces_the_failed_cell(campaign) -> None:
    done, out = campaign
    line = next(line.strip() for line in done.stdout.splitlines() if line.strip().startswith("pushchat chaos run")
                and "--seed 2" in line)
    argv = shlex.split(line)
    assert argv[0] == "pushchat"
    again = chaos_cli(*argv[1:], "--quiet")
    assert again.returncode == outcome.NOT_MET, again.stdout + again.stderr
    cell, rerun = out / "forgets" / "seed-2", out / "forgets" / "seed-2-rerun"
    assert (rerun / "schedule.json").read_text() == (cell / "schedule.json").read_text()
    assert json.loads((rerun / "results.json").read_text())["results"]["lost"] > 0


@pytest.mark.chaos
def test_the_campaign_page_renders_its_matrix_linking_to_each_runs_page(campaign) -> None:
    _, out = campaign
    shown = render(out / "report.html", lambda page: page.evaluate("""() => ({
        rows: [...document.querySelectorAll('table.matrix tr')].map(r => [...r.cells].map(c => c.innerText.trim())),
        links: [...document.querySelectorAll('table.matrix a')].map(a => a.getAttribute('href')),
        outcome: document.getElementById('outcome').innerText })"""))
    assert shown.errors == [] and shown.requests == []
    rows = {r[0]: r[1:] for r in shown.value["rows"][1:]}
    assert rows["steady"] == ["valid", "valid"] and all(c.startswith("FAIL") for c in rows["forgets"])
    assert sorted(shown.value["links"]) == sorted(f"{s}/seed-{n}/report.html" for s in ("steady", "forgets")
                                                  for n in (1, 2))
    assert all((out / link).is_file() for link in shown.value["links"])
    assert shown.value["outcome"] == "some runs FAILED"


@pytest.mark.chaos
def test_a_run_page_renders_its_tables_plot_and_timeline_and_links_violations_to_history_lines(campaign) -> None:
    _, out = campaign
    page_file = out / "forgets" / "seed-1" / "report.html"

    def probe(page):
        seen = page.evaluate("""() => ({
            tables: [...document.querySelectorAll('table')].map(t => t.className),
            images: [...document.images].map(i => [i.complete, i.naturalWidth, i.src.slice(0, 22)]),
            lanes: [...document.querySelectorAll('svg.timeline text.lane-label')].map(t => t.textContent),
            faults: document.querySelectorAll('svg.timeline a rect').length,
            violations: document.querySelectorAll('ul.violations a.hl').length,
            open: document.getElementById('history').open })""")
        link = page.locator("ul.violations a.hl").first
        target = link.get_attribute("href")
        link.click()
        page.wait_for_function("() => document.getElementById('history').open")
        seen["after_click"] = page.evaluate(
            "t => [document.getElementById('history').open, location.hash, "
            "document.querySelector(t).getBoundingClientRect().top < window.innerHeight]", target)
        seen["target_text"] = page.locator(target).inner_text()
        return seen

    shown = render(page_file, probe)
    v = shown.value
    assert shown.errors == [] and shown.requests == []
    assert {"expectations", "summary", "members", "history"} <= set(v["tables"])
    assert v["images"] == [[True, 1100, "data:image/png;base64,"]]
    assert {"phases", "node0", "gate0", "stop_reading client bob", "kill node 0", "alice", "bob"} <= set(v["lanes"])
    assert v["violations"] > 0 and v["open"] is False
    is_open, hash_, visible = v["after_click"]
    assert is_open and re.fullmatch(r"#h\d+", hash_) and visible
    assert "forgets" in page_file.read_text() and ("alice" in v["target_text"] or "bob" in v["target_text"])


def test_seeds_are_a_count_a_range_or_a_list() -> None:
    assert parse_seeds("3") == [1, 2, 3]
    assert parse_seeds("1-20") == list(range(1, 21))
    assert parse_seeds("7-7") == [7]
    assert parse_seeds("1,4,9-11") == [1, 4, 9, 10, 11]
    assert parse_seeds("2,2,1-2") == [2, 1]
    for bad in ("0", "x", "5-1", "1,,2", "-3", ""):
        with pytest.raises(SeedsError):
            parse_seeds(bad)


CAMPAIGN_USAGE = [
    (["--seeds", "x"], "--seeds x: cannot read 'x'"),
    (["--seeds", "0"], "a count must be at least 1"),
    (["--repeat", "0"], "--repeat must be at least 1"),
    (["--jobs", "0"], "--jobs must be at least 1"),
    (["--group", "nosuchgroup"], "no scenario is in group 'nosuchgroup'; groups: cluster, links, load, network, "
                                "presence, processes, quick, random, security, servers"),
    (["--group", "quick", "--scenarios", "baseline"], "--scenarios and --group: give one of them, not both"),
    (["--scenarios", "basline"], "did you mean 'baseline'?"),
    (["--bogus"], "pushchat chaos campaign: error: unrecognized arguments: --bogus"),
]


@pytest.mark.parametrize("argv, says", CAMPAIGN_USAGE, ids=[" ".join(a) for a, _ in CAMPAIGN_USAGE])
def test_campaign_usage_errors_exit_64_before_anything_runs(argv, says, capsys, tmp_path) -> None:
    assert cli.main(["chaos", "campaign", "--out", str(tmp_path / "c"), *argv]) == outcome.USAGE
    captured = capsys.readouterr()
    assert says in captured.err and captured.out == ""
    assert not (tmp_path / "c").exists()


def test_the_progress_line_says_done_total_failures_and_eta(monkeypatch) -> None:
    from chaos import campaign

    tally = campaign.Tally(total=12, started=100.0)
    line = cli_chaos.CampaignProgress(tally, quiet=True).line
    monkeypatch.setattr(time, "monotonic", lambda: 130.0)  # both modules read this clock
    assert line() == "campaign 0/12 done, 0 running, 0 failed  elapsed 0:30  ETA --:--"
    tally.done, tally.running, tally.failed, tally.not_judged = 3, 2, 1, 1
    tally.last = "baseline seed 2: FAIL valid"
    # 3 runs in 30 s: 9 more take 90 s
    assert line() == ("campaign 3/12 done, 2 running, 1 failed, 1 not judged  elapsed 0:30  ETA 1:30  "
                      "last: baseline seed 2: FAIL valid")
