"""The node's push hub without sockets: fan-out, typed errors, every failure reported once."""

from __future__ import annotations

import asyncio

import pytest

from system.metrics import Metrics
from system.pb import chat_pb2
from system.push import (GateBufferFull, GateNotConnected, Mailbox, MalformedClientIdError, PushError, PushHub,
                         PushMeta)


def make_hub(buffer: int = 4) -> tuple[PushHub, Metrics, list[PushError]]:
    reported: list[PushError] = []
    metrics = Metrics("node")
    return PushHub(buffer, metrics, reported.append), metrics, reported


def note(text: str = "hi") -> chat_pb2.Client_NewMessageNotification:
    return chat_pb2.Client_NewMessageNotification(message=chat_pb2.ChatMessage(message=text))


def test_fan_out_sends_one_envelope_per_gate() -> None:
    async def main() -> None:
        hub, metrics, reported = make_hub()
        a, b = hub.register("10.0.0.1:1"), hub.register("10.0.0.2:1")
        errors = hub.push_message_to_clients(["10.0.0.1:1/x", "10.0.0.2:1/y", "10.0.0.1:1/z"], note())
        assert errors == [] and reported == []
        env_a, env_b = (await a.get()).envelope, (await b.get()).envelope
        assert list(env_a.client_ids) == ["10.0.0.1:1/x", "10.0.0.1:1/z"] and list(env_b.client_ids) == ["10.0.0.2:1/y"]
        unpacked = chat_pb2.Client_NewMessageNotification()
        assert env_a.message.Unpack(unpacked) and unpacked.message.message == "hi"
        assert len(a) == 0 and len(b) == 0
        snap = metrics.snapshot()
        assert snap["pushchat_push_attempted_total"] == 3 == snap["pushchat_push_delivered_total"]
        assert snap["pushchat_connected_gates"] == 2
    asyncio.run(main())


def test_each_failure_is_typed_reported_once_and_counted() -> None:
    async def main() -> None:
        hub, metrics, reported = make_hub(buffer=1)
        hub.register("10.0.0.1:1")
        meta = PushMeta(room="General", seq=7, sender="alice", users={"10.0.0.1:1/a": "bob"})
        assert hub.push_message_to_clients(["10.0.0.1:1/a"], note(), meta) == []  # fills the buffer
        errors = hub.push_message_to_clients(["bad id", "10.0.0.9:1/b", "10.0.0.1:1/a"], note(), meta)
        assert [type(e) for e in errors] == [MalformedClientIdError, GateNotConnected, GateBufferFull]
        assert reported == errors and errors[2].meta is meta
        with pytest.raises(GateNotConnected, match="10.0.0.9:1 is not connected"):
            hub.push_message_to_client("10.0.0.9:1/b", note())
        failed = metrics.snapshot()["pushchat_push_failed_total"]
        assert failed == {"malformed_client_id": 0, "gate_not_connected": 0, "gate_buffer_full": 0,
                          "gate_disconnected": 0}  # the hub reports; its sink (the node) counts
    asyncio.run(main())


def test_a_gate_that_registers_again_takes_over_its_queue_and_the_old_stream_ends() -> None:
    async def main() -> None:
        hub, _, reported = make_hub()
        old = hub.register("10.0.0.1:1")
        hub.push_message_to_client("10.0.0.1:1/a", note("queued"))
        new = hub.register("10.0.0.1:1")
        assert await old.get() is None
        assert not hub.unregister(old)  # the replaced stream's end changes nothing
        item = await new.get()
        assert list(item.envelope.client_ids) == ["10.0.0.1:1/a"] and hub.gates() == ["10.0.0.1:1"]
        assert reported == []
    asyncio.run(main())


def test_envelopes_left_when_a_gate_stream_ends_are_reported_as_gate_disconnected() -> None:
    async def main() -> None:
        hub, _, reported = make_hub()
        channel = hub.register("10.0.0.1:1")
        meta = PushMeta(room="General", seq=3, sender="alice")
        hub.push_message_to_clients(["10.0.0.1:1/a", "10.0.0.1:1/b"], note(), meta)
        hub.push_message_to_clients(["10.0.0.1:1/a"], note(), meta)
        in_flight = await channel.get()
        assert hub.unregister(channel, in_flight)
        assert sorted(e.client_id for e in reported) == ["10.0.0.1:1/a", "10.0.0.1:1/a", "10.0.0.1:1/b"]
        assert {e.reason for e in reported} == {"gate_disconnected"}
        assert hub.gates() == []
        with pytest.raises(GateNotConnected):
            hub.push_message_to_client("10.0.0.1:1/a", note())
    asyncio.run(main())


def test_mailbox_is_bounded_ends_after_what_is_queued_and_a_cancelled_get_loses_nothing() -> None:
    async def main() -> None:
        box: Mailbox[str] = Mailbox("c", 2)
        assert box.offer("a") and box.offer("b") and not box.offer("c")  # full: refused, not queued
        assert await box.get() == "a"
        assert await box.get() == "b"
        reader = asyncio.ensure_future(box.get())  # waits: nothing queued
        await asyncio.sleep(0)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        assert box.offer("d") and box.offer("e") and box.accepted == 4
        box.finish()  # the reader sends what is queued, then ends
        assert not box.offer("f")
        assert [await box.get(), await box.get(), await box.get(), await box.get()] == ["d", "e", None, None]
        other: Mailbox[str] = Mailbox("o", 10)
        reader = asyncio.ensure_future(other.get())
        await asyncio.sleep(0)
        other.offer("x")
        other.offer("y")
        assert await reader == "x"
        assert other.close() == ["y"] and await other.get() is None  # close: the rest is handed back
    asyncio.run(main())
