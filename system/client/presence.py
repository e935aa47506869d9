"""What a client knows of who is in its rooms, who is typing, and how far each member has read.

Each promise is kept differently:

- joins and leaves come by push (best effort); every poll reply and each
  ``Members`` heartbeat carries the room's whole list, so a missed push is
  made good. A push and a list each carry the room's presence clock: the
  newer word about a member wins, whatever order they arrive in
  (:class:`RoomPresence`, sans-I/O);
- read positions come by push and with the list; they only move forward;
- "typing" comes by push only and is shown until ``timestamp + expires_ms``
  (never longer, even for a push that arrived late), or until that member's
  next message is shown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf import any_pb2

from system.client.observer import Observers
from system.pb import chat_pb2


@dataclass
class RoomPresence:
    """One room's members, read positions and typists as this client knows them (sans-I/O)."""

    members: dict[str, bool] = field(default_factory=dict)   # user -> away
    heard_at: dict[str, int] = field(default_factory=dict)   # user -> presence clock of the newest word about it
    listed_at: int = 0   # presence clock of the newest whole list: older word about anyone is stale
    reads: dict[str, int] = field(default_factory=dict)
    typing: dict[str, float] = field(default_factory=dict)    # user -> monotonic time it stops showing

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
        came, went = view.listed(members, as_of)
        for user in came:
            self.observers.on_member(room, user, True, source)
        for user in went:
            self.observers.on_member(room, user, False, source)
        for m in members:
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
