"""Both hops notice a silently dead link through keepalive, and a gate re-registers with a restarted node."""

from __future__ import annotations

import time

from system.client import ChatClient
from system.gate import GateConfig, GateServer
from system.node import NodeConfig, NodeServer
from system_harness import Relay, Seen, capture_logs, wait_until


async def test_a_silently_dead_link_is_noticed_on_both_hops_within_seconds() -> None:
    node = NodeServer(NodeConfig())
    await node.start()
    to_node = await Relay(node.addr).start()
    gate = GateServer(GateConfig(nodes=(to_node.addr,)))
    await gate.start()
    to_gate = await Relay(gate.addr).start()
    seen = Seen()
    client = ChatClient(to_gate.addr, "bob", observers=[seen])
    try:
        await gate.wait_ready()
        await client.connect()
        with capture_logs() as logs:
            frozen_at = time.monotonic()
            to_node.frozen.set()
            to_gate.frozen.set()
            await wait_until(lambda: seen.ended and logs.events("node_stream_down"), 8.0, "both hops to notice")
            took = time.monotonic() - frozen_at
        assert took < 8.0  # keepalive 1 s + ping timeout 1 s: about 2 s, far from gRPC's default 60 s
    finally:
        await client.close()
        await gate.stop(0.2)
        await to_gate.stop()
        await to_node.stop()
        await node.stop(0.2)


async def test_the_gate_re_registers_by_itself_when_its_node_restarts_elsewhere() -> None:
    first = NodeServer(NodeConfig())
    await first.start()
    link = await Relay(first.addr).start()  # the gate dials the relay, never the node's own address
    gate = GateServer(GateConfig(nodes=(link.addr,)))
    await gate.start()
    alice, bob, seen = ChatClient(gate.addr, "alice"), None, Seen()
    try:
        await gate.wait_ready()
        assert gate.links[0].key == first.advertise != link.addr
        await alice.connect()
        with capture_logs() as logs:
            await first.stop(0.2)
            await wait_until(lambda: gate.nodes_up() == 0, 5.0, "the gate to see the node go")
            second = NodeServer(NodeConfig())
            await second.start()
            link.target = second.addr
            await wait_until(lambda: gate.nodes_up() == 1, 10.0, "the gate to re-register")
        assert gate.links[0].key == second.advertise
        assert [e["event"] for e in logs.records if e["event"].startswith("node_stream")][-1] == "node_stream_up"
        bob = ChatClient(gate.addr, "bob", observers=[seen])
        await bob.connect()
        await bob.join("General")
        await alice.send("General", "after the restart")
        await wait_until(lambda: seen.shown, 5.0, "a push through the new node")
        await second.stop(0.2)
    finally:
        for client in (alice, bob):
            if client is not None:
                await client.close()
        await gate.stop(0.2)
        await link.stop()
