"""The plumbing a toxic runs on: timestamped chunks, channels, and the stub.

A pipe (one direction of one proxied connection) is a chain of stages joined
by channels, as in the real server: ``reader -> ch -> toxic -> ch -> ... ->
writer``. Putting into a channel never blocks; instead every channel of a
pipe shares one :class:`Meter`, and the pipe stops reading its source socket
while the bytes queued in its chain are above a high-water mark. So a toxic
that stops consuming (``stall``) makes the sender feel TCP backpressure, and
one that consumes and drops (``timeout``) does not.

A stage is interrupted (toxic updated or removed) by cancelling its task. A
toxic that holds a chunk across an ``await`` passes it on in a ``finally``
block, so an interrupt never drops data, and nothing here needs a socket.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import AsyncIterator, Callable

__all__ = ["Chunk", "Channel", "Meter", "Stub", "WAKE"]


class Chunk:
    """Bytes read from a socket, stamped with the monotonic time they arrived."""

    __slots__ = ("data", "ts")

    def __init__(self, data: bytes, ts: float) -> None:
        self.data = data
        self.ts = ts

    def __repr__(self) -> str:
        return f"Chunk({len(self.data)} bytes @ {self.ts:.6f})"


#: A marker the pipe puts on its last channel to wake its writer; toxics never see it.
WAKE = object()


class Meter:
    """Bytes queued across one pipe's channels, with hysteresis callbacks."""

    __slots__ = ("queued", "high", "low", "above", "_on_high", "_on_low")

    def __init__(self, high: int, low: int, on_high: Callable[[], None],
                 on_low: Callable[[], None]) -> None:
        self.queued = 0
        self.high = high
        self.low = low
        self.above = False
        self._on_high = on_high
        self._on_low = on_low

    def add(self, n: int) -> None:
        self.queued += n
        if not self.above and self.queued >= self.high:
            self.above = True
            self._on_high()

    def sub(self, n: int) -> None:
        self.queued -= n
        if self.above and self.queued <= self.low:
            self.above = False
            self._on_low()


class Channel:
    """An unbounded FIFO of chunks; ``None`` is end of stream. ``get`` is cancel-safe."""

    __slots__ = ("_items", "_waiter", "_meter")

    def __init__(self, meter: Meter | None = None) -> None:
        self._items: deque = deque()
        self._waiter: asyncio.Future | None = None
        self._meter = meter

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: object) -> None:
        self._items.append(item)
        if self._meter is not None and type(item) is Chunk:
            self._meter.add(len(item.data))  # type: ignore[attr-defined]
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> object:
        item = self._items.popleft()
        if self._meter is not None and type(item) is Chunk:
            self._meter.sub(len(item.data))  # type: ignore[attr-defined]
        return item

    async def get(self) -> object:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.get_nowait()

    def put_back(self, item: object) -> None:
        """Return an item to the front, as if it had never been taken."""
        self._items.appendleft(item)
        if self._meter is not None and type(item) is Chunk:
            self._meter.add(len(item.data))  # type: ignore[attr-defined]

    def move_to(self, other: "Channel") -> None:
        """Hand every queued item to ``other``, in order (a removed stage's backlog)."""
        while self._items:
            other.put(self.get_nowait())


class Stub:
    """What a toxic sees of its pipe: an input, an output, and per-pipe state."""

    __slots__ = ("input", "output", "state", "closed", "reset", "_on_reset")

    def __init__(self, input: Channel, output: Channel, state: object = None,
                 on_reset: Callable[[], None] | None = None) -> None:
        self.input = input
        self.output = output
        self.state = state
        self.closed = False
        self.reset = False
        self._on_reset = on_reset

    async def recv(self) -> Chunk | None:
        """The next chunk, or ``None`` at end of stream."""
        while True:
            item = await self.input.get()
            if item is not WAKE:
                return item  # type: ignore[return-value]

    async def chunks(self) -> AsyncIterator[Chunk]:
        """Each chunk until end of stream, then close the output (the usual toxic loop)."""
        while (chunk := await self.recv()) is not None:
            yield chunk
        self.close()

    def unrecv(self, item: Chunk | None) -> None:
        """Put a taken chunk (or the end of stream) back; for a stage being interrupted."""
        self.input.put_back(item)

    def send(self, chunk: Chunk) -> None:
        if not self.closed:
            self.output.put(chunk)

    def close(self, reset: bool = False) -> None:
        """End the stream downstream of this stage; ``reset`` asks for a TCP RST."""
        if self.closed:
            return
        self.closed = True
        if reset:
            self.reset = True
            if self._on_reset is not None:
                self._on_reset()
        self.output.put(None)
