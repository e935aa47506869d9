"""The connection to the gate: one attempt at connect(), then a lost stream is replaced by itself."""

from __future__ import annotations

import asyncio
import socket

import grpc
import pytest
from google.protobuf import any_pb2

from system.client import ChatClient, cause
from system.pb import gate_pb2
from tests.system.system_harness import FAST, Recorder, Relay, capture_logs, cluster, wait_until


async def test_connect_to_an_address_nobody_listens_on_fails_at_once_and_says_why() -> None:
    with socket.socket() as nobody:  # a port of ours that nobody listens on: connections are refused
        nobody.bind(("127.0.0.1", 0))
        client = ChatClient(f"127.0.0.1:{nobody.getsockname()[1]}", "alice", **FAST)
        try:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await client.connect()
            assert cause(err.value) == "connection refused" and not client.connected
        finally:
            await client.close()


async def test_a_lost_stream_is_replaced_by_itself_with_a_new_client_id_and_nothing_is_missed() -> None:
    async with cluster() as c:
        relay = await Relay(c.gates[0].addr).start()
        try:
            alice, _ = await c.client("alice")
            seen = Recorder()
            bob, _ = await c.client("bob", server=relay.addr, observers=(seen,), **FAST)
            await bob.join("General")
            first_id = bob.client_id
            await alice.send("General", "before")
            await wait_until(lambda: seen.shown_in("General"), 5.0, "the first push")
            with capture_logs() as logs:
                relay.cut()
                await alice.send("General", "during")
                await wait_until(lambda: bob.reconnects == 1 and bob.connected, 10.0, "bob to reconnect")
                await alice.send("General", "after")
                await wait_until(lambda: len(seen.shown_in("General")) == 3, 10.0, "every message at bob")
            assert [text for _, _, text in seen.shown_in("General")] == ["before", "during", "after"]
            assert bob.client_id != first_id and seen.reconnected[0][0] == bob.client_id
            assert len(seen.ended) == 1 and seen.sources(["after"]) == {"push"}
            [lost] = logs.events("stream_lost")
            [back] = logs.events("reconnected")
            assert (lost["user"], lost["client_id"], lost["level"]) == ("bob", first_id, "WARNING")
            assert (back["user"], back["client_id"], back["attempt"]) == ("bob", bob.client_id, 1)
            assert back["took"] >= 0 and lost["up_for"] > 0
        finally:
            await relay.stop()


async def test_close_while_the_register_reply_arrives_stops_the_connection_instead_of_keeping_the_stream() -> None:
    """``pushchat client`` once hung on SIGTERM: close() cancelled a re-register just as its reply came,
    and Python 3.11's ``asyncio.wait_for`` handed back the reply instead of the cancellation."""
    reply: asyncio.Future[any_pb2.Any] = asyncio.get_running_loop().create_future()

    class Call:
        cancelled = reading = False

        def read(self) -> asyncio.Future[any_pb2.Any]:
            self.reading = True
            return reply

        def cancel(self) -> None:
            self.cancelled = True

    call = Call()

    class Stub:
        def Register(self, request: object, metadata: object) -> Call:  # noqa: N802 - gRPC's name
            return call

    client = ChatClient("127.0.0.1:1", "bob", **FAST)
    connection = client._connection
    connection.stub = Stub  # type: ignore[assignment,method-assign]
    registering = asyncio.create_task(connection._register())
    await wait_until(lambda: call.reading, 5.0, "the register to wait for its reply")
    first = any_pb2.Any()
    first.Pack(gate_pb2.RegisterResponse(client_id="127.0.0.1:1/bob"))
    reply.set_result(first)  # the reply is in ...
    registering.cancel()     # ... and close() cancels, before the task runs again
    await asyncio.gather(registering, return_exceptions=True)
    assert registering.cancelled() and call.cancelled and not connection.connected
