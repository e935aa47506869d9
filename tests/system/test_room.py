"""ChatRoom and ChatRoomMgr without sockets: numbering, dedup, history, cursors, validation."""

from __future__ import annotations

import asyncio

import pytest
from google.protobuf import any_pb2
from google.protobuf.message import Message

from system.objects import CallInfo, InvalidArgument, NotFound, ObjectHost
from system.pb import chat_pb2
from system.push import PushMeta
from system.room import RoomConfig, install
from system.store import make_store


class RecordingPort:
    def __init__(self) -> None:
        self.pushes: list[tuple[list[str], Message, PushMeta]] = []

    def push(self, client_ids, message, meta):  # type: ignore[no-untyped-def]
        self.pushes.append((client_ids, message, meta))
        return []


def make_host(clock=lambda: 1_000_000, **config) -> tuple[ObjectHost, RecordingPort]:  # type: ignore[no-untyped-def]
    host, port = ObjectHost(), RecordingPort()
    install(host, RoomConfig(**config), port, make_store("memory"), clock)
    return host, port


def call(host: ObjectHost, type_: str, id_: str, method: str, request: Message, reply_type: type[Message],
         client_id: str = "") -> Message:
    packed = any_pb2.Any()
    packed.Pack(request)
    out = asyncio.run(host.call(type_, id_, method, packed, CallInfo(client_id)))
    reply = reply_type()
    assert out.Unpack(reply), out.type_url
    return reply


def send(host, user, text, cmid="", room="General"):  # type: ignore[no-untyped-def]
    return call(host, "ChatRoom", f"ChatRoom-{room}", "SendMessage",
                chat_pb2.ChatRoom_SendChatMessageRequest(user_name=user, message=text, client_msg_id=cmid),
                chat_pb2.Client_SendChatMessageResponse)


def join(host, user, client_id="", room="General"):  # type: ignore[no-untyped-def]
    return call(host, "ChatRoom", f"ChatRoom-{room}", "Join",
                chat_pb2.ChatRoom_JoinRequest(user_name=user, client_id=client_id), chat_pb2.ChatRoom_JoinResponse)


def recent(host, after_seq=0, after_timestamp=0, limit=0, room="General"):  # type: ignore[no-untyped-def]
    return call(host, "ChatRoom", f"ChatRoom-{room}", "GetRecentMessages",
                chat_pb2.ChatRoom_GetRecentMessagesRequest(after_seq=after_seq, after_timestamp=after_timestamp,
                                                           limit=limit),
                chat_pb2.ChatRoom_GetRecentMessagesResponse)


def test_messages_are_numbered_without_gaps_and_timestamps_increase_even_with_a_stuck_clock() -> None:
    host, _ = make_host(clock=lambda: 5_000_000)
    replies = [send(host, "alice", f"m{i}") for i in range(5)]
    assert [r.seq for r in replies] == [1, 2, 3, 4, 5]
    stamps = [r.timestamp for r in replies]
    assert stamps == sorted(set(stamps)) and stamps[0] == 5_000_000
    msgs = recent(host).messages
    assert [(m.seq, m.room_name, m.user_name, m.message) for m in msgs] == [
        (i + 1, "General", "alice", f"m{i}") for i in range(5)]


def test_a_retried_send_is_stored_once_and_answered_with_the_original_numbers() -> None:
    host, port = make_host()
    join(host, "bob", "127.0.0.1:9/b")
    first = send(host, "alice", "hi", cmid="c-1")
    again = send(host, "alice", "hi", cmid="c-1")
    other_user = send(host, "carol", "hi", cmid="c-1")
    assert (again.seq, again.timestamp, again.duplicate) == (first.seq, first.timestamp, True)
    assert not first.duplicate and not other_user.duplicate and other_user.seq == 2
    assert [m.client_msg_id for m in recent(host).messages] == ["c-1", "c-1"]
    assert len(port.pushes) == 2  # the duplicate is not pushed again


def test_join_returns_real_recent_history_and_the_last_seq() -> None:
    host, _ = make_host(join_history=2)
    for text in ("a", "b", "c"):
        send(host, "alice", text)
    reply = join(host, "bob")
    assert reply.room_name == "General" and reply.last_seq == 3
    assert [m.message for m in reply.recent_messages] == ["b", "c"]


def test_push_goes_to_every_member_but_the_sender_and_leave_stops_it() -> None:
    host, port = make_host()
    join(host, "alice", "127.0.0.1:9/a")
    join(host, "bob", "127.0.0.1:9/b")
    join(host, "carol", "", )  # no push stream: polls only
    join(host, "dave", client_id="", room="General")
    call(host, "ChatRoom", "ChatRoom-General", "Join", chat_pb2.ChatRoom_JoinRequest(user_name="erin"),
         chat_pb2.ChatRoom_JoinResponse, client_id="127.0.0.1:9/e")  # id from the gate's call
    send(host, "alice", "hello")
    ids, note, meta = port.pushes[-1]
    assert sorted(ids) == ["127.0.0.1:9/b", "127.0.0.1:9/e"]
    assert note.message.message == "hello" and (meta.room, meta.seq, meta.sender) == ("General", 1, "alice")
    assert meta.users == {"127.0.0.1:9/b": "bob", "127.0.0.1:9/e": "erin"}
    call(host, "ChatRoom", "ChatRoom-General", "Leave", chat_pb2.ChatRoom_LeaveRequest(user_name="bob"),
         chat_pb2.ChatRoom_LeaveResponse)
    send(host, "alice", "again")
    assert port.pushes[-1][0] == ["127.0.0.1:9/e"]


def test_seq_cursor_pages_with_has_more() -> None:
    host, _ = make_host()
    for i in range(5):
        send(host, "alice", f"m{i}")
    page = recent(host, after_seq=1, limit=2)
    assert [m.seq for m in page.messages] == [2, 3] and page.has_more and page.last_seq == 5
    page = recent(host, after_seq=3, limit=2)
    assert [m.seq for m in page.messages] == [4, 5] and not page.has_more
    assert not recent(host, after_seq=5).messages


def test_timestamp_cursor_returns_what_came_after_it() -> None:
    host, _ = make_host(clock=lambda: 7_000_000)
    stamps = [send(host, "alice", f"m{i}").timestamp for i in range(3)]
    assert [m.message for m in recent(host, after_timestamp=stamps[0]).messages] == ["m1", "m2"]


def test_trimmed_history_after_the_cursor_is_reported_not_hidden() -> None:
    host, _ = make_host(history_limit=3)
    stamps = [send(host, "alice", f"m{i}").timestamp for i in range(6)]  # seqs 1..6, keeps 4..6
    cut = recent(host, after_seq=1)
    assert cut.history_truncated and cut.first_available_seq == 4
    assert [m.seq for m in cut.messages] == [4, 5, 6]
    whole = recent(host, after_seq=3)
    assert not whole.history_truncated and [m.seq for m in whole.messages] == [4, 5, 6]
    assert recent(host).history_truncated  # from the start: 1..3 are gone
    assert recent(host, after_timestamp=stamps[1]).history_truncated
    assert not recent(host, after_timestamp=stamps[2]).history_truncated


@pytest.mark.parametrize("text, error", [
    ("", "empty"), ("   \n", "empty"), ("x" * 4097, "4097 bytes"), ("é" * 2049, "4098 bytes")])
def test_empty_and_oversized_messages_are_refused(text: str, error: str) -> None:
    host, _ = make_host(max_message_bytes=4096)
    with pytest.raises(InvalidArgument, match=error):
        send(host, "alice", text)
    assert send(host, "alice", "x" * 4096).seq == 1  # the limit itself is fine, nothing was stored before


@pytest.mark.parametrize("user", ["", " ", "a\nb", "x" * 65])
def test_bad_user_names_are_refused(user: str) -> None:
    host, _ = make_host()
    with pytest.raises(InvalidArgument, match="user_name"):
        join(host, user, "127.0.0.1:9/a")


def test_a_malformed_client_id_is_refused_at_join() -> None:
    host, _ = make_host()
    with pytest.raises(InvalidArgument, match="malformed client id"):
        join(host, "alice", "no-slash-here")


def test_unknown_rooms_are_not_found_unless_created() -> None:
    host, _ = make_host()
    with pytest.raises(NotFound, match="no chat room 'Nope'"):
        send(host, "alice", "hi", room="Nope")
    asyncio.run(host.create("ChatRoom", "ChatRoom-Nope"))
    assert send(host, "alice", "hi", room="Nope").seq == 1
    rooms = call(host, "ChatRoomMgr", "ChatRoomMgr0", "ListChatRooms", chat_pb2.ChatRoom_ListRequest(),
                 chat_pb2.ChatRoom_ListResponse).chat_rooms
    assert list(rooms) == ["General", "Technology", "Crypto", "Sports", "Movies", "Nope"]
    with pytest.raises(InvalidArgument, match="bad room id"):
        asyncio.run(host.create("ChatRoom", "ChatRoom-bad#name"))


# -- presence, typing, read receipts ----------------------------------------------------------------
def room_call(host, method, request, reply_type, user=None, room="General"):  # type: ignore[no-untyped-def]
    packed = any_pb2.Any()
    packed.Pack(request)
    out = asyncio.run(host.call("ChatRoom", f"ChatRoom-{room}", method, packed, CallInfo("", user)))
    reply = reply_type()
    assert out.Unpack(reply), out.type_url
    return reply


def pushed(port: RecordingPort, kind: type[Message]) -> list[tuple[list[str], Message]]:
    return [(ids, m) for ids, m, _ in port.pushes if isinstance(m, kind)]


def test_a_join_and_a_leave_are_pushed_to_the_others_and_the_poll_lists_the_members() -> None:
    host, port = make_host()
    join(host, "alice", "g:1/a")
    join(host, "bob", "g:1/b")
    join(host, "bob", "g:1/b2")  # a reconnection's re-join is no news
    [(ids, note)] = pushed(port, chat_pb2.Client_MemberNotification)
    assert ids == ["g:1/a"] and (note.user_name, note.joined, note.room_name) == ("bob", True, "General")
    assert [m.user_name for m in recent(host).members] == ["alice", "bob"]
    call(host, "ChatRoom", "ChatRoom-General", "Leave", chat_pb2.ChatRoom_LeaveRequest(user_name="bob"),
         chat_pb2.ChatRoom_LeaveResponse)
    ids, left = pushed(port, chat_pb2.Client_MemberNotification)[-1]
    assert ids == ["g:1/a"] and (left.user_name, left.joined) == ("bob", False) and left.timestamp > note.timestamp
    members = room_call(host, "Members", chat_pb2.ChatRoom_MembersRequest(), chat_pb2.ChatRoom_MembersResponse)
    assert [m.user_name for m in members.members] == ["alice"] and members.as_of > left.timestamp


def test_a_member_not_heard_from_for_the_grace_is_away_until_it_calls_again() -> None:
    from system.presence import PresenceConfig
    now = [100.0]
    host, port = ObjectHost(), RecordingPort()
    install(host, RoomConfig(presence=PresenceConfig(grace=5.0)), port, make_store("memory"), lambda: 1_000_000,
            lambda: now[0])
    join(host, "alice", "g:1/a")
    join(host, "bob", "g:1/b")
    now[0] += 4.0
    room_call(host, "Members", chat_pb2.ChatRoom_MembersRequest(user_name="alice"), chat_pb2.ChatRoom_MembersResponse)
    now[0] += 2.0  # bob: 6 s unheard; alice: 2 s
    away = {m.user_name: m.away for m in recent(host).members}
    assert away == {"alice": False, "bob": True}
    room_call(host, "Members", chat_pb2.ChatRoom_MembersRequest(user_name="bob"), chat_pb2.ChatRoom_MembersResponse)
    assert not any(m.away for m in recent(host).members)


def test_typing_is_pushed_to_the_others_only_rate_limited_and_never_stored() -> None:
    host, port = make_host()
    join(host, "alice", "g:1/a")
    join(host, "bob", "g:1/b")
    first = room_call(host, "Typing", chat_pb2.ChatRoom_TypingRequest(user_name="alice"),
                      chat_pb2.ChatRoom_TypingResponse)
    again = room_call(host, "Typing", chat_pb2.ChatRoom_TypingRequest(user_name="alice"),
                      chat_pb2.ChatRoom_TypingResponse)
    assert first.pushed and not again.pushed and first.expires_ms == 3000
    [(ids, note)] = pushed(port, chat_pb2.Client_TypingNotification)
    assert ids == ["g:1/b"] and note.user_name == "alice" and note.expires_ms == 3000
    page = recent(host)
    assert list(page.messages) == [] and page.last_seq == 0


def test_typing_or_marking_read_by_a_non_member_is_refused() -> None:
    from system.objects import PermissionDenied
    host, _ = make_host()
    join(host, "alice", "g:1/a")
    with pytest.raises(PermissionDenied):
        room_call(host, "Typing", chat_pb2.ChatRoom_TypingRequest(user_name="mallory"),
                  chat_pb2.ChatRoom_TypingResponse)
    with pytest.raises(PermissionDenied):
        room_call(host, "MarkRead", chat_pb2.ChatRoom_MarkReadRequest(user_name="mallory", seq=0),
                  chat_pb2.ChatRoom_MarkReadResponse)


def test_read_positions_are_monotone_pushed_polled_and_never_beyond_the_last_message() -> None:
    host, port = make_host()
    join(host, "alice", "g:1/a")
    join(host, "bob", "g:1/b")
    for i in range(3):
        send(host, "alice", f"m{i}")

    def mark(seq: int) -> int:
        return room_call(host, "MarkRead", chat_pb2.ChatRoom_MarkReadRequest(user_name="bob", seq=seq),
                         chat_pb2.ChatRoom_MarkReadResponse).read_seq

    assert mark(2) == 2
    assert mark(1) == 2  # never back
    with pytest.raises(InvalidArgument, match="beyond the last message"):
        mark(4)
    [(ids, note)] = pushed(port, chat_pb2.Client_ReadNotification)
    assert ids == ["g:1/a"] and (note.user_name, note.read_seq) == ("bob", 2)
    assert {m.user_name: m.read_seq for m in recent(host).members} == {"alice": 0, "bob": 2}
