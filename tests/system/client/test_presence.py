"""What a client shows of presence: the newer word wins whatever order pushes and lists arrive in; typing
never outlives its expiry, even when its push came late; read positions only move forward."""

from __future__ import annotations

import asyncio

from google.protobuf import any_pb2

from system.client.observer import Observers
from system.client.presence import PresenceTracker, RoomPresence
from system.pb import chat_pb2


def member(user: str, away: bool = False, read_seq: int = 0) -> chat_pb2.Member:
    return chat_pb2.Member(user_name=user, away=away, read_seq=read_seq)


def test_a_late_join_push_does_not_undo_a_newer_list_and_a_newer_leave_wins_over_an_older_list() -> None:
    view = RoomPresence()
    assert view.listed([member("alice")], as_of=100) == (["alice"], [])
    assert not view.notified("bob", joined=True, when=90)  # older than the list that did not have him
    assert "bob" not in view.members
    assert view.notified("alice", joined=False, when=110)
    assert view.listed([member("alice")], as_of=105) == ([], [])  # the list is older than her leaving
    assert "alice" not in view.members
    assert view.listed([member("bob", away=True)], as_of=120) == (["bob"], [])
    assert view.members == {"bob": True}


def test_read_positions_only_move_forward() -> None:
    view = RoomPresence()
    assert view.read("bob", 3) and not view.read("bob", 2) and not view.read("bob", 3)
    assert view.reads == {"bob": 3}


class Told:
    def __init__(self) -> None:
        self.typing: list[tuple[str, bool]] = []

    def on_typing(self, room: str, user: str, typing: bool) -> None:
        self.typing.append((user, typing))


def typing_push(user: str, sent_at: float, expires_ms: int = 300) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(chat_pb2.Client_TypingNotification(room_name="General", user_name=user, expires_ms=expires_ms,
                                                   timestamp=int(sent_at * 1e6)))
    return packed


async def test_typing_expires_a_late_push_is_not_shown_and_a_message_from_the_typist_clears_it() -> None:
    told = Told()
    wall = [1000.0]
    tracker = PresenceTracker("bob", Observers([told]), wall=lambda: wall[0])
    follow = lambda room: True  # noqa: E731
    assert tracker.on_item(typing_push("carol", 999.0), follow)  # sent 1 s ago, expiry 0.3 s: stale
    assert told.typing == [] and tracker.view("General").typing == {}
    assert tracker.on_item(typing_push("alice", 1000.0), follow)
    assert told.typing == [("alice", True)]
    done = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(2.0, done.set_result, None)
    while ("alice", False) not in told.typing and not done.done():
        await asyncio.sleep(0.05)
    assert told.typing == [("alice", True), ("alice", False)]
    tracker.on_item(typing_push("alice", 1000.0, expires_ms=60000), follow)
    tracker.shown("General", "alice")  # her message is shown: no longer typing
    assert told.typing[-2:] == [("alice", True), ("alice", False)] and tracker.view("General").typing == {}
    tracker.close()


def test_a_push_of_another_kind_is_not_presence() -> None:
    packed = any_pb2.Any()
    packed.Pack(chat_pb2.Client_NewMessageNotification())
    assert not PresenceTracker("bob", Observers([])).on_item(packed, lambda room: True)


def test_a_reply_to_an_older_cursor_never_restarts_a_listing_half_read() -> None:
    """One member of 2,000 held the room's latest version short of 521 members: a heartbeat sent before its
    join's first page came back with that first page again, after the second; taken in turn, it restarted
    the listing, and the third page's end dropped everyone the second had named."""
    from system.client.observer import Observers
    from system.client.presence import PresenceTracker
    from system.memberlog import MemberLog

    log = MemberLog(1000, 100)
    users = [f"u{i:02}" for i in range(30)]
    for n, user in enumerate(users):
        log.changed(user, 1001 + n)

    def page(cursor: chat_pb2.MemberCursor) -> chat_pb2.MemberPage:
        return log.page(cursor.version, cursor.origin, lambda u: chat_pb2.Member(user_name=u), 100, cursor.listing)

    tracker = PresenceTracker("me", Observers([]))
    view = tracker.view("General")
    first_cursor = view.cursor()
    first = page(first_cursor)  # the join's reply, and (the same cursor) the heartbeat's
    assert first.full and first.more
    assert tracker.replied("General", first, [], 0, "join", first_cursor)
    second_cursor = view.cursor()
    assert tracker.replied("General", page(second_cursor), [], 0, "members", second_cursor)
    assert not tracker.replied("General", first, [], 0, "members", first_cursor)  # the heartbeat's, late
    while view.rebuild is not None or view.version < log.version:
        cursor = view.cursor()
        assert tracker.replied("General", page(cursor), [], 0, "members", cursor)
    assert sorted(view.members) == users and view.version == log.version
