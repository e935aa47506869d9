"""A run starts the topology its scenario declares, and nothing the scenario did not ask for."""

from __future__ import annotations

import asyncio
from pathlib import Path

from chaos.infra.links import Links
from chaos.run import plan_for
from chaos.scenario.files import read_scenario
from chaos.topology import Topology
from system.client import ChatClient


def test_a_runs_nodes_host_the_scenarios_rooms(chaos_links: Links, tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("name: x\ntopology: {clients: [alice], rooms: [Lobby, General], store: memory}\n")
    scenario = read_scenario(path)

    async def rooms() -> list[str]:
        async with Topology(plan_for(scenario), tmp_path / "run", chaos_links) as topo:
            alice = ChatClient(topo.client_addr("alice"), "alice")
            try:
                await alice.connect()
                return await alice.list_rooms()
            finally:
                await alice.close()

    assert sorted(asyncio.run(rooms())) == ["General", "Lobby"]


def test_the_scenarios_switches_reach_the_nodes_flags(tmp_path: Path) -> None:
    """``topology.push_to_sender`` and ``topology.page_size`` are node flags; left out, the nodes' defaults."""
    path = tmp_path / "x.yaml"
    path.write_text("name: x\ntopology: {clients: [alice], push_to_sender: true, page_size: 10}\n")
    args = plan_for(read_scenario(path)).node_args
    assert "--push-to-sender" in args and args[args.index("--page-size") + 1] == "10"
    path.write_text("name: x\ntopology: {clients: [alice]}\n")
    args = plan_for(read_scenario(path)).node_args
    assert "--push-to-sender" not in args and args[args.index("--page-size") + 1] == "1000"


def test_workload_variations_name_clients_of_the_topology(tmp_path: Path) -> None:
    import pytest
    from chaos.scenario.files import ScenarioError
    path = tmp_path / "x.yaml"
    path.write_text("name: x\ntopology: {clients: [alice, bob], push_to_sender: 1}\n")
    with pytest.raises(ScenarioError, match="topology.push_to_sender: must be true or false"):
        read_scenario(path)
    path.write_text("name: x\ntopology: {clients: [alice, bob]}\nworkload: {typists: [dave], stale_readers: [bob]}\n")
    with pytest.raises(ScenarioError, match=r"workload.typists\[0\]: 'dave' is not a client"):
        read_scenario(path)
    path.write_text("name: x\ntopology: {clients: [alice, bob]}\nworkload: {typists: [bob]}\n")
    with pytest.raises(ScenarioError, match="a typist never sends"):
        read_scenario(path)
    path.write_text("name: x\ntopology: {clients: [alice, bob]}\nworkload: {senders: [alice], typists: [bob], "
                    "stale_readers: [alice]}\n")
    assert (read_scenario(path).workload.typists, read_scenario(path).workload.stale_readers) == (("bob",), ("alice",))
