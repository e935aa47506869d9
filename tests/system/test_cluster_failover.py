"""A real cluster: 3 nodes and 2 gates on etcd and PostgreSQL, as OS processes. The node that owns a
busy room is SIGKILLed; the room fails over to a survivor, which serves it from the shared store: every
acknowledged message survives, no seq carries two messages, and the members see each message once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aetcd
import pytest

from chaos.infra.etcd import EtcdCluster
from chaos.infra.process import ServerProcess
from system import log, placement
from system.client import ChatClient, Observer, SendFailed
from system.pb import chat_pb2
from system.store import Batch, Fenced, Limits, StoredMessage, make_store
from system.wait import wait_until

TTL = "2"


@pytest.fixture
def etcd() -> Iterator[EtcdCluster]:
    with EtcdCluster(1) as cluster:
        yield cluster


class Shown(Observer):
    def __init__(self) -> None:
        self.seqs: list[tuple[int, str]] = []

    def on_display(self, room: str, message: chat_pb2.ChatMessage, source: str) -> None:
        self.seqs.append((message.seq, message.client_msg_id))


async def test_the_owner_of_a_busy_room_dies_and_nothing_acknowledged_is_lost(
        etcd: EtcdCluster, postgres_dsn: str, tmp_path: Path) -> None:
    endpoints = ",".join(etcd.endpoints)
    cluster = ["--etcd", endpoints, "--lease-ttl", TTL]
    nodes = [ServerProcess(f"node{i}", "node", ["--store", postgres_dsn, "--store-timeout", "2", *cluster],
                           tmp_path) for i in range(3)]
    gates = [ServerProcess(f"gate{i}", "gate", cluster, tmp_path) for i in range(2)]
    await asyncio.gather(*(n.start() for n in nodes))
    await asyncio.gather(*(g.start() for g in gates))
    alice = ChatClient(gates[0].addr, "alice", outage_wait=20)
    bob_saw = Shown()
    bob = ChatClient(gates[1].addr, "bob", observers=[bob_saw], outage_wait=20)
    acked: dict[int, str] = {}
    try:
        for client in (alice, bob):
            await client.connect()
            await client.join("General")
        owner = placement.owner("ChatRoom-General", [n.addr for n in nodes])
        victim = next(n for n in nodes if n.addr == owner)

        async def send(i: int) -> None:
            try:
                reply = await alice.send("General", f"m{i}", client_msg_id=f"alice-{i}")
            except SendFailed as exc:
                assert not exc.definite or "not stored" in str(exc), exc  # refused is fine; a lie is not
                return
            assert acked.setdefault(reply.seq, f"alice-{i}") == f"alice-{i}", f"seq {reply.seq} given twice"

        sending = [asyncio.ensure_future(send(i)) for i in range(40)]
        await wait_until(lambda: len(acked) >= 15, 20.0, "15 acknowledged sends before the kill")
        await victim.kill()
        await asyncio.gather(*sending)
        for i in range(40, 60):
            await send(i)
        assert len(acked) >= 35
        await wait_until(lambda: len(bob_saw.seqs) >= len(acked) and bob_saw.seqs[-1][0] >= max(acked), 20.0,
                         "bob to catch up after the failover")
        reader = ChatClient(gates[1].addr, "reader")
        try:
            held = [(m.seq, m.client_msg_id) for m in (await reader.poll("General")).messages]
        finally:
            await reader.close()
    finally:
        for client in (alice, bob):
            await client.close()
        await asyncio.gather(*(p.stop() for p in [*gates, *nodes]), return_exceptions=True)
    stored = dict(held)
    assert [s for s, _ in held] == list(range(1, len(held) + 1)), "gapless"
    assert all(stored.get(seq) == cmid for seq, cmid in acked.items()), "every acknowledged message, as numbered"
    assert len({cmid for _, cmid in held}) == len(held), "each message stored once"
    assert sorted(bob_saw.seqs) == held and len(set(bob_saw.seqs)) == len(bob_saw.seqs), "bob saw each once"
    storers = [n.name for n in nodes for path in n.log_paths for line in log.read(str(path))
               if line.get("event") == "message_stored" and line.get("room") == "General"]
    assert victim.name in storers and {n for n in storers if n != victim.name}, f"no failover: {set(storers)}"


async def test_a_send_made_once_after_the_owner_died_waits_at_the_gate_for_the_new_owner(
        etcd: EtcdCluster, postgres_dsn: str, tmp_path: Path) -> None:
    """No client retry (a single attempt): the gate holds the call until the lease lapses, then the new owner
    serves it, with the room's history."""
    cluster = ["--etcd", ",".join(etcd.endpoints), "--lease-ttl", TTL]
    nodes = [ServerProcess(f"node{i}", "node", ["--store", postgres_dsn, *cluster], tmp_path) for i in range(3)]
    gate = ServerProcess("gate0", "gate", cluster, tmp_path)
    await asyncio.gather(*(n.start() for n in nodes))
    await gate.start()
    alice = ChatClient(gate.addr, "alice", outage_wait=0.0, call_timeout=30.0)  # outage_wait 0: one attempt

    def nodes_up() -> float | None:
        return (gate.scrape_metrics() or {}).get("pushchat_connected_nodes")
    try:
        await wait_until(lambda: asyncio.to_thread(lambda: nodes_up() == 3), 20.0, "the gate to reach every node")
        before = await alice.send("General", "before the kill", client_msg_id="before")
        victim = next(n for n in nodes if n.addr == placement.owner("ChatRoom-General", [n.addr for n in nodes]))
        await victim.kill()
        await wait_until(lambda: asyncio.to_thread(lambda: nodes_up() == 2), 20.0, "the gate to lose the node")
        after = await alice.send("General", "after the kill", client_msg_id="after")
    finally:
        await alice.close()
        await asyncio.gather(*(p.stop() for p in [gate, *nodes]), return_exceptions=True)
    assert after.seq == before.seq + 1 and not after.duplicate
    storers = {n.name for n in nodes for path in n.log_paths for line in log.read(str(path))
               if line.get("event") == "message_stored" and line.get("client_msg_id") == "after"}
    assert storers and victim.name not in storers


async def test_a_call_a_node_refuses_as_not_its_own_is_routed_again_until_the_views_agree(
        etcd: EtcdCluster, postgres_dsn: str, tmp_path: Path) -> None:
    """Views of the cluster converge, not at once: a node may hear of a change after the gate, or before.
    A node that does not own the room in its view refuses (surely not stored), and the gate routes the
    call again until the views agree, instead of failing a send the client made once. Here the gate,
    on a static list, sends everything to ``keeper``, while etcd says ``leaver`` owns the room until
    ``leaver`` leaves."""
    keeper_id = "keeper"
    leaver_id = next(f"leaver{i}" for i in range(100)
                     if placement.owner("ChatRoom-General", [keeper_id, f"leaver{i}"]) == f"leaver{i}")
    cluster = ["--store", postgres_dsn, "--etcd", ",".join(etcd.endpoints), "--lease-ttl", TTL]
    keeper = ServerProcess("keeper", "node", [*cluster, "--node-id", keeper_id], tmp_path)
    leaver = ServerProcess("leaver", "node", [*cluster, "--node-id", leaver_id], tmp_path)
    await asyncio.gather(keeper.start(), leaver.start())

    def keeper_sees_both() -> bool:
        return any(line.get("event") == "membership_changed" and set(line.get("members", ())) >= {keeper_id, leaver_id}
                   for path in keeper.log_paths for line in log.read(str(path)))
    await wait_until(keeper_sees_both, 20.0, "the keeper to see the leaver in etcd")
    gate = ServerProcess("gate0", "gate", ["--nodes", keeper.addr], tmp_path)
    await gate.start()
    alice = ChatClient(gate.addr, "alice", outage_wait=0.0, call_timeout=30.0)  # outage_wait 0: one attempt

    def misrouted() -> bool:
        return any(line.get("event") == "call_misrouted" for path in gate.log_paths for line in log.read(str(path)))
    try:
        sending = asyncio.ensure_future(alice.send("General", "while the views differ", client_msg_id="once"))
        await wait_until(lambda: misrouted() or sending.done(), 20.0, "the keeper to refuse the call as misrouted")
        assert not sending.done(), sending
        await leaver.stop()  # drains, then revokes its lease: the keeper owns the room from then on
        reply = await asyncio.wait_for(sending, 30.0)
    finally:
        await alice.close()
        await asyncio.gather(*(p.stop() for p in [gate, keeper, leaver]), return_exceptions=True)
    assert reply.seq >= 1 and not reply.duplicate
    stored = [line for path in keeper.log_paths for line in log.read(str(path))
              if line.get("event") == "message_stored" and line.get("client_msg_id") == "once"]
    assert len(stored) == 1


async def test_the_node_etcd_names_takes_back_a_room_another_node_claimed_for_a_moment(
        etcd: EtcdCluster, postgres_dsn: str, tmp_path: Path) -> None:
    """Nodes that start together each claim the rooms they own in their first, partial view of the
    cluster, so the owner's claim can be superseded by a node that owned the room for a moment. The owner
    etcd names takes the room back rather than refusing a send it alone may serve; without etcd (see
    test_postgres_node) the newer claim stands."""
    node = ServerProcess("node0", "node", ["--store", postgres_dsn, "--etcd", ",".join(etcd.endpoints),
                                           "--lease-ttl", TTL], tmp_path)
    await node.start()
    gate = ServerProcess("gate0", "gate", ["--etcd", ",".join(etcd.endpoints), "--lease-ttl", TTL], tmp_path)
    await gate.start()
    alice = ChatClient(gate.addr, "alice", outage_wait=0.0)  # one attempt: a refusal would fail the test
    try:
        assert (await alice.send("General", "one")).seq == 1
        stray = make_store(postgres_dsn)  # a node that owned the room for a moment claims it
        await stray.open()
        claim = await stray.claim("General", Limits(), create=False)
        assert claim is not None and claim.last_seq == 1
        two = await alice.send("General", "two")
        with pytest.raises(Fenced):  # the owner's claim is the newest again: the stray node is fenced off
            await stray.write("General", claim.token, Batch([StoredMessage(3, 2**62, "stray", "x", "stray")]))
        await stray.close()
    finally:
        await alice.close()
        await asyncio.gather(gate.stop(), node.stop(), return_exceptions=True)
    assert two.seq == 2 and not two.duplicate
    assert any(line.get("event") == "object_reclaimed" for path in node.log_paths for line in log.read(str(path)))


async def test_a_call_held_by_a_node_that_leaves_the_cluster_ends_at_once_and_succeeds_on_the_new_owner(
        etcd: EtcdCluster, postgres_dsn: str, tmp_path: Path) -> None:
    """A send is on the owner (held there by a 60 s delay) when the owner's key leaves etcd. The gate lets
    go of the node and ends the call, so the client retries at once on the new owner instead of waiting
    out its deadline; the message is stored once, by the new owner."""
    cluster = ["--store", postgres_dsn, "--etcd", ",".join(etcd.endpoints), "--lease-ttl", TTL]
    nodes = [ServerProcess(f"node{i}", "node", cluster, tmp_path) for i in range(2)]
    gate = ServerProcess("gate0", "gate", cluster[2:], tmp_path)
    await asyncio.gather(*(n.start() for n in nodes))
    await gate.start()
    alice = ChatClient(gate.addr, "alice", outage_wait=20.0, call_timeout=30.0)

    def logged(process: ServerProcess, event: str, **fields: str) -> bool:
        return any(line.get("event") == event and all(line.get(k) == v for k, v in fields.items())
                   for path in process.log_paths for line in log.read(str(path)))
    try:
        await wait_until(lambda: asyncio.to_thread(
            lambda: (gate.scrape_metrics() or {}).get("pushchat_connected_nodes") == 2), 20.0, "both node streams")
        victim = next(n for n in nodes if n.addr == placement.owner("ChatRoom-General", [n.addr for n in nodes]))
        heir = next(n for n in nodes if n is not victim)
        await victim.add_fault_point({"id": "hold", "point": "rpc", "action": "delay", "method": "SendMessage",
                                      "delay_ms": 60000})
        sending = asyncio.ensure_future(alice.send("General", "held", client_msg_id="held"))
        await wait_until(lambda: logged(victim, "fault_injected", fault="hold") or sending.done(), 20.0,
                         "the owner to hold the send")
        host, port = etcd.endpoints[0].removeprefix("http://").rsplit(":", 1)
        client = aetcd.Client(host, int(port))
        try:
            await client.delete(f"/pushchat/nodes/{victim.addr}".encode())
        finally:
            await client.close()
        reply = await asyncio.wait_for(sending, 20.0)  # the held call's deadline is 30 s, its delay 60 s
    finally:
        await alice.close()
        await asyncio.gather(*(p.stop() for p in [gate, *nodes]), return_exceptions=True)
    assert not reply.duplicate
    assert logged(heir, "message_stored", client_msg_id="held") and not logged(victim, "message_stored",
                                                                                client_msg_id="held")
