"""Scenario groups: a ``group:`` key in a scenario file, and ``--group`` to run a group."""

from __future__ import annotations

import argparse

import pytest

from chaos import outcome
from chaos.cli import main as cli

from chaos.cli import chaos as cli_chaos
from chaos.scenario.files import ScenarioError, in_group, read_scenario, read_scenarios
from tests.chaos.scenario_files import GOOD, write


def test_a_group_is_a_name_or_a_list_of_names(tmp_path) -> None:
    assert read_scenario(write(tmp_path, GOOD.replace("seed: 3", "group: links\nseed: 3"))).groups == ("links",)
    assert read_scenario(write(tmp_path, GOOD.replace("seed: 3", "group: [links, quick]\nseed: 3"))).groups == (
        "links", "quick")
    assert read_scenario(write(tmp_path, GOOD)).groups == ()


@pytest.mark.parametrize("value", ["5", "[]", "'two words'", "[links, 3]"])
def test_a_bad_group_names_the_file_and_field(tmp_path, value) -> None:
    path = write(tmp_path, GOOD.replace("seed: 3", f"group: {value}\nseed: 3"))
    with pytest.raises(ScenarioError) as caught:
        read_scenario(path)
    assert caught.value.field == "group" and "must be a group name or a list of them" in caught.value.message


def test_the_shipped_quick_group_is_a_smoke_set_of_four() -> None:
    assert [s.name for s in in_group(read_scenarios(), "quick")] == ["baseline", "client-stream-drop",
                                                               "node-kill-restart", "stalled-client"]
    assert all(s.groups for s in read_scenarios())  # every shipped scenario is in some group


def test_list_shows_each_scenarios_groups(capsys) -> None:
    assert cli.main(["chaos", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["scenario", "group", "description"]
    row = next(line for line in lines if line.startswith("stalled-client "))
    assert row.split()[1] == "links,quick"


def _args(**given) -> argparse.Namespace:
    return argparse.Namespace(**{"scenarios": [], "all": False, "group": None, **given})


def test_run_group_selects_the_groups_scenarios() -> None:
    assert [s.name for s in cli_chaos._selected(_args(group="processes"))] == [
        "crash-after-stall", "gate-kill-restart", "node-crash-loop", "node-kill-restart", "store-fail-restart"]


def test_all_leaves_out_the_on_demand_groups_which_run_by_name_or_group() -> None:
    everything = {s.name for s in read_scenarios()}
    by_all = {s.name for s in cli_chaos._selected(_args(all=True))}
    network = {"half-open-gate-link", "asymmetric-partition", "lossy-links", "partition-majority-ip",
               "store-etcd-blackhole-ip"}
    load = ["big-room-presence", "load-baseline", "load-with-faults"]
    assert everything - by_all == set(load) and network <= by_all
    assert {s.name for s in cli_chaos._selected(_args(group="network"))} == network
    assert [s.name for s in cli_chaos._selected(_args(group="load"))] == load
    assert [s.name for s in cli_chaos._selected(_args(scenarios=["load-baseline"]))] == ["load-baseline"]


@pytest.mark.parametrize("argv, says", [
    (["--group", "nosuch"], "no scenario is in group 'nosuch'; groups: cluster, links, load, network, presence, "
                            "processes, quick, random, security, servers"),
    (["--group", "quick", "--all"], "--all and --group: give one of them, not both"),
    (["baseline", "--group", "quick"], "scenario names and --group: give one of them, not both"),
])
def test_run_group_usage_errors(argv, says, capsys) -> None:
    assert cli.main(["chaos", "run", *argv]) == outcome.USAGE
    assert says in capsys.readouterr().err
