"""The object host's dispatch and serialisation, and the stable placement of objects on nodes."""

from __future__ import annotations

import asyncio
import random

import pytest
from google.protobuf import any_pb2

from system import placement
from system.objects import (CallInfo, GoverseObject, InvalidArgument, Later, NotFound, ObjectHost, Unimplemented,
                            method)
from system.pb import chat_pb2


class Slow(GoverseObject):
    type_name = "Slow"

    def __init__(self, object_id: str) -> None:
        super().__init__(object_id)
        self.running = 0
        self.overlaps = 0

    @method(chat_pb2.ChatRoom_ListRequest)
    async def Work(self, request: chat_pb2.ChatRoom_ListRequest, call: CallInfo) -> chat_pb2.ChatRoom_ListResponse:
        self.running += 1
        self.overlaps += self.running > 1
        await asyncio.sleep(0.005)
        self.running -= 1
        return chat_pb2.ChatRoom_ListResponse(chat_rooms=[call.client_id])


def packed(message) -> any_pb2.Any:  # type: ignore[no-untyped-def]
    out = any_pb2.Any()
    out.Pack(message)
    return out


def make_host() -> ObjectHost:
    host = ObjectHost()
    host.register(Slow, lambda object_id, explicit: Slow(object_id))
    return host


def test_one_call_at_a_time_per_object_and_created_on_first_call() -> None:
    async def main() -> None:
        host = make_host()
        calls = [host.call("Slow", f"s{i % 2}", "Work", packed(chat_pb2.ChatRoom_ListRequest()), CallInfo("g:1/c"))
                 for i in range(10)]
        replies = await asyncio.gather(*calls)
        assert all(r.Is(chat_pb2.ChatRoom_ListResponse.DESCRIPTOR) for r in replies)
        assert sorted(h.object_id for h in host.objects()) == ["s0", "s1"]
        assert sum(h.obj.overlaps for h in host.objects()) == 0
    asyncio.run(main())


@pytest.mark.parametrize("type_, id_, method_, payload, error, match", [
    ("Nope", "x", "Work", chat_pb2.ChatRoom_ListRequest(), NotFound, "unknown object type 'Nope'"),
    ("Slow", "x", "Nope", chat_pb2.ChatRoom_ListRequest(), Unimplemented, "has no method 'Nope'"),
    ("Slow", "x", "Work", chat_pb2.ChatRoom_JoinRequest(), InvalidArgument, "want chat.ChatRoom_ListRequest"),
    ("Slow", "x", "Work", None, InvalidArgument, "missing request payload"),
    ("Slow", "", "Work", chat_pb2.ChatRoom_ListRequest(), InvalidArgument, "bad object id"),
])
def test_bad_calls_get_typed_errors_and_create_nothing(type_, id_, method_, payload, error, match) -> None:  # type: ignore[no-untyped-def]
    host = make_host()
    with pytest.raises(error, match=match):
        asyncio.run(host.call(type_, id_, method_, packed(payload) if payload else any_pb2.Any()))
    assert host.objects() == []


def test_a_payload_that_does_not_parse_is_invalid_argument() -> None:
    garbage = any_pb2.Any(type_url="type.googleapis.com/chat.ChatRoom_ListRequest", value=b"\xff\xff\xff")
    with pytest.raises(InvalidArgument, match="does not parse"):
        asyncio.run(make_host().call("Slow", "x", "Work", garbage))


def test_an_id_keeps_its_type() -> None:
    host = make_host()
    asyncio.run(host.create("Slow", "x"))
    host.register(type("Other", (Slow,), {"type_name": "Other"}), lambda i, e: Slow(i))
    with pytest.raises(InvalidArgument, match="is a Slow, not a Other"):
        asyncio.run(host.call("Other", "x", "Work", packed(chat_pb2.ChatRoom_ListRequest())))


class Durable(GoverseObject):
    """Answers only once its write is released; the waiting happens outside the object's lock."""

    type_name = "Durable"
    loads = 0

    def __init__(self, object_id: str) -> None:
        super().__init__(object_id)
        self.released = asyncio.Event()
        self.started = 0

    @method(chat_pb2.ChatRoom_ListRequest)
    def Write(self, request: chat_pb2.ChatRoom_ListRequest, call: CallInfo) -> Later:
        self.started += 1
        return Later(self._durable(call.client_id))

    async def _durable(self, who: str) -> chat_pb2.ChatRoom_ListResponse:
        await self.released.wait()
        return chat_pb2.ChatRoom_ListResponse(chat_rooms=[who])


async def load_durable(object_id: str, explicit: bool) -> Durable:
    Durable.loads += 1
    await asyncio.sleep(0.01)  # loading takes a while: concurrent first calls must share one load
    return Durable(object_id)


def test_later_work_runs_outside_the_lock_and_a_load_is_shared() -> None:
    async def main() -> None:
        Durable.loads = 0
        host = ObjectHost()
        host.register(Durable, load_durable)
        calls = [asyncio.ensure_future(host.call("Durable", "d", "Write", packed(chat_pb2.ChatRoom_ListRequest()),
                                                 CallInfo(f"g:1/{i}"))) for i in range(3)]
        obj = None
        while obj is None or obj.started < 3:  # all three got past the lock while none is answered
            await asyncio.sleep(0.001)
            obj = host.objects()[0].obj if host.objects() else None
        assert Durable.loads == 1 and not any(c.done() for c in calls)
        obj.released.set()
        replies = await asyncio.gather(*calls)
        assert len(replies) == 3
    asyncio.run(asyncio.wait_for(main(), 10))


def test_an_evicted_object_is_dropped_after_its_call() -> None:
    async def main() -> None:
        host = make_host()
        await host.call("Slow", "x", "Work", packed(chat_pb2.ChatRoom_ListRequest()))
        first = host.objects()[0]
        first.obj.evicted = True
        await host.call("Slow", "x", "Work", packed(chat_pb2.ChatRoom_ListRequest()))
        assert host.objects() == []
        await host.call("Slow", "x", "Work", packed(chat_pb2.ChatRoom_ListRequest()))
        assert host.objects()[0] is not first
    asyncio.run(main())


def test_placement_ignores_list_order_and_spreads_objects() -> None:
    nodes = ["10.0.0.1:48000", "10.0.0.2:48000", "10.0.0.3:48000"]
    ids = [f"ChatRoom-{i}" for i in range(300)]
    owners = {i: placement.owner(i, nodes) for i in ids}
    shuffled = nodes[:]
    random.Random(1).shuffle(shuffled)
    assert owners == {i: placement.owner(i, shuffled) for i in ids}
    counts = [list(owners.values()).count(n) for n in nodes]
    assert min(counts) > 60, counts


def test_removing_a_node_moves_only_its_objects() -> None:
    nodes = ["a:1", "b:1", "c:1"]
    ids = [f"o{i}" for i in range(200)]
    before = {i: placement.owner(i, nodes) for i in ids}
    after = {i: placement.owner(i, ["a:1", "b:1"]) for i in ids}
    assert all(after[i] == before[i] for i in ids if before[i] != "c:1")
