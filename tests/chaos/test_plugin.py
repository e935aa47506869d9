"""The README's "your own chaos tests" examples, verbatim in spirit: the plugin's fixture works."""

from __future__ import annotations

import asyncio

import pytest

from system.client import ChatClient


@pytest.mark.chaos
def test_bob_survives_a_reset(chaos) -> None:
    result = chaos.run_yaml("""
        name: bob-reset
        topology: {clients: [alice, bob], rooms: [General]}
        workload: {duration: 4, rate: 10, senders: [alice]}
        faults: [{kind: reset_peer, target: client bob, start: 1, duration: 0.5}]
        expect: {lost: "== 0", reconnects: ">= 1"}
    """)
    assert result.passed, result.explain()


@pytest.mark.chaos
def test_bare_topology_routes_clients_through_their_proxies(chaos) -> None:
    async def scenario() -> list[str]:
        async with chaos.topology(nodes=2, gates=2, clients={"alice": 0, "bob": 1}) as topo:
            shown: list[str] = []
            got = asyncio.Event()

            class Seen:
                def on_display(self, room, message, source):
                    shown.append(message.message)
                    got.set()

            alice = ChatClient(topo.client_addr("alice"), "alice")
            bob = ChatClient(topo.client_addr("bob"), "bob", observers=[Seen()])
            try:
                await alice.connect()
                await bob.connect()
                await alice.join("General")
                await bob.join("General")
                await alice.send("General", "across gates")
                await asyncio.wait_for(got.wait(), 10)
            finally:
                await alice.close()
                await bob.close()
            assert topo.addr_of("client-bob") != topo.gates[1].addr  # bob really dials his proxy
            return shown

    assert asyncio.run(scenario()) == ["across gates"]


def test_a_bad_inline_scenario_names_its_field(chaos) -> None:
    from chaos.scenario.files import ScenarioError

    with pytest.raises(ScenarioError, match=r"bad-one\.yaml: workload\.rate"):
        chaos.run_yaml("""
            name: bad-one
            topology: {clients: [alice]}
            workload: {rate: -1}
        """)
