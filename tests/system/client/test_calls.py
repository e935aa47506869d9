"""Calls through the gate: a retried send is stored once; a failed one says whether it surely was not stored."""

from __future__ import annotations

import asyncio
import socket

import grpc
import pytest

from system.client import ChatClient, SendFailed
from tests.system.system_harness import FAST, Relay, capture_logs, cluster, wait_until


async def test_a_retried_send_is_shown_once_and_acknowledged_as_duplicate() -> None:
    async with cluster() as c:
        alice, _ = await c.client("alice")
        bob, bob_seen = await c.client("bob")
        await bob.join("Technology")
        first = await alice.send("Technology", "once", client_msg_id="m-1")
        again = await alice.send("Technology", "once", client_msg_id="m-1")
        assert again.duplicate and (again.seq, again.timestamp) == (first.seq, first.timestamp)
        await wait_until(lambda: bob_seen.shown, 5.0, "the push")
        await bob.poll("Technology")
        assert bob_seen.texts() == ["once"]


async def test_a_failed_send_says_whether_it_surely_was_not_stored() -> None:
    async with cluster() as c:
        relay = await Relay(c.gates[0].addr).start()
        alice = ChatClient(relay.addr, "alice", **{**FAST, "outage_wait": 0.5, "call_timeout": 1.0})
        c.clients.append(alice)
        await alice.connect()
        with pytest.raises(SendFailed) as refused:
            await alice.send("NoSuchRoom", "hello?")
        assert refused.value.definite and refused.value.code() == grpc.StatusCode.NOT_FOUND
        assert refused.value.attempts == 1  # a refusal is not retried
        assert refused.value.details() == ("message to NoSuchRoom not sent: no chat room 'NoSuchRoom': rooms are "
                                           "General, Technology, Crypto, Sports, Movies")

        relay.frozen.set()  # the request goes out and nothing comes back
        with pytest.raises(SendFailed) as unknown:
            await alice.send("General", "into the void")
        assert not unknown.value.definite  # it may have reached the node
        assert unknown.value.details().startswith("message to General may not have been sent: ")
        assert unknown.value.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)

        await relay.stop()  # now the link is gone for good: connections are refused
        await wait_until(lambda: not alice.connected, 10.0, "alice to see her link go")
        with pytest.raises(SendFailed) as never_sent:
            await alice.send("General", "nobody to hear it")
        assert never_sent.value.definite and never_sent.value.attempts == 0
        assert never_sent.value.details() == "message to General not sent: no connection to the server for 0.5s"
        assert never_sent.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_close_stops_a_reconnecting_client_at_once_and_fails_its_waiting_send() -> None:
    async with cluster() as c:
        relay = await Relay(c.gates[0].addr).start()
        alice = ChatClient(relay.addr, "alice", **FAST)  # waits up to 15 s for the link
        await alice.connect()
        await relay.stop()
        await wait_until(lambda: not alice.connected, 10.0, "alice to start reconnecting")
        waiting = asyncio.create_task(alice.send("General", "hello?"))
        await asyncio.wait({waiting}, timeout=0.3)
        assert not waiting.done()  # it waits for the link instead of failing at once
        await asyncio.wait_for(alice.close(), 2.0)
        with pytest.raises(SendFailed) as err:
            await asyncio.wait_for(waiting, 2.0)
        assert err.value.definite and err.value.code() == grpc.StatusCode.CANCELLED
        assert all(t.done() for t in asyncio.all_tasks() if t.get_name().startswith(("link", "sync", "catch-up")))


async def test_each_retry_is_logged_with_the_backoff_before_the_next_attempt() -> None:
    """``call_retry`` says how long the client waits before trying again, so a slow recovery can be explained."""
    with socket.socket() as nobody:  # a port of ours that nobody listens on: every attempt is refused
        nobody.bind(("127.0.0.1", 0))
        alice = ChatClient(f"127.0.0.1:{nobody.getsockname()[1]}", "alice", outage_wait=0.5, backoff_max=0.2)
        try:
            with capture_logs() as logs, pytest.raises(SendFailed):
                await alice.send("General", "to nobody")
        finally:
            await alice.close()
    retries = logs.events("call_retry")
    assert retries and [r["attempt"] for r in retries] == list(range(1, len(retries) + 1))
    assert all(0 <= r["wait"] <= 0.2 for r in retries), retries


async def test_a_recovery_call_waits_for_a_slow_node_instead_of_sending_the_work_it_queued_again() -> None:
    """After the gates of a room of 2,000 died, each member's re-join timed out at one call timeout a dozen times
    in a row, the starved node doing every abandoned one: a call retried until it succeeds waits longer."""
    async with cluster() as c:
        relay = await Relay(c.gates[0].addr).start()
        try:
            bob, _ = await c.client("bob", server=relay.addr,
                                    **{**FAST, "call_timeout": 0.5, "sync_interval": None, "presence_interval": None})
            await bob.join("General")
            node, joins = c.nodes[0], []
            call = node.call

            async def slow(type_name, object_id, method, request, info):  # type: ignore[no-untyped-def]
                if method == "Join":
                    joins.append(object_id)
                    await asyncio.sleep(0.8)  # longer than one call timeout, well within three
                return await call(type_name, object_id, method, request, info)

            node.call = slow  # type: ignore[method-assign]
            relay.cut()  # bob's stream ends: he re-registers and re-joins through the slow node
            await wait_until(lambda: bob.reconnects == 1 or len(joins) > 1, 10.0, "bob to recover or re-send")
            assert joins == ["ChatRoom-General"] and bob.reconnects == 1  # done once, not abandoned and sent again
        finally:
            await relay.stop()
