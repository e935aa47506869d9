"""A node on a real PostgreSQL server: durable across node restarts, honest when the database goes away,
back to work when it returns, and two nodes on one database never both write a room."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from system.client import ChatClient, SendFailed
from system.gate import GateConfig, GateServer
from system.node import NodeConfig, NodeServer
from system.store import Limits, make_store
from tests.system.system_harness import wait_until


async def up(dsn: str, **options: Any) -> tuple[NodeServer, GateServer]:
    node = NodeServer(NodeConfig(store=dsn, store_timeout=1.0, **options))
    await node.start()
    gate = GateServer(GateConfig(nodes=(node.addr,)))
    await gate.start()
    await gate.wait_ready()
    return node, gate


async def down(node: NodeServer, gate: GateServer, *clients: ChatClient) -> None:
    for client in clients:
        await client.close()
    await gate.stop(0)
    await node.stop(0)


async def test_messages_outlive_the_node_in_postgres(postgres_dsn: str) -> None:
    node, gate = await up(postgres_dsn)
    alice = ChatClient(gate.addr, "alice")
    try:
        sent = [(await alice.send("General", f"m{i}")).seq for i in range(20)]
    finally:
        await down(node, gate, alice)
    node, gate = await up(postgres_dsn)  # another node process would do the same: the rooms are in the database
    reader = ChatClient(gate.addr, "reader")
    try:
        held = (await reader.poll("General")).messages
        again = await reader.send("General", "after")
    finally:
        await down(node, gate, reader)
    assert [m.seq for m in held] == sent == list(range(1, 21))
    assert again.seq == 21


async def test_sends_fail_while_postgres_is_paused_or_gone_and_work_again_when_it_is_back(
        postgres_server: Any, postgres_dsn: str) -> None:
    node, gate = await up(postgres_dsn)
    alice = ChatClient(gate.addr, "alice", outage_wait=1.0)
    acked: list[int] = []
    outcomes: list[bool] = []
    try:
        acked.append((await alice.send("General", "before")).seq)
        for trouble, heal in ((postgres_server.pause, postgres_server.resume),
                              (postgres_server.kill, postgres_server.start)):
            trouble()
            try:
                for i in range(3):
                    try:
                        acked.append((await alice.send("General", f"during {i}")).seq)
                    except SendFailed as exc:
                        outcomes.append(exc.definite)
                        assert exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
            finally:
                await asyncio.to_thread(heal)
            acked.append((await alice.send("General", "after")).seq)
        held = [m.seq for m in (await alice.poll("General")).messages]
    finally:
        await down(node, gate, alice)
    assert outcomes, "no send failed while the database was away"
    assert set(acked) <= set(held), f"acknowledged {acked}, stored {held}"
    assert held == list(range(1, len(held) + 1)), "no gap"


async def test_a_second_owner_fences_the_first_one(postgres_dsn: str) -> None:
    first, gate = await up(postgres_dsn)
    alice = ChatClient(gate.addr, "alice", outage_wait=0.0)  # no retry: the refusal itself is under test
    try:
        assert (await alice.send("General", "one")).seq == 1
        usurper = make_store(postgres_dsn)  # another node claims the room, as after a failover
        await usurper.open()
        claim = await usurper.claim("General", Limits(), create=False)
        await usurper.close()
        assert claim is not None and claim.last_seq == 1
        try:
            await alice.send("General", "two")
            raise AssertionError("a deposed owner acknowledged a write")
        except SendFailed as exc:
            assert exc.definite and exc.code() == grpc.StatusCode.UNAVAILABLE and "moved" in exc.details()
        await wait_until(lambda: not any(h.object_id == "ChatRoom-General" for h in first.host.objects()), 5.0,
                         "the deposed node to drop the room")
    finally:
        await down(first, gate, alice)


async def test_a_nul_in_one_send_fails_that_send_alone_among_concurrent_honest_ones(postgres_dsn: str) -> None:
    """PostgreSQL TEXT cannot hold NUL: the node refuses such a message at the door, as it does for every store,
    and the honest sends that would have shared its write are all acknowledged and readable."""
    node, gate = await up(postgres_dsn)
    honest = [ChatClient(gate.addr, f"user{i}", outage_wait=0.0) for i in range(10)]  # no retry: one try each
    mallory = ChatClient(gate.addr, "mallory", outage_wait=0.0)
    reader = ChatClient(gate.addr, "reader")

    async def poison() -> BaseException | None:
        try:
            await mallory.send("General", "bad\x00byte")
        except SendFailed as exc:
            return exc
        return None

    try:
        for client in honest + [mallory]:
            await client.join("General")
        texts = [(c, f"{c.user} says {j}") for j in range(3) for c in honest]
        sends = [c.send("General", text) for c, text in texts]
        results = list(await asyncio.gather(*sends[:15], poison(), *sends[15:], return_exceptions=True))
        refused = results.pop(15)
        page = await reader.poll("General")  # a newcomer's poll: everything stored
    finally:
        await down(node, gate, *honest, mallory, reader)
    assert isinstance(refused, SendFailed), f"the NUL message was not refused: {refused!r}"
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT and "NUL" in refused.details()
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, f"honest sends failed: {failures[:3]}"
    held = {m.message: m.seq for m in page.messages}
    assert {text: r.seq for (_, text), r in zip(texts, results)} == held, "every acknowledged send is readable"
    assert sorted(held.values()) == list(range(1, len(texts) + 1))
