"""A failed push is logged once as a structured WARNING, counted once, and never fails the send."""

from __future__ import annotations

import logging

import grpc

from system import contract
from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc, goverse_pb2, goverse_pb2_grpc
from tests.system.system_harness import capture_logs, cluster, packed, wait_until

BIG = "x" * 4000
# A receiver that does not read: with BDP probing off, the HTTP/2 window stays at 64 KiB and fills.
STALLED = [("grpc.http2.bdp_probe", 0)]


def join_request(user: str, client_id: str) -> dict:  # type: ignore[type-arg]
    return dict(type="ChatRoom", id="ChatRoom-General", method="Join",
                request=packed(chat_pb2.ChatRoom_JoinRequest(user_name=user, client_id=client_id)))


def assert_logged_as_counted(logs, metrics, event: str, counter: str) -> None:  # type: ignore[no-untyped-def]
    counted = {reason: n for reason, n in metrics.snapshot()[counter].items() if n}
    logged: dict[str, int] = {}
    for line in logs.events(event):
        assert line["level"] == logging.getLevelName(contract.push_log_level(line["reason"]))  # routine drops: INFO
        logged[line["reason"]] = logged.get(line["reason"], 0) + 1
    assert logged == counted


async def test_unknown_gate_in_a_client_id_fails_the_push_not_the_send() -> None:
    async with cluster() as c:
        # An operator on the node's own port (a gate refuses an id it did not give out).
        node = goverse_pb2_grpc.GoverseStub(grpc.aio.insecure_channel(c.nodes[0].addr))
        await node.CallObject(goverse_pb2.CallObjectRequest(**join_request("ghost", "10.9.9.9:1/ghost")))
        alice, _ = await c.client("alice")
        with capture_logs() as logs:
            sent = await alice.send("General", "anyone?")
        assert sent.seq == 1
        [line] = logs.events("push_failed")
        assert {k: line[k] for k in ("level", "room", "user", "client_id", "reason", "seq", "sender")} == {
            "level": "WARNING", "room": "General", "user": "ghost", "client_id": "10.9.9.9:1/ghost",
            "reason": "gate_not_connected", "seq": 1, "sender": "alice"}
        assert c.nodes[0].metrics.snapshot()["pushchat_push_failed_total"]["gate_not_connected"] == 1


async def test_a_full_client_buffer_drops_the_push_not_the_send() -> None:
    async with cluster(gate={"client_buffer": 2}) as c:
        channel = grpc.aio.insecure_channel(c.gates[0].addr, options=STALLED)
        stream = gate_pb2_grpc.GateServiceStub(channel).Register(gate_pb2.Empty())
        registered = gate_pb2.RegisterResponse()
        assert (await stream.read()).Unpack(registered)  # then never read again
        alice, _ = await c.client("alice")
        await gate_pb2_grpc.GateServiceStub(channel).CallObject(  # sleepy's join, on its own connection
            gate_pb2.CallObjectRequest(**join_request("sleepy", registered.client_id)))
        with capture_logs() as logs:
            for _ in range(2000):
                assert (await alice.send("General", BIG)).seq > 0
                if logs.events("push_dropped"):
                    break
            drops = logs.events("push_dropped")  # the gate drops asynchronously: one or two by now
            assert {(d["level"], d["client_id"], d["reason"]) for d in drops} == {
                ("WARNING", registered.client_id, "client_buffer_full")}
            stream.cancel()  # the client goes away with its queue full
            await wait_until(lambda: logs.events("client_unregistered"), 5.0, "the client to be unregistered")
            assert_logged_as_counted(logs, c.gates[0].metrics, "push_dropped", "pushchat_push_dropped_total")
            assert {e["reason"] for e in logs.events("push_dropped")} == {"client_buffer_full", "client_disconnected"}
            # the books: what was queued for sleepy was sent or left unsent (dropped when its stream ended)
            [gone] = [e for e in logs.events("client_unregistered") if e["client_id"] == registered.client_id]
            unsent = c.gates[0].metrics.snapshot()["pushchat_push_unsent_total"]
            assert gone["queued"] >= 2 and gone["sent"] + unsent == gone["queued"]
            assert unsent == sum(e["reason"] == "client_disconnected" for e in logs.events("push_dropped")) > 0
            snap = c.gates[0].metrics.snapshot()
            dropped = sum(snap["pushchat_push_dropped_total"].values())
            assert snap["pushchat_push_attempted_total"] == snap["pushchat_push_delivered_total"] + dropped - unsent
        await channel.close()


async def test_a_full_gate_buffer_fails_the_push_and_what_is_left_fails_when_the_gate_goes() -> None:
    async with cluster(node={"gate_buffer": 2}, gates=0) as c:
        node = c.nodes[0]
        channel = grpc.aio.insecure_channel(node.addr, options=STALLED)
        stub = goverse_pb2_grpc.GoverseStub(channel)
        with capture_logs() as logs:
            stream = stub.RegisterGate(goverse_pb2.RegisterGateRequest(gate_addr="10.0.0.7:1"))
            assert (await stream.read()).HasField("register_gate_response")  # then never read again
            await stub.CallObject(goverse_pb2.CallObjectRequest(**join_request("far", "10.0.0.7:1/far")))
            send = goverse_pb2.CallObjectRequest(type="ChatRoom", id="ChatRoom-General", method="SendMessage",
                                                 request=packed(chat_pb2.ChatRoom_SendChatMessageRequest(
                                                     user_name="alice", message=BIG)))
            for _ in range(2000):
                reply = await stub.CallObject(send)
                assert reply.response.Is(chat_pb2.Client_SendChatMessageResponse.DESCRIPTOR)
                if logs.events("push_failed"):
                    break
            [line] = logs.events("push_failed")
            assert (line["level"], line["user"], line["reason"], line["sender"]) == (
                "WARNING", "far", "gate_buffer_full", "alice")
            stream.cancel()  # the gate goes away with two envelopes still queued
            await wait_until(lambda: logs.events("gate_unregistered"), 5.0, "the gate to be unregistered")
            assert_logged_as_counted(logs, node.metrics, "push_failed", "pushchat_push_failed_total")
            assert {e["reason"] for e in logs.events("push_failed")} == {"gate_buffer_full", "gate_disconnected"}
        await channel.close()


async def test_both_ends_of_a_node_stream_count_its_pushes_alike_and_start_again_with_a_new_stream():
    """The chaos checker's cross-process balance (rules/streams.py) compares these two series."""
    async with cluster() as c:
        node, gate = c.nodes[0], c.gates[0]
        link = f"{gate.advertise},{node.advertise}"  # snapshot() keys: the label values, in exposition order
        alice, _ = await c.client("alice")
        bob, seen = await c.client("bob")
        for client in (alice, bob):
            await client.join("General")
        for i in range(5):
            await alice.send("General", f"hello {i}")
        await wait_until(lambda: len(seen.texts("push")) == 5, 5.0)

        def ends() -> tuple[float | None, float | None]:
            return (node.metrics.snapshot().get("pushchat_stream_pushes_written", {}).get(link),
                    gate.metrics.snapshot().get("pushchat_stream_pushes_read", {}).get(link))
        await wait_until(lambda: ends()[1] is not None and ends()[0] == ends()[1] >= 5, 5.0)
        [connection] = gate.connections
        assert connection.task is not None
        connection.task.cancel()  # the stream ends: both series go, the next stream counts from 0
        await wait_until(lambda: ends() == (None, None), 5.0)
