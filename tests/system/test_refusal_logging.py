"""A user's mistake is refused quietly on the server (INFO); WARNING stays for the server's own trouble."""

from __future__ import annotations

import re

import grpc
import pytest

from tests.system.cli_process import running
from system.objects import GoverseObject, method
from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc, goverse_pb2, goverse_pb2_grpc
from tests.system.system_harness import capture_logs, cluster, packed


MISTAKES = [  # (room id, method, request, code): what a newcomer's client may well send
    ("ChatRoom-General", "SendMessage", chat_pb2.ChatRoom_SendChatMessageRequest(user_name="ann", message="x" * 5000),
     grpc.StatusCode.INVALID_ARGUMENT),
    ("ChatRoom-NoSuchRoom", "Join", chat_pb2.ChatRoom_JoinRequest(user_name="ann"), grpc.StatusCode.NOT_FOUND),
]


async def call_mistakes(gate_addr: str) -> None:
    async with grpc.aio.insecure_channel(gate_addr) as channel:
        gate = gate_pb2_grpc.GateServiceStub(channel)
        for room, method_name, request, code in MISTAKES:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await gate.CallObject(gate_pb2.CallObjectRequest(type="ChatRoom", id=room, method=method_name,
                                                                 request=packed(request)))
            assert err.value.code() == code


async def test_pushchat_up_shows_no_warning_for_a_users_mistakes() -> None:
    with running("up", "--node-listen", "127.0.0.1:0", "--gate-listen", "127.0.0.1:0") as up:
        gate_addr = re.search(r"gate (\S+) ", await up.line("^pushchat is up")).group(1)  # type: ignore[union-attr]
        await call_mistakes(gate_addr)
        assert up.stop() == 0
    assert up.errors == []  # nothing on the server's screen: the users were told, the server is fine


async def test_refusals_are_logged_at_info_with_the_fields_the_checker_reads() -> None:
    async with cluster() as c:
        with capture_logs() as logs:
            await call_mistakes(c.gates[0].addr)
    lines = logs.events("call_failed")
    assert [(x["level"], x["id"], x["method"], x["code"]) for x in lines] == [
        ("INFO", room, method_name, code.name) for room, method_name, _, code in MISTAKES]
    assert all(x["type"] == "ChatRoom" and x["error"] for x in lines)


class Broken(GoverseObject):
    type_name = "Broken"

    @method(chat_pb2.ChatRoom_ListRequest)
    def Work(self, request: chat_pb2.ChatRoom_ListRequest, call: object) -> chat_pb2.ChatRoom_ListResponse:
        raise KeyError("a bug")


async def test_the_nodes_own_failure_is_still_a_warning() -> None:
    async with cluster(gates=0) as c:
        c.nodes[0].host.register(Broken, lambda object_id, explicit: Broken(object_id))
        async with grpc.aio.insecure_channel(c.nodes[0].addr) as channel:
            node = goverse_pb2_grpc.GoverseStub(channel)
            with capture_logs() as logs, pytest.raises(grpc.aio.AioRpcError) as err:
                await node.CallObject(goverse_pb2.CallObjectRequest(
                    type="Broken", id="b1", method="Work", request=packed(chat_pb2.ChatRoom_ListRequest())))
    assert err.value.code() == grpc.StatusCode.INTERNAL
    [line] = logs.events("call_failed")
    assert line["level"] == "WARNING" and line["code"] == "INTERNAL"
