"""The running topology creates its processes and proxies under the names fault targets resolve to."""

from __future__ import annotations

import asyncio
from pathlib import Path

from chaos.faults.fault import make_fault
from chaos.infra.links import Links
from chaos.scenario.model import TopologySpec
from chaos.topology import Topology, TopologyPlan


def test_a_running_topology_names_its_parts_as_its_scenario_does(chaos_links: Links, tmp_path: Path) -> None:
    spec = TopologySpec(nodes=2, gates=2, clients=(("alice", 0), ("bob", 1), ("carol", 0)), store="memory")
    plan = TopologyPlan(nodes=spec.nodes, gates=spec.gates, clients=dict(spec.clients), store=spec.store)
    names = spec.names()
    assert plan.names == names

    async def started() -> None:
        async with Topology(plan, tmp_path, chaos_links) as topo:
            assert topo.names == names
            assert sorted(topo.proxies) == sorted(names.links())
            assert [p.name for p in topo.nodes + topo.gates] == names.processes()
            for text in ("all links", "client bob"):  # what the nemesis hits is there
                for name in make_fault("latency", text, 0, 1).names(names):
                    assert topo.get(name) is topo.proxies[name]
            for text in ("all nodes", "all gates"):
                for name in make_fault("kill", text, 0, 1).names(names):
                    assert topo.process(name).name == name
            assert topo.client_link("bob") is topo.get("client-bob")
            assert topo.client_addr("bob") == topo.client_link("bob").listen != topo.gates[1].addr

    asyncio.run(started())
