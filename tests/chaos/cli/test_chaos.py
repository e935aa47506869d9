"""`pushchat chaos` without running servers: list, bad files, a run that fails."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
from junitparser import Error, JUnitXml

from chaos import outcome
from chaos.cli import main as cli

from chaos.cli import chaos as cli_chaos
from chaos.scenario.files import read_scenarios


@pytest.mark.parametrize("columns", [None, "80", "200"])
def test_list_shows_every_scenario_with_its_description_within_the_width(capsys, monkeypatch, columns) -> None:
    """In a pipe (no COLUMNS) 100 columns, else the terminal's: a long description wraps under its column."""
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert cli.main(["chaos", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(map(len, lines)) <= int(columns or 100)
    at = lines[0].index("description")
    described: dict[str, str] = {}
    for line in lines[2:]:
        if not line.startswith(" "):
            name = line.split()[0]
        described[name] = f"{described.get(name, '')} {line[at:]}".strip()
    assert described == {s.name: s.description for s in read_scenarios()}


def test_a_bad_scenario_file_is_exit_3_naming_file_and_field(tmp_path, capsys) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: broken\ntopology: {nodes: 0, clients: [a]}\n")
    assert cli.main(["chaos", "run", str(bad)]) == 3
    err = capsys.readouterr().err
    assert "broken.yaml" in err and "topology.nodes" in err


def test_every_problem_of_every_named_file_is_listed_exit_3(tmp_path, capsys) -> None:
    one = tmp_path / "one.yaml"
    one.write_text("name: one\ntopology: {clients: [a, b]}\nfaults:\n  - {kind: reset_peer, target: client b, "
                   "strat: 1, duration: 1}\nexpect: {lots: 0}\n")
    two = tmp_path / "two.yaml"
    two.write_text("name: two\ntopology: {clients: [a]}\nworkload: {rate: -1}\n")
    assert cli.main(["chaos", "run", str(one), str(two)]) == outcome.BAD_SCENARIO == 3
    err = capsys.readouterr().err.splitlines()
    assert err == ["pushchat chaos: 3 problems in scenario files:",
                   f"  {one}: faults[0].strat: unknown key (did you mean 'start'?)",
                   f"  {one}: expect.lots: unknown key (did you mean 'lost'?)",
                   f"  {two}: workload.rate: must be a positive number, not -1"]


def test_a_scenario_with_the_old_kind_name_is_exit_3_with_the_new_name(tmp_path, capsys) -> None:
    old = tmp_path / "old.yaml"
    old.write_text("name: old\ntopology: {clients: [a, b]}\nfaults:\n"
                   "  - {kind: reset, target: client b, start: 1, duration: 1}\n")
    assert cli.main(["chaos", "run", str(old)]) == outcome.BAD_SCENARIO
    assert capsys.readouterr().err == (f"pushchat chaos: {old}: faults[0].kind: unknown fault kind 'reset' "
                                       "(did you mean 'reset_peer'?)\n")


USAGE_ERRORS = [
    ([], "usage: pushchat [--verbose] COMMAND"),                                       # bare `pushchat`
    (["nosuchcommand"], "unknown command 'nosuchcommand'"),
    (["clien"], "unknown command 'clien'; did you mean 'client'?"),
    (["--bogus"], "unknown option '--bogus' (before a command: --verbose, --help; a command's options come after it)"),
    (["chaos"], "required: ACTION"),
    (["chaos", "run"], "name at least one scenario"),
    (["chaos", "run", "nosuchscenario"], "no scenario 'nosuchscenario'"),
    (["chaos", "run", "basline"], "did you mean 'baseline'?"),
    (["chaos", "run", "no/such/file.yaml"], "no/such/file.yaml: no such scenario file"),
    (["chaos", "run", "baseline", "--all"], "not both"),
    (["chaos", "run", "baseline", "baseline"], "baseline: named twice"),
    (["chaos", "run", "baseline", "--bogus"], "usage: pushchat chaos run [-h]"),  # the sub-command's usage
    (["chaos", "run", "baseline", "--bogus"], "pushchat chaos run: error: unrecognized arguments: --bogus"),
    (["chaos", "run", "baseline", "--seed", "x"], "invalid int value: 'x'"),
    (["chaos", "soak", "baseline"], "say how long: --duration"),
    (["chaos", "soak", "baseline", "--duration", "1x"], "not a duration: '1x' (say 1h, 30m, 90s, 1h30m or seconds)"),
    (["chaos", "soak", "basline", "--duration", "1m"], "did you mean 'baseline'?"),
    (["chaos", "soak", "baseline", "--duration", "1m", "--cycle", "1s"], "--cycle 1s is shorter than baseline's"),
    (["chaos", "check"], "required: folder"),
    (["chaos", "check", "no-such-folder"], "no-such-folder: no such folder"),
    (["chaos", "check", "README.md"], "README.md is a file; give a run's folder"),
    (["chaos", "check", "tests"], "tests holds no run"),
    (["node", "--gate-buffer", "x"], "argument --gate-buffer"),            # every command, not only chaos
]


@pytest.mark.parametrize("argv, says", USAGE_ERRORS, ids=[" ".join(a) or "(bare)" for a, _ in USAGE_ERRORS])
def test_usage_errors_have_their_own_exit_code(argv, says, capsys) -> None:
    assert cli.main(argv) == outcome.USAGE == 64
    captured = capsys.readouterr()
    assert says in captured.err and captured.out == ""


def test_help_is_not_an_error_and_lists_the_exit_codes(capsys) -> None:
    assert cli.main(["--help"]) == 0
    assert "usage: pushchat [--verbose] COMMAND" in capsys.readouterr().out
    for argv in (["chaos", "--help"], ["chaos", "run", "--help"], ["chaos", "check", "--help"]):
        assert cli.main(argv) == 0
        out = capsys.readouterr().out
        assert all(f"{code:>3}  {what[:30]}" in out for code, what in outcome.MEANINGS.items()), out


def test_the_readme_exit_code_table_is_the_one_the_cli_uses() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(\d+)` \| (.+?) \|$", readme[readme.index("Exit codes"):], re.M))
    assert sorted(map(int, rows)) == sorted(outcome.MEANINGS)


class _Links:
    supports_extensions = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def test_a_run_that_fails_is_reported_and_the_others_go_on(monkeypatch, tmp_path, capsys) -> None:
    import chaos.infra.links
    import chaos.run

    calls = []

    async def broken_run(scenario, out, links, **kwargs):
        calls.append(scenario.name)
        raise RuntimeError(f"{scenario.name}: node0 exited before listening")

    monkeypatch.setattr(chaos.run, "run_scenario", broken_run)
    monkeypatch.setattr(chaos.infra.links.Links, "embedded", classmethod(lambda cls, **kw: _Links()))
    args = argparse.Namespace(action="run", scenarios=["baseline", "latency-jitter"], all=False, group=None,
                              seed=None, out=tmp_path, toxiproxy_url=None, duration=None, quiet=True,
                              junit=tmp_path / "junit.xml", ctk_journal=None)
    assert cli_chaos.run(args) == 2
    out = capsys.readouterr().out
    assert calls == ["baseline", "latency-jitter"]
    assert "baseline: ERROR" in out and "node0 exited before listening" in out
    assert "Not judged (the run failed; exit code 2): baseline, latency-jitter" in out
    # in JUnit XML a run that broke off is an error, saying why
    [suite] = list(JUnitXml.fromfile(str(tmp_path / "junit.xml")))
    assert (suite.tests, suite.failures, suite.errors) == (2, 0, 2)
    for case in suite:
        [error] = case.result
        assert isinstance(error, Error) and "node0 exited before listening" in error.message


def test_the_campaigns_first_line_counts_in_words_that_agree(tmp_path) -> None:
    one = cli_chaos.campaign_plan(1, 1, 1, 1, 1, tmp_path)
    assert one == f"Campaign: 1 scenario x 1 seed = 1 run, 1 at a time -> {tmp_path}"
    assert cli_chaos.campaign_plan(2, 3, 2, 12, 4, tmp_path) == \
        f"Campaign: 2 scenarios x 3 seeds x 2 repeats = 12 runs, 4 at a time -> {tmp_path}"
