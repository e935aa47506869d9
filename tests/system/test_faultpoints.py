"""The fault points' decisions, on their own: targets, per-event rolls (A33), the cap, and each effect."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest
from google.protobuf import any_pb2
from prometheus_client import CollectorRegistry, generate_latest

from system.faultpoints import Event, FaultPoints, FaultSpec, FaultSpecError, FaultyStore, user_of
from system.pb import chat_pb2
from system.store.base import Batch, StoredMessage, StoreError
from tests.system.system_harness import capture_logs


def points(*specs: FaultSpec) -> FaultPoints:
    fp = FaultPoints("node", enabled=True)
    for spec in specs:
        fp.add(spec)
    return fp


def push(room: str = "General", users: tuple[str, ...] = ("bob",), gate: str = "g:1") -> Event:
    return Event("push", frozenset(users), gate=gate, room=room, detail={"seq": 1})


def test_a_spec_is_checked_and_each_problem_is_one_line() -> None:
    ok = FaultSpec.from_json({"id": "f1", "point": "rpc", "action": "abort", "percent": 20, "method": "SendMessage"})
    assert (ok.percent, ok.code, ok.when) == (20.0, "UNAVAILABLE", "before")
    for doc, message in [({"id": "f", "point": "push", "action": "abort"}, "push fault's action is one of drop"),
                         ({"id": "f", "point": "disk", "action": "fail"}, "point must be one of push, rpc, store"),
                         ({"id": "f", "point": "rpc", "action": "abort", "code": "NOPE"}, "code must be a gRPC"),
                         ({"id": "f", "point": "rpc", "action": "abort", "percent": 120}, "within 0-100"),
                         ({"id": "f", "point": "push", "action": "reorder", "behind": 0}, "behind must be >= 1"),
                         ({"id": "f", "point": "push", "action": "drop", "pecent": 5}, r"unknown field\(s\) pecent"),
                         ({"id": "f", "point": "push", "action": "delay", "delay_ms": "x"}, "delay_ms must be a whole"),
                         ({"point": "push", "action": "drop"}, "id is required"),
                         ([1], "a fault is a JSON object")]:
        with pytest.raises(FaultSpecError, match=message) as info:
            FaultSpec.from_json(doc)
        assert "\n" not in str(info.value)


def test_targets_narrow_what_a_fault_hits() -> None:
    spec = FaultSpec("f", "push", "drop", client="bob", room="General", gate="g:1")
    assert spec.matches(push())
    assert spec.matches(push(users=("alice", "bob")))  # a node's envelope for bob and others
    assert not spec.matches(push(users=("alice",)))
    assert not spec.matches(push(room="Movies"))
    assert not spec.matches(push(gate="g:2"))
    assert not spec.matches(Event("rpc", frozenset({"bob"}), room="General"))
    rpc = FaultSpec("r", "rpc", "abort", method="SendMessage")
    assert rpc.matches(Event("rpc", method="SendMessage")) and not rpc.matches(Event("rpc", method="Join"))


def test_each_fault_rolls_its_own_numbers_from_the_seed() -> None:
    def hits(seed: int) -> list[bool]:
        fp = points(FaultSpec("f", "push", "drop", percent=30, seed=seed))
        out = []
        for _ in range(400):
            found = fp.decide(push())
            out.append(bool(found))
            for i in found:
                i.done()
        return out

    first, again, other = hits(1), hits(1), hits(2)
    assert first == again, "same seed and fault id: same rolls"
    assert first != other
    assert 90 <= sum(first) <= 150, sum(first)  # 30 % of 400, give or take


def test_two_faults_roll_independently_as_in_a33() -> None:
    fp = points(FaultSpec("a", "rpc", "delay", percent=50, seed=3), FaultSpec("b", "rpc", "abort", percent=50, seed=3))
    both = either = 0
    for _ in range(1000):
        hits = fp.decide(Event("rpc", method="SendMessage"))
        found = {i.spec.id for i in hits}
        for i in hits:
            i.done()
        both += found == {"a", "b"}
        either += bool(found)
    assert 180 <= both <= 320, both      # 25 % of 1000: each rolls on its own
    assert 680 <= either <= 820, either  # 1 - 0.5 * 0.5 = 75 %


def test_max_active_faults_caps_what_runs_at_once_and_counts_the_overflow() -> None:
    fp = points(FaultSpec("slow", "rpc", "delay", delay_ms=100, max_active_faults=2))
    with capture_logs() as logs:
        first, second, third = (fp.decide(Event("rpc", method="GetRecentMessages")) for _ in range(3))
    assert len(first) == len(second) == 1 and third == []
    assert fp.active == 2
    assert [r["fault"] for r in logs.events("fault_overflow")] == ["slow"]
    first[0].done()
    first[0].done()  # idempotent
    assert fp.active == 1
    assert len(fp.decide(Event("rpc", method="GetRecentMessages"))) == 1


def test_every_injection_is_logged_and_counted_alike() -> None:
    registry = CollectorRegistry()
    fp = FaultPoints("gate", registry, enabled=True)
    fp.add(FaultSpec("d", "push", "drop", percent=50, seed=9))
    with capture_logs() as logs:
        for _ in range(100):
            for i in fp.decide(push()):
                i.done()
    lines = logs.events("fault_injected")
    assert 30 <= len(lines) <= 70
    assert all(line["level"] == "WARNING" and line["point"] == "push" and line["action"] == "drop"
               and line["room"] == "General" and line["seq"] == 1 for line in lines)
    text = generate_latest(registry).decode()
    drop = [ln for ln in text.splitlines() if ln.startswith("pushchat_faults_injected_total{") and 'action="drop"' in ln]
    assert float(drop[0].rsplit(" ", 1)[1]) == len(lines)


def test_off_by_default_nothing_can_be_set() -> None:
    fp = FaultPoints("node")
    with pytest.raises(FaultSpecError, match="fault points are off"):
        fp.add(FaultSpec("f", "push", "drop"))
    assert fp.push_stream(asyncio.Queue().get, lambda i: push()) is None
    store = object()
    assert fp.wrap_store(store) is store


def test_a_fault_id_is_set_once_and_removed_by_id() -> None:
    fp = points(FaultSpec("f", "push", "drop"))
    with pytest.raises(FaultSpecError, match="set already"):
        fp.add(FaultSpec("f", "push", "duplicate"))
    assert fp.remove("f") and not fp.remove("f")
    assert fp.decide(push()) == []


async def _stream(fp: FaultPoints, items: list[int]) -> list[int]:
    """What a stream fed ``items`` (then its end) sends."""
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    for item in [*items, None]:
        queue.put_nowait(item)
    stream = fp.push_stream(queue.get, lambda i: Event("push", room="General", detail={"seq": i}))
    assert stream is not None
    out: list[int] = []
    while (item := await asyncio.wait_for(stream.get(), 5)) is not None:
        out.append(item)
    return out


async def test_drop_duplicate_and_delay_on_a_push_stream() -> None:
    assert await _stream(points(FaultSpec("d", "push", "drop")), [1, 2, 3]) == []
    assert await _stream(points(FaultSpec("d", "push", "duplicate")), [1, 2]) == [1, 1, 2, 2]
    assert await _stream(points(FaultSpec("d", "push", "delay", delay_ms=20)), [1, 2, 3]) == [1, 2, 3]
    assert await _stream(points(), [1, 2, 3]) == [1, 2, 3]


async def test_reorder_holds_one_back_behind_the_next_n() -> None:
    fp = points(FaultSpec("r", "push", "reorder", behind=2, max_active_faults=1))
    # 1 is held behind 2 and 3 (the cap keeps 2 and 3 from being held too); then 4 is held, and the end lets it go
    assert await _stream(fp, [1, 2, 3, 4]) == [2, 3, 1, 4]
    assert fp.active == 0


async def test_a_held_push_goes_anyway_when_no_later_push_comes() -> None:
    fp = points(FaultSpec("r", "push", "reorder", behind=5))
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    stream = fp.push_stream(queue.get, lambda i: Event("push"))
    assert stream is not None
    queue.put_nowait(7)
    assert await asyncio.wait_for(stream.get(), 5) == 7  # after HOLD_LIMIT, alone
    assert stream.unsent() == []


async def test_held_pushes_are_reported_unsent_when_the_stream_ends_early() -> None:
    fp = points(FaultSpec("r", "push", "reorder", behind=3, max_active_faults=1))
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    stream = fp.push_stream(queue.get, lambda i: Event("push"))
    assert stream is not None
    for item in (1, 2):
        queue.put_nowait(item)
    assert await asyncio.wait_for(stream.get(), 5) == 2
    assert stream.unsent() == [1]


class _Store:
    durable = True

    def __init__(self) -> None:
        self.written: list[list[int]] = []

    async def write(self, room: str, token: int, batch: Batch) -> None:
        self.written.append([m.seq for m in batch.messages])


def _batch(seq: int) -> Batch:
    return Batch([StoredMessage(seq, 1, "alice", "hi", f"m{seq}")])


async def test_a_store_write_fails_before_or_after_it_is_made() -> None:
    inner = _Store()
    store = FaultyStore(inner, points(FaultSpec("b", "store", "fail", room="General")))
    with pytest.raises(StoreError) as info:
        await store.write("General", 1, _batch(1))
    assert info.value.definite and inner.written == []
    await store.write("Movies", 1, _batch(1))  # another room: untouched
    assert inner.written == [[1]] and store.durable is True  # the rest is the store's own

    inner = _Store()
    store = FaultyStore(inner, points(FaultSpec("a", "store", "fail", when="after")))
    with pytest.raises(StoreError) as info:
        await store.write("General", 1, _batch(5))
    assert not info.value.definite and inner.written == [[5]], "written, then reported as maybe not"

    inner = _Store()
    with capture_logs() as logs:
        await FaultyStore(inner, points(FaultSpec("s", "store", "delay", delay_ms=10))).write("General", 1, _batch(2))
    assert inner.written == [[2]]
    assert [(r["action"], r["seqs"], r["delay_ms"]) for r in logs.events("fault_injected")] == [("delay", [2, 2], 10)]


class _Context:
    def __init__(self) -> None:
        self.aborted: tuple[grpc.StatusCode, str] | None = None

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.aborted = (code, details)
        raise RuntimeError("aborted")


def _send(user: str) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(chat_pb2.ChatRoom_SendChatMessageRequest(user_name=user, message="hi", client_msg_id="m1"))
    return packed


async def test_a_call_is_aborted_before_or_after_by_method_and_caller() -> None:
    fp = points(FaultSpec("u", "rpc", "abort", method="SendMessage", client="bob", code="UNAVAILABLE"),
                FaultSpec("x", "rpc", "abort", method="Join", when="after", code="INTERNAL"))
    ctx = _Context()
    await fp.call(ctx, "before", "SendMessage", "ChatRoom-General", "g/1", _send("alice"))
    assert ctx.aborted is None
    with pytest.raises(RuntimeError):
        await fp.call(ctx, "before", "SendMessage", "ChatRoom-General", "g/2", _send("bob"))
    assert ctx.aborted and ctx.aborted[0] is grpc.StatusCode.UNAVAILABLE and "injected fault u" in ctx.aborted[1]
    ctx = _Context()
    await fp.call(ctx, "before", "Join", "ChatRoom-General")  # an after-abort does nothing before
    with pytest.raises(RuntimeError):
        await fp.call(ctx, "after", "Join", "ChatRoom-General")
    assert ctx.aborted and ctx.aborted[0] is grpc.StatusCode.INTERNAL


async def test_a_gate_learns_who_calls_and_user_of_reads_any_chat_request() -> None:
    assert user_of(_send("carol")) == "carol"
    assert user_of(any_pb2.Any()) == "" and user_of(None) == ""
    fp = points()
    fp.note_caller("g/9", _send("dave"))
    assert fp.user("g/9") == "dave" and fp.user("g/10") == ""


def test_the_log_lines_name_the_fault_and_the_event() -> None:
    fp = points(FaultSpec("chaos-push_drop-3", "push", "drop"))
    with capture_logs() as logs:
        fp.decide(Event("push", frozenset({"bob"}), room="General", detail={"seq": 4, "client_id": "g/1"}))[0].done()
    [line] = logs.events("fault_injected")
    assert {k: line[k] for k in ("fault", "point", "action", "room", "seq", "client_id")} == {
        "fault": "chaos-push_drop-3", "point": "push", "action": "drop", "room": "General", "seq": 4,
        "client_id": "g/1"}
    assert logging.getLevelName(line["level"]) == logging.WARNING
