"""Keepalive: both hops notice a silently dead link within seconds, and both ends of a hop agree on pings."""

from __future__ import annotations

import time

import pytest

from system.client import ChatClient
from system.gate import GateConfig, GateServer
from system.grpcopts import Keepalive
from system.node import NodeConfig, NodeServer
from tests.system.system_harness import Relay, Seen, capture_logs, wait_until


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


@pytest.mark.parametrize("keepalive", [Keepalive(), Keepalive(time_ms=250, timeout_ms=500, ping_timeout_ms=750),
                                       Keepalive(time_ms=60000, timeout_ms=20000, ping_timeout_ms=20000)])
def test_the_ends_of_a_hop_agree_on_keepalive_and_the_server_accepts_the_pings(keepalive: Keepalive) -> None:
    """Were they to differ, the server would answer pings with GOAWAY too_many_pings and drop the link."""
    channel, server = dict(keepalive.channel_options()), dict(keepalive.server_options())
    shared = ("grpc.keepalive_time_ms", "grpc.keepalive_timeout_ms", "grpc.http2.ping_timeout_ms",
              "grpc.keepalive_permit_without_calls", "grpc.http2.max_pings_without_data",
              "grpc.max_receive_message_length")
    assert {k: channel[k] for k in shared} == {k: server[k] for k in shared}
    assert (channel["grpc.keepalive_time_ms"], channel["grpc.keepalive_timeout_ms"],
            channel["grpc.http2.ping_timeout_ms"]) == (keepalive.time_ms, keepalive.timeout_ms, keepalive.ping_timeout_ms)
    assert server["grpc.http2.min_ping_interval_without_data_ms"] <= keepalive.time_ms
    assert server["grpc.http2.max_ping_strikes"] == 0 and channel["grpc.keepalive_permit_without_calls"] == 1

