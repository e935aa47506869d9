"""Two nodes and two gates: rooms spread over nodes, pushes cross gates, one envelope per gate."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2

from system.pb import chat_pb2, goverse_pb2, goverse_pb2_grpc
from tests.system.system_harness import cluster, wait_until

# Enough rooms that both nodes own some whatever their (random) ports: all on one has p = 2**-19.
ROOMS = ["General", "Technology", "Crypto", "Sports", "Movies"] + [f"Room{i}" for i in range(15)]


async def test_rooms_spread_over_both_nodes_and_members_on_both_gates_get_pushes() -> None:
    async with cluster(nodes=2, gates=2, node={"rooms": tuple(ROOMS)}) as c:
        members = [await c.client(f"user{i}", gate=i % 2) for i in range(4)]
        for client, _ in members:
            for room in ROOMS:
                await client.join(room)
        for room in ROOMS:
            await members[0][0].send(room, f"hello {room}")
        for _, seen in members[1:]:
            await wait_until(lambda seen=seen: len(seen.shown) == len(ROOMS), 5.0, "a push from every room")
            assert sorted(s[3] for s in seen.shown) == sorted(f"hello {r}" for r in ROOMS)
            assert {s[4] for s in seen.shown} == {"push"}
        hosted = [{h.object_id for h in n.host.objects()} for n in c.nodes]
        assert all(any(o.startswith("ChatRoom-") for o in objs) for objs in hosted), hosted
        assert not hosted[0] & hosted[1]  # each room lives on exactly one node
        assert set().union(*hosted) >= {f"ChatRoom-{r}" for r in ROOMS}
        for node in c.nodes:
            listed = await goverse_pb2_grpc.GoverseStub(grpc.aio.insecure_channel(node.addr)).ListObjects(
                goverse_pb2.Empty())
            assert {o.id for o in listed.objects} == {h.object_id for h in node.host.objects()}


async def test_one_envelope_per_gate_carries_a_message_for_many_members() -> None:
    async with cluster(gates=0) as c:
        channel = grpc.aio.insecure_channel(c.nodes[0].addr)
        stub = goverse_pb2_grpc.GoverseStub(channel)
        stream = stub.RegisterGate(goverse_pb2.RegisterGateRequest(gate_addr="10.0.0.5:1"))
        assert (await stream.read()).HasField("register_gate_response")
        members = [f"10.0.0.5:1/m{i}" for i in range(50)]
        for i, client_id in enumerate(members):
            await stub.CallObject(call("Join", chat_pb2.ChatRoom_JoinRequest(user_name=f"m{i}", client_id=client_id)))
        await stub.CallObject(call("SendMessage", chat_pb2.ChatRoom_SendChatMessageRequest(
            user_name="m0", message="to all of you")))
        await stub.CallObject(call("SendMessage", chat_pb2.ChatRoom_SendChatMessageRequest(
            user_name="m0", message="marker")))
        messages = []  # the joins' notifications came first (one envelope each too): skip them
        while len(messages) < 2:
            item = await stream.read()
            if item.client_message.message.Is(chat_pb2.Client_NewMessageNotification.DESCRIPTOR):
                messages.append(item)
        first, second = messages
        assert sorted(first.client_message.client_ids) == sorted(members[1:])  # all but the sender, one envelope
        note = chat_pb2.Client_NewMessageNotification()
        assert first.client_message.message.Unpack(note) and note.message.message == "to all of you"
        assert second.client_message.message.Unpack(note) and note.message.message == "marker"
        stream.cancel()
        await channel.close()


def call(method: str, request) -> goverse_pb2.CallObjectRequest:  # type: ignore[no-untyped-def]
    packed = any_pb2.Any()
    packed.Pack(request)
    return goverse_pb2.CallObjectRequest(type="ChatRoom", id="ChatRoom-General", method=method, request=packed)
