"""The chat client library: a gate ``Register`` stream for pushes, calls for the rest.

Pushes are best effort, so the client keeps, per room, a cursor: every
message with ``seq <= cursor`` has been shown (or was the user's own send).
``poll`` asks for what came after the cursor. A message is shown once,
whether it arrives by push, by poll or in a join's recent history; it is
deduplicated on (room, seq), and shown in seq order: a push that arrives
after a gap (an earlier push was lost) is held back while the client polls
to fill the gap. The user's own acknowledged sends are marked as known
without being shown (they typed them), as Goverse's client does.

Observers (:class:`ClientObserver`) see every raw push, every message shown
and the end of the push stream; the workload records its history through
them. The stream is read by one task (:meth:`ChatClient._run_stream`) and
the joined rooms are kept in :attr:`ChatClient.rooms`, so re-registering
and re-joining (:meth:`ChatClient._rejoin_all`) can be added around them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message

from system import log
from system.grpcopts import DEFAULT_KEEPALIVE, Keepalive
from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc
from system.room import MANAGER_ID, ROOM_PREFIX

SOURCES = ("push", "poll", "join")
SEND_REPLY_TYPES = (chat_pb2.Client_SendChatMessageResponse, chat_pb2.ChatRoom_SendChatMessageResponse)

_log = log.get("client")


class ClientObserver(Protocol):
    def on_display(self, room: str, message: chat_pb2.ChatMessage, source: str) -> None:
        """A message was shown to the user, once per (room, seq); source is push, poll or join."""

    def on_push(self, room: str, message: chat_pb2.ChatMessage) -> None:
        """A push arrived (before deduplication)."""

    def on_stream_end(self, error: BaseException | None) -> None:
        """The Register stream ended without ``close()``: no more pushes until re-registered."""


class Observer:
    """A do-nothing :class:`ClientObserver` to subclass."""

    def on_display(self, room: str, message: chat_pb2.ChatMessage, source: str) -> None:
        pass

    def on_push(self, room: str, message: chat_pb2.ChatMessage) -> None:
        pass

    def on_stream_end(self, error: BaseException | None) -> None:
        pass


class ProtocolError(Exception):
    """The server answered something this client cannot read."""


@dataclass
class RoomState:
    """What the client knows of one room."""

    name: str
    joined: bool = False
    started: bool = False       # the cursor has been placed (first join or poll)
    cursor: int = 0             # every seq <= cursor is known
    seen: set[int] = field(default_factory=set)   # known seqs above the cursor
    messages: list[chat_pb2.ChatMessage] = field(default_factory=list)  # shown, in display order
    pending: dict[int, tuple[chat_pb2.ChatMessage, str]] = field(default_factory=dict)  # held behind a gap, with source
    last_seq: int = 0           # the room's last seq, as last reported by the server
    truncated: bool = False     # a poll found messages after the cursor trimmed away
    filling: asyncio.Task[None] | None = None  # the gap-filling poll, while it runs

    def mark(self, seq: int) -> bool:
        """Record ``seq`` as known; False when it already was."""
        if seq <= self.cursor or seq in self.seen:
            return False
        self.seen.add(seq)
        self._advance()
        return True

    def skip_to(self, seq: int) -> None:
        """Accept that everything up to ``seq`` is gone (the server trimmed it)."""
        self.cursor = max(self.cursor, seq)
        self._advance()

    def known(self, seq: int) -> bool:
        return seq <= self.cursor or seq in self.seen

    @property
    def has_gap(self) -> bool:
        return bool(self.seen or self.pending)

    def _advance(self) -> None:
        while self.cursor + 1 in self.seen:
            self.cursor += 1
        self.seen = {s for s in self.seen if s > self.cursor}
        self.pending = {s: m for s, m in self.pending.items() if s > self.cursor}


@dataclass(frozen=True)
class JoinResult:
    room: str
    last_seq: int
    recent: list[chat_pb2.ChatMessage]


@dataclass(frozen=True)
class SendResult:
    room: str
    client_msg_id: str
    seq: int
    timestamp: int
    duplicate: bool


@dataclass(frozen=True)
class PollResult:
    room: str
    messages: list[chat_pb2.ChatMessage]  # newly shown
    truncated: bool
    first_available_seq: int
    last_seq: int


class ChatClient:
    """One user on one gate: ``connect()`` for pushes (poll-only without it); calls raise AioRpcError."""

    def __init__(self, server: str, user: str, *, observers: Iterable[ClientObserver] = (),
                 keepalive: Keepalive = DEFAULT_KEEPALIVE, call_timeout: float = 5.0, page_size: int = 0) -> None:
        self.server = server
        self.user = user
        self.observers: list[ClientObserver] = list(observers)
        self.keepalive = keepalive
        self.call_timeout = call_timeout
        self.page_size = page_size
        self.client_id = ""
        self.rooms: dict[str, RoomState] = {}
        self.stream_done = asyncio.Event()
        self._channel: grpc.aio.Channel | None = None
        self._stub: gate_pb2_grpc.GateServiceStub | None = None
        self._call: grpc.aio.UnaryStreamCall | None = None
        self._listener: asyncio.Task[None] | None = None
        self._closing = False

    async def connect(self) -> str:
        """Open the Register stream, learn our client id, start listening for pushes."""
        self._call, self.client_id = await self._open_stream()
        self.stream_done.clear()
        self._listener = asyncio.create_task(self._run_stream(self._call), name=f"push-listener {self.user}")
        return self.client_id

    async def close(self) -> None:
        self._closing = True
        for state in self.rooms.values():
            if state.filling is not None:
                state.filling.cancel()
        if self._call is not None:
            self._call.cancel()
        if self._listener is not None:
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._channel is not None:
            await self._channel.close()
            self._channel, self._stub = None, None

    async def list_rooms(self) -> list[str]:
        reply = await self._invoke("ChatRoomMgr", MANAGER_ID, "ListChatRooms", chat_pb2.ChatRoom_ListRequest(),
                                   (chat_pb2.ChatRoom_ListResponse,))
        return list(reply.chat_rooms)

    async def join(self, room: str) -> JoinResult:
        """Join ``room``; its recent history is shown (source ``join``)."""
        state = self.rooms.setdefault(room, RoomState(room))
        was_joined, state.joined = state.joined, True  # pushes may race the reply: accept them already
        try:
            reply = await self._invoke("ChatRoom", ROOM_PREFIX + room, "Join",
                                       chat_pb2.ChatRoom_JoinRequest(user_name=self.user, client_id=self.client_id),
                                       (chat_pb2.ChatRoom_JoinResponse,))
        except BaseException:
            state.joined = was_joined
            raise
        recent = list(reply.recent_messages)
        if not state.started:
            state.started = True
            state.skip_to(recent[0].seq - 1 if recent else reply.last_seq)
        state.last_seq = max(state.last_seq, reply.last_seq)
        for msg in recent:
            self._accept(room, msg, "join")
        self._flush(room)
        return JoinResult(room, reply.last_seq, recent)

    async def leave(self, room: str) -> None:
        await self._invoke("ChatRoom", ROOM_PREFIX + room, "Leave",
                           chat_pb2.ChatRoom_LeaveRequest(user_name=self.user, client_id=self.client_id),
                           (chat_pb2.ChatRoom_LeaveResponse,))
        if room in self.rooms:
            self.rooms[room].joined = False

    async def send(self, room: str, text: str, client_msg_id: str | None = None) -> SendResult:
        """Send; a retry with the same ``client_msg_id`` is stored once (``duplicate`` in the result)."""
        cmid = client_msg_id or uuid.uuid4().hex
        reply = await self._invoke("ChatRoom", ROOM_PREFIX + room, "SendMessage",
                                   chat_pb2.ChatRoom_SendChatMessageRequest(user_name=self.user, message=text,
                                                                            client_msg_id=cmid),
                                   SEND_REPLY_TYPES)
        state = self.rooms.get(room)
        if state is not None and state.started:
            state.mark(reply.seq)  # our own message: known, not shown
            self._flush(room)
        return SendResult(room, cmid, reply.seq, reply.timestamp, reply.duplicate)

    async def poll(self, room: str) -> PollResult:
        """Fetch and show what came after the room's cursor, page by page."""
        state = self.rooms.setdefault(room, RoomState(room))
        state.started = True
        after, shown, truncated, first_available = state.cursor, [], False, 0
        while True:
            reply = await self._invoke("ChatRoom", ROOM_PREFIX + room, "GetRecentMessages",
                                       chat_pb2.ChatRoom_GetRecentMessagesRequest(after_seq=after, limit=self.page_size),
                                       (chat_pb2.ChatRoom_GetRecentMessagesResponse,))
            if reply.history_truncated and not truncated:
                truncated, first_available = True, reply.first_available_seq
                state.truncated = True
                state.skip_to(reply.first_available_seq - 1)
            shown += [m for m in reply.messages if self._accept(room, m, "poll")]
            self._flush(room)
            state.last_seq = max(state.last_seq, reply.last_seq)
            if not reply.has_more or not reply.messages:
                return PollResult(room, shown, truncated, first_available, reply.last_seq)
            after = reply.messages[-1].seq

    async def _rejoin_all(self) -> dict[str, JoinResult]:
        """Join again every room we are in, with the current client id (after re-registering)."""
        return {name: await self.join(name) for name, state in list(self.rooms.items()) if state.joined}

    def _gate(self) -> gate_pb2_grpc.GateServiceStub:
        """The gate stub; its channel opens on first use, so a poll-only client needs no connect()."""
        if self._stub is None:
            self._channel = grpc.aio.insecure_channel(self.server, options=self.keepalive.channel_options())
            self._stub = gate_pb2_grpc.GateServiceStub(self._channel)
        return self._stub

    async def _open_stream(self) -> tuple[grpc.aio.UnaryStreamCall, str]:
        call = self._gate().Register(gate_pb2.Empty())
        try:
            first = await asyncio.wait_for(call.read(), self.call_timeout)
            if first is grpc.aio.EOF:
                raise ProtocolError("gate closed the Register stream before sending a client id")
            registered = gate_pb2.RegisterResponse()
            if not first.Unpack(registered) or not registered.client_id:
                raise ProtocolError(f"first item on the Register stream is {first.type_url!r}, not a RegisterResponse")
        except BaseException:
            call.cancel()
            raise
        return call, registered.client_id

    async def _run_stream(self, call: grpc.aio.UnaryStreamCall) -> None:
        """Read pushes until the stream ends, then tell the observers (unless we closed it)."""
        error: BaseException | None = None
        try:
            while True:
                item = await call.read()
                if item is grpc.aio.EOF:
                    break
                self._on_payload(item)
        except asyncio.CancelledError:
            if not self._closing:
                raise
        except grpc.aio.AioRpcError as exc:
            error = exc
        finally:
            self.stream_done.set()
        if not self._closing:
            self._notify("on_stream_end", error)

    def _on_payload(self, item: any_pb2.Any) -> None:
        note = chat_pb2.Client_NewMessageNotification()
        if not item.Is(note.DESCRIPTOR):
            _log.debug("ignoring pushed %s", item.type_url)
            return
        item.Unpack(note)
        msg = note.message
        joined = [name for name, state in self.rooms.items() if state.joined]
        room = msg.room_name or (joined[0] if len(joined) == 1 else "")
        self._notify("on_push", room, msg)
        state = self.rooms.get(room)
        if state is not None and state.joined:
            self._accept(room, msg, "push")

    def _accept(self, room: str, msg: chat_pb2.ChatMessage, source: str) -> bool:
        """Show ``msg`` if it is the next one; hold one that follows a gap, and poll to fill the gap."""
        state = self.rooms[room]
        if state.known(msg.seq):
            return False
        if state.started and msg.seq == state.cursor + 1:
            state.mark(msg.seq)
            state.messages.append(msg)
            self._notify("on_display", room, msg, source)
            return True
        state.pending[msg.seq] = (msg, source)
        if state.started and state.filling is None:
            state.filling = asyncio.create_task(self._fill_gap(room), name=f"fill-gap {room}")
        return False

    def _flush(self, room: str) -> None:
        """Show held pushes that are next now that the gap before them is filled."""
        state = self.rooms[room]
        while (held := state.pending.pop(state.cursor + 1, None)) is not None:
            self._accept(room, *held)

    async def _fill_gap(self, room: str) -> None:
        state = self.rooms[room]
        try:
            await self.poll(room)
        except Exception as exc:  # the next push, poll or join tries again
            _log.warning("gap fill poll of %s failed: %s", room, exc)
        finally:
            state.filling = None

    def _notify(self, hook: str, *args: object) -> None:
        for observer in self.observers:
            try:
                getattr(observer, hook)(*args)
            except Exception:  # an observer's bug must not stop the listener
                _log.exception("observer %s failed", hook)

    async def _invoke(self, type_: str, object_id: str, method: str, request: Message,
                      reply_types: tuple[type[Message], ...]) -> Message:
        packed = any_pb2.Any()
        packed.Pack(request)
        reply = await self._gate().CallObject(
            gate_pb2.CallObjectRequest(client_id=self.client_id, type=type_, id=object_id, method=method, request=packed),
            timeout=self.call_timeout)
        for reply_type in reply_types:
            message = reply_type()
            if reply.response.Unpack(message):
                return message
        raise ProtocolError(f"{method} answered {reply.response.type_url!r}")
