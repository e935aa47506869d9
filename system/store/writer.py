"""One room's write pipeline: changes queue up, one task writes them in order, each batch at once.

A room numbers a message when it accepts the send, but acknowledges it only
once the store says it is durable. Sends that arrive while a write is in
flight wait in the queue and go together in the next write (group commit
within the room; the SQLite store also groups across rooms). Writes are
never reordered, so what is durable is always a prefix of what was numbered.

One bad change never fails the others. A shared write the store refused
(surely not applied, not fenced, not for a full disk) is written again
change by change; a change the store refuses on its own (``rejected``: what
it holds, not the store's state) fails alone, the messages numbered after
it move down to close the gap (their numbers are only promised once
durable), and the owner is told through ``on_dropped``.

When a write fails otherwise (the store is away, fenced, full, or the
outcome is unknown), it and everything queued behind it fail (they follow a
seq that was not stored, so storing them would leave a gap), and the owner
is told once through ``on_failure`` so it can forget its numbering and
reload from the store before the next change. Change by change, the first
such failure ends it the same way: a store that is away is not waited for
once per send.

``group=False`` writes one change at a time instead (one store write, so
one sync, per send): only to measure what grouping buys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace

from system.store.base import Batch, Fenced, Store, StoredMessage, StoreError


@dataclass
class _Change:
    batch: Batch
    future: asyncio.Future[Batch]


class RoomWriter:
    """Writes ``room``'s changes with ``token``; ``on_durable(batch)`` runs, in order, before any waiter wakes.

    A change's future resolves to its batch as written: a message in it may have been numbered again.
    ``on_dropped(batch, error)`` says a change the store refused alone failed, and its messages' numbers
    were given to the ones after it.
    """

    def __init__(self, store: Store, room: str, token: int, *, on_durable: Callable[[Batch], None],
                 on_failure: Callable[[StoreError], None],
                 on_dropped: Callable[[Batch, StoreError], None] = lambda batch, error: None,
                 trim: Callable[[], tuple[int, int]] | None = None, group: bool = True) -> None:
        self.store = store
        self.room = room
        self.token = token
        self.on_durable = on_durable
        self.on_failure = on_failure
        self.on_dropped = on_dropped
        self.trim = trim
        self.group = group
        self.writes = 0          # store writes made (changes / writes = how many shared one)
        self._queue: list[_Change] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def submit(self, messages: list[StoredMessage] | None = None, joined: dict[str, str] | None = None,
               left: list[str] | None = None, read: dict[str, int] | None = None) -> asyncio.Future[Batch]:
        """Queue a change now (its place in the order is taken at once); await the future for durability."""
        future: asyncio.Future[Batch] = asyncio.get_running_loop().create_future()
        if self._closed:
            future.set_exception(StoreError(f"room {self.room!r} is closed", definite=True))
            return future
        self._queue.append(_Change(Batch(list(messages or ()), dict(joined or {}), list(left or ()), dict(read or {})), future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name=f"writer {self.room}")
        return future

    async def _drain(self) -> None:
        while self._queue:
            take = len(self._queue) if self.group else 1
            changes, self._queue = self._queue[:take], self._queue[take:]
            batch = _merge([c.batch for c in changes])
            if self.trim is not None:
                batch.keep_messages_after, batch.keep_ids_after = self.trim()
            failure = await self._write(batch, changes)
            if failure is None:
                self.on_durable(batch)
                for change in changes:
                    _settle(change.future, change.batch)
            elif len(changes) == 1 and _alone(failure):
                self._drop(changes[0], failure, [])
            elif len(changes) > 1 and _isolable(failure):
                await self._one_by_one(changes)
            else:
                self._give_up(changes, failure)

    async def _write(self, batch: Batch, changes: list[_Change]) -> StoreError | None:
        """One store write; the error it failed with, or None when it is durable."""
        try:
            await self.store.write(self.room, self.token, batch)
        except asyncio.CancelledError:  # closing while writing: the outcome is unknown
            unknown = StoreError(f"room {self.room!r} closed while writing", definite=False)
            self.on_failure(unknown)
            _fail(changes + self._queue, unknown)
            self._queue = []
            raise
        except Exception as exc:  # noqa: BLE001 - a store's bug is still a failed write, not a dead room
            return exc if isinstance(exc, StoreError) else StoreError(
                f"store write failed ({type(exc).__name__}: {exc})", definite=False)
        self.writes += 1
        return None

    async def _one_by_one(self, changes: list[_Change]) -> None:
        """A shared write failed: write its changes alone, so that only one the store refuses fails."""
        for i, change in enumerate(changes):
            failure = await self._write(change.batch, changes[i:])
            if failure is None:
                self._durable(change)
            elif _alone(failure):
                self._drop(change, failure, changes[i + 1:])
            else:
                self._give_up(changes[i:], failure)
                return

    def _durable(self, change: _Change) -> None:
        self.on_durable(change.batch)
        _settle(change.future, change.batch)

    def _drop(self, change: _Change, failure: StoreError, later: list[_Change]) -> None:
        """Fail ``change`` alone; the messages numbered after it (``later``, then the queue) take its numbers."""
        _fail([change], failure)
        gone = len(change.batch.messages)
        if gone:
            after = change.batch.messages[-1].seq
            for other in later + self._queue:
                other.batch.messages = [replace(m, seq=m.seq - gone) if m.seq > after else m
                                        for m in other.batch.messages]
        self.on_dropped(change.batch, failure)

    def _give_up(self, changes: list[_Change], failure: StoreError) -> None:
        """Fail ``changes`` and all queued behind them; the owner reloads before its next change."""
        behind, self._queue = self._queue, []
        self.on_failure(failure)
        _fail(changes, failure)
        _fail(behind, StoreError(f"not stored: an earlier write to room {self.room!r} failed ({failure})",
                                 definite=True))

    async def close(self) -> None:
        """Let what is queued be written, then refuse more."""
        self._closed = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


def _alone(failure: StoreError) -> bool:
    """The store refused what this change holds, surely without applying it: the others may go on."""
    return failure.rejected and failure.definite and not isinstance(failure, Fenced)


def _isolable(failure: StoreError) -> bool:
    """A shared write worth writing again change by change: surely not applied, and not for a reason that
    fails every change alike (another owner, a full disk)."""
    return failure.definite and not failure.full and not isinstance(failure, Fenced)


def _merge(batches: list[Batch]) -> Batch:
    out = Batch()
    for b in batches:
        out.messages += b.messages
        for user in b.left:
            out.joined.pop(user, None)
        out.joined.update(b.joined)
        out.left = [u for u in out.left if u not in b.joined] + [u for u in b.left if u not in out.left]
        for user, seq in b.read.items():
            out.read[user] = max(seq, out.read.get(user, 0))
    return out


def _fail(changes: list[_Change], error: StoreError) -> None:
    for change in changes:
        _settle(change.future, error)


def _settle(future: asyncio.Future[Batch], result: Batch | BaseException) -> None:
    if future.done():
        return
    if isinstance(result, Batch):
        future.set_result(result)
    else:
        future.set_exception(result)
        future.exception()  # retrieved: a waiter that gave up must not cause "never retrieved" noise
