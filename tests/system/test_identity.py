"""Identity is the registered client, not the connection; limits meter what a client cannot choose.

Clients here are what other people's programs look like: default grpc channels (a process's channels
to one target share one TCP connection), many clients per process, raw stubs, odd but legal headers.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest

from system import auth
from system.access import Access, Caller, Refused
from system.limits import Limits
from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc
from tests.system.system_harness import call, capture_logs, cluster, goverse_client, wait_until


async def code_of(awaitable) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    try:
        await awaitable
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


class Bot:
    """One client as a bot host holds it: a default channel, its Register stream, the pushes it got."""

    def __init__(self, addr: str, name: str) -> None:
        self.name = name
        self.channel = grpc.aio.insecure_channel(addr)  # default options: no private subchannel pool
        self.stub = gate_pb2_grpc.GateServiceStub(self.channel)
        self.got: list[tuple[str, str]] = []
        self.client_id = ""

    async def start(self) -> None:
        stream = self.stub.Register(gate_pb2.Empty())
        first = gate_pb2.RegisterResponse()
        assert (await stream.read()).Unpack(first)
        self.client_id = first.client_id
        self.reader = asyncio.create_task(self._read(stream))

    async def _read(self, stream) -> None:  # type: ignore[no-untyped-def]
        note = chat_pb2.Client_NewMessageNotification()
        while (item := await stream.read()) is not grpc.aio.EOF:
            if item.Unpack(note):
                self.got.append((note.message.user_name, note.message.message))

    async def join(self) -> None:
        await self.stub.CallObject(call("Join", chat_pb2.ChatRoom_JoinRequest(user_name=self.name,
                                                                             client_id=self.client_id),
                                        self.client_id))

    async def send(self, text: str) -> None:
        await self.stub.CallObject(call("SendMessage", chat_pb2.ChatRoom_SendChatMessageRequest(
            user_name=self.name, message=text), self.client_id))

    async def close(self) -> None:
        self.reader.cancel()
        await self.channel.close()


async def test_fifty_default_channel_clients_in_one_process_register_join_send_and_receive() -> None:
    async with cluster() as c:
        bots = [Bot(c.gates[0].addr, f"bot{i}") for i in range(50)]
        try:
            for bot in bots:
                await bot.start()
            assert list(c.gates[0].guard.access.streams().values()) == [50]  # one connection holds them all
            await asyncio.gather(*(bot.join() for bot in bots))
            for bot in bots:  # one at a time: every other bot gets each message by push
                await bot.send(f"hello from {bot.name}")
                others = [b for b in bots if b is not bot]
                await wait_until(lambda: all((bot.name, f"hello from {bot.name}") in b.got for b in others), 10.0,
                                 f"{bot.name}'s message pushed to the 49 others")
            for bot in bots:
                assert sorted(bot.got) == sorted((b.name, f"hello from {b.name}") for b in bots if b is not bot)
                assert c.gates[0].guard.access.name_of(bot.client_id) == bot.name
        finally:
            await asyncio.gather(*(bot.close() for bot in bots if bot.client_id))


async def test_clients_sharing_a_connection_cannot_speak_as_each_other_or_another_connections_client() -> None:
    async with cluster() as c:
        async with grpc.aio.insecure_channel(c.gates[0].addr) as channel:
            async with goverse_client("", channel=channel) as ann, goverse_client("", channel=channel) as ben:
                for client, name in ((ann, "ann"), (ben, "ben")):
                    await client.stub.CallObject(call("Join", chat_pb2.ChatRoom_JoinRequest(
                        user_name=name, client_id=client.client_id), client.client_id))
                speak_as_ben = call("SendMessage", chat_pb2.ChatRoom_SendChatMessageRequest(
                    user_name="ben", message="I am ben"), ann.client_id)
                assert await code_of(ann.stub.CallObject(speak_as_ben)) == grpc.StatusCode.PERMISSION_DENIED
                async with goverse_client(c.gates[0].addr) as other:  # a connection of its own
                    hijack = call("GetRecentMessages", chat_pb2.ChatRoom_GetRecentMessagesRequest(), ann.client_id)
                    assert await code_of(other.stub.CallObject(hijack)) == grpc.StatusCode.PERMISSION_DENIED


async def test_a_fresh_session_header_per_call_dodges_no_limit() -> None:
    """The rate and the rooms are metered by connection and by registered client: a header the client picks
    anew for every call buys nothing."""
    limits = Limits(call_rate=0.01, call_burst=3, rooms_per_client=2)
    async with cluster(gate={"limits": limits}) as c:
        async with goverse_client(c.gates[0].addr) as raw:
            fresh = lambda i: ((auth.SESSION_HEADER, f"rotating-{i}"),)  # noqa: E731
            poll = call("GetRecentMessages", chat_pb2.ChatRoom_GetRecentMessagesRequest())
            codes = [await code_of(raw.stub.CallObject(poll, metadata=fresh(i))) for i in range(12)]
            assert codes == [grpc.StatusCode.OK] * 3 + [grpc.StatusCode.RESOURCE_EXHAUSTED] * 9
    async with cluster(gate={"limits": Limits(rooms_per_client=2)}) as c:
        async with goverse_client(c.gates[0].addr) as raw:
            joins = [await code_of(raw.stub.CallObject(call("Join", chat_pb2.ChatRoom_JoinRequest(user_name="eve"),
                                                             room=room), metadata=fresh(i)))
                     for i, room in enumerate(["General", "Technology", "Crypto", "Sports"])]
            assert joins == [grpc.StatusCode.OK] * 2 + [grpc.StatusCode.RESOURCE_EXHAUSTED] * 2
            async with goverse_client("", channel=raw.channel) as own:  # a registered client has its own rooms
                for room in ("Crypto", "Sports"):
                    await own.stub.CallObject(call("Join", chat_pb2.ChatRoom_JoinRequest(
                        user_name="zoe", client_id=own.client_id), own.client_id, room=room))


def test_what_the_gate_keeps_for_anonymous_callers_is_bounded_and_expires() -> None:
    now = [0.0]
    access = Access(limits=Limits(max_tracked=1000, idle_expiry=60.0), clock=lambda: now[0])
    for i in range(20_000):  # fresh sessions on one connection, then fresh connections
        for caller in (Caller("ipv4:10.0.0.1:5000", session=f"s{i}"), Caller(f"ipv4:10.0.{i // 250}.{i % 250}:1")):
            verdict = access.check_call(caller, client_id="", named_client_id="", user_name="eve",
                                        object_id="ChatRoom-General", method="Join", now=now[0])
            access.called(caller, verdict, "ChatRoom-General", "Join")
        now[0] += 0.01
    assert access.tracked() <= 3 * 1000
    now[0] += 61.0
    assert len(access._rooms) == 0 and access.tracked() <= 2 * 1000  # the rooms expired; buckets stay bounded


async def test_a_user_name_the_node_would_refuse_is_refused_before_the_gate_claims_it() -> None:
    async with cluster() as c:
        async with goverse_client(c.gates[0].addr) as raw:
            for bad in ("x" * (3 << 20), "tab\there", ""):
                request = chat_pb2.ChatRoom_JoinRequest(user_name=bad, client_id=raw.client_id)
                code = await code_of(raw.stub.CallObject(call("Join", request, raw.client_id)))
                assert code == grpc.StatusCode.INVALID_ARGUMENT, bad[:10]
                assert c.gates[0].guard.access.name_of(raw.client_id) is None
            await raw.stub.CallObject(call("Join", chat_pb2.ChatRoom_JoinRequest(user_name="fine",
                                                                                 client_id=raw.client_id),
                                           raw.client_id))
            assert c.gates[0].guard.access.name_of(raw.client_id) == "fine"


async def test_refusals_are_logged_once_a_second_per_peer_with_how_many_they_stand_for() -> None:
    async with cluster() as c:
        async with goverse_client(c.gates[0].addr) as victim, goverse_client(c.gates[0].addr) as mallory:
            hijack = call("GetRecentMessages", chat_pb2.ChatRoom_GetRecentMessagesRequest(), victim.client_id)
            with capture_logs() as logs:
                for _ in range(300):
                    assert await code_of(mallory.stub.CallObject(hijack)) == grpc.StatusCode.PERMISSION_DENIED
            lines = logs.events("access_denied")
            assert 1 <= len(lines) < 300 and sum(line["refused"] for line in lines) <= 300
            assert all(line["reason"] == "client_id_not_yours" for line in lines)
        assert c.gates[0].metrics.snapshot()["pushchat_denied_total"]["client_id_not_yours"] == 300


async def test_a_stopping_gate_refuses_new_register_streams() -> None:
    async with cluster() as c:
        gate = c.gates[0]
        with capture_logs() as logs:
            await gate._stopping()  # the first phase of stop(): streams are ending, the server still answers
            async with grpc.aio.insecure_channel(gate.addr) as channel:
                stream = gate_pb2_grpc.GateServiceStub(channel).Register(gate_pb2.Empty())
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await stream.read()
                assert err.value.code() == grpc.StatusCode.UNAVAILABLE and "stopping" in err.value.details()
        assert logs.events("client_registered") == []
        assert [x for x in logs.records if x["level"] == "ERROR"] == []


def test_a_registered_clients_name_is_its_own_and_another_session_cannot_take_it() -> None:
    access = Access()
    conn = "ipv4:127.0.0.1:1"
    ann, ben = Caller(conn, session="ann-s"), Caller(conn, session="ben-s")
    access.bind(ann, "127.0.0.1:1/aaaa")
    access.bind(ben, "127.0.0.1:1/bbbb")
    access.check_call(ann, client_id="127.0.0.1:1/aaaa", named_client_id="", user_name="ann", object_id="r", method="Join",
                      now=0.0)
    with pytest.raises(Refused, match="in use"):
        access.check_call(ben, client_id="127.0.0.1:1/bbbb", named_client_id="", user_name="ann", object_id="r",
                          method="Join", now=0.0)
    access.bind(Caller(conn, session="ann-s"), "127.0.0.1:1/cccc")  # ann again, reconnected: her name comes with her
    access.check_call(ann, client_id="127.0.0.1:1/cccc", named_client_id="", user_name="ann", object_id="r", method="Join",
                      now=0.0)
    access.unbind("127.0.0.1:1/aaaa")
    with pytest.raises(Refused, match="in use"):  # still held by her new stream
        access.check_call(ben, client_id="", named_client_id="", user_name="ann", object_id="r", method="Join",
                          now=0.0)
