"""The gate serialises a push once for all its clients, and every kind of client still reads the same ``Any``."""

from __future__ import annotations

import asyncio
import time

import grpc
from google.protobuf import any_pb2

from system.gate import ClientRouter
from system.metrics import Metrics
from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc, goverse_pb2
from tests.system.system_harness import cluster, goverse_client, wait_until


def packed(message) -> any_pb2.Any:  # type: ignore[no-untyped-def]
    out = any_pb2.Any()
    out.Pack(message)
    return out


def join(user: str, client_id: str) -> gate_pb2.CallObjectRequest:
    return gate_pb2.CallObjectRequest(client_id=client_id, type="ChatRoom", id="ChatRoom-General", method="Join",
                                      request=packed(chat_pb2.ChatRoom_JoinRequest(user_name=user,
                                                                                   client_id=client_id)))


def test_one_envelope_is_serialised_once_and_the_same_bytes_are_queued_for_every_client() -> None:
    async def main() -> None:
        router = ClientRouter(4, Metrics("gate"))
        boxes = [router.register(f"10.0.0.1:1/c{i}") for i in range(3)]
        note = chat_pb2.Client_NewMessageNotification(message=chat_pb2.ChatMessage(room_name="General", seq=7))
        envelope = goverse_pb2.ClientMessageEnvelope(client_ids=[b.name for b in boxes], message=packed(note))
        assert router.deliver(envelope) == 3
        queued = [await b.get() for b in boxes]
        assert queued[0] == packed(note).SerializeToString()  # what each stream writes as it is
        assert all(item is queued[0] for item in queued)  # one serialisation, shared
    asyncio.run(main())


async def _next_chat_message(read, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    """The next chat message push on a stream (presence pushes skipped): (the raw item, its notification)."""
    deadline = time.monotonic() + timeout
    note = chat_pb2.Client_NewMessageNotification()
    while True:
        item = await asyncio.wait_for(read(), max(0.0, deadline - time.monotonic()))
        parsed = any_pb2.Any.FromString(item) if isinstance(item, bytes) else item
        if parsed.Unpack(note):
            return item, note


async def test_a_generated_stub_a_raw_byte_reader_and_our_client_all_get_the_same_push() -> None:
    """The wire is unchanged: a Goverse-style stub reads an ``Any``, and the bytes on the wire are exactly what
    the generated serialiser makes of that ``Any``."""
    async with cluster() as c:
        addr = c.gates[0].addr
        bob, seen = await c.client("bob")
        await bob.join("General")
        async with goverse_client(addr) as gv:
            await gv.stub.CallObject(join("gopher", gv.client_id))
            raw_channel = grpc.aio.insecure_channel(addr, options=[("grpc.use_local_subchannel_pool", 1)])
            try:
                register = raw_channel.unary_stream("/gate.GateService/Register",
                                                    request_serializer=gate_pb2.Empty.SerializeToString,
                                                    response_deserializer=None)  # the bytes as they came
                raw = register(gate_pb2.Empty())
                registered = gate_pb2.RegisterResponse()
                assert any_pb2.Any.FromString(await raw.read()).Unpack(registered)
                await gate_pb2_grpc.GateServiceStub(raw_channel).CallObject(join("raw", registered.client_id))
                alice, _ = await c.client("alice")
                sent = await alice.send("General", "one push, three readers")
                stub_item, stub_note = await _next_chat_message(gv.stream.read)
                raw_item, raw_note = await _next_chat_message(raw.read)
                await wait_until(lambda: "one push, three readers" in seen.texts("push"), 5.0, "bob's push")
                for got in (stub_note, raw_note):
                    assert (got.message.room_name, got.message.seq, got.message.user_name, got.message.message) == (
                        "General", sent.seq, "alice", "one push, three readers")
                assert isinstance(raw_item, bytes) and raw_item == stub_item.SerializeToString()
                raw.cancel()
            finally:
                await raw_channel.close()
