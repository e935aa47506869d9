"""The rate limiter on its own, and every limit end to end: its gRPC status and its count."""

from __future__ import annotations

import grpc
import pytest

from system.limits import Limits, RateLimiter
from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc
from tests.system.system_harness import cluster, goverse_client, packed

EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_bucket_allows_its_burst_then_its_rate_per_key() -> None:
    rate = RateLimiter(rate=2.0, burst=3)
    assert [rate.allow("a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert rate.allow("b", 0.0)  # another client's bucket is its own
    assert not rate.allow("a", 0.4) and rate.allow("a", 0.6)  # one token back after half a second
    assert RateLimiter(rate=0, burst=1).allow("a", 0.0)  # 0: no limit


def test_buckets_that_refilled_are_forgotten_when_there_are_too_many() -> None:
    rate = RateLimiter(rate=10.0, burst=1, max_keys=2)
    rate.allow("a", 0.0), rate.allow("b", 0.0)
    assert rate.allow("c", 5.0) and len(rate._buckets) == 1


def test_buckets_of_callers_gone_quiet_are_forgotten_long_before_there_are_too_many() -> None:
    """A reconnecting client comes back with a new client id and connection: the buckets of the old ones
    refill and must go, or a gate's state grows with every reconnection (the soak saw it)."""
    rate = RateLimiter(rate=10.0, burst=5, max_keys=100_000)
    for i in range(10_000):  # a new caller every 10 ms, each making two calls and never coming back
        now = i * 0.01
        assert rate.allow(f"client:{i}", now) and rate.allow(f"client:{i}", now)
    assert len(rate) <= 300  # the callers of the last couple of seconds, not all 10,000
    assert [rate.allow("busy", 100.0) for _ in range(6)] == [True] * 5 + [False]  # and still limits


def join(room: str, user: str, client_id: str) -> gate_pb2.CallObjectRequest:
    return gate_pb2.CallObjectRequest(client_id=client_id, type="ChatRoom", id=f"ChatRoom-{room}", method="Join",
                                      request=packed(chat_pb2.ChatRoom_JoinRequest(user_name=user)))


def limited(c, limit: str) -> float:  # type: ignore[no-untyped-def]
    return c.gates[0].metrics.snapshot()["pushchat_limited_total"][limit]


async def refused(awaitable, code: grpc.StatusCode = EXHAUSTED) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await awaitable
    assert err.value.code() == code, err.value
    return err.value.details()


async def test_a_full_gate_refuses_one_client_more() -> None:
    async with cluster(gate={"limits": Limits(max_clients=2)}) as c:
        async with goverse_client(c.gates[0].addr), goverse_client(c.gates[0].addr):
            async with grpc.aio.insecure_channel(c.gates[0].addr) as channel:
                stream = gate_pb2_grpc.GateServiceStub(channel).Register(gate_pb2.Empty())
                assert "the gate is full" in await refused(stream.read())
        assert limited(c, "clients") == 1
        async with goverse_client(c.gates[0].addr) as later:  # room again once one left
            assert later.client_id


async def test_one_connection_may_hold_only_so_many_register_streams() -> None:
    async with cluster(gate={"limits": Limits(streams_per_connection=1)}) as c:
        async with goverse_client(c.gates[0].addr) as first:
            second = first.stub.Register(gate_pb2.Empty())
            assert "Register streams" in await refused(second.read())
            async with goverse_client(c.gates[0].addr) as other:  # another connection is another count
                assert other.client_id != first.client_id
        assert limited(c, "streams_per_connection") == 1


async def test_a_client_calling_too_fast_is_refused_and_others_are_not() -> None:
    async with cluster(gate={"limits": Limits(call_rate=0.5, call_burst=3)}) as c:
        ask = gate_pb2.CallObjectRequest(type="ChatRoom", id="ChatRoom-General", method="GetRecentMessages",
                                         request=packed(chat_pb2.ChatRoom_GetRecentMessagesRequest()))
        async with goverse_client(c.gates[0].addr) as flood, goverse_client(c.gates[0].addr) as calm:
            for _ in range(3):
                await flood.stub.CallObject(ask)
            assert "too many calls" in await refused(flood.stub.CallObject(ask))
            await calm.stub.CallObject(ask)
        assert limited(c, "call_rate") == 1


async def test_a_client_may_join_only_so_many_rooms_and_leaving_one_makes_room() -> None:
    async with cluster(gate={"limits": Limits(rooms_per_client=2)}) as c:
        async with goverse_client(c.gates[0].addr) as cl:
            cid = cl.client_id
            await cl.stub.CallObject(join("General", "ann", cid))
            await cl.stub.CallObject(join("Sports", "ann", cid))
            await cl.stub.CallObject(join("Sports", "ann", cid))  # joining again takes nothing more
            assert "leave one first" in await refused(cl.stub.CallObject(join("Movies", "ann", cid)))
            await cl.stub.CallObject(gate_pb2.CallObjectRequest(
                client_id=cid, type="ChatRoom", id="ChatRoom-Sports", method="Leave",
                request=packed(chat_pb2.ChatRoom_LeaveRequest(user_name="ann"))))
            await cl.stub.CallObject(join("Movies", "ann", cid))
        assert limited(c, "rooms_per_client") == 1


async def test_a_message_over_the_size_limit_is_refused_and_counted_on_the_node() -> None:
    async with cluster(node={"max_message_bytes": 10}) as c:
        async with goverse_client(c.gates[0].addr) as cl:
            big = gate_pb2.CallObjectRequest(type="ChatRoom", id="ChatRoom-General", method="SendMessage",
                                             request=packed(chat_pb2.ChatRoom_SendChatMessageRequest(
                                                 user_name="ann", message="x" * 11)))
            assert "the limit is 10" in await refused(cl.stub.CallObject(big), grpc.StatusCode.INVALID_ARGUMENT)
        assert c.nodes[0].metrics.snapshot()["pushchat_limited_total"]["message_bytes"] == 1
