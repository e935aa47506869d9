"""What one client knows of one room: its cursor, what it showed, what it holds back (sans-I/O).

Messages are shown once and in seq order, whichever way they come (push,
poll, join): a message that follows a gap is held until the gap is filled,
then released in order; this is how a poll's answer and pushes that arrive
while it is in flight merge without gaps or duplicates (Centrifugo buffers
and merges by offset the same way). The user's own sends are known without
being shown.

A node that loses its data (a memory store, or a new data folder) starts
its rooms again from seq 1: a new *epoch*. A durable store names its data
with a *store epoch*, sent on every reply and push: a node that restarted
on the same data answers with the same epoch and goes on numbering, one
that lost it answers with another (:meth:`RoomView.is_new_epoch`). For a
server that sends no epoch, the view keeps an *anchor*, the timestamp of
the message at its cursor, and tells a fresh history by a different
timestamp at that seq (timestamps are unique per room) or a last seq below
what it knew.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from system.pb import chat_pb2

Held = tuple[chat_pb2.ChatMessage, str]  # a message and how it came (push, poll, join)
SILENCE_BACKOFF_MAX = 4  # a silent room's poll wait grows to this many sync intervals while its polls find nothing
SILENCE_JITTER = 0.5     # each wait is stretched by up to this fraction, at random
SILENCE_FAILED_MAX = 16  # while silence polls fail (a server too busy to answer), the wait grows this far instead
BEAT_JITTER = 0.2  # each heartbeat's wait is the interval give or take this fraction (well inside the node's grace)


@dataclass
class RoomView:
    """One room as one client sees it; every method is pure bookkeeping."""

    name: str
    joined: bool = False
    started: bool = False       # the cursor has been placed (first join or poll)
    cursor: int = 0             # every seq <= cursor is known
    seen: set[int] = field(default_factory=set)   # known seqs above the cursor
    messages: list[chat_pb2.ChatMessage] = field(default_factory=list)  # shown, in display order
    pending: dict[int, Held] = field(default_factory=dict)  # held behind a gap
    last_seq: int = 0           # the room's last seq, as last reported by the server
    truncated: bool = False     # some messages after the cursor were trimmed away before we got them
    anchor: tuple[int, int] | None = None   # (seq, timestamp) of a known message, for epoch checks
    recovering: bool = False    # a reconnect's recovery poll owns the room: no gap-fill polls
    last_activity: float = 0.0  # monotonic time of the last push, poll or join (for silence checks)
    quiet_polls: int = 0        # silence polls in a row that brought nothing (or failed): the next waits longer
    silence_wait: float = 0.0   # s of silence before the next silence poll, as drawn (0: draw it)
    silence_failing: bool = False  # the last silence poll failed: back off further
    filling: asyncio.Task[None] | None = None  # the catch-up poll, while it runs
    beat_every: float = 0.0     # s between heartbeats (and at least between silence polls) the room asked for (0: ours)
    next_beat: float = 0.0      # monotonic time from which this room's next heartbeat is due
    stale_before: int = 0       # after a reset: messages stamped up to this are from the old history
    epoch: int = 0              # store epoch of the history followed (0: the server sends none)
    _stamps: dict[int, int] = field(default_factory=dict, repr=False)  # timestamps of seen seqs

    def silent(self, now: float, interval: float, draw: Callable[[float, float], float]) -> bool:
        """Whether the room has been silent long enough for a silence poll.

        The wait is ``interval`` times 1, 2, 4 … up to SILENCE_BACKOFF_MAX while silence polls find nothing,
        each stretched by a random factor in [1, 1 + SILENCE_JITTER) (``draw``: ``random.uniform``): the
        members of a quiet room of thousands, joined or reconnected together, neither poll in step nor keep
        polling a room that says nothing, and a busy server is asked less, not more, when polls fail."""
        if not self.silence_wait:
            most = SILENCE_FAILED_MAX if self.silence_failing else SILENCE_BACKOFF_MAX
            self.silence_wait = interval * min(2 ** self.quiet_polls, most) * draw(1.0, 1.0 + SILENCE_JITTER)
        return now - self.last_activity >= self.silence_wait

    def silence_polled(self, now: float, found: bool, failed: bool = False) -> None:
        """A silence poll ended: it brought messages (``found``: back to the shortest wait) or not (longer), or
        ``failed`` (longer still: a server too busy to answer is not asked again every few seconds)."""
        self.quiet_polls = 0 if found else self.quiet_polls + 1
        self.silence_failing = failed
        self.silence_wait = 0.0
        self.last_activity = max(self.last_activity, now)

    def heard_by_room(self, now: float, draw: Callable[[float, float], float]) -> None:
        """A call of ours the room answered (a heartbeat, a join) heard us: in a room that asked for slower
        heartbeats, the next is due that long after (``draw``: ``random.uniform``, shortening it a little).
        After a reconnect storm, a member's re-join stands for its next heartbeat."""
        if self.beat_every:
            self.next_beat = now + self.beat_every * draw(1 - BEAT_JITTER, 1.0)

    def beat_due(self, now: float) -> bool:
        """Whether our heartbeat goes to this room at ``now``: joined, not being recovered (the re-join
        is our word), and its advised interval, if any, passed since the room last heard us."""
        return self.joined and not self.recovering and now >= self.next_beat

    def heard(self, now: float) -> None:
        """A push came: the room is not silent; its next silence, if any, is waited for from the shortest."""
        self.last_activity = now
        if self.quiet_polls:
            self.quiet_polls, self.silence_wait, self.silence_failing = 0, 0.0, False

    def known(self, seq: int) -> bool:
        return seq <= self.cursor or seq in self.seen

    @property
    def has_gap(self) -> bool:
        return bool(self.seen or self.pending)

    def offer(self, messages: Sequence[chat_pb2.ChatMessage], source: str, own: Sequence[bool] = ()) -> list[Held]:
        """Take messages from the server (``own[i]``: ours, not to be shown); return what is shown now, in order.

        A batch is held whole before anything is released, so a poll's copy of a message
        replaces a held push of it: what the server returned is what is shown.
        """
        for i, msg in enumerate(messages):
            if self.known(msg.seq) or msg.timestamp <= self.stale_before:
                continue
            if i < len(own) and own[i]:
                self.know(msg.seq, msg.timestamp)
            else:
                self.pending[msg.seq] = (msg, source)
        return self.release() if self.started else []

    def know(self, seq: int, timestamp: int = 0) -> None:
        """An own message (acknowledged, or met in history): known, never shown."""
        if not self.known(seq):
            self.seen.add(seq)
            if timestamp:
                self._stamps[seq] = timestamp
            self.pending.pop(seq, None)

    def own(self, seq: int, timestamp: int = 0) -> list[Held]:
        """Our send was acknowledged; return the held messages this releases."""
        self.know(seq, timestamp)
        return self.release() if self.started else []

    def release(self) -> list[Held]:
        """Advance the cursor over known and held messages; return the held ones, now shown."""
        out: list[Held] = []
        while True:
            nxt = self.cursor + 1
            if nxt in self.seen:
                self.seen.discard(nxt)
                stamp = self._stamps.pop(nxt, 0)
                self.cursor, self.anchor = nxt, ((nxt, stamp) if stamp else None)
            elif nxt in self.pending:
                msg, source = self.pending.pop(nxt)
                self.cursor, self.anchor = nxt, (nxt, msg.timestamp)
                self.messages.append(msg)
                out.append((msg, source))
            else:
                break
        if self.pending and min(self.pending) <= self.cursor:
            self.pending = {s: h for s, h in self.pending.items() if s > self.cursor}
        return out

    def place(self, seq: int) -> list[Held]:
        """First contact: everything up to ``seq`` is history we will not show."""
        self.started = True
        self.skip_to(seq)
        return self.release()

    def skip_to(self, seq: int) -> None:
        """Accept that everything up to ``seq`` is gone (trimmed) or not ours to show."""
        if seq > self.cursor:
            self.cursor, self.anchor = seq, None
            self.seen = {s for s in self.seen if s > seq}
            self._stamps = {s: t for s, t in self._stamps.items() if s > seq}

    def poll_after(self) -> int:
        """The ``after_seq`` to poll from: one before the cursor when the anchor can be checked."""
        if self.anchor is not None and self.anchor[0] == self.cursor and self.cursor > 0:
            return self.cursor - 1
        return self.cursor

    def high_water(self) -> int:
        """The highest seq we know exists; take it before a request, to judge the answer by."""
        return max(self.cursor, max(self.seen, default=0))

    def is_new_epoch(self, last_seq: int, messages: Sequence[chat_pb2.ChatMessage], high_water: int,
                     epoch: int = 0) -> bool:
        """Does the server's room (its store ``epoch``, or its ``last_seq`` and some messages) start a new history?

        With a store epoch on both sides, that decides. Without, ``high_water`` is
        :meth:`high_water` from before the request: a reply may be overtaken by
        pushes of newer messages, so only what we knew when we asked can contradict it.
        """
        if epoch and self.epoch:
            return epoch != self.epoch
        if last_seq < high_water:
            return True
        if self.anchor is not None:
            seq, stamp = self.anchor
            return any(m.seq == seq and m.timestamp != stamp for m in messages)
        return False

    def missing_before(self, first_available_seq: int, last_seq: int) -> bool:
        """True when messages we have not seen were trimmed before we could fetch them."""
        return first_available_seq > self.cursor + 1 and last_seq > self.cursor

    def adopt(self, epoch: int) -> None:
        """Follow the store epoch a reply named (the first one, or the one a reset moved to)."""
        if epoch:
            self.epoch = epoch

    def foreign(self, epoch: int) -> bool:
        """A push from another store epoch than the one followed: not ours to show as is."""
        return bool(epoch and self.epoch and epoch != self.epoch)

    def reset(self, last_seq: int, epoch: int = 0) -> None:
        """A new epoch: forget the old numbering; keep what was shown (it was shown).

        A push of the old history may still be on its way; the new history is stored
        later, so its timestamps are higher than any we have met, and that tells them apart.
        """
        stamps = [*self._stamps.values(), self.anchor[1] if self.anchor else 0,
                  self.messages[-1].timestamp if self.messages else 0]
        self.stale_before = max(self.stale_before, *stamps)
        self.cursor, self.anchor, self.truncated = 0, None, False
        self.seen.clear()
        self._stamps.clear()
        self.pending.clear()
        self.last_seq = last_seq
        self.epoch = epoch
        self.started = True
