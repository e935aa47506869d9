"""The TCP side: proxies listening, their connections, and the links carrying bytes.

Each accepted client gets a :class:`Connection` with two sockets (``Side``s)
and two :class:`Link`s, ``upstream`` (client -> server) and ``downstream``
(server -> client). A link with no toxics is on the fast path: the reading
socket's ``data_received`` writes straight into the other transport, and
transport flow control (pause/resume) carries TCP backpressure through. When
a toxic is added the link switches to a pipeline of stages (see
``toxics/stage.py``); when the last toxic is removed and the pipeline has
drained, it goes back to the fast path.

As in the real server, the end of one direction closes the other socket
fully (no half-close), a dead upstream closes the accepted client, and
disabling or deleting a proxy closes its listener and every connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import struct
import time
from typing import Any

from . import jsonlog
from .decode import ApiError
from .toxics import WAKE, Channel, Chunk, Meter, Stub
from .toxics.noop import Noop
from .toxicset import DOWNSTREAM, UPSTREAM, ToxicSet, ToxicSpec

__all__ = ["Proxy", "Connection", "Link", "split_host_port", "format_addr"]

#: A link stops reading its source while this many bytes wait in its pipeline.
HIGH_WATER = 1 << 20
LOW_WATER = 1 << 18

_LINGER_RST = struct.pack("ii", 1, 0)
_NOOP = Noop()

ERR_ALREADY_STARTED = "proxy already started"


def split_host_port(addr: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port); ValueError with Go's wording."""
    host, sep, port = addr.rpartition(":")
    if not sep:
        raise ValueError(f"address {addr}: missing port in address")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"address {addr}: too many colons in address")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"address {addr}: invalid port")
    return host, int(port)


def format_addr(sockname: tuple) -> str:
    host, port = sockname[0], sockname[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


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


class _Stage:
    """One toxic running on one link."""

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


class Link:
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

    # -- pipeline -------------------------------------------------------
    def start(self, specs: list[ToxicSpec]) -> None:
        for spec in specs:
            self.add_stage(spec)

    def _enter_pipeline(self) -> None:
        self.fast = False
        self.head = self.tail = Channel(self.meter)
        self.writer = asyncio.get_running_loop().create_task(self._write())

    def _leave_pipeline(self) -> None:
        self.head = self.tail = None
        self.writer = None
        self.fast = True

    async def _write(self) -> None:
        tail: Channel = self.tail  # type: ignore[assignment]
        out = self.out
        while True:
            if not self.stages and not len(tail) and not self.dead:
                self._leave_pipeline()
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
            self._enter_pipeline()
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
        """Interrupt a toxic, pass on what it held and what waits for it, then unlink it."""
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


class _Early:
    """Stands in for a link until it exists: keeps what a socket says before then.

    Reading is paused until both links exist, but an event loop may deliver a
    first read anyway (uvloop does).
    """

    __slots__ = ("data", "eof")
    fast = False

    def __init__(self) -> None:
        self.data: list[bytes] = []
        self.eof = False

    def feed(self, data: bytes) -> None:
        self.data.append(data)

    def feed_eof(self) -> None:
        self.eof = True

    def replay(self, link: Link) -> None:
        for data in self.data:
            link.feed_fast(data) if link.fast else link.feed(data)
        if self.eof:
            link.feed_eof()


class Side(asyncio.Protocol):
    """One socket of a connection; feeds the link reading it, drains the link writing it."""

    def __init__(self, conn: "Connection", accepted: bool) -> None:
        self.conn = conn
        self.accepted = accepted
        self.transport: asyncio.Transport | None = None
        self.reader: Link | _Early = _Early()  # the link that reads this socket
        self.sink: Link | None = None  # the link that writes this socket
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.pause_reading()  # type: ignore[attr-defined]  # until both links exist
        if self.accepted:
            self.conn.accepted()

    def data_received(self, data: bytes) -> None:
        link = self.reader
        if link.fast:  # the no-toxic path: straight into the other socket
            link.out.write(data)  # type: ignore[union-attr]
            link.fast_bytes += len(data)  # type: ignore[union-attr]
        else:
            link.feed(data)

    def eof_received(self) -> bool:
        self.reader.feed_eof()
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
    """An accepted client, its upstream socket and the two links between them."""

    def __init__(self, proxy: "Proxy") -> None:
        self.proxy = proxy
        self.client = Side(self, accepted=True)
        self.upstream = Side(self, accepted=False)
        self.links: tuple[Link, Link] | None = None
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
            await asyncio.get_running_loop().create_connection(lambda: self.upstream, host, port)
        except (OSError, ValueError) as exc:
            jsonlog.event(logging.WARNING, "upstream_dial_failed", proxy=proxy.name,
                          client=self.peer, upstream=upstream, error=str(exc))
            if self.client.transport is not None:
                self.client.transport.close()
            self._finish()
            return
        if self.done or self.client.lost:
            self.upstream.transport.abort()  # type: ignore[union-attr]
            self._finish()
            return
        up = Link(self, UPSTREAM, self.client, self.upstream)
        down = Link(self, DOWNSTREAM, self.upstream, self.client)
        early = (self.client.reader, self.upstream.reader)
        self.client.reader = self.upstream.sink = up
        self.upstream.reader = self.client.sink = down
        self.links = (up, down)
        proxy.toxics.attach(up)
        proxy.toxics.attach(down)
        jsonlog.event(logging.INFO, "connection_opened", proxy=proxy.name, client=self.peer,
                      upstream=upstream)
        for said, link in zip(early, self.links):
            said.replay(link)  # type: ignore[union-attr]
        for side in (self.client, self.upstream):
            if side.lost:  # went away while we were dialling
                side.sink.dst_gone()  # type: ignore[union-attr]
            elif not side.reader.src_paused:  # type: ignore[union-attr]
                side.transport.resume_reading()  # type: ignore[union-attr]
        if self.client.lost and self.upstream.lost:
            self._finish()

    def side_lost(self, side: Side) -> None:
        side.lost = True
        side.reader.feed_eof()  # nothing more will come from this socket
        if side.sink is not None:
            side.sink.dst_gone()
        if self.client.lost and (self.upstream.lost or self.links is None):
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
        if self.links is None:
            return
        for link in self.links:
            link.close()
            proxy.toxics.detach(link)
            proxy.closed_bytes[link.direction][0] += link.received
            proxy.closed_bytes[link.direction][1] += link.sent
        jsonlog.event(logging.INFO, "connection_closed", proxy=proxy.name, client=self.peer,
                      upstream_bytes=self.links[0].sent, downstream_bytes=self.links[1].sent)


async def bind_listener(listen: str) -> socket.socket:
    """Bind and listen on ``listen`` the way Go's ``net.Listen`` reports it; ApiError 500 if not."""
    try:
        host, port = split_host_port(listen)
    except ValueError as exc:
        raise ApiError(f"listen tcp {listen}: {exc}", 500) from None
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise ApiError(f"listen tcp: lookup {host}: no such host", 500) from None
    wanted = socket.AF_INET6 if not host else socket.AF_INET  # Go: "" is dual-stack, names prefer v4
    infos.sort(key=lambda info: info[0] != wanted)
    family, type_, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and not host:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(sockaddr)
        sock.listen(socket.SOMAXCONN)
    except OSError as exc:
        sock.close()
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        raise ApiError(f"listen tcp {listen}: bind: {reason}", 500) from None
    sock.setblocking(False)
    return sock


class Proxy:
    """A named listener that forwards every accepted connection to ``upstream``."""

    def __init__(self, name: str, listen: str, upstream: str) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.enabled = False
        self.toxics = ToxicSet()
        self.connections: set[Connection] = set()
        self.closed_bytes = [[0, 0], [0, 0]]  # per direction: received, sent (closed links)
        self._server: asyncio.AbstractServer | None = None

    def to_json(self) -> dict[str, Any]:
        # "Logger": the real Proxy's untagged *zerolog.Logger, which Go marshals as {}.
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream,
                "enabled": self.enabled, "Logger": {}, "toxics": self.toxics.to_json()}

    def byte_counts(self) -> list[list[int]]:
        """Per direction ``[received, sent]``, closed and open connections together."""
        counts = [list(pair) for pair in self.closed_bytes]
        for direction in (UPSTREAM, DOWNSTREAM):
            for link in self.toxics.links[direction]:
                counts[direction][0] += link.received  # type: ignore[attr-defined]
                counts[direction][1] += link.sent  # type: ignore[attr-defined]
        return counts

    async def start(self) -> None:
        if self.enabled:
            raise ApiError(ERR_ALREADY_STARTED, 500)
        sock = await bind_listener(self.listen)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Connection(self).client, sock=sock)
        self.listen = format_addr(sock.getsockname())
        self.enabled = True
        jsonlog.event(logging.INFO, "proxy_started", proxy=self.name, listen=self.listen,
                      upstream=self.upstream)

    def stop(self) -> None:
        """Stop listening and close every connection (the client sees EOF)."""
        if not self.enabled:
            return
        self.enabled = False
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.connections):
            conn.abort()
        jsonlog.event(logging.INFO, "proxy_stopped", proxy=self.name, listen=self.listen)

    async def update(self, listen: str, upstream: str, enabled: bool) -> None:
        """Partial update: a new address restarts the proxy; ``enabled`` starts or stops it."""
        if listen != self.listen or upstream != self.upstream:
            self.stop()
            self.listen, self.upstream = listen, upstream
        if enabled != self.enabled:
            if enabled:
                await self.start()
            else:
                self.stop()
