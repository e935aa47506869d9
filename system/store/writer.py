"""One room's write pipeline: changes queue up, one task writes them in order, each batch at once.

A room numbers a message when it accepts the send, but acknowledges it only
once the store says it is durable. Sends that arrive while a write is in
flight wait in the queue and go together in the next write (group commit
within the room; the SQLite store also groups across rooms). Writes are
never reordered, so what is durable is always a prefix of what was numbered.

When a write fails, it and everything queued behind it fail (they follow a
seq that was not stored, so storing them would leave a gap), and the owner
is told once through ``on_failure`` so it can forget its numbering and
reload from the store before the next change.

``group=False`` writes one change at a time instead (one store write, so
one sync, per send): only to measure what grouping buys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from system.store.base import Batch, Store, StoredMessage, StoreError


@dataclass
class _Change:
    batch: Batch
    future: asyncio.Future[None]


class RoomWriter:
    """Writes ``room``'s changes with ``token``; ``on_durable(batch)`` runs, in order, before any waiter wakes."""

    def __init__(self, store: Store, room: str, token: int, *, on_durable: Callable[[Batch], None],
                 on_failure: Callable[[StoreError], None], trim: Callable[[], tuple[int, int]] | None = None,
                 group: bool = True) -> None:
        self.store = store
        self.room = room
        self.token = token
        self.on_durable = on_durable
        self.on_failure = on_failure
        self.trim = trim
        self.group = group
        self.writes = 0          # store writes made (changes / writes = how many shared one)
        self._queue: list[_Change] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def submit(self, messages: list[StoredMessage] | None = None, joined: dict[str, str] | None = None,
               left: list[str] | None = None, read: dict[str, int] | None = None) -> asyncio.Future[None]:
        """Queue a change now (its place in the order is taken at once); await the future for durability."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
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
            try:
                await self.store.write(self.room, self.token, batch)
            except asyncio.CancelledError:  # closing while writing: the outcome is unknown
                unknown = StoreError(f"room {self.room!r} closed while writing", definite=False)
                self.on_failure(unknown)
                _fail(changes + self._queue, unknown)
                self._queue = []
                raise
            except Exception as exc:  # noqa: BLE001 - a store's bug is still a failed write, not a dead room
                failure = exc if isinstance(exc, StoreError) else StoreError(
                    f"store write failed ({type(exc).__name__}: {exc})", definite=False)
                behind, self._queue = self._queue, []
                self.on_failure(failure)
                _fail(changes, failure)
                _fail(behind, StoreError(f"not stored: an earlier write to room {self.room!r} failed ({failure})",
                                         definite=True))
                continue
            self.writes += 1
            self.on_durable(batch)
            for change in changes:
                _settle(change.future, None)

    async def close(self) -> None:
        """Let what is queued be written, then refuse more."""
        self._closed = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


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


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
        future.exception()  # retrieved: a waiter that gave up must not cause "never retrieved" noise
