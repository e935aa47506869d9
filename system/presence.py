"""A room's presence: who is in it, who is away, who is typing, how far each has read (sans-I/O).

Three promises, each different:

- membership is stored (the room's ``members``) and its changes are pushed
  best effort; the list rides on every poll reply and on ``Members``, so a
  client that missed a push converges;
- *away* is derived, never stored: a member not heard from (any call,
  including the client's ``Members`` heartbeat) for ``grace`` seconds is
  away, so a member whose push stream is gone shows as such;
- a big room stretches both: past ``heartbeat_rate`` × the heartbeat
  interval (``grace`` / 3) members, its replies advise a longer heartbeat
  interval, so that its members' periodic calls stay at about
  ``heartbeat_rate`` a second (2,000 beats every 5 s were 400 calls a
  second on one node), and its grace grows in proportion
  (:meth:`Presence.stretch`);
- a member not heard from for ``expiry`` seconds is gone: the room drops it
  from its stored members and tells the others it left, so members are
  bounded by who is still around, not by who ever joined;
- typing is ephemeral: pushed to the others, never stored or polled, and
  rate-limited per member here;
- read positions are stored and only move forward;
- the list is versioned (:mod:`system.memberlog`): every change above
  (away and back included) is a new version, and a client that says which
  version it holds is sent what changed since, or the list a bounded page
  at a time; never the whole list. A client that does not say is sent the
  whole list while it is small (``whole_list_max``), as before, and none
  past it.

Times: ``now`` is a monotonic reading in seconds (away, rate limits); the
*presence clock* (:meth:`Presence.tick`) is unix µs, strictly increasing
within the room, so a client can tell a newer list or notification from an
older one that arrived late.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from google.protobuf.message import Message

from system.memberlog import MemberLog
from system.pb import chat_pb2


BEATS_PER_GRACE = 3  # a member is away after missing this many heartbeats (15 s of grace for beats every 5 s)


@dataclass(frozen=True)
class PresenceConfig:
    grace: float = 15.0            # s without a call before a member shows as away
    typing_expiry: float = 3.0     # s a receiver shows "typing" after it was sent, unless refreshed
    typing_interval: float = 1.0   # s between two typing pushes of one member (more are refused)
    expiry: float = 3600.0         # s without a call before a member is dropped from the room (0: never)
    page_bytes: int = 12_000       # member list bytes in one reply (a page, or the changes since a version)
    whole_list_max: int = 400      # members up to which a request without a version still gets the whole list
    max_gone: int = 5000           # departures remembered, to be told as changes (older: the list from the start)
    batch_above: int = 200         # members past which joins and leaves are pushed batched, not one by one
    batch_interval: float = 1.0    # s between two batched pushes of a room's member changes
    heartbeat_rate: float = 100.0  # heartbeats a second a room asks of its members at most (it stretches their interval)

    @property
    def heartbeat(self) -> float:
        """The heartbeat interval the grace is meant for: three beats may go missing before a member is away."""
        return self.grace / BEATS_PER_GRACE


class Presence:
    """One room's members as the store has them, with when each was last heard from."""

    def __init__(self, config: PresenceConfig, members: Mapping[str, str], reads: Mapping[str, int],
                 now: float, wall_us: int) -> None:
        self.config = config
        self._clock = wall_us
        self.log = MemberLog(wall_us, config.max_gone)
        self.since: dict[str, int] = {}
        for user in members:
            self.since[user] = self.tick(wall_us)
            self.log.changed(user, self.since[user])
        self.reads: dict[str, int] = {user: seq for user, seq in reads.items() if seq > 0}
        self.heard: dict[str, float] = {user: now for user in members}  # a restart gives everyone the grace
        self._present: dict[str, float] = dict(self.heard)  # members not away, least recently heard first
        self._away: set[str] = set()    # members away as of the last settle (a change each way)
        self._typed: dict[str, float] = {}

    def tick(self, wall_us: int) -> int:
        """The presence clock: unix µs, strictly increasing even if the wall clock steps back."""
        self._clock = max(wall_us, self._clock + 1)
        return self._clock

    # -- membership (after the store made it durable) ----------------------------------
    def joined(self, user: str, now: float, wall_us: int) -> int | None:
        """``user`` is a member now; the presence time of the change, or None if it already was."""
        if user in self.since:
            self.heard_from(user, now, wall_us)
            return None
        self.heard[user] = now
        self._present[user] = now
        self.since[user] = self.tick(wall_us)
        self.log.changed(user, self.since[user])
        return self.since[user]

    def left(self, user: str, wall_us: int) -> int | None:
        if self.since.pop(user, None) is None:
            return None
        self.heard.pop(user, None)
        self._present.pop(user, None)
        self._away.discard(user)
        self._typed.pop(user, None)
        when = self.tick(wall_us)
        self.log.departed(user, when)
        return when

    def heard_from(self, user: str | None, now: float, wall_us: int = 0) -> None:
        """A call from ``user``: not away (a non-member's call changes nothing)."""
        if user is not None and user in self.since:
            self.heard[user] = now
            self._present.pop(user, None)
            self._present[user] = now  # to the end: the order is by when each was heard
            if user in self._away:
                self._away.discard(user)
                self.log.changed(user, self.tick(wall_us))

    def stretch(self) -> float:
        """How many times the usual heartbeat interval (and grace) this room asks for: 1 up to
        ``heartbeat_rate`` × the interval members, then in proportion to its size."""
        usual = self.config.heartbeat_rate * self.config.heartbeat
        return max(1.0, len(self.since) / usual) if usual > 0 else 1.0

    def grace(self) -> float:
        """Seconds a member may go unheard before it shows as away, in this room as big as it is now."""
        return self.config.grace * self.stretch()

    def heartbeat_ms(self) -> int:
        """The heartbeat interval a reply advises (ms): 0 while the room needs none longer than the usual."""
        stretch = self.stretch()
        return round(self.config.heartbeat * stretch * 1000) if stretch > 1 else 0

    def settle(self, now: float, wall_us: int) -> None:
        """Members unheard for the grace since the last settle turn away: a change each (the longest unheard
        come first, so this costs what changed, not the room's size)."""
        turned = []
        grace = self.grace()
        for user, heard in self._present.items():
            if now - heard <= grace:
                break
            turned.append(user)
        for user in turned:
            del self._present[user]
            self._away.add(user)
            self.log.changed(user, self.tick(wall_us))

    def away(self, user: str, now: float) -> bool:
        return now - self.heard.get(user, -float("inf")) > self.grace()

    def gone(self, now: float) -> list[str]:
        """Members not heard from for longer than ``expiry`` (none when it is 0), to be dropped."""
        if self.config.expiry <= 0:
            return []
        return [user for user, heard in self.heard.items() if now - heard > self.config.expiry]

    def members(self, now: float) -> list[chat_pb2.Member]:
        return [chat_pb2.Member(user_name=user, away=self.away(user, now), read_seq=self.reads.get(user, 0),
                                since=since) for user, since in sorted(self.since.items())]

    def member(self, user: str) -> chat_pb2.Member:
        """``user`` as of the last settle."""
        return chat_pb2.Member(user_name=user, away=user in self._away, read_seq=self.reads.get(user, 0),
                               since=self.since[user])

    def listing(self, request: Message, now: float, wall_us: int
                ) -> tuple[list[chat_pb2.Member], int, chat_pb2.MemberPage | None]:
        """What a join, poll or ``Members`` reply carries of the list: (members, as of, page).

        A request with ``members_since`` gets a page (:meth:`MemberLog.page`) and no whole list; one
        without gets the whole list while the room has up to ``whole_list_max`` members, else none (and
        as of 0, which our older clients take for "no list here")."""
        if request.HasField("members_since"):
            self.settle(now, wall_us)
            cursor = request.members_since
            return [], self.tick(wall_us), self.log.page(cursor.version, cursor.origin, self.member,
                                                         self.config.page_bytes, cursor.listing)
        if len(self.since) > self.config.whole_list_max:
            return [], 0, None
        return self.members(now), self.tick(wall_us), None

    def changes(self, version: int) -> chat_pb2.MemberPage:
        """The changes since ``version`` (of this log's origin), for a batched push."""
        return self.log.page(version, self.log.origin, self.member, self.config.page_bytes)

    # -- typing -------------------------------------------------------------------------
    def may_type(self, user: str, now: float) -> bool:
        """Whether a typing push from ``user`` goes out now (at most one per ``typing_interval``)."""
        last = self._typed.get(user)
        if last is not None and now - last < self.config.typing_interval:
            return False
        self._typed[user] = now
        return True

    # -- read positions -------------------------------------------------------------------
    def read_position(self, user: str) -> int:
        return self.reads.get(user, 0)

    def read(self, user: str, seq: int, wall_us: int = 0) -> bool:
        """``user`` has read up to ``seq`` (durably); True if that moved its position forward."""
        if seq <= self.reads.get(user, 0):
            return False
        self.reads[user] = seq
        if user in self.since:
            self.log.changed(user, self.tick(wall_us))
        return True
