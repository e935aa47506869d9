"""What a client knows of who is in its rooms, who is typing, and how far each member has read.

Each promise is kept differently:

- joins and leaves come by push (best effort; a big room's come batched);
  every join, poll and ``Members`` heartbeat says which version of the
  list this client holds and its reply brings the changes since (or the
  list from the start, in pages: :mod:`system.memberlog`), so a missed
  push is made good. Pushes, lists and pages each carry the room's
  presence clock: the newer word about a member wins, whatever order they
  arrive in (:class:`RoomPresence`, sans-I/O);
- read positions come by push and with the list; they only move forward;
- "typing" comes by push only and is shown until ``timestamp + expires_ms``
  (never longer, even for a push that arrived late), or until that member's
  next message is shown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from google.protobuf import any_pb2

from system.client.observer import Observers
from system.pb import chat_pb2


MAX_PAGES = 1000  # pages of one room's list fetched in a row (12 KB each: far more than a room holds)


@dataclass
class RoomPresence:
    """One room's members, read positions and typists as this client knows them (sans-I/O)."""

    members: dict[str, bool] = field(default_factory=dict)   # user -> away
    heard_at: dict[str, int] = field(default_factory=dict)   # user -> presence clock of the newest word about it
    listed_at: int = 0   # presence clock of the newest whole list: older word about anyone is stale
    reads: dict[str, int] = field(default_factory=dict)
    typing: dict[str, float] = field(default_factory=dict)    # user -> monotonic time it stops showing
    version: int = 0     # the version of the room's list this client holds (a MemberPage's), with its origin
    origin: int = 0
    rebuild: set[str] | None = None  # while a list from the start comes in pages: whom its pages named

    def cursor(self) -> chat_pb2.MemberCursor:
        """What to send as ``members_since``: the version held (a listing half read goes on from it)."""
        return chat_pb2.MemberCursor(version=self.version, origin=self.origin, listing=self.rebuild is not None)

    def _word(self, user: str, present: chat_pb2.Member | None, when: int) -> int:
        """Word about ``user`` as of ``when`` (present, or gone): -1 left, 1 came, 0 no change to who is in."""
        if when < self.heard_at.get(user, 0):
            return 0
        self.heard_at[user] = when
        if present is None:
            return -1 if self.members.pop(user, None) is not None else 0
        came = user not in self.members
        self.members[user] = present.away
        return 1 if came else 0

    def paged(self, page: chat_pb2.MemberPage, in_turn: bool = True) -> tuple[list[str], list[str]]:
        """A page of the list (``in_turn``: the changes since the version held, or a listing from the start);
        (who came, who went) by it. A page out of turn (a batch push after a missed one) is applied member by
        member, newer word winning, and the version held stays, so the next reply brings what was missed."""
        came, went = [], []
        when = page.version
        if in_turn and page.full:
            self.rebuild = set()
        for m in page.members:
            if in_turn and self.rebuild is not None:
                self.rebuild.add(m.user_name)
            word = self._word(m.user_name, m, when)
            if word > 0:
                came.append(m.user_name)
        for user in page.gone:
            if in_turn and self.rebuild is not None:
                self.rebuild.discard(user)
            if self._word(user, None, when) < 0:
                went.append(user)
        if not in_turn:
            return came, went
        self.version, self.origin = page.version, page.origin
        self.listed_at = max(self.listed_at, when)  # every word up to it is in: an older push is stale
        if not page.more and self.rebuild is not None:
            for user in [u for u in self.members if u not in self.rebuild]:
                if self._word(user, None, when) < 0:
                    went.append(user)
            self.rebuild = None
        return came, went

    def notified(self, user: str, joined: bool, when: int) -> bool:
        """A join/leave push; True if it changed who is in the room."""
        if when <= max(self.heard_at.get(user, 0), self.listed_at):
            return False  # older than what we know
        self.heard_at[user] = when
        if joined:
            changed = user not in self.members
            self.members.setdefault(user, False)
            return changed
        return self.members.pop(user, None) is not None

    def listed(self, members: list[chat_pb2.Member], as_of: int) -> tuple[list[str], list[str]]:
        """The room's list at ``as_of``: (who came, who went) by it; newer pushes stand."""
        came, went = [], []
        self.listed_at = max(self.listed_at, as_of)
        named = {m.user_name: m for m in members}
        for user, m in named.items():
            if as_of >= self.heard_at.get(user, 0):
                self.heard_at[user] = as_of
                if user not in self.members:
                    came.append(user)
                self.members[user] = m.away
        for user in list(self.members):
            if user not in named and as_of >= self.heard_at.get(user, 0):
                self.heard_at[user] = as_of
                del self.members[user]
                went.append(user)
        return came, went

    def read(self, user: str, seq: int) -> bool:
        """A read position; True if it moved forward."""
        if seq <= self.reads.get(user, 0):
            return False
        self.reads[user] = seq
        return True


class PresenceTracker:
    """Applies presence pushes and lists to :class:`RoomPresence` views and tells the observers."""

    def __init__(self, user: str, observers: Observers, *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.user = user
        self.observers = observers
        self.clock = clock
        self.wall = wall
        self.rooms: dict[str, RoomPresence] = {}
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}

    def view(self, room: str) -> RoomPresence:
        return self.rooms.setdefault(room, RoomPresence())

    def on_item(self, item: any_pb2.Any, following: Callable[[str], bool]) -> bool:
        """A pushed item: True if it was a presence push (applied when ``following(room)``)."""
        for kind, apply in ((chat_pb2.Client_MemberNotification, self._member),
                            (chat_pb2.Client_MembersChangedNotification, self._batch),
                            (chat_pb2.Client_TypingNotification, self._typing),
                            (chat_pb2.Client_ReadNotification, self._read)):
            if item.Is(kind.DESCRIPTOR):
                note = kind()
                item.Unpack(note)
                if following(note.room_name):
                    apply(note)
                return True
        return False

    def listed(self, room: str, members: list[chat_pb2.Member], as_of: int, source: str) -> None:
        """The room's list, from a poll or a heartbeat: converge on it."""
        if not as_of:
            return  # a server without presence
        view = self.view(room)
        self._moved(room, *view.listed(members, as_of), source)
        for m in members:
            if view.read(m.user_name, m.read_seq):
                self.observers.on_read(room, m.user_name, m.read_seq, source)

    def replied(self, room: str, page: chat_pb2.MemberPage, members: list[chat_pb2.Member], as_of: int,
                source: str, since: chat_pb2.MemberCursor | None = None) -> bool:
        """A join, poll or ``Members`` reply: its page of the list, or (a server without versions) its list.

        ``since``: the cursor the request carried. The page moves the version held on only when that is
        still the cursor held (in turn); a reply to an older cursor (a heartbeat sent before a join's pages
        came in) is applied member by member, newer word winning. Taken in turn, a stale first page of a
        listing restarted it half-way, and the members of the pages between were dropped at its end (one
        member of 2,000 held the room's latest version short of 521 members). Returns whether in turn."""
        if not page.origin:
            self.listed(room, members, as_of, source)
            return True
        in_turn = since is None or since == self.view(room).cursor()
        self._apply(room, page, source, in_turn)
        return in_turn

    async def rest(self, room: str, page: chat_pb2.MemberPage, source: str,
                   more: Callable[[chat_pb2.MemberCursor], Awaitable[chat_pb2.MemberPage]],
                   in_turn: bool = True) -> None:
        """After a reply's ``page`` (applied; ``in_turn`` as :meth:`replied` said): the following pages,
        fetched with ``more``, until all are in. A page that came out of turn (another call moved the list
        on meanwhile) says nothing of what is left: ask again from the cursor held."""
        going_on = bool(page.origin and (page.more or not in_turn))
        for _ in range(MAX_PAGES):
            if not going_on:
                return
            cursor = self.view(room).cursor()
            page = await more(cursor)
            in_turn = cursor == self.view(room).cursor()
            self._apply(room, page, source, in_turn)
            going_on = bool(page.origin and (page.more or not in_turn))

    def _moved(self, room: str, came: Iterable[str], went: Iterable[str], source: str) -> None:
        """Tell the observers who came and who went; one who went is typing no more."""
        for user in came:
            self.observers.on_member(room, user, True, source)
        for user in went:
            self.observers.on_member(room, user, False, source)
            self._stop_typing(room, user)

    def _apply(self, room: str, page: chat_pb2.MemberPage, source: str, in_turn: bool) -> None:
        if not page.origin:
            return  # a server without versions
        view = self.view(room)
        self._moved(room, *view.paged(page, in_turn), source)
        for m in page.members:
            if view.read(m.user_name, m.read_seq):
                self.observers.on_read(room, m.user_name, m.read_seq, source)

    def shown(self, room: str, sender: str) -> None:
        """A message from ``sender`` was shown: it is no longer typing."""
        self._stop_typing(room, sender)

    def reset(self, room: str) -> None:
        """The room's history started again: read positions count from the new numbering."""
        self.view(room).reads.clear()

    def close(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    # -- pushes --------------------------------------------------------------------------
    def _member(self, note: chat_pb2.Client_MemberNotification) -> None:
        if self.view(note.room_name).notified(note.user_name, note.joined, note.timestamp):
            self.observers.on_member(note.room_name, note.user_name, note.joined, "push")
        if not note.joined:
            self._stop_typing(note.room_name, note.user_name)

    def _batch(self, note: chat_pb2.Client_MembersChangedNotification) -> None:
        view = self.view(note.room_name)
        in_turn = (not note.page.full and view.rebuild is None and note.page.origin == view.origin
                   and note.from_version == view.version)
        self._apply(note.room_name, note.page, "push", in_turn)

    def _read(self, note: chat_pb2.Client_ReadNotification) -> None:
        if self.view(note.room_name).read(note.user_name, note.read_seq):
            self.observers.on_read(note.room_name, note.user_name, note.read_seq, "push")

    def _typing(self, note: chat_pb2.Client_TypingNotification) -> None:
        if note.user_name == self.user:
            return
        expires = note.expires_ms / 1000
        # Shown until the room's timestamp + expiry: a push that waited in a stalled stream shows less, or not at all.
        left = min(expires, note.timestamp / 1e6 + expires - self.wall()) if note.timestamp else expires
        if left <= 0:
            return
        room, user = note.room_name, note.user_name
        view = self.view(room)
        was = user in view.typing
        view.typing[user] = self.clock() + left
        old = self._timers.pop((room, user), None)
        if old is not None:
            old.cancel()
        self._timers[(room, user)] = asyncio.get_running_loop().call_later(left, self._stop_typing, room, user)
        if not was:
            self.observers.on_typing(room, user, True)

    def _stop_typing(self, room: str, user: str) -> None:
        handle = self._timers.pop((room, user), None)
        if handle is not None:
            handle.cancel()
        view = self.rooms.get(room)
        if view is not None and view.typing.pop(user, None) is not None:
            self.observers.on_typing(room, user, False)
