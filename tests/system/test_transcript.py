"""A room's transcript and write pipeline, without sockets: numbering, durability order, failure."""

from __future__ import annotations

import asyncio

import pytest

from system.store import Batch, Limits, RoomRecord, SentId, StoredMessage, StoreError, make_store
from system.store.writer import RoomWriter
from system.transcript import Transcript


def test_numbers_are_gapless_and_timestamps_grow_when_the_clock_steps_back() -> None:
    t = Transcript("General", limit=100, dedup_window=100)
    stamps = [5_000, 4_000, 4_000, 9_000, 1]
    staged = [t.stage("alice", "hi", f"c{i}", now) for i, now in enumerate(stamps)]
    assert [m.seq for m in staged] == [1, 2, 3, 4, 5]
    assert [m.timestamp for m in staged] == [5_000, 5_001, 5_002, 9_000, 9_001]
    assert t.last_seq == 0 and list(t.messages) == [], "staged is not committed"
    t.commit(staged[:2])
    assert [m.seq for m in t.messages] == [1, 2] and t.last_seq == 2
    assert t.sent_as("alice", "c1") == (2, 5_001)


def test_a_reloaded_transcript_goes_on_from_the_stored_numbers() -> None:
    record = RoomRecord("General", token=3, last_seq=120, last_timestamp=9_999_999,
                        messages=[StoredMessage(s, 9_999_879 + s, "bob", "x", f"b{s}") for s in range(111, 121)],
                        sent=[SentId("bob", f"b{s}", s, 9_999_879 + s) for s in range(116, 121)])
    t = Transcript("General", limit=10, dedup_window=5, record=record)
    assert (t.first_available_seq, t.last_seq) == (111, 120)
    nxt = t.stage("carol", "after restart", "c1", now=1)  # the wall clock went back a long way
    assert (nxt.seq, nxt.timestamp) == (121, 10_000_000)
    assert t.sent_as("bob", "b120") == (120, 9_999_999) and t.sent_as("bob", "b115") is None
    page, truncated, _ = t.after(after_seq=100, after_timestamp=0, limit=50)
    assert truncated and [m.seq for m in page] == list(range(111, 121))
    page, truncated, _ = t.after(after_seq=0, after_timestamp=9_999_994, limit=50)
    assert not truncated and [m.seq for m in page] == [116, 117, 118, 119, 120]


def test_trim_points_are_batched() -> None:
    t = Transcript("General", limit=100, dedup_window=200)
    t.commit([t.stage("a", "x", "", i) for i in range(100)])
    assert t.trim_points() == (0, 0)
    t.commit([t.stage("a", "x", "", i) for i in range(15)])
    assert t.trim_points() == (0, 0), "15 over the limit: not worth a DELETE yet"
    t.commit([t.stage("a", "x", "", i) for i in range(5)])
    assert t.trim_points() == (20, 0)
    assert t.trim_points() == (0, 0)


class GatedStore:
    """A real memory store whose writes wait for ``gate`` and can be told to fail."""

    def __init__(self) -> None:
        self.inner = make_store("memory")
        self.gate = asyncio.Event()
        self.batches: list[Batch] = []
        self.fail_next: StoreError | None = None

    async def write(self, room: str, token: int, batch: Batch) -> None:
        await self.gate.wait()
        self.batches.append(batch)
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        await self.inner.write(room, token, batch)


async def test_changes_queued_during_a_write_go_together_in_order() -> None:
    store = GatedStore()
    token = (await store.inner.claim("General", Limits(), create=True)).token
    durable: list[int] = []
    writer = RoomWriter(store, "General", token, on_durable=lambda b: durable.extend(m.seq for m in b.messages),
                        on_failure=lambda e: None)
    first = writer.submit([StoredMessage(1, 1, "a", "x")])
    await asyncio.sleep(0)  # let the drain task take the first change
    rest = [writer.submit([StoredMessage(s, s, "a", "x")], joined={"a": "g:1/a"}) for s in range(2, 11)]
    store.gate.set()
    await asyncio.gather(first, *rest)
    assert [[m.seq for m in b.messages] for b in store.batches] == [[1], list(range(2, 11))]
    assert durable == list(range(1, 11)) and writer.writes == 2


async def test_without_grouping_each_change_is_a_write_of_its_own_in_order() -> None:
    store = GatedStore()
    token = (await store.inner.claim("General", Limits(), create=True)).token
    writer = RoomWriter(store, "General", token, on_durable=lambda b: None, on_failure=lambda e: None, group=False)
    first = writer.submit([StoredMessage(1, 1, "a", "x")])
    await asyncio.sleep(0)
    rest = [writer.submit([StoredMessage(s, s, "a", "x")]) for s in range(2, 6)]
    store.gate.set()
    await asyncio.gather(first, *rest)
    assert [[m.seq for m in b.messages] for b in store.batches] == [[1], [2], [3], [4], [5]]
    assert writer.writes == 5


async def test_a_failed_write_fails_what_is_queued_behind_it_and_says_so_once() -> None:
    store = GatedStore()
    token = (await store.inner.claim("General", Limits(), create=True)).token
    failures: list[StoreError] = []
    writer = RoomWriter(store, "General", token, on_durable=lambda b: None, on_failure=failures.append)
    store.fail_next = StoreError("lost the link during COMMIT", definite=False)
    first = writer.submit([StoredMessage(1, 1, "a", "x")])
    await asyncio.sleep(0)
    behind = writer.submit([StoredMessage(2, 2, "a", "y")])
    store.gate.set()
    with pytest.raises(StoreError) as unknown:
        await first
    with pytest.raises(StoreError) as surely_not:
        await behind
    assert not unknown.value.definite and surely_not.value.definite
    assert "an earlier write" in str(surely_not.value)
    assert len(failures) == 1
