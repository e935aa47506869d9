"""One bad change never fails the others: a shared write the store refused is written again change by change,
and only the change the store refuses on its own fails. On real stores, made to refuse one row."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf import any_pb2

from system.objects import CallInfo, InvalidArgument, ObjectHost
from system.pb import chat_pb2
from system.room import RoomConfig, install
from system.store import Batch, Limits, StoredMessage, StoreError, make_store
from system.store.writer import RoomWriter
from tests.system.store.test_contract import durable_spec, opened  # noqa: F401 - the fixture
from tests.system.test_room import RecordingPort

POISON = "poison"


async def refuse_poison(store: Any) -> None:
    """Make a real store refuse one message text, as a constraint the node's validation does not know would."""
    if hasattr(store, "path"):  # sqlite: a trigger aborting the insert (a constraint failure)
        await store._run(lambda db: db.execute(
            f"CREATE TRIGGER no_poison BEFORE INSERT ON messages WHEN NEW.text = '{POISON}' "
            "BEGIN SELECT RAISE(ABORT, 'no poison here'); END"))
    else:
        async def check(db: Any) -> None:
            await db.execute(f"ALTER TABLE pushchat_messages ADD CONSTRAINT no_poison CHECK (text <> '{POISON}')")
        await store._transact("adding a constraint", check)


def message(seq: int, text: str) -> StoredMessage:
    return StoredMessage(seq, 1_000 + seq, "alice", text, f"id-{text}")


async def test_a_shared_write_refused_for_one_change_fails_that_change_alone(durable_spec) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    async with opened(durable_spec) as store:
        await refuse_poison(store)
        record = await store.claim("General", Limits(), create=True)
        durable: list[list[int]] = []
        dropped: list[tuple[list[str], StoreError]] = []
        failed: list[StoreError] = []
        writer = RoomWriter(store, "General", record.token, on_durable=lambda b: durable.append(
            [m.seq for m in b.messages]), on_failure=failed.append,
            on_dropped=lambda b, exc: dropped.append(([m.text for m in b.messages], exc)))
        texts = ["one", "two", POISON, "three", "four"]
        futures = [writer.submit(messages=[message(i + 1, t)]) for i, t in enumerate(texts)]  # one group
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        await writer.close()
        stored = await store.claim("General", Limits(), create=False)
    refusal = outcomes[2]
    assert isinstance(refusal, StoreError) and refusal.rejected and refusal.definite, refusal
    written = {t: o.messages[0].seq for t, o in zip(texts, outcomes) if not isinstance(o, BaseException)}
    assert written == {"one": 1, "two": 2, "three": 3, "four": 4}, "the sends after it take its number"
    assert [(m.seq, m.text) for m in stored.messages] == [(1, "one"), (2, "two"), (3, "three"), (4, "four")]
    assert stored.last_seq == 4
    assert [texts for texts, _ in dropped] == [[POISON]] and not failed
    assert sum(durable, []) == [1, 2, 3, 4]


class AwayStore:
    """A store that is away: every write fails, surely not applied (as an unreachable database does)."""

    def __init__(self) -> None:
        self.writes = 0

    async def write(self, room: str, token: int, batch: Batch) -> None:
        self.writes += 1
        raise StoreError("unreachable", definite=True)


async def test_a_store_that_is_away_is_not_waited_for_once_per_change() -> None:
    store = AwayStore()
    failed: list[StoreError] = []
    writer = RoomWriter(store, "General", 1, on_durable=lambda b: None, on_failure=failed.append)  # type: ignore[arg-type]
    futures = [writer.submit(messages=[message(i + 1, f"m{i}")]) for i in range(10)]
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert all(isinstance(o, StoreError) and o.definite for o in outcomes)
    assert store.writes == 2, "the shared write, then the first change alone: then it gives up"
    assert len(failed) == 1, "the room is told once, and reloads"


async def call_send(host: ObjectHost, user: str, text: str) -> Any:
    packed = any_pb2.Any()
    packed.Pack(chat_pb2.ChatRoom_SendChatMessageRequest(user_name=user, message=text, client_msg_id=f"{user}-{text}"))
    try:
        out = await host.call("ChatRoom", "ChatRoom-General", "SendMessage", packed, CallInfo(""))
    except InvalidArgument as exc:
        return exc
    reply = chat_pb2.Client_SendChatMessageResponse()
    out.Unpack(reply)
    return reply


async def test_a_room_acknowledges_every_send_but_the_one_its_store_refused(durable_spec) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Concurrent sends share writes; the store refuses one: that send is refused as bad input, the others
    are acknowledged with numbers without a gap, stored, and readable, before and after a reload."""
    async with opened(durable_spec) as store:
        await refuse_poison(store)
        host = ObjectHost()
        install(host, RoomConfig(), RecordingPort(), store)
        texts = [f"honest {i}" for i in range(15)] + [POISON] + [f"honest {i}" for i in range(15, 30)]
        replies = await asyncio.gather(*(call_send(host, f"user{i}", t) for i, t in enumerate(texts)))
        after = await call_send(host, "late", "after")
        await host.close()
        stored = await store.claim("General", Limits(), create=False)
    refused = replies[texts.index(POISON)]
    assert isinstance(refused, InvalidArgument) and refused.stored == "no" and "refused" in str(refused)
    acked = sorted(r.seq for r in replies if not isinstance(r, BaseException))
    assert acked == list(range(1, 31)) and after.seq == 31
    assert sorted(m.text for m in stored.messages) == sorted([t for t in texts if t != POISON] + ["after"])
    assert [m.seq for m in stored.messages] == list(range(1, 32))
    by_seq = {m.seq: m.text for m in stored.messages}
    assert all(by_seq[r.seq] == t for r, t in zip(replies, texts) if not isinstance(r, BaseException))
