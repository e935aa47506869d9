"""A pipe: one direction of one proxied connection, and the toxic stages on it.

A connection has two pipes, ``upstream`` (client -> server) and
``downstream`` (server -> client); Toxiproxy's Go code calls one a
``ToxicLink``. A pipe with no toxic is on the fast path: the reading
socket's ``data_received`` writes straight into the other transport, and
transport flow control (pause/resume) carries TCP backpressure through.
When a toxic is added the pipe switches to a chain of stages (see
``toxics/stage.py``); when the last toxic is removed and the chain has
drained, it goes back to the fast path.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING, Any

from . import jsonlog
from .toxics import WAKE, Channel, Chunk, Meter, Stub
from .toxics.noop import Noop
from .toxicset import ToxicSpec

if TYPE_CHECKING:  # type only: a connection (parent) owns its two pipes and imports this module
    from .connection import Connection, Side

__all__ = ["Pipe", "HIGH_WATER", "LOW_WATER"]

#: A pipe stops reading its source while this many bytes wait in its stages.
HIGH_WATER = 1 << 20
LOW_WATER = 1 << 18

_NOOP = Noop()


class _Stage:
    """One toxic running on one pipe."""

    __slots__ = ("spec", "stub", "task", "active")

    def __init__(self, spec: ToxicSpec, stub: Stub) -> None:
        self.spec = spec
        self.stub = stub
        self.task: asyncio.Task | None = None
        self.active = False

    def start(self) -> None:
        """Roll the toxicity (once per start) and run the toxic, or a noop."""
        self.active = random.random() < self.spec.toxicity
        toxic = self.spec.toxic if self.active else _NOOP
        self.task = asyncio.get_running_loop().create_task(self._run(toxic))

    async def _run(self, toxic: Any) -> None:
        try:
            await toxic.pipe(self.stub)
        except asyncio.CancelledError:
            raise
        except Exception:  # a toxic bug must not take the server down; end this stream
            jsonlog.exception("toxic_failed", toxic=self.spec.name)
            self.stub.close()

    async def stop(self) -> None:
        task = self.task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])


class Pipe:
    """One direction of one connection: reads ``src``, writes ``dst``, through its toxics."""

    __slots__ = ("conn", "direction", "src", "dst", "out", "fast", "dead", "eof", "closed",
                 "fast_bytes", "piped_in", "piped_out", "stages", "head", "tail", "writer",
                 "meter", "dst_full", "src_paused", "reset_pending", "_drain")

    def __init__(self, conn: "Connection", direction: int, src: "Side", dst: "Side") -> None:
        self.conn = conn
        self.direction = direction
        self.src = src
        self.dst = dst
        self.out: asyncio.WriteTransport = dst.transport  # type: ignore[assignment]
        self.fast = True
        self.dead = False  # the destination is gone: drop what comes
        self.eof = False
        self.closed = False
        self.fast_bytes = 0
        self.piped_in = 0
        self.piped_out = 0
        self.stages: list[_Stage] = []
        self.head: Channel | None = None
        self.tail: Channel | None = None
        self.writer: asyncio.Task | None = None
        self.meter = Meter(HIGH_WATER, LOW_WATER, self._flow, self._flow)
        self.dst_full = False
        self.src_paused = False
        self.reset_pending = False
        self._drain: asyncio.Future | None = None

    # -- counters -------------------------------------------------------
    @property
    def received(self) -> int:
        return self.fast_bytes + self.piped_in

    @property
    def sent(self) -> int:
        return self.fast_bytes + self.piped_out

    # -- input side -----------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Data from ``src`` while not on the fast path."""
        if self.dead:
            return
        self.piped_in += len(data)
        self.head.put(Chunk(data, time.monotonic()))  # type: ignore[union-attr]

    def feed_fast(self, data: bytes) -> None:
        self.out.write(data)
        self.fast_bytes += len(data)

    def feed_eof(self) -> None:
        if self.eof:
            return
        self.eof = True
        if self.dead:
            return
        if self.fast:
            self._finish()
        else:
            self.head.put(None)  # type: ignore[union-attr]

    def _finish(self) -> None:
        """End of stream reached the destination: close it (or reset the connection)."""
        if self.reset_pending:
            self.conn.reset()
        elif not self.out.is_closing():
            self.out.close()

    # -- flow control ---------------------------------------------------
    def _flow(self) -> None:
        pause = self.dst_full or self.meter.above
        if pause == self.src_paused:
            return
        self.src_paused = pause
        transport = self.src.transport
        if transport is None or transport.is_closing():
            return
        if pause:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def dst_pause(self) -> None:
        self.dst_full = True
        self._flow()

    def dst_resume(self) -> None:
        self.dst_full = False
        self._wake_writer()
        self._flow()

    def dst_gone(self) -> None:
        self.dead = True
        self.fast = False
        self._wake_writer()

    def _wake_writer(self) -> None:
        waiter = self._drain
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- stages ---------------------------------------------------------
    def start(self, specs: list[ToxicSpec]) -> None:
        for spec in specs:
            self.add_stage(spec)

    def _leave_fast_path(self) -> None:
        self.fast = False
        self.head = self.tail = Channel(self.meter)
        self.writer = asyncio.get_running_loop().create_task(self._write())

    def _back_to_fast_path(self) -> None:
        self.head = self.tail = None
        self.writer = None
        self.fast = True

    async def _write(self) -> None:
        tail: Channel = self.tail  # type: ignore[assignment]
        out = self.out
        while True:
            if not self.stages and not len(tail) and not self.dead:
                self._back_to_fast_path()
                return
            item = await tail.get()
            if item is None:
                if not self.dead:
                    self._finish()
                return
            if item is WAKE or self.dead:
                continue
            data = item.data  # type: ignore[attr-defined]
            out.write(data)
            self.piped_out += len(data)
            if self.dst_full and not self.dead:
                self._drain = asyncio.get_running_loop().create_future()
                try:
                    await self._drain
                finally:
                    self._drain = None

    def _find(self, spec: ToxicSpec) -> _Stage | None:
        for stage in self.stages:
            if stage.spec is spec:
                return stage
        return None

    def _want_reset(self) -> None:
        self.reset_pending = True

    def add_stage(self, spec: ToxicSpec) -> None:
        """Append a toxic at the end of the chain; data already past it is unaffected."""
        if self.closed or (self.fast and (self.eof or self.dead)):
            return
        if self.fast:
            self._leave_fast_path()
        inbox = Channel(self.meter)
        stub = Stub(inbox, self.tail, spec.toxic.new_state(), self._want_reset)  # type: ignore[arg-type]
        if self.stages:
            self.stages[-1].stub.output = inbox
        else:
            self.head = inbox
        stage = _Stage(spec, stub)
        self.stages.append(stage)
        stage.start()

    async def restart_stage(self, spec: ToxicSpec) -> None:
        """Interrupt a toxic and run it again with its new settings (and a new roll)."""
        stage = self._find(spec)
        if stage is None:
            return
        await stage.stop()
        if not self.closed and not stage.stub.closed:
            stage.start()

    async def remove_stage(self, spec: ToxicSpec) -> None:
        """Interrupt a toxic, pass on what it held and what waits for it, then take it out of the chain."""
        stage = self._find(spec)
        if stage is None:
            return
        await stage.stop()
        if self.closed:
            return
        stub = stage.stub
        if stage.active and not stub.closed:
            stage.spec.toxic.cleanup(stub)
        if not stub.closed:
            stub.input.move_to(stub.output)
        index = self.stages.index(stage)
        del self.stages[index]
        if index:
            self.stages[index - 1].stub.output = stub.output
        else:
            self.head = stub.output
        if not self.stages and self.tail is not None:
            self.tail.put(WAKE)

    def close(self) -> None:
        """Tear down: the connection is gone."""
        self.closed = True
        self.dead = True
        self.fast = False
        for stage in self.stages:
            if stage.task is not None:
                stage.task.cancel()
        if self.writer is not None:
            self.writer.cancel()
        self._wake_writer()
