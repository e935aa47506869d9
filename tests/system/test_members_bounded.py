"""Members are bounded and leave: a members-per-room limit, ``/quit`` leaves, a member gone longer than the
expiry is dropped from the room and from the stored list, and the others see it leave."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import grpc
import pytest
from google.protobuf import any_pb2
from google.protobuf.message import Message

from system.client import Observer
from system.objects import CallInfo, ObjectHost, ResourceExhausted
from system.pb import chat_pb2
from system.presence import PresenceConfig
from system.room import ChatRoom, RoomConfig, install
from system.store import Limits, make_store
from system import limits
from tests.system.cli_process import piped_client
from tests.system.system_harness import cluster, wait_until
from tests.system.test_room import RecordingPort


async def room_call(host: ObjectHost, method: str, request: Message, reply_type: type[Message]) -> Message:
    packed = any_pb2.Any()
    packed.Pack(request)
    reply = reply_type()
    (await host.call("ChatRoom", "ChatRoom-General", method, packed, CallInfo(""))).Unpack(reply)
    return reply


async def join(host: ObjectHost, user: str) -> None:
    await room_call(host, "Join", chat_pb2.ChatRoom_JoinRequest(user_name=user, client_id=f"g:1/{user}"),
                    chat_pb2.ChatRoom_JoinResponse)


async def heartbeat(host: ObjectHost, user: str) -> list[str]:
    reply = await room_call(host, "Members", chat_pb2.ChatRoom_MembersRequest(user_name=user),
                            chat_pb2.ChatRoom_MembersResponse)
    return [m.user_name for m in reply.members]  # type: ignore[attr-defined]


async def test_a_full_room_refuses_a_new_member_but_not_a_member_coming_back() -> None:
    host = ObjectHost()
    install(host, RoomConfig(max_members=2), RecordingPort(), make_store("memory"))
    await join(host, "alice")
    await join(host, "bob")
    with pytest.raises(ResourceExhausted, match=r"room 'General' is full: it has 2 members, the limit "
                                                r"\(--max-members-per-room\) is 2") as refused:
        await join(host, "carol")
    assert refused.value.limit == limits.MEMBERS_PER_ROOM and limits.CODES[limits.MEMBERS_PER_ROOM] == refused.value.code
    await room_call(host, "Join", chat_pb2.ChatRoom_JoinRequest(user_name="bob", client_id="g:1/bob-again"),
                    chat_pb2.ChatRoom_JoinResponse)  # a member's new stream is no new member
    await room_call(host, "Leave", chat_pb2.ChatRoom_LeaveRequest(user_name="alice"), chat_pb2.ChatRoom_LeaveResponse)
    await join(host, "carol")
    assert await heartbeat(host, "carol") == ["bob", "carol"]


async def sweep(host: ObjectHost) -> None:
    """What the node's sweep does, then wait for the store to have it."""
    writes: list[asyncio.Future[object] | None] = []
    await host.visit(ChatRoom.type_name, lambda room: writes.append(room.expire_members()))  # type: ignore[attr-defined]
    await asyncio.gather(*(w for w in writes if w is not None))


async def test_a_member_gone_longer_than_the_expiry_is_dropped_stored_and_told(tmp_path: Path) -> None:
    now = [1000.0]
    port = RecordingPort()
    store = make_store("sqlite", tmp_path)
    await store.open()
    host = ObjectHost()
    install(host, RoomConfig(max_members=2, presence=PresenceConfig(grace=5.0, expiry=60.0)), port, store,
            monotonic=lambda: now[0])
    try:
        await join(host, "alice")
        await join(host, "bob")
        now[0] += 50.0
        await heartbeat(host, "bob")
        now[0] += 11.0  # alice: 61 s unheard, bob: 11 s
        await sweep(host)
        assert await heartbeat(host, "bob") == ["bob"]
        left = [(ids, m) for ids, m, _ in port.pushes if isinstance(m, chat_pb2.Client_MemberNotification)
                and not m.joined]
        assert [(ids, m.user_name) for ids, m in left] == [(["g:1/bob"], "alice")]
        await join(host, "carol")  # alice's place is free
        now[0] += 61.0  # everyone gone: a full room makes room for a join by dropping them first
        await join(host, "dave")
        assert await heartbeat(host, "dave") == ["dave"]
        await host.close()
        stored = await store.claim("General", Limits(), create=False)
        assert stored is not None and set(stored.members) == {"dave"}
    finally:
        await store.close()


async def test_the_node_refuses_a_join_past_the_limit_and_counts_it() -> None:
    async with cluster(node=dict(max_members_per_room=2)) as c:
        for name in ("alice", "bob"):
            client, _ = await c.client(name)
            await client.join("General")
        carol, _ = await c.client("carol", outage_wait=0.0)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await carol.join("General")
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "is full" in (refused.value.details() or "")
        assert c.nodes[0].metrics.snapshot()["pushchat_limited_total"]["members_per_room"] == 1
        await carol.join("Sports")  # the limit is per room


class Leaves(Observer):
    def __init__(self) -> None:
        self.left: list[tuple[str, str]] = []

    def on_member(self, room: str, user: str, joined: bool, source: str) -> None:
        if not joined:
            self.left.append((room, user))


async def test_a_member_whose_client_went_silent_is_dropped_after_the_expiry_and_the_others_see_it_leave() -> None:
    presence = PresenceConfig(grace=0.3, expiry=1.0)
    async with cluster(node=dict(presence=presence)) as c:
        gone, _ = await c.client("alice", presence_interval=None)  # no heartbeat: as a client that crashed
        await gone.join("General")
        watcher = Leaves()
        bob, _ = await c.client("bob", presence_interval=0.2, observers=(watcher,))
        await bob.join("General")
        assert "alice" in bob.presence("General").members
        await wait_until(lambda: ("General", "alice") in watcher.left, 10.0, "bob to see alice leave")
        assert set(bob.presence("General").members) == {"bob"}
        assert [m.user_name for m in await bob.members("General")] == ["bob"]
        db = sqlite3.connect(Path(c.nodes[0].data_dir) / "pushchat.db")
        try:
            stored = [user for (user,) in db.execute("SELECT user FROM members WHERE room = 'General'")]
        finally:
            db.close()
        assert stored == ["bob"]


async def test_quit_leaves_the_room_so_who_no_longer_lists_the_user() -> None:
    async with cluster() as c:
        alice, _ = await c.client("alice")
        await alice.join("General")
        async with piped_client(c.gates[0].addr, "bob") as bob:
            assert "bob" in [m.user_name for m in await alice.members("General")]
            bob.type("/quit")
            assert await bob.finish(sig=None) == 0
        assert [m.user_name for m in await alice.members("General")] == ["alice"]
