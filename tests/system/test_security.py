"""No one acts as someone else: the three attacks of issue 11, refused in both modes, end to end.

- deleting (or creating) a room through the gate;
- speaking as another user;
- hijacking another client's id, in ``CallObject.client_id`` or in ``Join.client_id``.

Servers are real (in-process, 127.0.0.1 port 0); attackers use bare gRPC stubs, as anyone could.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest

from system import auth
from system.client import ChatClient
from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc, goverse_pb2, goverse_pb2_grpc
from tests.system.system_harness import FAST, Recorder, call, cluster, goverse_client, packed, wait_until

DENIED, UNAUTHENTICATED = grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED
SECRET = auth.new_secret().encode()
TOKEN_GATE = {"auth": "token", "secret": SECRET}


def send(user: str, text: str) -> chat_pb2.ChatRoom_SendChatMessageRequest:
    return chat_pb2.ChatRoom_SendChatMessageRequest(user_name=user, message=text)


def bearer(user: str, ttl: float = 60.0, **kw) -> tuple[tuple[str, str], ...]:  # type: ignore[no-untyped-def]
    return ((auth.AUTH_HEADER, f"Bearer {auth.issue(SECRET, user, ttl, **kw)}"),)


async def refused(awaitable, code: grpc.StatusCode = DENIED) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await awaitable
    assert err.value.code() == code, err.value
    return err.value.details()


async def history(addr: str, token: str | None = None, room: str = "General") -> list[tuple[str, str]]:
    """What the room holds, read by a fresh poll-only client."""
    reader = ChatClient(addr, "reader", token=token)
    try:
        return [(m.user_name, m.message) for m in (await reader.poll(room)).messages]
    finally:
        await reader.close()


# -- the default mode (--auth none) ----------------------------------------------------------------

async def test_default_mode_refuses_deleting_and_creating_rooms_through_the_gate() -> None:
    async with cluster() as c:
        alice, _ = await c.client("alice")
        await alice.join("General")
        await alice.send("General", "keep me")
        async with grpc.aio.insecure_channel(c.gates[0].addr) as channel:
            gate = gate_pb2_grpc.GateServiceStub(channel)
            why = await refused(gate.DeleteObject(gate_pb2.DeleteObjectRequest(id="ChatRoom-General")))
            assert "admin" in why
            await refused(gate.CreateObject(gate_pb2.CreateObjectRequest(type="ChatRoom", id="ChatRoom-Mine")))
        assert await history(c.gates[0].addr) == [("alice", "keep me")]
        assert c.gates[0].metrics.snapshot()["pushchat_denied_total"]["admin_call"] == 2
        # the node's own service stays the operators' (its port is not the clients')
        async with grpc.aio.insecure_channel(c.nodes[0].addr) as channel:
            node = goverse_pb2_grpc.GoverseStub(channel)
            await node.CreateObject(goverse_pb2.CreateObjectRequest(type="ChatRoom", id="ChatRoom-Ops"))
            await node.DeleteObject(goverse_pb2.DeleteObjectRequest(id="ChatRoom-Ops"))


async def test_a_gate_started_with_allow_admin_calls_lets_clients_create_and_delete() -> None:
    async with cluster(gate={"allow_admin_calls": True}) as c:
        async with grpc.aio.insecure_channel(c.gates[0].addr) as channel:
            gate = gate_pb2_grpc.GateServiceStub(channel)
            await gate.CreateObject(gate_pb2.CreateObjectRequest(type="ChatRoom", id="ChatRoom-Pop"))
            await gate.DeleteObject(gate_pb2.DeleteObjectRequest(id="ChatRoom-Pop"))


async def test_default_mode_refuses_speaking_as_a_connected_user_registered_or_not() -> None:
    async with cluster() as c:
        bob, bob_seen = await c.client("bob")
        await bob.join("General")
        await bob.send("General", "bob here")
        async with grpc.aio.insecure_channel(c.gates[0].addr) as channel:  # never registered
            why = await refused(gate_pb2_grpc.GateServiceStub(channel).CallObject(call("SendMessage",
                                                                                    send("bob", "I am bob"))))
            assert "in use" in why
        async with goverse_client(c.gates[0].addr) as mallory:  # registered, as herself first
            await mallory.stub.CallObject(call("Join", chat_pb2.ChatRoom_JoinRequest(
                user_name="mallory", client_id=mallory.client_id), mallory.client_id))
            await refused(mallory.stub.CallObject(call("SendMessage", send("bob", "I am bob too"),
                                                       mallory.client_id)))
            why = await refused(mallory.stub.CallObject(call("SendMessage", send("eve", "or eve"), mallory.client_id)))
            assert "speaks as 'mallory'" in why
            # naming no client id, a call is anonymous: on its own account, and bob's name is still bob's
            await refused(mallory.stub.CallObject(call("SendMessage", send("bob", "anonymous bob"))))
        assert await history(c.gates[0].addr) == [("bob", "bob here")]


async def test_default_mode_refuses_hijacking_another_clients_id_in_the_call_or_in_join() -> None:
    async with cluster() as c:
        alice, _ = await c.client("alice")
        bob, bob_seen = await c.client("bob")
        for client in (alice, bob):
            await client.join("General")
        async with goverse_client(c.gates[0].addr) as mallory:
            attempts = [
                call("GetRecentMessages", chat_pb2.ChatRoom_GetRecentMessagesRequest(), bob.client_id),
                call("Join", chat_pb2.ChatRoom_JoinRequest(user_name="mallory", client_id=bob.client_id)),
                call("Join", chat_pb2.ChatRoom_JoinRequest(user_name="mallory"), bob.client_id),
                call("Join", chat_pb2.ChatRoom_JoinRequest(user_name="bob", client_id=mallory.client_id),
                     mallory.client_id),  # bob's pushes to her own stream
                call("Leave", chat_pb2.ChatRoom_LeaveRequest(user_name="bob", client_id=bob.client_id)),
            ]
            for attempt in attempts:
                await refused(mallory.stub.CallObject(attempt))
        await alice.send("General", "still yours, bob")
        await wait_until(lambda: bob_seen.texts("push") == ["still yours, bob"], 5.0, "bob's push")
        snapshot = c.gates[0].metrics.snapshot()["pushchat_denied_total"]
        assert snapshot["client_id_not_yours"] == 4 and snapshot["user_name_in_use"] == 1


async def test_an_unchanged_goverse_client_works_in_the_default_mode() -> None:
    """Goverse's sample client: one channel; Register; the client id in CallObject and in Join; no headers."""
    async with cluster() as c:
        alice, _ = await c.client("alice")
        await alice.join("General")
        async with goverse_client(c.gates[0].addr) as gv:
            listed = await gv.stub.CallObject(gate_pb2.CallObjectRequest(
                client_id=gv.client_id, type="ChatRoomMgr", id="ChatRoomMgr0", method="ListChatRooms",
                request=packed(chat_pb2.ChatRoom_ListRequest())))
            rooms = chat_pb2.ChatRoom_ListResponse()
            assert listed.response.Unpack(rooms) and "General" in rooms.chat_rooms
            await gv.stub.CallObject(call("Join", chat_pb2.ChatRoom_JoinRequest(user_name="gopher",
                                                                                client_id=gv.client_id),
                                          gv.client_id))
            await gv.stub.CallObject(call("SendMessage", send("gopher", "hello from Go"), gv.client_id))
            await alice.send("General", "hi gopher")
            note = chat_pb2.Client_NewMessageNotification()
            assert (await asyncio.wait_for(gv.stream.read(), 5.0)).Unpack(note)
            assert (note.message.user_name, note.message.message) == ("alice", "hi gopher")
            got = await gv.stub.CallObject(call("GetRecentMessages", chat_pb2.ChatRoom_GetRecentMessagesRequest(),
                                                gv.client_id))
            page = chat_pb2.ChatRoom_GetRecentMessagesResponse()
            assert got.response.Unpack(page)
            assert [(m.user_name, m.message) for m in page.messages] == [("gopher", "hello from Go"),
                                                                          ("alice", "hi gopher")]


async def test_a_name_is_held_by_its_clients_session_across_connections_and_freed_when_it_leaves() -> None:
    """A reconnecting client (same session value, new connection) keeps its name even before the gate has
    noticed its old stream end; anybody else waits until the holder is gone."""
    async with cluster() as c:
        mine = ((auth.SESSION_HEADER, "bobs-session"),)
        async with goverse_client(c.gates[0].addr, metadata=mine) as old:
            await old.stub.CallObject(call("Join", chat_pb2.ChatRoom_JoinRequest(user_name="bob"), old.client_id),
                                      metadata=mine)
            async with goverse_client(c.gates[0].addr, metadata=mine) as new:  # old stream still up
                await new.stub.CallObject(call("Join", chat_pb2.ChatRoom_JoinRequest(user_name="bob"),
                                               new.client_id), metadata=mine)
                await new.stub.CallObject(call("SendMessage", send("bob", "me again")), metadata=mine)
            async with goverse_client(c.gates[0].addr) as other:
                await refused(other.stub.CallObject(call("SendMessage", send("bob", "not bob"))))
        await wait_until(lambda: len(c.gates[0].guard.access) == 0, 5.0, "the streams to end")
        async with goverse_client(c.gates[0].addr) as later:  # bob has gone: "no authentication" means this
            await later.stub.CallObject(call("SendMessage", send("bob", "a new bob"), later.client_id))


# -- token mode (--auth token) ---------------------------------------------------------------------

async def test_token_mode_refuses_the_three_attacks() -> None:
    async with cluster(gate=TOKEN_GATE) as c:
        bob, bob_seen = await c.client("bob", token=auth.issue(SECRET, "bob", 60))
        await bob.join("General")
        await bob.send("General", "bob here")
        async with grpc.aio.insecure_channel(c.gates[0].addr) as channel:
            gate = gate_pb2_grpc.GateServiceStub(channel)
            await refused(gate.DeleteObject(gate_pb2.DeleteObjectRequest(id="ChatRoom-General")), UNAUTHENTICATED)
            await refused(gate.CallObject(call("SendMessage", send("bob", "no token"))), UNAUTHENTICATED)
            await refused(gate.Register(gate_pb2.Empty()).read(), UNAUTHENTICATED)
            forged = ((auth.AUTH_HEADER, f"Bearer {auth.issue(auth.new_secret().encode(), 'bob', 60)}"),)
            assert "signature" in await refused(gate.CallObject(call("SendMessage", send("bob", "forged")),
                                                                metadata=forged), UNAUTHENTICATED)
            await refused(gate.DeleteObject(gate_pb2.DeleteObjectRequest(id="ChatRoom-General"),
                                            metadata=bearer("mallory")))
        async with goverse_client(c.gates[0].addr, metadata=bearer("mallory")) as mallory:
            me = bearer("mallory")
            await refused(mallory.stub.CallObject(call("SendMessage", send("bob", "I am bob")), metadata=me))
            await refused(mallory.stub.CallObject(call("Join", chat_pb2.ChatRoom_JoinRequest(
                user_name="mallory", client_id=bob.client_id)), metadata=me))
            await refused(mallory.stub.CallObject(call("Join", chat_pb2.ChatRoom_JoinRequest(
                user_name="bob", client_id=mallory.client_id), mallory.client_id), metadata=me))
            # a header naming someone else is the client's own, never passed on: the room sees the token's user
            await mallory.stub.CallObject(call("SendMessage", send("", "who am I?"), mallory.client_id),
                                          metadata=me + ((auth.USER_HEADER, b"bob"),))
        assert await history(c.gates[0].addr, auth.issue(SECRET, "reader", 60)) == [
            ("bob", "bob here"), ("mallory", "who am I?")]
        admin = bearer("root", admin=True)
        async with grpc.aio.insecure_channel(c.gates[0].addr) as channel:
            gate = gate_pb2_grpc.GateServiceStub(channel)
            await gate.CreateObject(gate_pb2.CreateObjectRequest(type="ChatRoom", id="ChatRoom-Ops"), metadata=admin)
            await gate.DeleteObject(gate_pb2.DeleteObjectRequest(id="ChatRoom-Ops"), metadata=admin)


async def test_an_expired_token_closes_the_stream_and_the_client_says_so_without_retrying_forever() -> None:
    async with cluster(gate=TOKEN_GATE) as c:
        seen = Recorder()
        refusals: list[BaseException] = []
        seen.on_refused = refusals.append  # type: ignore[method-assign]
        bob, _ = await c.client("bob", observers=(seen,), token=auth.issue(SECRET, "bob", 2), **FAST)
        await bob.join("General")
        await wait_until(lambda: refusals, 10.0, "the gate to refuse bob's expired token")
        assert isinstance(refusals[0], grpc.aio.AioRpcError) and refusals[0].code() == UNAUTHENTICATED
        assert "expired" in refusals[0].details()
        [ended] = seen.ended
        assert ended.code() == UNAUTHENTICATED  # type: ignore[union-attr]
        assert bob.refused is not None and not bob.connected
        assert len(seen.reconnecting) <= 1 and not seen.reconnected  # one more try at most, then it stops
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await asyncio.wait_for(bob.send("General", "too late"), 2.0)  # fails at once, not after outage_wait
        assert err.value.code() == UNAUTHENTICATED and err.value.definite  # type: ignore[attr-defined]
        assert c.gates[0].metrics.snapshot()["pushchat_denied_total"]["token_expired"] >= 1


async def test_a_token_function_gives_a_fresh_token_to_every_reconnection() -> None:
    async with cluster(gate=TOKEN_GATE) as c:
        issued: list[str] = []

        def fresh() -> str:
            issued.append(auth.issue(SECRET, "carol", 1.5))
            return issued[-1]

        carol, _ = await c.client("carol", token=fresh, **FAST)
        await carol.join("General")
        await wait_until(lambda: carol.reconnects >= 1, 10.0, "carol to re-register after her first token expired")
        assert carol.refused is None and (await carol.send("General", "still me")).seq == 1


# -- the node's own door ---------------------------------------------------------------------------

async def test_a_node_with_tokens_admits_only_gates_holding_the_secret_and_admins() -> None:
    async with cluster(node=TOKEN_GATE, gate={"secret": SECRET}) as c:
        alice, _ = await c.client("alice")
        await alice.join("General")
        assert (await alice.send("General", "through a trusted gate")).seq == 1
        async with grpc.aio.insecure_channel(c.nodes[0].addr) as channel:
            node = goverse_pb2_grpc.GoverseStub(channel)
            await refused(node.ListObjects(goverse_pb2.Empty()), UNAUTHENTICATED)
            await refused(node.RegisterGate(goverse_pb2.RegisterGateRequest(gate_addr="x:1")).read(),
                          UNAUTHENTICATED)
            await refused(node.RegisterGate(goverse_pb2.RegisterGateRequest(gate_addr="x:1"),
                                            metadata=bearer("mallory")).read())
            await refused(node.DeleteObject(goverse_pb2.DeleteObjectRequest(id="ChatRoom-General"),
                                            metadata=bearer("mallory")))
            spoof = bearer("mallory") + ((auth.USER_HEADER, b"alice"),)
            await refused(node.CallObject(goverse_pb2.CallObjectRequest(
                type="ChatRoom", id="ChatRoom-General", method="SendMessage", request=packed(send("", "x"))),
                metadata=spoof))
            admin = bearer("ops", admin=True)
            await node.CreateObject(goverse_pb2.CreateObjectRequest(type="ChatRoom", id="ChatRoom-Ops"),
                                    metadata=admin)
            await node.DeleteObject(goverse_pb2.DeleteObjectRequest(id="ChatRoom-Ops"), metadata=admin)


async def test_a_gate_without_the_secret_cannot_reach_a_node_that_checks_tokens() -> None:
    async with cluster(node=TOKEN_GATE, gates=0) as c:
        from system.gate import GateConfig, GateServer
        gate = GateServer(GateConfig(nodes=(c.nodes[0].addr,)))
        await gate.start()
        try:
            with pytest.raises(TimeoutError):
                await gate.wait_ready(1.5)
        finally:
            await gate.stop(0.2)
        assert c.nodes[0].metrics.snapshot()["pushchat_denied_total"]["token_missing"] >= 1
