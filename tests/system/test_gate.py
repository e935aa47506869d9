"""The gate's connections to its nodes: ready when every node stream is up, re-opened when a node restarts."""

from __future__ import annotations

import asyncio
import socket

import pytest

from system.client import ChatClient, SendFailed
from system.gate import GateConfig, GateServer
from system.node import NodeConfig, NodeServer
from tests.system.system_harness import Relay, Seen, capture_logs, wait_until


async def test_wait_ready_names_the_nodes_whose_stream_is_still_down() -> None:
    node = NodeServer(NodeConfig())
    await node.start()
    with socket.socket() as nobody:  # a port of ours that nobody listens on: connections are refused
        nobody.bind(("127.0.0.1", 0))
        silent = f"127.0.0.1:{nobody.getsockname()[1]}"
        gate = GateServer(GateConfig(nodes=(node.addr, silent)))
        await gate.start()
        try:
            with pytest.raises(TimeoutError, match=rf"^node streams still down after 0.5s: \['{silent}'\]$"):
                await gate.wait_ready(0.5)
            assert [c.dial for c in gate.connections if c.up] == [node.addr]
        finally:
            await gate.stop(0.2)
            await node.stop(0.2)


async def test_the_gate_re_registers_by_itself_when_its_node_restarts_elsewhere() -> None:
    first = NodeServer(NodeConfig())
    await first.start()
    relay = await Relay(first.addr).start()  # the gate dials the relay, never the node's own address
    gate = GateServer(GateConfig(nodes=(relay.addr,)))
    await gate.start()
    alice, bob, seen = ChatClient(gate.addr, "alice"), None, Seen()
    try:
        await gate.wait_ready()
        assert gate.connections[0].key == first.advertise != relay.addr
        await alice.connect()
        with capture_logs() as logs:
            await first.stop(0.2)
            await wait_until(lambda: gate.nodes_up() == 0, 5.0, "the gate to see the node go")
            second = NodeServer(NodeConfig())
            await second.start()
            relay.target = second.addr
            await wait_until(lambda: gate.nodes_up() == 1, 10.0, "the gate to re-register")
        assert gate.connections[0].key == second.advertise
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
        await relay.stop()


async def test_a_call_waits_at_the_gate_while_its_node_is_away_and_goes_on_once_it_is_back() -> None:
    """One attempt, no client retry: the gate holds the send until the owner's stream is up again."""
    first = NodeServer(NodeConfig())
    await first.start()
    relay = await Relay(first.addr).start()
    gate = GateServer(GateConfig(nodes=(relay.addr,), backoff_max=0.5))
    await gate.start()
    alice = ChatClient(gate.addr, "alice", outage_wait=0.0, call_timeout=30.0)  # outage_wait 0: a single attempt
    second = None
    try:
        await gate.wait_ready()
        await first.stop(0.2)
        await wait_until(lambda: gate.nodes_up() == 0, 5.0, "the gate to see the node go")
        sending = asyncio.ensure_future(alice.send("General", "held at the gate"))
        await wait_until(lambda: gate.calls_waiting == 1, 5.0, "the send to wait at the gate")
        second = NodeServer(NodeConfig())
        await second.start()
        relay.target = second.addr
        reply = await sending
        assert (reply.seq, reply.duplicate) == (1, False)
        assert gate.calls_waiting == 0
    finally:
        await alice.close()
        await gate.stop(0.2)
        await relay.stop()
        for node in (first, second):
            if node is not None:
                await node.stop(0.2)


async def test_a_call_the_gate_could_not_route_is_reported_as_surely_not_stored() -> None:
    """The gate never forwarded it: the send failure is definite, not "may have been stored"."""
    node = NodeServer(NodeConfig())
    await node.start()
    relay = await Relay(node.addr).start()
    gate = GateServer(GateConfig(nodes=(relay.addr,), backoff_max=0.5))
    await gate.start()
    alice = ChatClient(gate.addr, "alice", outage_wait=0.0, call_timeout=1.0)  # one attempt, short deadline
    try:
        await gate.wait_ready()
        await relay.stop()  # the node is unreachable from the gate for good
        await wait_until(lambda: gate.nodes_up() == 0, 5.0, "the gate to see the node go")
        with pytest.raises(SendFailed) as failed:
            await alice.send("General", "nowhere to go")
        assert failed.value.definite and "not sent" in str(failed.value)
    finally:
        await alice.close()
        await gate.stop(0.2)
        await node.stop(0.2)
