"""Every store keeps the same promises: claims fence older owners, writes are atomic, trimming bounds it.

The same contract runs against the memory store, a real SQLite file and a
real PostgreSQL server (started by the ``postgres_server`` fixture).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from system.store import Batch, Fenced, Limits, StoredMessage, StoreError, make_store


def msg(seq: int, user: str = "alice", cmid: str | None = None) -> StoredMessage:
    return StoredMessage(seq, 1_000_000 + seq, user, f"text {seq}", f"id-{seq}" if cmid is None else cmid)


def _factory(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Any]:
    """Stores over the same data (each call opens another view of it)."""
    if kind == "memory":
        shared = make_store("memory")
        return lambda: shared
    if kind == "sqlite":
        return lambda: make_store("sqlite", tmp_path / "data")
    dsn = request.getfixturevalue("postgres_dsn")
    return lambda: make_store(dsn)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Any]:
    return _factory(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", "postgres"])
def durable_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Any]:
    return _factory(request.param, request, tmp_path)


@contextlib.asynccontextmanager
async def opened(spec: Callable[[], Any]) -> AsyncIterator[Any]:
    s = spec()
    await s.open()
    try:
        yield s
    finally:
        await s.close()


async def test_a_room_exists_once_claimed_and_every_claim_fences_the_last(spec: Callable[[], Any]) -> None:
    s = spec()
    await s.open()
    try:
        assert await s.claim("General", Limits(), create=False) is None
        first = await s.claim("General", Limits(), create=True)
        assert (first.token, first.last_seq, first.messages, first.members) == (1, 0, [], {})
        await s.write("General", first.token, Batch(messages=[msg(1), msg(2, "bob")], joined={"bob": "g:1/x"}))
        second = await s.claim("General", Limits(), create=False)
        assert second.token > first.token
        assert [m.seq for m in second.messages] == [1, 2] and second.messages[1].user == "bob"
        assert (second.last_seq, second.last_timestamp) == (2, 1_000_002)
        assert [(i.user, i.client_msg_id, i.seq) for i in second.sent] == [("alice", "id-1", 1), ("bob", "id-2", 2)]
        assert second.members == {"bob": "g:1/x"}
        with pytest.raises(Fenced) as refused:
            await s.write("General", first.token, Batch(messages=[msg(3)]))
        assert refused.value.definite
        third = await s.claim("General", Limits(), create=False)
        assert third.last_seq == 2, "a fenced write must change nothing"
    finally:
        await s.close()


async def test_a_deposed_owner_cannot_write_members_or_read_positions(spec: Callable[[], Any]) -> None:
    """Fencing is not only for messages (the sequence check and the primary key would hold those back anyway):
    a member change or a read position from an older claim is refused too, and changes nothing."""
    async with opened(spec) as s:
        old = await s.claim("Sports", Limits(), create=True)
        await s.write("Sports", old.token, Batch(messages=[msg(1)], joined={"carol": "g:1/a"}, read={"carol": 1}))
        new = await s.claim("Sports", Limits(), create=False)
        await s.write("Sports", new.token, Batch(joined={"carol": "g:1/b"}))
        for stale in (Batch(joined={"carol": "g:1/a", "mallory": "g:1/m"}), Batch(left=["carol"]),
                      Batch(read={"carol": 0, "mallory": 1})):
            with pytest.raises(Fenced):
                await s.write("Sports", old.token, stale)
        now = await s.claim("Sports", Limits(), create=False)
        assert now.members == {"carol": "g:1/b"} and now.reads == {"carol": 1}


async def test_member_changes_and_trimming(spec: Callable[[], Any]) -> None:
    async with opened(spec) as s:
        r = await s.claim("Movies", Limits(), create=True)
        await s.write("Movies", r.token, Batch(messages=[msg(i) for i in range(1, 51)], joined={"a": "g:1/a", "b": "g:1/b"}))
        await s.write("Movies", r.token, Batch(left=["a"], joined={"b": "g:1/b2"}, keep_messages_after=40,
                                               keep_ids_after=45))
        again = await s.claim("Movies", Limits(history=100, dedup=100), create=False)
        assert [m.seq for m in again.messages] == list(range(41, 51))
        assert [i.seq for i in again.sent] == list(range(46, 51))
        assert again.members == {"b": "g:1/b2"}
        window = await s.claim("Movies", Limits(history=3, dedup=2), create=False)
        assert [m.seq for m in window.messages] == [48, 49, 50] and [i.seq for i in window.sent] == [49, 50]


async def test_read_positions_only_move_forward_survive_a_new_claim_and_go_with_the_room(spec: Callable[[], Any]) -> None:
    async with opened(spec) as s:
        r = await s.claim("Movies", Limits(), create=True)
        await s.write("Movies", r.token, Batch(messages=[msg(i) for i in range(1, 6)], read={"bob": 4, "carol": 2}))
        await s.write("Movies", r.token, Batch(read={"bob": 3, "carol": 5}))  # bob's 3 is behind: kept at 4
        again = await s.claim("Movies", Limits(), create=False)
        assert again.reads == {"bob": 4, "carol": 5}
        with pytest.raises(Fenced):
            await s.write("Movies", r.token, Batch(read={"bob": 5}))
        assert (await s.claim("Movies", Limits(), create=False)).reads == {"bob": 4, "carol": 5}
        await s.drop("Movies")
        assert (await s.claim("Movies", Limits(), create=True)).reads == {}


async def test_a_store_made_before_read_receipts_is_upgraded_in_place_keeping_its_data(
        durable_spec: Callable[[], Any]) -> None:
    async with opened(durable_spec) as first:
        r = await first.claim("General", Limits(), create=True)
        await first.write("General", r.token, Batch(messages=[msg(1), msg(2)], joined={"bob": "g:1/b"}))
        await _make_it_schema_1(first)
    async with opened(durable_spec) as second:
        again = await second.claim("General", Limits(), create=False)
        assert [m.seq for m in again.messages] == [1, 2] and again.members == {"bob": "g:1/b"} and again.reads == {}
        await second.write("General", again.token, Batch(read={"bob": 2}))
        assert (await second.claim("General", Limits(), create=False)).reads == {"bob": 2}
    async with opened(durable_spec) as third:  # and the upgrade is done once
        assert (await third.claim("General", Limits(), create=False)).reads == {"bob": 2}


async def _make_it_schema_1(store: Any) -> None:
    """Turn a store back into what pushchat wrote before read receipts: schema 1, without the reads table."""
    if hasattr(store, "path"):  # sqlite
        def downgrade(db: Any) -> None:
            db.execute("DROP TABLE reads")
            db.execute("PRAGMA user_version = 1")
        await store._run(downgrade)
    else:
        async def downgrade_pg(db: Any) -> None:
            await db.execute("DROP TABLE pushchat_reads")
            await db.execute("UPDATE pushchat_meta SET value = '1' WHERE key = 'schema_version'")
        await store._transact("downgrading", downgrade_pg)


async def test_room_names_and_drop(spec: Callable[[], Any]) -> None:
    async with opened(spec) as s:
        await s.claim("General", Limits(), create=True)
        await s.claim("Chess", Limits(), create=True, explicit=True)
        assert await s.room_names() == [("General", False), ("Chess", True)]
        assert await s.drop("Chess") is True
        assert await s.drop("Chess") is False
        assert await s.room_names() == [("General", False)]
        assert await s.claim("Chess", Limits(), create=False) is None


async def test_a_durable_store_keeps_its_epoch_and_data_across_reopening(durable_spec: Callable[[], Any]) -> None:
    async with opened(durable_spec) as first:
        r = await first.claim("General", Limits(), create=True)
        await first.write("General", r.token, Batch(messages=[msg(1)]))
    async with opened(durable_spec) as second:
        assert second.epoch == first.epoch and second.epoch > 0
        assert (await second.claim("General", Limits(), create=False)).last_seq == 1


async def test_the_memory_store_is_a_new_epoch_every_time() -> None:
    a, b = make_store("memory"), make_store("memory")
    assert a.epoch != b.epoch and not a.durable


async def test_a_write_is_all_or_nothing(spec: Callable[[], Any]) -> None:
    async with opened(spec) as s:
        r = await s.claim("General", Limits(), create=True)
        await s.write("General", r.token, Batch(messages=[msg(1)]))
        with pytest.raises(StoreError) as failed:  # seq 1 again: the store refuses the whole batch
            await s.write("General", r.token, Batch(messages=[msg(2), msg(1)], joined={"c": "g:1/c"}))
        assert failed.value.definite
        again = await s.claim("General", Limits(), create=False)
        assert [m.seq for m in again.messages] == [1] and again.members == {} and again.last_seq == 1


async def test_concurrent_writes_to_many_rooms_all_land(spec: Callable[[], Any]) -> None:
    async with opened(spec) as s:
        rooms = [f"R{i}" for i in range(8)]
        tokens = {room: (await s.claim(room, Limits(), create=True)).token for room in rooms}

        async def fill(room: str) -> None:
            for seq in range(1, 26):
                await s.write(room, tokens[room], Batch(messages=[msg(seq)]))
        await asyncio.gather(*(fill(room) for room in rooms))
        for room in rooms:
            assert (await s.claim(room, Limits(), create=False)).last_seq == 25
