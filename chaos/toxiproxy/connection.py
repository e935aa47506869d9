"""One proxied connection: the accepted client socket, the dialled upstream, the two pipes.

As in the real server, the end of one direction closes the other socket
fully (no half-close), a dead upstream closes the accepted client, and a
reset closes both sockets with a TCP RST.

Unlike the real server (which dials in its accept loop), the dial runs
beside the accepted client, which is read meanwhile: a client that gives up
before the upstream answers is noticed at once and its socket closed, not
left in CLOSE-WAIT until the dial ends (a busy upstream's full accept queue
holds a dial for about two minutes of SYN retries). A client that closes
having said nothing ends the dial; one that said something keeps it, so
what it said still reaches the upstream; every dial is bounded by the
proxy's ``dial_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from typing import TYPE_CHECKING

from . import jsonlog
from .address import format_addr, split_host_port
from .pipe import HIGH_WATER, Pipe
from .toxicset import DOWNSTREAM, UPSTREAM

if TYPE_CHECKING:  # type only: the proxy (parent) owns its connections and imports this module
    from .proxy import Proxy

__all__ = ["Connection", "Side"]

_LINGER_RST = struct.pack("ii", 1, 0)


def _rst(transport: asyncio.BaseTransport | None) -> None:
    """Close with a TCP RST: SO_LINGER 0, then close without flushing."""
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        except OSError:
            pass
    transport.abort()


class _Early:
    """Stands in for a pipe until it exists: keeps what a socket says before then.

    The upstream socket is paused until both pipes exist, but an event loop may
    deliver a first read anyway (uvloop does). The accepted client is read
    while the dial runs, up to ``HIGH_WATER`` bytes kept, then paused.
    """

    __slots__ = ("data", "eof", "size", "side")
    fast = False

    def __init__(self, side: "Side") -> None:
        self.data: list[bytes] = []
        self.eof = False
        self.size = 0
        self.side = side

    @property
    def src_paused(self) -> bool:
        return self.size >= HIGH_WATER

    def feed(self, data: bytes) -> None:
        self.data.append(data)
        self.size += len(data)
        if self.src_paused and self.side.transport is not None:
            self.side.transport.pause_reading()

    def feed_eof(self) -> None:
        self.eof = True

    def replay(self, pipe: Pipe) -> None:
        for data in self.data:
            pipe.feed_fast(data) if pipe.fast else pipe.feed(data)
        if self.eof:
            pipe.feed_eof()


class Side(asyncio.Protocol):
    """One socket of a connection; feeds the pipe reading it, drains the pipe writing it."""

    def __init__(self, conn: "Connection", accepted: bool) -> None:
        self.conn = conn
        self.accepted = accepted
        self.transport: asyncio.Transport | None = None
        self.reader: Pipe | _Early = _Early(self)  # the pipe that reads this socket
        self.sink: Pipe | None = None  # the pipe that writes this socket
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.accepted:  # read while dialling: a client that gives up meanwhile is seen (module docstring)
            self.conn.accepted()
        else:
            transport.pause_reading()  # type: ignore[attr-defined]  # until both pipes exist

    def data_received(self, data: bytes) -> None:
        pipe = self.reader
        if pipe.fast:  # the no-toxic path: straight into the other socket
            pipe.out.write(data)  # type: ignore[union-attr]
            pipe.fast_bytes += len(data)  # type: ignore[union-attr]
        else:
            pipe.feed(data)

    def eof_received(self) -> bool:
        self.reader.feed_eof()
        if self.accepted and self.conn.pipes is None:
            self.conn.client_closed_early()
        return True  # keep the socket: the other direction may still write to it

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.side_lost(self)

    def pause_writing(self) -> None:
        if self.sink is not None:
            self.sink.dst_pause()

    def resume_writing(self) -> None:
        if self.sink is not None:
            self.sink.dst_resume()


class Connection:
    """An accepted client, its upstream socket and the two pipes between them."""

    def __init__(self, proxy: "Proxy", dial_timeout: float) -> None:
        self.proxy = proxy
        self.dial_timeout = dial_timeout
        self.client = Side(self, accepted=True)
        self.upstream = Side(self, accepted=False)
        self.pipes: tuple[Pipe, Pipe] | None = None
        self.dial_task: asyncio.Task | None = None
        self.peer = ""
        self.done = False

    def accepted(self) -> None:
        peer = self.client.transport.get_extra_info("peername")  # type: ignore[union-attr]
        self.peer = format_addr(peer) if peer else "?"
        if not self.proxy.enabled:
            self.abort()
            return
        self.proxy.connections.add(self)
        self.dial_task = asyncio.get_running_loop().create_task(self._dial())

    async def _dial(self) -> None:
        proxy = self.proxy
        upstream = proxy.upstream
        try:
            host, port = split_host_port(upstream)
            async with asyncio.timeout(self.dial_timeout):
                await asyncio.get_running_loop().create_connection(lambda: self.upstream, host, port)
        except (OSError, ValueError, asyncio.TimeoutError) as exc:
            error = str(exc) if not isinstance(exc, asyncio.TimeoutError) else \
                f"no answer within {self.dial_timeout:g} s (the dial timeout)"
            jsonlog.event(logging.WARNING, "upstream_dial_failed", proxy=proxy.name,
                          client=self.peer, upstream=upstream, error=error)
            if self.client.transport is not None:
                self.client.transport.close()
            self._finish()
            return
        if self.done or self.client.lost:
            self.upstream.transport.abort()  # type: ignore[union-attr]
            self._finish()
            return
        up = Pipe(self, UPSTREAM, self.client, self.upstream)
        down = Pipe(self, DOWNSTREAM, self.upstream, self.client)
        early = (self.client.reader, self.upstream.reader)
        self.client.reader = self.upstream.sink = up
        self.upstream.reader = self.client.sink = down
        self.pipes = (up, down)
        proxy.toxics.attach(up)
        proxy.toxics.attach(down)
        jsonlog.event(logging.INFO, "connection_opened", proxy=proxy.name, client=self.peer,
                      upstream=upstream)
        for side in (self.client, self.upstream):
            if side.lost:  # went away while we were dialling (the upstream, too: reset once connected)
                side.sink.dst_gone()  # type: ignore[union-attr]  # before the replay: nothing is written to it
        for said, pipe in zip(early, self.pipes):
            said.replay(pipe)  # type: ignore[union-attr]
        for side in (self.client, self.upstream):
            if not side.lost and not side.reader.src_paused:  # type: ignore[union-attr]
                side.transport.resume_reading()  # type: ignore[union-attr]
        if self.client.lost and self.upstream.lost:
            self._finish()

    def client_closed_early(self) -> None:
        """The client sent its EOF before the upstream answered: with nothing to pass on, stop dialling."""
        early = self.client.reader
        if isinstance(early, _Early) and not early.data and not self.done:
            jsonlog.event(logging.INFO, "upstream_dial_abandoned", proxy=self.proxy.name, client=self.peer,
                          upstream=self.proxy.upstream, reason="the client closed before the upstream answered")
            self.abort()

    def side_lost(self, side: Side) -> None:
        side.lost = True
        side.reader.feed_eof()  # nothing more will come from this socket
        if side.sink is not None:
            side.sink.dst_gone()
        if self.client.lost and (self.upstream.lost or self.pipes is None):
            if self.dial_task is not None and not self.dial_task.done():
                self.dial_task.cancel()
            self._finish()

    def abort(self) -> None:
        """Close both sockets now (FIN, unsent data dropped): proxy disabled or deleted."""
        for side in (self.client, self.upstream):
            if side.transport is not None:
                side.transport.abort()
        if self.dial_task is not None and not self.dial_task.done():
            self.dial_task.cancel()
        self._finish()

    def reset(self) -> None:
        """Close both sockets with a TCP RST."""
        _rst(self.client.transport)
        _rst(self.upstream.transport)
        self._finish()

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        proxy = self.proxy
        proxy.connections.discard(self)
        if self.pipes is None:
            return
        for pipe in self.pipes:
            pipe.close()
            proxy.toxics.detach(pipe)
            proxy.closed_bytes[pipe.direction][0] += pipe.received
            proxy.closed_bytes[pipe.direction][1] += pipe.sent
        jsonlog.event(logging.INFO, "connection_closed", proxy=proxy.name, client=self.peer,
                      upstream_bytes=self.pipes[0].sent, downstream_bytes=self.pipes[1].sent)
