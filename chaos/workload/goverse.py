"""Clients that speak Goverse's chat protocol through its gate, and record what they do as the history.

Goverse's protocol (its ``samples/chat``, 1122ada): ``Register`` (a stream whose first item is the client
id, then pushes), ``CallObject`` on ``ChatRoom-<room>`` with ``Join`` (user name and client id) and
``SendMessage`` (user name and text). A message is ``(user_name, message, timestamp)``: no seq, no client
message id, and a push names no room. So the workload identifies a message by its text, which it makes
unique and readable: ``<client>#<n> <room> xxx…``; the first word is the ``client_msg_id`` in the history,
the second the room a receiver files it under. Goverse's rooms have no read of their messages (no
``GetRecentMessages``), so a client shows what it is pushed, and nothing else: there is no poll, no
catch-up after a reconnection, no final poll (the checker's rules that need one say n/a).

Goverse pushes each message to its sender too; each push is shown as it comes (a client of Goverse's
shows every push: a duplicate push is a duplicate shown). Goverse's welcome lines in a Join reply
(``SYSTEM``) are not chat messages and are not shown. When the stream ends, the client registers again
(a new client id) and joins its rooms again, as Goverse's own client would have to: the room only
pushes to the client id it was last given.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import grpc
from google.protobuf import any_pb2

from chaos.history import History
from chaos.workload.client import CONNECT_DEADLINE, CONNECT_RETRY, Counts, _describe
from system import log
from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc

CALL_TIMEOUT = 5.0
BACKOFF = (0.1, 0.2, 0.5, 1.0)  # seconds between registration attempts after a lost stream
SYSTEM_USER = "SYSTEM"           # Goverse's welcome lines in a Join reply


def text_of(client: str, n: int, room: str, size: int) -> str:
    """A unique text of ``size`` bytes naming its id and room: ``alice#3 General xxx``."""
    head = f"{client}#{n} {room} "
    return head + "x" * max(0, size - len(head))


def read_text(text: str) -> tuple[str, str]:
    """(client_msg_id, room) of a workload text; ("", "") for a text the workload did not write."""
    parts = text.split(" ", 2)
    return (parts[0], parts[1]) if len(parts) >= 2 and "#" in parts[0] else ("", "")


@dataclass
class _Link:
    """What ``hostile`` and the runner read of a client: its id and whether it is registered."""

    client_id: str = ""
    connected: bool = False


@dataclass
class GoverseClient:
    """One chaos client of Goverse (``chaos.workload.WorkloadClient``'s interface)."""

    name: str
    addr: str
    history: History
    counts: Counts
    client: _Link = field(default_factory=_Link)
    sent: int = 0
    shown: set[tuple[str, str]] = field(default_factory=set)              # (room, client_msg_id) shown
    acked: list[tuple[str, str, float]] = field(default_factory=list)      # (room, cmid, invoke monotonic)
    joined_at: dict[str, float] = field(default_factory=dict)              # room -> first join (monotonic)

    def __post_init__(self) -> None:
        self._channel: grpc.aio.Channel | None = None
        self._stub: gate_pb2_grpc.GateServiceStub | None = None
        self._stream: Any = None
        self._reading = asyncio.Event()
        self._reading.set()
        self._rooms: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    # the fault injector's ClientControl
    def stop_reading(self) -> None:
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    async def start(self, rooms: Iterable[str]) -> None:
        log.current_user.set(self.name)
        self._rooms = list(rooms)
        self.history.invoke(self.name, "connect", {"addr": self.addr})
        deadline = time.monotonic() + CONNECT_DEADLINE
        while True:
            try:
                client_id = await self._register()
                break
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() >= deadline:
                    raise
                self.history.info(self.name, "connect_retry", {"error": _describe(exc)})
                await asyncio.sleep(CONNECT_RETRY)
        self.history.ok(self.name, "connect", {"client_id": client_id})
        for room in self._rooms:
            self.history.invoke(self.name, "join", {"room": room})
            try:
                await self._join(room)
            except Exception as exc:
                self.history.fail(self.name, "join", {"room": room, "error": _describe(exc)})
                raise
            self.joined_at.setdefault(room, time.monotonic())
            self.history.ok(self.name, "join", {"room": room, "client_id": client_id})
        self._task = asyncio.create_task(self._run())

    async def _register(self) -> str:
        """A new channel and Register stream; the client id its first item gives."""
        await self._close_channel()
        self._channel = grpc.aio.insecure_channel(self.addr)
        self._stub = gate_pb2_grpc.GateServiceStub(self._channel)
        self._stream = self._stub.Register(gate_pb2.Empty())
        first = await asyncio.wait_for(self._stream.read(), CALL_TIMEOUT)
        reply = gate_pb2.RegisterResponse()
        if first is grpc.aio.EOF or not first.Unpack(reply):
            raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(),
                                       "the Register stream's first item was not a RegisterResponse")
        self.client = _Link(reply.client_id, True)
        return reply.client_id

    async def _call(self, room: str, method: str, request: Any) -> None:
        assert self._stub is not None
        packed = any_pb2.Any()
        packed.Pack(request)
        await self._stub.CallObject(gate_pb2.CallObjectRequest(
            client_id=self.client.client_id, type="ChatRoom", id=f"ChatRoom-{room}", method=method, request=packed),
            timeout=CALL_TIMEOUT)

    async def _join(self, room: str) -> None:
        await self._call(room, "Join", chat_pb2.ChatRoom_JoinRequest(user_name=self.name,
                                                                     client_id=self.client.client_id))

    async def _run(self) -> None:
        """Read pushes until the stream ends; then register and join again, until closed."""
        while not self._closed:
            error: BaseException | None = None
            try:
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any end of the stream is a lost link
                error = exc
            if self._closed:
                return
            self.client.connected = False
            self.history.info(self.name, "stream_end", {"error": _describe(error) if error else None})
            await self._reconnect(error)

    async def _read(self) -> None:
        while True:
            await self._reading.wait()
            item = await self._stream.read()
            if item is grpc.aio.EOF:
                return
            note = chat_pb2.Client_NewMessageNotification()
            if item.Unpack(note):
                self._pushed(note.message)

    def _pushed(self, message: chat_pb2.ChatMessage) -> None:
        cmid, room = read_text(message.message)
        value = {"room": room, "seq": 0, "client_msg_id": cmid or message.message[:40], "sender": message.user_name}
        self.history.ok(self.name, "push", value)
        self.counts.pushes += 1
        self.history.ok(self.name, "deliver", {**value, "source": "push"})
        self.shown.add((room, value["client_msg_id"]))

    async def _reconnect(self, error: BaseException | None) -> None:
        attempt = 0
        while not self._closed:
            wait = BACKOFF[min(attempt, len(BACKOFF) - 1)]
            attempt += 1
            self.history.invoke(self.name, "reconnect", {"attempt": attempt,
                                                         "error": _describe(error) if error else None, "wait": wait})
            await asyncio.sleep(wait)
            try:
                client_id = await self._register()
                for room in self._rooms:
                    await self._join(room)
            except (grpc.aio.AioRpcError, asyncio.TimeoutError) as exc:
                error = exc
                self.client.connected = False
                continue
            self.history.ok(self.name, "reconnect", {"client_id": client_id, "recovered": 0})
            self.counts.reconnects += 1
            return

    async def send(self, room: str, text_bytes: int) -> None:
        self.sent += 1
        cmid = f"{self.name}#{self.sent}"
        text = text_of(self.name, self.sent, room, text_bytes)
        began = time.monotonic()
        self.history.invoke(self.name, "send", {"room": room, "client_msg_id": cmid, "text": text[:40]})
        try:
            await self._call(room, "SendMessage", chat_pb2.ChatRoom_SendChatMessageRequest(user_name=self.name,
                                                                                           message=text))
        except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - nothing says whether it was stored
            task = asyncio.current_task()
            if isinstance(exc, asyncio.CancelledError) and (task is None or task.cancelling()):
                raise  # this send loop is being stopped
            # else gRPC cancelled the call: the channel it was on closed when the client registered again
            self.history.info(self.name, "send", {"room": room, "client_msg_id": cmid, "error": _describe(exc)
                                                  if not isinstance(exc, asyncio.CancelledError) else
                                                  "CANCELLED: its channel closed (the client registered again)"})
            self.counts.sends_indefinite += 1
            return
        self.history.ok(self.name, "send", {"room": room, "client_msg_id": cmid})
        self.acked.append((room, cmid, began))
        self.counts.sends_ok += 1

    async def send_loop(self, rooms: list[str], rate: float, until: float, text_bytes: int) -> None:
        """Send round-robin over ``rooms`` at ``rate``/s until ``until`` (monotonic); never bursts to catch up."""
        log.current_user.set(self.name)
        interval, next_at, i = 1.0 / rate, time.monotonic(), 0
        while (now := time.monotonic()) < until:
            if next_at > now:
                await asyncio.sleep(min(next_at, until) - now)
                continue
            await self.send(rooms[i % len(rooms)], text_bytes)
            i += 1
            next_at = max(next_at + interval, time.monotonic() - interval)

    def caught_up(self, acked: Iterable[tuple[str, str, str, float]]) -> bool:
        """Registered, and shown every acknowledged message (room, cmid, sender, invoke) of another's sent since
        it joined: all a Goverse client can be shown, since nothing is polled."""
        if not self.client.connected:
            return False
        return all((room, cmid) in self.shown for room, cmid, sender, began in acked
                   if sender != self.name and began >= self.joined_at.get(room, float("inf")))

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._close_channel()

    async def _close_channel(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
        if self._channel is not None:
            await self._channel.close()
        self._channel = self._stream = None


def acknowledged(clients: Iterable[GoverseClient]) -> list[tuple[str, str, str, float]]:
    """(room, cmid, sender, invoke) of every acknowledged send of these clients."""
    return [(room, cmid, c.name, began) for c in clients for room, cmid, began in c.acked]
