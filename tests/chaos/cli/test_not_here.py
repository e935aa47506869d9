"""A machine that cannot run the network scenarios (not root, no nftables): ``--all`` runs what it can and lists
those as not run, saying why, without failing; naming one refuses, with that line, before anything starts.

The machine is made to look unprivileged by its effective uid, so the line is the real preflight's."""

from __future__ import annotations

from pathlib import Path

import pytest
from junitparser import JUnitXml, Skipped

import chaos.infra.links
from chaos import outcome
from chaos.cli import chaos as cli_chaos
from chaos.cli import main as cli
from chaos.infra import machine, netns
from chaos.scenario.files import read_scenarios

NETWORK = {"half-open-gate-link", "asymmetric-partition", "lossy-links", "partition-majority-ip",
           "store-etcd-blackhole-ip"}
LINE = "network: namespaces needs root (ip netns add, nftables); run as root or drop it"


class _NoLinks:
    supports_extensions = True

    def __enter__(self) -> "_NoLinks":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture
def not_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "_checked", {})  # probed again, as by a new process
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)


@pytest.mark.parametrize("argv", [["chaos", "run", "baseline", "half-open-gate-link"],
                                  ["chaos", "run", "--group", "network"],
                                  ["chaos", "campaign", "--scenarios", "lossy-links"]])
def test_a_network_scenario_asked_for_is_refused_in_one_line_before_anything_runs(
        not_root: None, argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*argv, "--out", str(tmp_path / "out")]) == outcome.NOT_HERE == 69
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [captured.err.strip()]  # one line
    assert LINE in captured.err and "cannot run" in captured.err
    assert "baseline" not in captured.err  # it names the scenarios it stops, not the others
    assert not (tmp_path / "out").exists()  # nothing ran


def test_all_runs_what_the_machine_can_and_lists_the_rest_as_not_run(
        not_root: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runnable, not_here = cli_chaos._here(list(read_scenarios()), everything=True)
    assert {s.name for s, _ in not_here} == NETWORK and {why for _, why in not_here} == {LINE}
    assert "baseline" in {s.name for s in runnable}
    # the whole command, with only the network scenarios in its folder (the others cost minutes): no run starts,
    # so no Toxiproxy is needed either
    monkeypatch.setattr(cli_chaos, "read_scenarios", lambda: [s for s in read_scenarios() if s.name in NETWORK])
    monkeypatch.setattr(chaos.infra.links.Links, "embedded", classmethod(lambda cls, **kw: _NoLinks()))
    junit = tmp_path / "junit.xml"
    code = cli.main(["chaos", "run", "--all", "--quiet", "--out", str(tmp_path / "out"), "--junit", str(junit)])
    out = capsys.readouterr().out
    assert code == outcome.MET  # a newcomer's --all without root is not a failure
    assert "Not run on this machine (5 scenarios" in out and LINE in out
    cases = {case.name: case.result for suite in JUnitXml.fromfile(str(junit)) for case in suite}
    assert set(cases) == NETWORK
    assert all(isinstance(r[0], Skipped) and LINE in (r[0].message or "") for r in cases.values())


def test_on_a_machine_that_can_nothing_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "_checked", {"namespaces": ""})
    runnable, not_here = cli_chaos._here(list(read_scenarios()), everything=True)
    assert not_here == [] and NETWORK <= {s.name for s in runnable}
