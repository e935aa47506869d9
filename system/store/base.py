"""What a room store keeps and promises, whatever the backend.

A room's state is its numbered messages, the last seq and timestamp it
handed out, the recent client message ids (for idempotent retries), its
members and how far each user has read (a position that only moves forward). A store hands a room to one owner at a time: :meth:`Store.claim`
returns a fencing *token* that grows on every claim, and every write
carries it, so a write from an owner that has since been replaced is
refused by the store itself (:class:`Fenced`), never silently applied.

A write (:class:`Batch`) is atomic and durable when :meth:`Store.write`
returns. When it raises, :class:`StoreError.definite` says whether the write
surely did not happen (the transaction was rolled back, or never sent) or
may have happened (the connection died around the commit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol


class StoreError(Exception):
    """A store operation failed; ``definite``: it surely changed nothing; ``full``: out of disk;
    ``rejected``: the store refused what this write holds (a value it cannot keep, a constraint), so
    another write may well succeed where this one failed."""

    def __init__(self, message: str, *, definite: bool, full: bool = False, rejected: bool = False) -> None:
        super().__init__(message)
        self.definite = definite
        self.full = full
        self.rejected = rejected


class Fenced(StoreError):
    """The room was claimed by another owner since our claim: our write was refused."""

    def __init__(self, room: str, token: int) -> None:
        super().__init__(f"room {room!r} has a newer owner than token {token}: write refused", definite=True)
        self.room = room
        self.token = token


def check_sequence(room: str, last_seq: int, messages: list["StoredMessage"]) -> None:
    """A write must continue the room's numbering exactly: no gap, no seq used twice."""
    expected = last_seq + 1
    for m in messages:
        if m.seq != expected:
            raise StoreError(f"room {room!r}: message seq {m.seq} does not follow seq {expected - 1}; "
                             "nothing written", definite=True)
        expected += 1


def unstorable(text: str) -> str | None:
    """Why some store cannot keep ``text``, or None when every store can: the one rule the node checks
    requests against, so that what one store keeps, all do (PostgreSQL ``TEXT`` refuses NUL; no store
    can encode a lone surrogate to UTF-8; the memory store would keep both)."""
    if "\x00" in text:
        return "it contains a NUL character (U+0000)"
    surrogate = _SURROGATE.search(text)
    if surrogate is not None:
        return f"it contains a lone surrogate (U+{ord(surrogate.group()):04X}), which is not UTF-8"
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


class StoreUnusable(Exception):
    """The store cannot be opened (corrupt, newer schema, in use, unreachable): the node must not start."""


@dataclass(frozen=True)
class StoredMessage:
    """One chat message as stored; ``timestamp`` in unix microseconds, unique and increasing per room."""

    seq: int
    timestamp: int
    user: str
    text: str
    client_msg_id: str = ""


@dataclass(frozen=True)
class SentId:
    """A client message id the room remembers, with the numbers it was stored under."""

    user: str
    client_msg_id: str
    seq: int
    timestamp: int


@dataclass
class RoomRecord:
    """A room as a new owner finds it: enough to serve it without reading the store again."""

    room: str
    token: int                 # fencing token of this claim
    last_seq: int = 0          # the last seq ever handed out (trimmed or not)
    last_timestamp: int = 0    # the last timestamp ever handed out
    messages: list[StoredMessage] = field(default_factory=list)   # the kept ones, by seq
    sent: list[SentId] = field(default_factory=list)              # the dedup window, by seq
    members: dict[str, str] = field(default_factory=dict)         # user -> client id
    explicit: bool = False     # created by CreateObject (not one of the configured rooms)
    reads: dict[str, int] = field(default_factory=dict)           # user -> last seq it read


@dataclass
class Batch:
    """Changes to one room, applied atomically: new messages, member changes, trimming."""

    messages: list[StoredMessage] = field(default_factory=list)
    joined: dict[str, str] = field(default_factory=dict)     # user -> client id
    left: list[str] = field(default_factory=list)            # users
    read: dict[str, int] = field(default_factory=dict)       # user -> seq read (a store keeps the highest)
    keep_messages_after: int = 0   # delete messages with seq <= this (the history limit)
    keep_ids_after: int = 0        # forget client message ids stored at seq <= this (the dedup window)

    def __bool__(self) -> bool:
        return bool(self.messages or self.joined or self.left or self.read)


@dataclass(frozen=True)
class Limits:
    """How much of a room a claim loads (and the store keeps)."""

    history: int = 10000
    dedup: int = 10000


class Store(Protocol):
    """A place rooms outlive their node. Methods are coroutines; none blocks the event loop."""

    #: Identity of this store's data, made when the store was created: a node that lost its
    #: data comes back with another epoch, one that restarted on the same data with the same.
    epoch: int
    #: False for the memory store: it loses everything when its process ends.
    durable: bool
    #: Where the data lives, for logs and messages.
    where: str

    async def open(self) -> None:
        """Create or check the schema and take what the store needs; raise StoreUnusable to refuse."""

    async def close(self) -> None: ...

    async def room_names(self) -> list[tuple[str, bool]]:
        """Every stored room as (name, explicit), in creation order."""

    async def claim(self, room: str, limits: Limits, create: bool, explicit: bool = False) -> RoomRecord | None:
        """Become the room's owner (a new token); None when it does not exist and ``create`` is false."""

    async def write(self, room: str, token: int, batch: Batch) -> None:
        """Apply ``batch`` atomically and durably, only if ``token`` is still the room's newest."""

    async def drop(self, room: str) -> bool:
        """Delete a room and everything in it; False if there was none."""
