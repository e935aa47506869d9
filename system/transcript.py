"""A room's transcript as its owner holds it: numbered messages, the numbers handed out, the ids seen (sans-I/O).

Numbers are handed out when a send is accepted (*staged*) and become part
of the transcript only when the store says they are durable (*committed*);
reads see committed messages only, so nobody is ever shown a message that
a failed write then takes back. ``seq`` runs from 1 without gaps and
``timestamp`` (unix µs) grows strictly, even when the wall clock steps
back, because the last one handed out is remembered (and stored).

The transcript keeps the newest ``limit`` messages and the client message
ids of the newest ``dedup_window`` sends, the same window the store keeps.
"""

from __future__ import annotations

import bisect
import itertools
from collections import OrderedDict, deque

from system.pb import chat_pb2
from system.store import RoomRecord, StoredMessage


class Transcript:
    """One room's committed messages and the numbers staged ahead of them."""

    def __init__(self, room: str, limit: int, dedup_window: int, record: RoomRecord | None = None) -> None:
        if limit < 1:
            raise ValueError("history limit must be at least 1")
        self.room = room
        self.limit = limit
        self.dedup_window = dedup_window
        self.messages: deque[chat_pb2.ChatMessage] = deque(maxlen=limit)
        self.sent: OrderedDict[tuple[str, str], tuple[int, int]] = OrderedDict()  # (user, cmid) -> (seq, ts)
        self.last_seq = 0            # committed
        self.last_timestamp = 0      # committed
        self.trimmed_last_timestamp = 0  # timestamp of the newest message trimmed away (a bound after a reload)
        self.staged_seq = 0          # handed out, committed or not
        self.staged_timestamp = 0
        self.trimmed_through = 0     # the store has dropped messages up to this seq (asked, at least)
        self.ids_trimmed_through = 0
        if record is not None:
            self._load(record)

    def _load(self, record: RoomRecord) -> None:
        self.messages.extend(self._message(m) for m in record.messages)
        for s in record.sent:
            self._remember(s.user, s.client_msg_id, s.seq, s.timestamp)
        self.last_seq = self.staged_seq = record.last_seq
        self.last_timestamp = self.staged_timestamp = record.last_timestamp
        if self.messages and self.messages[0].seq > 1:
            self.trimmed_last_timestamp = self.messages[0].timestamp - 1
        elif not self.messages and record.last_seq:
            self.trimmed_last_timestamp = record.last_timestamp
        self.trimmed_through = max(0, record.last_seq - self.limit)
        self.ids_trimmed_through = max(0, record.last_seq - self.dedup_window)

    def _message(self, m: StoredMessage) -> chat_pb2.ChatMessage:
        return chat_pb2.ChatMessage(user_name=m.user, message=m.text, timestamp=m.timestamp, seq=m.seq,
                                    room_name=self.room, client_msg_id=m.client_msg_id)

    # -- numbering ---------------------------------------------------------------
    def stage(self, user: str, text: str, client_msg_id: str, now: int) -> StoredMessage:
        """Number a new message (not yet durable)."""
        self.staged_seq += 1
        self.staged_timestamp = max(now, self.staged_timestamp + 1)
        return StoredMessage(self.staged_seq, self.staged_timestamp, user, text, client_msg_id)

    def commit(self, messages: list[StoredMessage]) -> list[chat_pb2.ChatMessage]:
        """The store made these durable (in seq order): they are part of the transcript now."""
        out = []
        for m in messages:
            if len(self.messages) == self.limit:
                self.trimmed_last_timestamp = self.messages[0].timestamp
            msg = self._message(m)
            self.messages.append(msg)
            self.last_seq, self.last_timestamp = m.seq, m.timestamp
            if m.client_msg_id:
                self._remember(m.user, m.client_msg_id, m.seq, m.timestamp)
            out.append(msg)
        return out

    def sent_as(self, user: str, client_msg_id: str) -> tuple[int, int] | None:
        """(seq, timestamp) of a committed send with this id, if it is still remembered."""
        return self.sent.get((user, client_msg_id)) if client_msg_id else None

    def _remember(self, user: str, cmid: str, seq: int, ts: int) -> None:
        self.sent[(user, cmid)] = (seq, ts)
        while len(self.sent) > self.dedup_window:
            self.sent.popitem(last=False)

    def trim_points(self) -> tuple[int, int]:
        """What the store may drop now: (messages up to seq, ids up to seq); 0 when not worth a statement yet."""
        out = []
        for window, done, attr in ((self.limit, self.trimmed_through, "trimmed_through"),
                                   (self.dedup_window, self.ids_trimmed_through, "ids_trimmed_through")):
            target = self.staged_seq - window
            if target > done and target - done >= max(16, window // 64):
                setattr(self, attr, target)
                out.append(target)
            else:
                out.append(0)
        return out[0], out[1]

    # -- reading -------------------------------------------------------------------
    @property
    def first_available_seq(self) -> int:
        return self.messages[0].seq if self.messages else self.last_seq + 1

    def recent(self, count: int) -> list[chat_pb2.ChatMessage]:
        if count <= 0:
            return []
        start = max(0, len(self.messages) - count)
        return list(itertools.islice(self.messages, start, None))

    def after(self, after_seq: int, after_timestamp: int, limit: int) -> tuple[list[chat_pb2.ChatMessage], bool, bool]:
        """Messages after the cursor (seq wins when > 0): (page, truncated, has_more)."""
        if after_seq > 0:
            truncated = self.first_available_seq > after_seq + 1 and after_seq < self.last_seq
            start = max(0, after_seq - self.first_available_seq + 1)
        else:
            truncated = self.trimmed_last_timestamp > after_timestamp
            start = bisect.bisect_right(self.messages, after_timestamp, key=lambda m: m.timestamp)
        stop = min(len(self.messages), start + limit)
        page = list(itertools.islice(self.messages, start, stop))  # one walk; deque indexing is O(n) mid-way
        return page, truncated, stop < len(self.messages)
