"""In-process clusters, observers that record, log capture, a cuttable TCP relay and condition waits for the system tests."""

from __future__ import annotations

import asyncio
import json

import grpc
from google.protobuf import any_pb2
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from system.wait import wait_until  # noqa: F401 (the tests import it from here)
from system.client import ChatClient, Observer
from system.gate import GateConfig, GateServer
from system.log import JsonFormatter
from system.node import NodeConfig, NodeServer
from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc

# Short backoff and silence checks so a test spends its time on the fault, not on waiting.
FAST: dict[str, Any] = dict(backoff_min=0.05, backoff_max=0.5, healthy_after=1.0, sync_interval=1.0,
                            call_timeout=2.0, outage_wait=15.0)


class LogCapture(logging.Handler):
    """Every ``pushchat`` log record, as the JSON document the servers would write."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("test"))
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(json.loads(self.format(record)))

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["event"] == name]


@contextmanager
def capture_logs() -> Iterator[LogCapture]:
    logger = logging.getLogger("pushchat")
    handler, level = LogCapture(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@dataclass
class Cluster:
    nodes: list[NodeServer]
    gates: list[GateServer]
    clients: list[ChatClient]

    async def client(self, user: str, gate: int = 0, server: str | None = None, *, observers: tuple[object, ...] = (),
                     **options: Any) -> tuple[ChatClient, "Seen"]:
        """A connected client (closed on exit) whose first observer is the returned :class:`Seen`."""
        seen = Seen()
        client = ChatClient(server or self.gates[gate].addr, user, observers=[seen, *observers], **options)
        await client.connect()
        self.clients.append(client)
        return client, seen


@asynccontextmanager
async def cluster(nodes: int = 1, gates: int = 1, node: dict[str, Any] | None = None,
                  gate: dict[str, Any] | None = None) -> AsyncIterator[Cluster]:
    """Nodes and gates on 127.0.0.1 port 0, gates' node streams up; stopped on exit.

    Each node keeps its rooms in a SQLite store in a temporary folder of its own (unless ``node`` says otherwise).
    """
    c = Cluster([NodeServer(NodeConfig(**(node or {}))) for _ in range(nodes)], [], [])
    try:
        for n in c.nodes:
            n.bind()  # every node's address is known before any of them creates its objects
        keys = [n.advertise for n in c.nodes]
        for n in c.nodes:
            n.config.peers = tuple(k for k in keys if k != n.advertise)
            await n.start()
        for _ in range(gates):
            g = GateServer(GateConfig(nodes=tuple(n.addr for n in c.nodes), **(gate or {})))
            c.gates.append(g)
            await g.start()
        for g in c.gates:
            await g.wait_ready(10.0)
        yield c
    finally:
        for client in c.clients:
            await client.close()
        for g in c.gates:
            await g.stop(0.2)
        for n in c.nodes:
            await n.stop(0.2)


@dataclass
class RawClient:
    """A client made as Goverse's sample makes one: one channel, its Register stream, calls on that channel."""

    stub: gate_pb2_grpc.GateServiceStub
    client_id: str
    stream: Any
    channel: grpc.aio.Channel


@asynccontextmanager
async def goverse_client(addr: str, *, options: list[tuple[str, Any]] | None = None,
                         metadata: tuple[tuple[str, str], ...] = (),
                         channel: grpc.aio.Channel | None = None) -> AsyncIterator[RawClient]:
    """Register on ``addr`` (or on ``channel``) with bare stubs and no pushchat client code; closed on exit.

    Its channel has subchannels of its own: gRPC would otherwise let two channels of one process to one
    address share a TCP connection, and so one connection at the gate, as if they were one client."""
    own = channel is None
    channel = channel or grpc.aio.insecure_channel(addr, options=[("grpc.use_local_subchannel_pool", 1),
                                                                  *(options or [])])
    stub = gate_pb2_grpc.GateServiceStub(channel)
    stream = stub.Register(gate_pb2.Empty(), metadata=metadata)
    try:
        registered = gate_pb2.RegisterResponse()
        assert (await stream.read()).Unpack(registered)
        yield RawClient(stub, registered.client_id, stream, channel)
    finally:
        stream.cancel()
        if own:
            await channel.close()


class Seen(Observer):
    """What a client showed, and the pushes it got, as (room, seq, user, text, source)."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, int, str, str, str]] = []
        self.pushes: list[tuple[str, int]] = []
        self.ended: list[BaseException | None] = []

    def on_display(self, room: str, message: chat_pb2.ChatMessage, source: str) -> None:
        self.shown.append((room, message.seq, message.user_name, message.message, source))

    def on_push(self, room: str, message: chat_pb2.ChatMessage) -> None:
        self.pushes.append((room, message.seq))

    def on_stream_end(self, error: BaseException | None) -> None:
        self.ended.append(error)

    def texts(self, source: str | None = None) -> list[str]:
        return [s[3] for s in self.shown if source in (None, s[4])]


class Recorder(Seen):
    """Seen, plus every reconnection hook, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.reconnecting: list[tuple[int, float]] = []
        self.reconnected: list[tuple[str, int]] = []
        self.incomplete: list[tuple[str, int, int]] = []
        self.resets: list[str] = []

    def on_reconnecting(self, attempt: int, error: BaseException | None, wait: float) -> None:
        self.reconnecting.append((attempt, wait))

    def on_reconnected(self, client_id: str, recovered: int) -> None:
        self.reconnected.append((client_id, recovered))

    def on_recovery_incomplete(self, room: str, first_available_seq: int, cursor: int) -> None:
        self.incomplete.append((room, first_available_seq, cursor))

    def on_history_reset(self, room: str) -> None:
        self.resets.append(room)

    def shown_in(self, room: str) -> list[tuple[int, str, str]]:
        return [(seq, user, text) for r, seq, user, text, _ in self.shown if r == room]

    def sources(self, texts: list[str]) -> set[str]:
        return {s[4] for s in self.shown if s[3] in texts}


class Relay:
    """A TCP relay to ``target`` (changeable) whose connections can be cut or frozen."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.server: asyncio.Server | None = None
        self.port = 0
        self.frozen = asyncio.Event()  # set: bytes are swallowed, as on a silently dead link
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> "Relay":
        """Listen: on a free port the first time, on the same one again after :meth:`stop` (the link is back)."""
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def cut(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def stop(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = self.target.rsplit(":", 1)
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    if self.frozen.is_set():
                        continue
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def packed(message) -> any_pb2.Any:  # type: ignore[no-untyped-def]
    out = any_pb2.Any()
    out.Pack(message)
    return out


def call(method: str, request, client_id: str = "", room: str = "General") -> gate_pb2.CallObjectRequest:  # type: ignore[no-untyped-def]
    """A gate CallObject on a room, as a bare stub sends it."""
    return gate_pb2.CallObjectRequest(client_id=client_id, type="ChatRoom", id=f"ChatRoom-{room}", method=method,
                                      request=packed(request))
