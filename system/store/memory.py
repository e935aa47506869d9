"""The memory store: rooms live in this process and die with it.

Kept for comparison and for tests: it promises nothing across a crash, and
each start is a new epoch, so clients see a fresh history and say so.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass, field

from system.store.base import Batch, Fenced, Limits, RoomRecord, SentId, StoredMessage, check_sequence


@dataclass
class _Room:
    token: int = 0
    last_seq: int = 0
    last_timestamp: int = 0
    messages: OrderedDict[int, StoredMessage] = field(default_factory=OrderedDict)        # by seq
    sent: OrderedDict[tuple[str, str], SentId] = field(default_factory=OrderedDict)   # by seq
    members: dict[str, str] = field(default_factory=dict)
    explicit: bool = False
    reads: dict[str, int] = field(default_factory=dict)


class MemoryStore:
    durable = False
    where = "memory (lost when the node stops)"

    def __init__(self) -> None:
        self.epoch = random.SystemRandom().getrandbits(62) + 1
        self._rooms: dict[str, _Room] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def room_names(self) -> list[tuple[str, bool]]:
        return [(name, room.explicit) for name, room in self._rooms.items()]

    async def claim(self, room: str, limits: Limits, create: bool, explicit: bool = False) -> RoomRecord | None:
        state = self._rooms.get(room)
        if state is None:
            if not create:
                return None
            state = self._rooms[room] = _Room(explicit=explicit)
        state.token += 1
        kept = [m for m in state.messages.values() if m.seq > state.last_seq - limits.history]
        ids = [s for s in state.sent.values() if s.seq > state.last_seq - limits.dedup]
        return RoomRecord(room, state.token, state.last_seq, state.last_timestamp, kept, ids,
                          dict(state.members), state.explicit, dict(state.reads))

    async def write(self, room: str, token: int, batch: Batch) -> None:
        state = self._rooms.get(room)
        if state is None or state.token != token:
            raise Fenced(room, token)
        check_sequence(room, state.last_seq, batch.messages)
        for msg in batch.messages:
            state.messages[msg.seq] = msg
            if msg.client_msg_id:
                state.sent[(msg.user, msg.client_msg_id)] = SentId(msg.user, msg.client_msg_id, msg.seq, msg.timestamp)
            state.last_seq, state.last_timestamp = msg.seq, msg.timestamp
        state.members.update(batch.joined)
        for user in batch.left:
            state.members.pop(user, None)
        for user, seq in batch.read.items():
            state.reads[user] = max(seq, state.reads.get(user, 0))
        while state.messages and next(iter(state.messages)) <= batch.keep_messages_after:
            state.messages.popitem(last=False)
        while state.sent and next(iter(state.sent.values())).seq <= batch.keep_ids_after:
            state.sent.popitem(last=False)

    async def drop(self, room: str) -> bool:
        return self._rooms.pop(room, None) is not None
