"""A room's presence: who is in it, who is away, who is typing, how far each has read (sans-I/O).

Three promises, each different:

- membership is stored (the room's ``members``) and its changes are pushed
  best effort; the list rides on every poll reply and on ``Members``, so a
  client that missed a push converges;
- *away* is derived, never stored: a member not heard from (any call,
  including the client's ``Members`` heartbeat) for ``grace`` seconds is
  away, so a member whose push stream is gone shows as such;
- a member not heard from for ``expiry`` seconds is gone: the room drops it
  from its stored members and tells the others it left, so members are
  bounded by who is still around, not by who ever joined;
- typing is ephemeral: pushed to the others, never stored or polled, and
  rate-limited per member here;
- read positions are stored and only move forward.

Times: ``now`` is a monotonic reading in seconds (away, rate limits); the
*presence clock* (:meth:`Presence.tick`) is unix µs, strictly increasing
within the room, so a client can tell a newer list or notification from an
older one that arrived late.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from system.pb import chat_pb2


@dataclass(frozen=True)
class PresenceConfig:
    grace: float = 15.0            # s without a call before a member shows as away
    typing_expiry: float = 3.0     # s a receiver shows "typing" after it was sent, unless refreshed
    typing_interval: float = 1.0   # s between two typing pushes of one member (more are refused)
    expiry: float = 3600.0         # s without a call before a member is dropped from the room (0: never)


class Presence:
    """One room's members as the store has them, with when each was last heard from."""

    def __init__(self, config: PresenceConfig, members: Mapping[str, str], reads: Mapping[str, int],
                 now: float, wall_us: int) -> None:
        self.config = config
        self._clock = wall_us
        self.since: dict[str, int] = {user: self.tick(wall_us) for user in members}
        self.reads: dict[str, int] = {user: seq for user, seq in reads.items() if seq > 0}
        self.heard: dict[str, float] = {user: now for user in members}  # a restart gives everyone the grace
        self._typed: dict[str, float] = {}

    def tick(self, wall_us: int) -> int:
        """The presence clock: unix µs, strictly increasing even if the wall clock steps back."""
        self._clock = max(wall_us, self._clock + 1)
        return self._clock

    # -- membership (after the store made it durable) ----------------------------------
    def joined(self, user: str, now: float, wall_us: int) -> int | None:
        """``user`` is a member now; the presence time of the change, or None if it already was."""
        self.heard[user] = now
        if user in self.since:
            return None
        self.since[user] = self.tick(wall_us)
        return self.since[user]

    def left(self, user: str, wall_us: int) -> int | None:
        if self.since.pop(user, None) is None:
            return None
        self.heard.pop(user, None)
        self._typed.pop(user, None)
        return self.tick(wall_us)

    def heard_from(self, user: str | None, now: float) -> None:
        """A call from ``user``: not away (a non-member's call changes nothing)."""
        if user is not None and user in self.since:
            self.heard[user] = now

    def away(self, user: str, now: float) -> bool:
        return now - self.heard.get(user, -float("inf")) > self.config.grace

    def gone(self, now: float) -> list[str]:
        """Members not heard from for longer than ``expiry`` (none when it is 0), to be dropped."""
        if self.config.expiry <= 0:
            return []
        return [user for user, heard in self.heard.items() if now - heard > self.config.expiry]

    def members(self, now: float) -> list[chat_pb2.Member]:
        return [chat_pb2.Member(user_name=user, away=self.away(user, now), read_seq=self.reads.get(user, 0),
                                since=since) for user, since in sorted(self.since.items())]

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

    def read(self, user: str, seq: int) -> bool:
        """``user`` has read up to ``seq`` (durably); True if that moved its position forward."""
        if seq <= self.reads.get(user, 0):
            return False
        self.reads[user] = seq
        return True
