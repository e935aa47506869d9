"""How a room tells its members who came and went: one push per change while small, batched when big.

Up to ``batch_above`` members, each join or leave is pushed to the others
once durable (a ``Client_MemberNotification``), as before. Past it, that
would make filling a room cost the square of its size (each join a push to
every member: 50 million deliveries for 10,000 members), so the changes
are gathered and pushed at most once per ``batch_interval``: one
``Client_MembersChangedNotification`` to every member, carrying the
changes since the previous one as a bounded page of the versioned list
(:mod:`system.memberlog`; what did not fit goes at the next interval).

Batching, not telling only the members who asked: it keeps the promise
every member had (it hears of a change, at most an interval late) with no
new per-member subscription state to bound and expire, and it costs one
push per member per interval however fast members come. A member that
missed a batch, or holds another version, gets the changes with its next
poll or heartbeat, whose reply says what changed since its version.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from google.protobuf.message import Message

from system.pb import chat_pb2
from system.presence import Presence

Tell = Callable[[str | None, Message], None]  # push to every member with a stream but the one named


class Announcer:
    """One room's join and leave announcements."""

    def __init__(self, room: str, presence: Presence, size: Callable[[], int], tell: Tell) -> None:
        self.room = room
        self.presence = presence
        self.size = size
        self.tell = tell
        self.announced = presence.log.version   # the version the last batch brought its receivers to
        self._timer: asyncio.TimerHandle | None = None

    @property
    def batching(self) -> bool:
        return self._timer is not None or self.size() > self.presence.config.batch_above

    def member(self, user: str, joined: bool, when: int) -> None:
        """``user`` joined (or left) at ``when``, durably: tell the others now, or with the next batch."""
        if not self.batching:
            self.tell(user, chat_pb2.Client_MemberNotification(room_name=self.room, user_name=user, joined=joined,
                                                               timestamp=when))
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.presence.config.batch_interval, self.flush)

    def flush(self) -> None:
        """Push the changes since the last batch (one bounded page; the rest at the next interval)."""
        self._timer = None
        page = self.presence.changes(self.announced)
        note = chat_pb2.Client_MembersChangedNotification(room_name=self.room, from_version=self.announced,
                                                          page=page)
        self.announced = page.version
        if page.members or page.gone:
            self.tell(None, note)
        if page.more:
            self._timer = asyncio.get_running_loop().call_later(self.presence.config.batch_interval, self.flush)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
