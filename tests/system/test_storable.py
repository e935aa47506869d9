"""One validation for every store: what some store cannot keep is refused at the door, for all alike,
and what the rule lets through every store keeps exactly."""

from __future__ import annotations

import asyncio
import re
import pytest

from google.protobuf import any_pb2

from system.objects import CallInfo, InvalidArgument, ObjectHost
from system.pb import chat_pb2
from system.room import RoomConfig, check_storable, install
from system.store import Batch, Limits, StoredMessage, StoreError, unstorable
from tests.system.store.test_contract import opened, spec  # noqa: F401 - the store fixture, every kind
from tests.system.test_room import RecordingPort

#: Text every store must keep as it is: the rule lets it through.
AWKWARD = ["a\x01b\x7f", "\x85\x9b c1 controls", "\ufeff bom \ufffe \uffff", "astral \U0001f600 \U0010ffff",
           "zero\u200bwidth \u202e bidi", "e\u0301 é"]


@pytest.mark.parametrize("text, why", [("a\x00b", "NUL"), ("\x00", "NUL"), ("a\ud800", "lone surrogate (U+D800)"),
                                       ("\udfff z", "lone surrogate (U+DFFF)")])
def test_the_rule_names_what_a_store_cannot_keep(text: str, why: str) -> None:
    assert why in (unstorable(text) or "")
    with pytest.raises(InvalidArgument, match=f"message cannot be stored: .*{re.escape(why)}"):
        check_storable("message", text)


@pytest.mark.parametrize("text", AWKWARD)
def test_the_rule_lets_through_what_every_store_keeps(text: str) -> None:
    assert unstorable(text) is None


async def test_every_store_keeps_exactly_what_the_rule_lets_through(spec) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    async with opened(spec) as store:
        record = await store.claim("General", Limits(), create=True)
        batch = Batch(messages=[StoredMessage(i + 1, 1_000 + i, f"user {t[:8]}", t, f"id {t[:8]}")
                                for i, t in enumerate(AWKWARD)])
        await store.write("General", record.token, batch)
        again = await store.claim("General", Limits(), create=False)
    assert [(m.user, m.text, m.client_msg_id) for m in again.messages] == \
        [(m.user, m.text, m.client_msg_id) for m in batch.messages]


async def test_a_store_refusing_a_row_fails_that_write_alone_and_keeps_serving(spec) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Past the rule (a caller in-process): the write fails as a StoreError, never kills the store."""
    async with opened(spec) as store:
        record = await store.claim("General", Limits(), create=True)
        try:
            await asyncio.wait_for(store.write("General", record.token, Batch(messages=[
                StoredMessage(1, 1, "alice", "a\ud800", "")])), 10)
        except StoreError as exc:
            assert exc.definite
        else:
            assert type(store).__name__ == "MemoryStore", "only the memory store keeps a lone surrogate"
            return
        await store.write("General", record.token, Batch(messages=[StoredMessage(1, 2, "alice", "fine", "")]))
        assert [m.text for m in (await store.claim("General", Limits(), create=False)).messages] == ["fine"]


async def room_send(host: ObjectHost, **fields: str) -> chat_pb2.Client_SendChatMessageResponse:
    packed = any_pb2.Any()
    packed.Pack(chat_pb2.ChatRoom_SendChatMessageRequest(**fields))
    reply = chat_pb2.Client_SendChatMessageResponse()
    (await host.call("ChatRoom", "ChatRoom-General", "SendMessage", packed, CallInfo(""))).Unpack(reply)
    return reply


@pytest.mark.parametrize("field", ["message", "client_msg_id", "user_name"])
async def test_a_room_refuses_a_nul_whatever_its_store(spec, field: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    async with opened(spec) as store:
        host = ObjectHost()
        install(host, RoomConfig(), RecordingPort(), store)
        fields = {"user_name": "alice", "message": "hi", "client_msg_id": "c1", field: "x\x00y"}
        why = r"U\+0000" if field == "user_name" else "it contains a NUL"  # names: the stricter rule of system.names
        with pytest.raises(InvalidArgument, match=f"{field}.*{why}"):
            await room_send(host, **fields)
        assert (await room_send(host, user_name="alice", message="after")).seq == 1  # nothing numbered for it
        await host.close()
