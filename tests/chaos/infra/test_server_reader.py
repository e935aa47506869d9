"""The harness reads what the server holds with its own reader, not with the client library it is testing."""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator


from chaos import run
from system.client import ChatClient
from system.client.calls import Calls
from system.gate import GateConfig, GateServer
from system.grpcopts import DEFAULT_KEEPALIVE
from system.node import NodeConfig, NodeServer
from tests.mutants.registry import first_page_only

PAGE = 5


@contextlib.asynccontextmanager
async def three_pages() -> AsyncIterator[GateServer]:
    """A node whose pages are 5 messages, a gate, and 12 messages in General."""
    node = NodeServer(NodeConfig(store="memory", page_size=PAGE))
    await node.start()
    gate = GateServer(GateConfig(nodes=(node.addr,)))
    await gate.start()
    alice = ChatClient(gate.addr, "alice")
    try:
        await alice.connect()
        await alice.join("General")
        for i in range(12):
            await alice.send("General", f"m{i}")
        yield gate
    finally:
        await alice.close()
        await gate.stop()
        await node.stop()


async def test_the_runs_reader_reads_every_page_though_the_clients_polls_read_one(monkeypatch: Any) -> None:
    """With the client library's polls cut to their first page (the ``recovery_first_page`` mutant), what the run
    takes the server to hold is still all 12 messages: a cut client shows as its own loss, never the server's."""
    monkeypatch.setattr(Calls, "call", _cut_call(Calls.call))
    async with three_pages() as gate:
        bob = ChatClient(gate.addr, "bob")
        try:
            assert len((await bob.poll("General")).messages) == PAGE  # the cut bites the library
        finally:
            await bob.close()
        held = await run.read_room(gate.addr, "General", DEFAULT_KEEPALIVE)
    assert [m["seq"] for m in held] == list(range(1, 13))
    assert {m["sender"] for m in held} == {"alice"} and all(m["client_msg_id"] for m in held)


async def test_the_reader_asks_for_small_pages_when_told() -> None:
    async with three_pages() as gate:
        held = await run.read_room(gate.addr, "General", DEFAULT_KEEPALIVE, limit=2)
    assert [m["seq"] for m in held] == list(range(1, 13))


def _cut_call(saved: Any) -> Any:
    """``first_page_only``'s cut, built on ``saved`` without leaving it planted in the class."""
    Calls.call = saved
    first_page_only()
    cut, Calls.call = Calls.call, saved
    return cut
