"""The node's push hub: one bounded queue per registered gate.

A push never blocks and never fails a send: it is put on the recipient's
gate queue with ``put_nowait`` or it fails with a typed :class:`PushError`.
Every failure, including envelopes still queued when a gate's stream ends,
goes through the one ``on_failure`` sink, which logs and counts it; so the
``push_failed`` log lines and the failure counter always agree.

No sockets here: the node's ``RegisterGate`` handler drains a
:class:`GateChannel`, and tests can drain it directly.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from google.protobuf import any_pb2
from google.protobuf.message import Message

from system import clientid, contract
from system.metrics import Metrics
from system.pb import goverse_pb2

T = TypeVar("T")


@dataclass(frozen=True)
class PushMeta:
    """What a push is about, for the failure log: the message and its recipients' names."""

    room: str = ""
    seq: int = 0
    sender: str = ""
    users: Mapping[str, str] = field(default_factory=dict)  # client id -> recipient user name


class PushError(Exception):
    """A push that did not reach a gate queue; ``reason`` is a stable log/metric label."""

    reason = "push_failed"

    def __init__(self, client_id: str, detail: str, meta: PushMeta | None = None) -> None:
        super().__init__(f"push to {client_id!r} failed ({self.reason}): {detail}")
        self.client_id = client_id
        self.detail = detail
        self.meta = meta or PushMeta()


class MalformedClientIdError(PushError):
    reason = contract.MALFORMED_CLIENT_ID


class GateNotConnected(PushError):
    reason = contract.GATE_NOT_CONNECTED


class GateBufferFull(PushError):
    reason = contract.GATE_BUFFER_FULL


class GateDisconnected(PushError):
    """The envelope was queued, but the gate's stream ended before it was sent."""

    reason = contract.GATE_DISCONNECTED


@dataclass
class Outgoing:
    """One envelope queued for one gate, with what is needed to report its loss."""

    envelope: goverse_pb2.ClientMessageEnvelope
    meta: PushMeta


class Mailbox(Generic[T]):
    """A bounded queue feeding one server stream, for one reader; ``get()`` returns None when the stream must end.

    Used for a gate's queue on the node and for a client's queue on the gate. A gate holds one per
    client, mostly idle, so it is lean: no ``asyncio.Queue`` (four deques of 64 slots and an Event,
    about 3 KiB), just a deque made on the first offer and a future only while the reader waits.
    """

    __slots__ = ("name", "capacity", "closed", "accepted", "_items", "_waiter")

    def __init__(self, name: str, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a buffer must hold at least 1 message")
        self.name = name
        self.capacity = capacity
        self.closed = False  # no more offers; the reader gets None once what is queued is gone
        self.accepted = 0  # items ever taken by offer(): what was delivered to this queue
        self._items: deque[T] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items) if self._items else 0

    def offer(self, item: T) -> bool:
        """Put without blocking; False when full or closed."""
        if self.closed or len(self) >= self.capacity:
            return False
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        self.accepted += 1
        self._wake()
        return True

    async def get(self) -> T | None:
        """The next item; None once the stream must end. Safe to cancel: nothing is taken until it returns."""
        while not self._items:
            if self.closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()

    def finish(self) -> None:
        """Let the reader send what is queued, then end."""
        if not self.closed:
            self.closed = True
            self._wake()

    def close(self) -> list[T]:
        """End the stream now: take what is still queued and wake the reader, who gets None."""
        left = list(self._items or ())
        self._items = None
        self.closed = True
        self._wake()
        return left

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


GateChannel = Mailbox[Outgoing]


class PushHub:
    """Registered gates and the push API used by objects."""

    def __init__(self, gate_buffer: int = 1024, metrics: Metrics | None = None,
                 on_failure: Callable[[PushError], None] | None = None) -> None:
        self.gate_buffer = gate_buffer
        self.metrics = metrics
        self.on_failure = on_failure or (lambda err: None)
        self._gates: dict[str, GateChannel] = {}

    def gates(self) -> list[str]:
        return sorted(self._gates)

    def register(self, gate_addr: str) -> GateChannel:
        """Open a gate's queue; a gate that registers again takes over its old queue's envelopes."""
        channel: GateChannel = Mailbox(gate_addr, self.gate_buffer)
        old = self._gates.get(gate_addr)
        if old is not None:
            for item in old.close():
                channel.offer(item)
        self._gates[gate_addr] = channel
        self._gauge()
        return channel

    def current(self, channel: GateChannel) -> bool:
        """Whether ``channel`` is its gate's queue still (no newer registration took over)."""
        return self._gates.get(channel.name) is channel

    def unregister(self, channel: GateChannel, in_flight: Outgoing | None = None,
                   held: Iterable[Outgoing] = ()) -> bool:
        """Forget a gate whose stream ended; queued envelopes fail as ``gate_disconnected``.

        ``held``: envelopes taken off the queue but not sent yet (a fault point held them back).
        Returns False when the channel had been replaced by a newer registration
        (then nothing is reported: its envelopes moved to the new channel).
        """
        lost = ([in_flight] if in_flight is not None else []) + list(held)
        current = self._gates.get(channel.name) is channel
        if current:
            del self._gates[channel.name]
            lost += channel.close()
            self._gauge()
        for item in lost:
            for cid in item.envelope.client_ids:
                self._fail(GateDisconnected(cid, f"gate {channel.name} stream ended", item.meta))
        return current

    def close(self) -> None:
        """Node shutdown: end every gate stream (their handlers report what was left)."""
        for channel in list(self._gates.values()):
            channel.finish()

    def push_message_to_client(self, client_id: str, message: Message, meta: PushMeta | None = None) -> None:
        """Queue ``message`` for one client; raise a :class:`PushError` (already reported) on failure."""
        errors = self.push_message_to_clients([client_id], message, meta)
        if errors:
            raise errors[0]

    def push_message_to_clients(self, client_ids: Iterable[str], message: Message,
                                meta: PushMeta | None = None) -> list[PushError]:
        """Queue ``message`` for many clients: ONE envelope per gate; return the failures (already reported)."""
        meta = meta or PushMeta()
        by_gate: dict[str, list[str]] = {}
        errors: list[PushError] = []
        ids = list(client_ids)
        if self.metrics:
            self.metrics.attempted.inc(len(ids))
        for cid in ids:
            try:
                gate_addr, _ = clientid.parse(cid)
            except clientid.MalformedClientId as exc:
                errors.append(self._fail(MalformedClientIdError(cid, str(exc), meta)))
                continue
            by_gate.setdefault(gate_addr, []).append(cid)
        if not by_gate:
            return errors
        packed = any_pb2.Any()
        packed.Pack(message)
        for gate_addr, cids in by_gate.items():
            channel = self._gates.get(gate_addr)
            if channel is None or channel.closed:  # closed: the node is shutting down
                errors += [self._fail(GateNotConnected(c, f"gate {gate_addr} is not connected", meta)) for c in cids]
                continue
            envelope = goverse_pb2.ClientMessageEnvelope(client_ids=cids, message=packed)
            if not channel.offer(Outgoing(envelope, meta)):
                detail = f"gate {gate_addr} buffer of {channel.capacity} is full"
                errors += [self._fail(GateBufferFull(c, detail, meta)) for c in cids]
                continue
            if self.metrics:
                self.metrics.delivered.inc(len(cids))
        return errors

    def _fail(self, err: PushError) -> PushError:
        self.on_failure(err)
        return err

    def _gauge(self) -> None:
        if self.metrics:
            self.metrics.connected_gates.set(len(self._gates))
