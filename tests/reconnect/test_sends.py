"""Sends through outages, with real processes behind Toxiproxy: a lost reply is retried with the same id and stored once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from chaos.infra.links import Links
from tests.reconnect.reconnect_harness import chat, in_thread, room_history
from system import log
from tests.system.system_harness import wait_until


def stored(node_log: Path, client_msg_id: str) -> list[bool]:
    """The ``duplicate`` flag of each ``message_stored`` line the node logged for this id."""
    return [e["duplicate"] for e in log.read(str(node_log))
            if e.get("event") == "message_stored" and e.get("client_msg_id") == client_msg_id]


async def test_a_send_whose_reply_is_lost_is_retried_with_its_id_and_stored_once(chaos_links: Links, tmp_path: Path) -> None:
    async with chat(chaos_links, tmp_path) as c:
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
