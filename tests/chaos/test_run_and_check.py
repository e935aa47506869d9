"""`pushchat chaos run` of two scenarios as a user runs it, then `pushchat chaos check` of its folder.

One real run (a client link reset, a node SIGKILLed and restarted) feeds
every test here: what reaches the terminal, where the client logs go, the
summary's loss columns, and re-judging the whole run folder.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chaos import outcome
from chaos.cli import main as cli

from chaos.history import History, read as read_history
from chaos.rundir import RunFolder
from chaos.workload.client import Counts, _Recorder

ROOT = Path(__file__).resolve().parents[2]

BLIP = """\
name: blip
description: Bob's link is reset once; he reconnects and polls back what he missed.
topology: {clients: [alice, bob]}
workload: {duration: 3.0, rate: 10}
recovery_wait: 3.0
faults:
  - {kind: reset_peer, target: client bob, start: 1.0, duration: 0.5}
expect: {verdict: valid, lost: "== 0", reconnects: ">= 1"}
"""

FORGETFUL = """\
name: forgetful
description: The node keeps rooms in memory; bob stalls, then the node is SIGKILLed and forgets what bob missed.
topology: {clients: [alice, bob], store: memory}
workload: {duration: 4.0, rate: 50, senders: [alice], text_bytes: 4000}
recovery_wait: 3.0
faults:
  - {kind: stop_reading, target: client bob, start: 0.2, duration: 1.5}
  - {kind: kill, target: node 0, start: 1.0, duration: 1.0}
expect: {verdict: invalid, lost_by_server: "> 0", lost: "> 0"}
"""


def chaos_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaos.cli", "chaos", *args], capture_output=True, text=True,
                          timeout=180, cwd=ROOT, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Both scenarios run by `pushchat chaos run FILE FILE --quiet --out ROOT`."""
    here = tmp_path_factory.mktemp("scenarios")
    files = []
    for text in (BLIP, FORGETFUL):
        path = here / f"{text.split()[1]}.yaml"
        path.write_text(text)
        files.append(str(path))
    out = tmp_path_factory.mktemp("run") / "both"
    return chaos_cli("run", *files, "--quiet", "--out", str(out)), out


def summary(text: str) -> str:
    """The summary block of a run's or a check's output (without the output-folder line)."""
    return text[text.index("\nSummary\n"):text.index("\nOutput: ")].strip()


def rows(table: str) -> dict[str, dict[str, str]]:
    """A summary table's rows by scenario, each by header (cells are two or more spaces apart), its blocks of
    columns joined; the legend's indented lines left out."""
    out: dict[str, dict[str, str]] = {}
    for block in table.split("\n\n"):
        header, _, *lines = [line for line in block.splitlines() if not line.startswith("  ")]
        names = re.split(r"\s{2,}", header.strip())
        for cells in (re.split(r"\s{2,}", line.strip()) for line in lines):
            out.setdefault(cells[0], {}).update(zip(names, cells))
    return out


@pytest.mark.chaos
def test_a_quiet_run_prints_its_report_and_no_library_log_line(finished) -> None:
    done, _ = finished
    assert done.returncode == outcome.MET, done.stdout + done.stderr
    assert done.stderr == ""  # no "stream_lost", "reconnect_wait" or "history_reset" from the client library
    assert not [line for line in done.stdout.splitlines() if re.fullmatch(r"[a-z_]+", line)]
    block = summary(done.stdout).split("\n", 1)[1]
    assert max(map(len, block.splitlines())) <= 100  # a pipe gets 100 columns: the table is folded to fit
    table = rows(block)
    # the restarted node forgot what it had acknowledged: the summary says so in its own column
    assert table["forgetful"]["expect"].endswith("ok") and int(table["forgetful"]["lost by server"]) > 0
    assert table["blip"]["lost by server"] == "0" and table["blip"]["lost"] == "0"


@pytest.mark.chaos
def test_each_members_client_log_is_in_the_run_folder(finished) -> None:
    _, out = finished
    for scenario in ("blip", "forgetful"):
        for member in ("alice", "bob"):
            path = out / scenario / "logs" / f"client-{member}.log"
            lines = [json.loads(line) for line in path.read_text().splitlines()]
            assert all(doc["component"] == "client" and doc.get("user", member) == member for doc in lines), path
    bob = [json.loads(line)["event"] for line in (out / "blip" / "logs" / "client-bob.log").read_text().splitlines()]
    assert "stream_lost" in bob and "reconnected" in bob
    forgetful = out / "forgetful"
    events = {json.loads(line)["event"] for member in ("alice", "bob")
              for line in (forgetful / "logs" / f"client-{member}.log").read_text().splitlines()}
    assert "history_reset" in events
    assert any(op.f == "history_reset" for op in read_history(forgetful / "history.jsonl"))
    # the checker still reads only the node and gate logs, by incarnation (node0#2 after the restart)
    assert set(RunFolder(forgetful).read_server_logs()) == {"node0", "node0#2", "gate0"}


@pytest.mark.chaos
def test_the_run_names_each_scenarios_html_report_and_ends_with_where_they_are(finished) -> None:
    done, out = finished
    lines = done.stdout.splitlines()
    for scenario in ("blip", "forgetful"):
        page = out / scenario / "report.html"
        assert f"HTML report: {page}" in lines and page.is_file()
    assert lines[-1] == f"HTML reports: 2, one per scenario: {out}/SCENARIO/report.html  (open one in a browser)"


@pytest.mark.chaos
def test_check_of_a_multi_scenario_run_rejudges_each_and_prints_the_same_summary(finished, capsys,
                                                                                 tmp_path) -> None:
    done, out = finished
    assert cli.main(["chaos", "check", str(out)]) == outcome.MET
    checked = capsys.readouterr().out
    assert "[1/2] blip: met its expectations" in checked and "[2/2] forgetful: met its expectations" in checked
    assert summary(checked) == summary(done.stdout)

    # the documented exit codes of check: 0 met, 1 not met, 2 could not judge
    assert cli.main(["chaos", "check", str(out / "blip")]) == outcome.MET
    page = out / "blip" / "report.html"
    assert capsys.readouterr().out.splitlines()[-1] == f"HTML report: {page}  (open it in a browser)"
    strict = tmp_path / "strict.yaml"
    strict.write_text(BLIP.replace("name: blip", "name: strict").replace("reconnects:", "duplicates: '> 0', "
                                                                                    "reconnects:"))
    assert cli.main(["chaos", "check", str(out / "blip"), "--scenario", str(strict)]) == outcome.NOT_MET
    assert "[1/1] strict: FAILED its expectations" in capsys.readouterr().out
    cut = tmp_path / "cut"
    shutil.copytree(out / "blip", cut)
    ops = (cut / "history.jsonl").read_text().splitlines()
    (cut / "history.jsonl").write_text("\n".join(line for line in ops if '"final_poll"' not in line
                                                 and '"done"' not in line) + "\n")
    assert cli.main(["chaos", "check", str(cut)]) == outcome.NOT_JUDGED
    assert "verdict unknown" in capsys.readouterr().out


def test_the_client_library_prints_nothing_without_a_logging_setup() -> None:
    code = textwrap.dedent("""\
        import logging
        from system import log
        log.event(log.get("client"), logging.WARNING, "stream_lost", user="bob")
        log.get("client").error("recovery failed")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""


def test_a_gap_is_recorded_in_the_history(tmp_path) -> None:
    history = History(tmp_path / "history.jsonl")
    _Recorder("bob", history, Counts()).on_gap("General", 7)
    history.close()
    [op] = read_history(tmp_path / "history.jsonl")
    assert (op.process, op.type, op.f, op.value) == ("bob", "info", "gap", {"room": "General", "after_seq": 7})
