"""Sends through outages: a lost reply is retried with the same id and stored once; a failure says if it is sure."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from chaos.links import Links
from reconnect_harness import FAST, chat, in_thread, room_history
from system import log
from system.client import ChatClient, SendFailed
from system_harness import Relay, cluster, wait_until


def stored(node_log: Path, client_msg_id: str) -> list[bool]:
    """The ``duplicate`` flag of each ``message_stored`` line the node logged for this id."""
    return [e["duplicate"] for e in log.read(str(node_log))
            if e.get("event") == "message_stored" and e.get("client_msg_id") == client_msg_id]


async def test_a_send_whose_reply_is_lost_is_retried_with_its_id_and_stored_once(links: Links, tmp_path: Path) -> None:
    async with chat(links, tmp_path) as c:
        alice = await c.client("alice")
        await c.client("bob")
        link, node_log = c.link("alice"), c.topo.log_files()["node0"]
        await in_thread(link.add_toxic, "timeout", "downstream", {"timeout": 0}, name="no_replies")
        send = asyncio.create_task(alice.send("General", "did it arrive?", client_msg_id="lost-reply-1"))
        await wait_until(lambda: stored(node_log, "lost-reply-1"), 10.0, "the node to store the send")
        assert not send.done()  # stored, but the reply is being swallowed
        await in_thread(link.remove_toxic, "no_replies")  # the connection that held the reply closes
        result = await send
        assert result.duplicate  # the retry found it stored and got the original numbers
        assert stored(node_log, "lost-reply-1")[0] is False and all(stored(node_log, "lost-reply-1")[1:])
        history = await room_history(c.topo.client_addr("bob"), "General")
        assert history == [(result.seq, "alice", "did it arrive?")]
        await c.wait_shown("bob", 1)
        await c.assert_exactly_once_in_order("bob")
        assert c.seen["alice"].shown == []  # her own message is not shown back to her, retried or not


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
