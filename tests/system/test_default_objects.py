"""A fresh node already holds ChatRoomMgr0 and the default rooms, as Goverse's chat server does.

Goverse's own test harness waits for these six objects on a fresh node
before it starts; with objects created on first call, that wait timed out.
"""

from __future__ import annotations

import json

import grpc

from tests.system.cli_process import running
from system import placement
from system.pb import goverse_pb2, goverse_pb2_grpc
from system.room import DEFAULT_ROOMS
from tests.system.system_harness import cluster

DEFAULTS = {("ChatRoomMgr", "ChatRoomMgr0")} | {("ChatRoom", f"ChatRoom-{r}") for r in DEFAULT_ROOMS}


async def list_objects(addr: str) -> tuple[set[tuple[str, str]], int]:
    async with grpc.aio.insecure_channel(addr) as channel:
        stub = goverse_pb2_grpc.GoverseStub(channel)
        listed = await stub.ListObjects(goverse_pb2.Empty())
        status = await stub.Status(goverse_pb2.Empty())
    return {(o.type, o.id) for o in listed.objects}, status.num_objects


async def test_a_fresh_node_lists_the_manager_and_the_five_rooms_before_any_call() -> None:
    with running("node", "--listen", "127.0.0.1:0") as node:
        addr = json.loads(await node.line('"listening"'))["addr"]
        objects, count = await list_objects(addr)
    assert objects == DEFAULTS and count == 6


async def test_the_rooms_flag_decides_the_default_rooms() -> None:
    with running("node", "--listen", "127.0.0.1:0", "--rooms", "lobby,random") as node:
        addr = json.loads(await node.line('"listening"'))["addr"]
        objects, count = await list_objects(addr)
    assert objects == {("ChatRoomMgr", "ChatRoomMgr0"), ("ChatRoom", "ChatRoom-lobby"), ("ChatRoom", "ChatRoom-random")}
    assert count == 3


async def test_nodes_told_their_peers_create_each_default_object_once_on_its_owner() -> None:
    async with cluster(nodes=3, gates=1) as c:  # the harness gives each node the others as peers
        keys = [n.advertise for n in c.nodes]
        before = [(await list_objects(n.addr))[0] for n in c.nodes]
        for node, objects in zip(c.nodes, before):
            assert objects == {o for o in DEFAULTS if placement.owner(o[1], keys) == node.advertise}
        assert set().union(*before) == DEFAULTS and sum(map(len, before)) == len(DEFAULTS)

        alice, _ = await c.client("alice")
        assert (await alice.list_rooms()) == list(DEFAULT_ROOMS)
        for room in DEFAULT_ROOMS:
            await alice.join(room)
            await alice.send(room, f"hello {room}")
        after = [(await list_objects(n.addr))[0] for n in c.nodes]
        assert after == before  # every call found its object where the node had created it
        owner = next(n for n in c.nodes if n.advertise == placement.owner("ChatRoom-General", keys))
        [general] = [h.obj for h in owner.host.objects() if h.object_id == "ChatRoom-General"]
        assert [m.message for m in general.transcript.messages] == ["hello General"]
