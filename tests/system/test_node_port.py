"""The node's port is for gates and operators (issue 21): a chat user's own token acts on nothing there,
an operator's names no client, and a gate's token is good only at the node it was made for.

Servers are real (in-process, 127.0.0.1 port 0); the callers use bare gRPC stubs, as anyone could.
"""

from __future__ import annotations

import grpc
import jwt
import pytest

from system import auth
from system.guard import GATE_TOKEN_TTL
from system.pb import chat_pb2, goverse_pb2, goverse_pb2_grpc
from tests.system.system_harness import cluster, packed, wait_until

DENIED, UNAUTHENTICATED = grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED
SECRET = auth.new_secret().encode()
TOKENS = {"auth": "token", "secret": SECRET}


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return ((auth.AUTH_HEADER, f"Bearer {token}"),)


def room_call(method: str, request, room: str = "Sports", client_id: str = "") -> goverse_pb2.CallObjectRequest:  # type: ignore[no-untyped-def]
    return goverse_pb2.CallObjectRequest(type="ChatRoom", id=f"ChatRoom-{room}", method=method,
                                         request=packed(request), client_id=client_id)


async def refused(awaitable, code: grpc.StatusCode = DENIED) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await awaitable
    assert err.value.code() == code, err.value
    return err.value.details()


def every_node_rpc(node: goverse_pb2_grpc.GoverseStub, bob_id: str, metadata: tuple) -> dict[str, object]:  # type: ignore[type-arg]
    """One call of each of the node's RPCs, as the attacker of issue 21 made them."""
    return {
        "Status": node.Status(goverse_pb2.Empty(), metadata=metadata),
        "ListObjects": node.ListObjects(goverse_pb2.Empty(), metadata=metadata),
        "Join as bob's client": node.CallObject(room_call("Join", chat_pb2.ChatRoom_JoinRequest(
            user_name="alice", client_id=bob_id)), metadata=metadata),
        "Join in the call": node.CallObject(room_call("Join", chat_pb2.ChatRoom_JoinRequest(user_name="alice"),
                                                      client_id=bob_id), metadata=metadata),
        "GetRecentMessages": node.CallObject(room_call("GetRecentMessages",
                                                       chat_pb2.ChatRoom_GetRecentMessagesRequest()),
                                             metadata=metadata),
        "CreateObject": node.CreateObject(goverse_pb2.CreateObjectRequest(type="ChatRoom", id="ChatRoom-Mine"),
                                          metadata=metadata),
        "DeleteObject": node.DeleteObject(goverse_pb2.DeleteObjectRequest(id="ChatRoom-General"),
                                          metadata=metadata),
        "RegisterGate": node.RegisterGate(goverse_pb2.RegisterGateRequest(gate_addr="127.0.0.1:1"),
                                          metadata=metadata).read(),
    }


async def test_a_users_own_token_acts_on_nothing_at_a_node_and_bob_gets_no_pushes_from_elsewhere() -> None:
    async with cluster(node=TOKENS, gate=TOKENS) as c:
        alice, _ = await c.client("alice", token=auth.issue(SECRET, "alice", 60))
        bob, bob_seen = await c.client("bob", token=auth.issue(SECRET, "bob", 60))
        await bob.join("General")
        mine = bearer(auth.issue(SECRET, "alice", 60))
        async with grpc.aio.insecure_channel(c.nodes[0].addr) as channel:
            node = goverse_pb2_grpc.GoverseStub(channel)
            for what, attempt in every_node_rpc(node, bob.client_id, mine).items():
                why = await refused(attempt)
                assert "user's token acts on nothing" in why, what
        # the gate still serves both: alice speaks in Sports, where bob never went, and in General, where he is
        await alice.join("Sports")
        await alice.send("Sports", "only for Sports")
        await alice.join("General")
        await alice.send("General", "hello bob")
        await wait_until(lambda: bob_seen.texts("push") == ["hello bob"], 5.0, "bob's push from General")
        assert "only for Sports" not in bob_seen.texts()
        assert c.nodes[0].metrics.snapshot()["pushchat_denied_total"]["user_token"] == 8
        assert any(o.object_id == "ChatRoom-General" for o in c.nodes[0].host.objects())


async def test_an_operator_token_does_operator_things_but_never_names_a_client() -> None:
    async with cluster(node=TOKENS, gate=TOKENS) as c:
        bob, bob_seen = await c.client("bob", token=auth.issue(SECRET, "bob", 60))
        await bob.join("General")
        ops = bearer(auth.issue(SECRET, "ops", 60, admin=True))
        async with grpc.aio.insecure_channel(c.nodes[0].addr) as channel:
            node = goverse_pb2_grpc.GoverseStub(channel)
            assert (await node.Status(goverse_pb2.Empty(), metadata=ops)).advertise_addr == c.nodes[0].advertise
            await node.CreateObject(goverse_pb2.CreateObjectRequest(type="ChatRoom", id="ChatRoom-Ops"), metadata=ops)
            listed = await node.ListObjects(goverse_pb2.Empty(), metadata=ops)
            assert "ChatRoom-Ops" in {o.id for o in listed.objects}
            await node.DeleteObject(goverse_pb2.DeleteObjectRequest(id="ChatRoom-Ops"), metadata=ops)
            await node.CallObject(room_call("GetRecentMessages", chat_pb2.ChatRoom_GetRecentMessagesRequest(),
                                            room="General"), metadata=ops)
            claims = {
                "a client id in the request": room_call("Join", chat_pb2.ChatRoom_JoinRequest(
                    user_name="ops", client_id=bob.client_id)),
                "a client id in the call": room_call("Join", chat_pb2.ChatRoom_JoinRequest(user_name="ops"),
                                                     client_id=bob.client_id),
            }
            for what, attempt in claims.items():
                assert "only a gate" in await refused(node.CallObject(attempt, metadata=ops)), what
            as_bob = ops + ((auth.USER_HEADER, b"bob"),)
            assert "only a gate" in await refused(node.CallObject(room_call("SendMessage", chat_pb2.
                ChatRoom_SendChatMessageRequest(user_name="bob", message="not bob"), room="General"),
                metadata=as_bob))
            assert "only a gate may register" in await refused(node.RegisterGate(
                goverse_pb2.RegisterGateRequest(gate_addr="127.0.0.1:1"), metadata=ops).read())
        await bob.send("General", "bob here")
        reader, _ = await c.client("reader", token=auth.issue(SECRET, "reader", 60))
        assert [(m.user_name, m.message) for m in (await reader.poll("General")).messages] == [("bob", "bob here")]


async def test_a_gate_token_is_good_only_at_the_node_it_was_made_for_and_lives_minutes() -> None:
    async with cluster(nodes=2, node=TOKENS, gate=TOKENS) as c:
        alice, _ = await c.client("alice", token=auth.issue(SECRET, "alice", 60))
        for room in ("General", "Sports", "Movies", "Crypto"):  # both nodes serve through the gate
            await alice.join(room)
            await alice.send(room, f"in {room}")
        first, second = c.nodes
        theirs = c.gates[0].guard.node_metadata(second.advertise)
        token = dict(theirs)[auth.AUTH_HEADER].removeprefix("Bearer ")
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["aud"] == second.advertise and claims["exp"] - claims["iat"] <= GATE_TOKEN_TTL <= 300
        unbound = bearer(auth.issue(SECRET, "gate", 60, role=auth.ROLE_GATE))
        async with grpc.aio.insecure_channel(first.addr) as channel:
            node = goverse_pb2_grpc.GoverseStub(channel)
            for metadata in (theirs, unbound):
                for what, attempt in every_node_rpc(node, alice.client_id, metadata).items():
                    if what == "Status":  # how a gate learns which address its tokens must name
                        assert (await attempt).advertise_addr == first.advertise  # type: ignore[attr-defined]
                    else:
                        assert "made for node" in await refused(attempt), what
        assert any(o.object_id == "ChatRoom-General" for o in [*first.host.objects(), *second.host.objects()])
