"""What the reconnection tests share: a topology of OS processes behind Toxiproxy, clients on it, the room's truth."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from chaos.infra.links import Link, Links
from chaos.topology import Topology, TopologyPlan
from system.client import ChatClient
from tests.system.system_harness import FAST, Recorder, Seen, wait_until


async def room_history(server: str, room: str) -> list[tuple[int, str, str]]:
    """Every message the room holds, as (seq, user, text), read by a fresh poll-only client."""
    seen = Seen()
    auditor = ChatClient(server, "auditor", observers=[seen], **FAST)
    try:
        await auditor.poll(room)
    finally:
        await auditor.close()
    return [(seq, user, text) for r, seq, user, text, _ in seen.shown if r == room]


class Chat:
    """A running topology with connected clients, each with its Recorder."""

    def __init__(self, topo: Topology) -> None:
        self.topo = topo
        self.clients: dict[str, ChatClient] = {}
        self.seen: dict[str, Recorder] = {}

    async def client(self, name: str, room: str = "General", **options: Any) -> ChatClient:
        self.seen[name] = Recorder()
        client = ChatClient(self.topo.client_addr(name), name, observers=[self.seen[name]], **{**FAST, **options})
        self.clients[name] = client
        await client.connect()
        await client.join(room)
        return client

    def link(self, client: str) -> Link:
        return self.topo.client_link(client)

    async def send_all(self, sender: str, texts: list[str], room: str = "General") -> None:
        for text in texts:
            await self.clients[sender].send(room, text)

    async def wait_shown(self, name: str, count: int, timeout: float = 15.0, room: str = "General") -> None:
        await wait_until(lambda: len(self.seen[name].shown_in(room)) >= count, timeout,
                         f"{name} to show {count} messages (has {self.seen[name].shown_in(room)})")

    async def assert_exactly_once_in_order(self, name: str, room: str = "General") -> None:
        truth = await room_history(self.topo.client_addr(name), room)
        assert self.seen[name].shown_in(room) == [m for m in truth if m[1] != name]


@asynccontextmanager
async def chat(links: Links, out: Path, clients: tuple[str, ...] = ("alice", "bob"),
               node_args: tuple[str, ...] = (), store: str = "sqlite") -> AsyncIterator[Chat]:
    """One node and one gate as OS processes, every client behind its own proxy."""
    plan = TopologyPlan(clients={name: 0 for name in clients}, node_args=node_args, store=store)
    async with Topology(plan, out, links) as topo:
        session = Chat(topo)
        try:
            yield session
        finally:
            await asyncio.gather(*(c.close() for c in session.clients.values()))


async def in_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Toxiproxy calls block; run them off the event loop so the clients keep running."""
    return await asyncio.to_thread(fn, *args, **kwargs)
