"""`pushchat chaos` without running servers: list, bad files, a run that fails."""

from __future__ import annotations

import argparse


from chaos import cli, runner
from chaos.scenario import load_all


def test_list_shows_every_scenario_with_its_description(capsys) -> None:
    assert cli.main(["chaos", "list"]) == 0
    out = capsys.readouterr().out
    for scenario in load_all():
        assert scenario.name in out and scenario.description in out


def test_a_bad_scenario_file_is_exit_3_naming_file_and_field(tmp_path, capsys) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: broken\ntopology: {nodes: 0, clients: [a]}\n")
    assert cli.main(["chaos", "run", str(bad)]) == 3
    err = capsys.readouterr().err
    assert "broken.yaml" in err and "topology.nodes" in err


def test_unknown_scenario_name_is_a_clear_error(capsys) -> None:
    assert cli.main(["chaos", "run", "no-such-scenario"]) == 3
    assert "no-such-scenario" in capsys.readouterr().err


class _Links:
    supports_extensions = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def test_a_run_that_fails_is_reported_and_the_others_go_on(monkeypatch, tmp_path, capsys) -> None:
    import chaos.links
    import chaos.run

    calls = []

    async def broken_run(scenario, out, links, **kwargs):
        calls.append(scenario.name)
        raise RuntimeError(f"{scenario.name}: node0 exited before listening")

    monkeypatch.setattr(chaos.run, "run_scenario", broken_run)
    monkeypatch.setattr(chaos.links.Links, "embedded", classmethod(lambda cls, **kw: _Links()))
    args = argparse.Namespace(action="run", scenarios=["baseline", "latency-jitter"], all=False, seed=None,
                              out=tmp_path, toxiproxy_url=None, duration=None, quiet=True)
    assert runner.run(args) == 2
    out = capsys.readouterr().out
    assert calls == ["baseline", "latency-jitter"]
    assert "baseline: ERROR" in out and "node0 exited before listening" in out
    assert "Not judged (the run failed; exit code 2): baseline, latency-jitter" in out
