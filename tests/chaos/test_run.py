"""A run starts the topology its scenario declares, and nothing the scenario did not ask for."""

from __future__ import annotations

import asyncio
from pathlib import Path

from chaos.infra.links import Links
from chaos.run import plan_for
from chaos.scenario.files import load
from chaos.topology import Topology
from system.client import ChatClient


def test_a_runs_nodes_host_the_scenarios_rooms(chaos_links: Links, tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("name: x\ntopology: {clients: [alice], rooms: [Lobby, General], store: memory}\n")
    scenario = load(path)

    async def rooms() -> list[str]:
        async with Topology(plan_for(scenario), tmp_path / "run", chaos_links) as topo:
            alice = ChatClient(topo.client_addr("alice"), "alice")
            try:
                await alice.connect()
                return await alice.list_rooms()
            finally:
                await alice.close()

    assert sorted(asyncio.run(rooms())) == ["General", "Lobby"]
