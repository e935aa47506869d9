"""What the reconnection tests share: quick client settings, an observer that records every hook, the room's truth."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from chaos.links import Link, Links
from chaos.topology import Topology, TopologyPlan
from system.client import ChatClient
from system_harness import Seen, wait_until

# Short backoff and silence checks so a test spends its time on the fault, not on waiting.
FAST: dict[str, Any] = dict(backoff_min=0.05, backoff_max=0.5, healthy_after=1.0, sync_interval=1.0,
                            call_timeout=2.0, outage_wait=15.0)


class Recorder(Seen):
    """Seen, plus every reconnection hook, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.reconnecting: list[tuple[int, float]] = []
        self.reconnected: list[tuple[str, int]] = []
        self.incomplete: list[tuple[str, int, int]] = []
        self.resets: list[str] = []

    def on_reconnecting(self, attempt: int, error: BaseException | None, wait: float) -> None:
        self.reconnecting.append((attempt, wait))

    def on_reconnected(self, client_id: str, recovered: int) -> None:
        self.reconnected.append((client_id, recovered))

    def on_recovery_incomplete(self, room: str, first_available_seq: int, cursor: int) -> None:
        self.incomplete.append((room, first_available_seq, cursor))

    def on_history_reset(self, room: str) -> None:
        self.resets.append(room)

    def shown_in(self, room: str) -> list[tuple[int, str, str]]:
        return [(seq, user, text) for r, seq, user, text, _ in self.shown if r == room]

    def sources(self, texts: list[str]) -> set[str]:
        return {s[4] for s in self.shown if s[3] in texts}


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
