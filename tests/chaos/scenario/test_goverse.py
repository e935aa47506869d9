"""A system under test is a choice: ``system:`` in a scenario file (validated), ``expect_on`` per system, and
what Goverse cannot run refused with the thing named."""

from __future__ import annotations

import pytest

from chaos.scenario.files import ScenarioError, find, read_scenario
from tests.chaos.scenario_files import write

GOVERSE = """\
name: x
description: Goverse under a node kill.
system: goverse
topology: {clients: [alice, bob], rooms: [General]}
workload: {duration: 3.0}
faults:
  - {kind: kill, target: node 0, start: 1.0, duration: 1.0}
expect: {lost: "== 0"}
expect_on:
  goverse: {lost: "> 0", verdict: invalid}
"""


def test_system_and_its_expectations_come_from_the_file(tmp_path):
    s = read_scenario(write(tmp_path, GOVERSE))
    assert s.system == "goverse"
    on = s.for_system(None)
    assert {(e.name, e.op, e.value) for e in on.expect} == {("lost", ">", 0), ("verdict", "==", "invalid")}
    mine = s.for_system("pushchat")  # --system overrides the file; pushchat has no expect_on: the plain expect
    assert mine.system == "pushchat" and ("lost", "==", 0) in {(e.name, e.op, e.value) for e in mine.expect}


@pytest.mark.parametrize("change, field, words", [
    ("system: goverse", "system", "must be one of pushchat, goverse, not a str ('gover') (did you mean 'goverse'?)"),
    ("topology: {clients: [alice], rooms: [General], auth: token}", "topology.auth", "'token' is pushchat's"),
    ("topology: {clients: [alice], rooms: [Lobby]}", "topology.rooms", "not Lobby"),
    ("expect_on: {gover: {}}", "expect_on.gover", "unknown key"),
    ("expect_on: {goverse: {lots: 1}}", "expect_on.goverse.lots", "unknown key"),
])
def test_bad_system_fields_are_named(tmp_path, change, field, words):
    key = change.split(":")[0]
    lines = [line for line in GOVERSE.splitlines() if not line.startswith(key) and not line.startswith("  goverse")]
    text = "\n".join(lines) + "\n" + change.replace("system: goverse", "system: gover") + "\n"
    with pytest.raises(ScenarioError) as err:
        read_scenario(write(tmp_path, text))
    assert f"{field}: " in str(err.value) and words in str(err.value)


@pytest.mark.parametrize("kind, words", [("push_drop", "'push_drop' acts through pushchat's in-process fault points"),
                                         ("rpc_abort", "'rpc_abort' acts through"),
                                         ("clock", "'clock' moves a server's clock")])
def test_fault_points_are_refused_for_goverse_naming_the_kind(tmp_path, kind, words):
    text = GOVERSE.replace("kind: kill, target: node 0", f"kind: {kind}, target: node 0")
    with pytest.raises(ScenarioError, match=words):
        read_scenario(write(tmp_path, text))


def test_with_several_gates_a_fault_on_one_gates_link_to_a_node_is_refused(tmp_path):
    """A Goverse node has one advertise address: node 0's proxy is every gate's way to it, so `gate 1 -> node 0`
    cannot be cut alone; a kill of a gate can."""
    two = GOVERSE.replace("topology: {clients: [alice, bob], rooms: [General]}",
                          "topology: {clients: {alice: 0, bob: 1}, gates: 2, rooms: [General]}")
    assert read_scenario(write(tmp_path, two.replace("target: node 0", "target: gate 1"))).topology.gates == 2
    cut = two.replace("kind: kill, target: node 0", "kind: disable, target: gate 1 -> node 0")
    with pytest.raises(ScenarioError, match=r"faults: disable on gate 1 -> node 0 acts on gate1-node0: with several "
                                            r"gates, each Goverse node is behind one proxy"):
        read_scenario(write(tmp_path, cut))


def test_a_fault_on_the_store_is_refused_but_the_store_field_is_pushchats_alone():
    assert find("etcd-member-kill").for_system("goverse").topology.store == "postgres"  # goverse ignores it
    with pytest.raises(ValueError, match="pause on store acts on the store, which goverse has not"):
        find("store-outage").for_system("goverse")


def test_a_campaign_cell_carries_its_system_into_its_folder_and_rerun_command(tmp_path):
    from chaos.campaign import Cell, Options, rerun_command

    cell = Cell("baseline", find("baseline").path, 1, system="goverse")
    assert cell.folder == "baseline/goverse/seed-1" and cell.test_name == "baseline[system=goverse,seed=1]"
    assert "--system goverse" in rerun_command(cell, Options(tmp_path))
    plain = Cell("baseline", find("baseline").path, 1)
    assert "--system pushchat" in rerun_command(plain, Options(tmp_path, system="pushchat"))
    assert "--system" not in rerun_command(plain, Options(tmp_path))


def test_system_flag_refuses_a_scenario_goverse_cannot_run():
    with pytest.raises(ValueError, match="duplicate-pushes cannot run against goverse: .*'push_duplicate' acts through"):
        find("duplicate-pushes").for_system("goverse")
    assert find("node-kill-restart").for_system("goverse").system == "goverse"
