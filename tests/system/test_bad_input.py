"""Bad input on every RPC gets a clear gRPC error, and the servers keep serving."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf import any_pb2

from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc, goverse_pb2, goverse_pb2_grpc
from tests.system.system_harness import capture_logs, cluster, packed

INVALID, NOT_FOUND, UNIMPLEMENTED = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
                                     grpc.StatusCode.UNIMPLEMENTED)


def send(text: str, user: str = "alice") -> any_pb2.Any:
    return packed(chat_pb2.ChatRoom_SendChatMessageRequest(user_name=user, message=text))


ROOM = dict(type="ChatRoom", id="ChatRoom-General")
CALLS = {
    "malformed client id": (dict(client_id="no-gate-here", method="SendMessage", request=send("hi"), **ROOM),
                            INVALID, "malformed client id"),
    "malformed client id in Join": (dict(method="Join", request=packed(chat_pb2.ChatRoom_JoinRequest(
        user_name="bob", client_id="127.0.0.1:1/a/b")), **ROOM), INVALID, "malformed client id"),
    "unknown type": (dict(type="Nope", id="x", method="SendMessage", request=send("hi")), NOT_FOUND,
                     "unknown object type 'Nope'"),
    "unknown method": (dict(method="Explode", request=send("hi"), **ROOM), UNIMPLEMENTED, "no method 'Explode'"),
    "wrong Any payload": (dict(method="SendMessage", request=packed(chat_pb2.ChatRoom_ListRequest()), **ROOM),
                          INVALID, "want chat.ChatRoom_SendChatMessageRequest"),
    "garbled Any payload": (dict(method="SendMessage", request=any_pb2.Any(
        type_url="type.googleapis.com/chat.ChatRoom_SendChatMessageRequest", value=b"\x0a\xff"), **ROOM),
                            INVALID, "does not parse"),
    "no payload": (dict(method="SendMessage", **ROOM), INVALID, "missing request payload"),
    "empty message": (dict(method="SendMessage", request=send(""), **ROOM), INVALID, "message is empty"),
    "oversized message": (dict(method="SendMessage", request=send("x" * 101), **ROOM), INVALID,
                          "101 bytes, the limit is 100"),
    "bad user name": (dict(method="SendMessage", request=send("hi", user="a\x00b"), **ROOM), INVALID, "user_name"),
    "unknown room": (dict(type="ChatRoom", id="ChatRoom-Nowhere", method="SendMessage", request=send("hi")),
                     NOT_FOUND, "no chat room 'Nowhere'"),
    "negative limit": (dict(method="GetRecentMessages", request=packed(
        chat_pb2.ChatRoom_GetRecentMessagesRequest(limit=-1)), **ROOM), INVALID, "must not be negative"),
}


async def still_serving(gate: gate_pb2_grpc.GateServiceStub) -> None:
    reply = await gate.CallObject(gate_pb2.CallObjectRequest(type="ChatRoom", id="ChatRoom-General",
                                                             method="SendMessage", request=send("still here")))
    assert reply.response.Is(chat_pb2.Client_SendChatMessageResponse.DESCRIPTOR)


@pytest.mark.parametrize("case", list(CALLS))
async def test_bad_call_object_through_the_gate(case: str) -> None:
    fields, code, match = CALLS[case]
    async with cluster(node={"max_message_bytes": 100}) as c:
        async with grpc.aio.insecure_channel(c.gates[0].addr) as channel:
            gate = gate_pb2_grpc.GateServiceStub(channel)
            with capture_logs() as logs, pytest.raises(grpc.aio.AioRpcError) as err:
                await gate.CallObject(gate_pb2.CallObjectRequest(**fields))
            assert err.value.code() == code and match in err.value.details()
            if not case.startswith("malformed client id"):  # the gate refuses those itself
                [line] = logs.events("call_failed")
                assert line["level"] == "INFO" and line["code"] == code.name  # the caller's mistake
            await still_serving(gate)


async def test_bad_object_management_and_gate_registration() -> None:
    async with cluster(gate={"allow_admin_calls": True}) as c:
        async with grpc.aio.insecure_channel(c.gates[0].addr) as gch, \
                grpc.aio.insecure_channel(c.nodes[0].addr) as nch:
            gate, node = gate_pb2_grpc.GateServiceStub(gch), goverse_pb2_grpc.GoverseStub(nch)
            cases = [
                (gate.CreateObject(gate_pb2.CreateObjectRequest(type="Nope", id="x")), NOT_FOUND),
                (gate.CreateObject(gate_pb2.CreateObjectRequest(type="ChatRoom", id="General")), INVALID),
                (gate.DeleteObject(gate_pb2.DeleteObjectRequest(id="ChatRoom-Never")), NOT_FOUND),
                (node.RegisterGate(goverse_pb2.RegisterGateRequest(gate_addr="")).read(), INVALID),
                (node.CallObject(goverse_pb2.CallObjectRequest(type="ChatRoomMgr", id="Mgr7", method="ListChatRooms",
                                                               request=packed(chat_pb2.ChatRoom_ListRequest()))),
                 NOT_FOUND),
            ]
            for call, code in cases:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await call
                assert err.value.code() == code, err.value
            created = await gate.CreateObject(gate_pb2.CreateObjectRequest(type="ChatRoom", id="ChatRoom-New"))
            assert created.id == "ChatRoom-New"
            await gate.DeleteObject(gate_pb2.DeleteObjectRequest(id="ChatRoom-New"))
            status = await node.Status(goverse_pb2.Empty())
            assert status.advertise_addr == c.nodes[0].advertise
            await still_serving(gate)


async def test_garbage_on_the_grpc_ports_does_not_crash_the_servers() -> None:
    async with cluster() as c:
        for addr in (c.gates[0].addr, c.nodes[0].addr):
            host, port = addr.rsplit(":", 1)
            for junk in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x00" * 64 + b"\xff" * 4096,
                         b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x04\xff\xff\xff\xff\xff\xff"):
                reader, writer = await asyncio.open_connection(host, int(port))
                writer.write(junk)
                await writer.drain()
                await asyncio.wait_for(reader.read(), 5.0)  # the server answers or hangs up; either is fine
                writer.close()
        async with grpc.aio.insecure_channel(c.gates[0].addr) as channel:
            await still_serving(gate_pb2_grpc.GateServiceStub(channel))
