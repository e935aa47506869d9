"""`pushchat chaos run` of two scenarios as a user runs it, then `pushchat chaos check` of its folder.

One real run (a client link reset, a node SIGKILLed and restarted) feeds
every test here: what reaches the terminal, where the client logs go, the
summary's loss columns, and re-judging the whole run folder.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chaos import cli, runner

ROOT = Path(__file__).resolve().parents[2]

BLIP = """\
name: blip
description: Bob's link is reset once; he reconnects and polls back what he missed.
topology: {clients: [alice, bob]}
workload: {duration: 3.0, rate: 10}
recovery_wait: 3.0
faults:
  - {kind: reset, target: client bob, start: 1.0, duration: 0.5}
expect: {verdict: valid, lost: "== 0", reconnects: ">= 1"}
"""

FORGETFUL = """\
name: forgetful
description: The node is SIGKILLed and restarted; it forgets what it acknowledged before.
topology: {clients: [alice, bob]}
workload: {duration: 4.0, rate: 10, senders: [alice]}
recovery_wait: 3.0
faults:
  - {kind: kill, target: node 0, start: 1.0, duration: 1.0}
expect: {verdict: [valid, invalid], lost_by_server: "> 0"}
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
    return text[text.index("\nSummary ("):text.index("\nOutput: ")].strip()


def rows(table: str) -> dict[str, dict[str, str]]:
    """A summary table's rows by scenario, each by header (cells are two or more spaces apart)."""
    header, _, *lines = table.splitlines()
    names = re.split(r"\s{2,}", header.strip())
    return {cells[0]: dict(zip(names, cells)) for cells in (re.split(r"\s{2,}", line.strip()) for line in lines)}


@pytest.mark.chaos
def test_the_summary_shows_the_servers_losses(finished) -> None:
    done, _ = finished
    assert done.returncode == runner.EXIT_MET, done.stdout + done.stderr
    table = rows(summary(done.stdout).split("\n", 1)[1])
    # the restarted node forgot what it had acknowledged: the summary says so in its own column
    assert table["forgetful"]["expect"].endswith("ok") and int(table["forgetful"]["lost by server"]) > 0
    assert table["blip"]["lost by server"] == "0" and table["blip"]["lost"] == "0"


@pytest.mark.chaos
def test_check_of_a_multi_scenario_run_rejudges_each_and_prints_the_same_summary(finished, capsys,
                                                                                 tmp_path) -> None:
    done, out = finished
    assert cli.main(["chaos", "check", str(out)]) == runner.EXIT_MET
    checked = capsys.readouterr().out
    assert "[1/2] blip: met its expectations" in checked and "[2/2] forgetful: met its expectations" in checked
    assert summary(checked) == summary(done.stdout)

    # the documented exit codes of check: 0 met, 1 not met, 2 could not judge
    assert cli.main(["chaos", "check", str(out / "blip")]) == runner.EXIT_MET
    strict = tmp_path / "strict.yaml"
    strict.write_text(BLIP.replace("name: blip", "name: strict").replace("reconnects:", "duplicates: '> 0', "
                                                                                    "reconnects:"))
    assert cli.main(["chaos", "check", str(out / "blip"), "--scenario", str(strict)]) == runner.EXIT_NOT_MET
    assert "[1/1] strict: FAILED its expectations" in capsys.readouterr().out
    cut = tmp_path / "cut"
    shutil.copytree(out / "blip", cut)
    ops = (cut / "history.jsonl").read_text().splitlines()
    (cut / "history.jsonl").write_text("\n".join(line for line in ops if '"final_poll"' not in line
                                                 and '"done"' not in line) + "\n")
    assert cli.main(["chaos", "check", str(cut)]) == runner.EXIT_NOT_JUDGED
    assert "verdict unknown" in capsys.readouterr().out
