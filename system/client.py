"""The chat client library: a gate ``Register`` stream for pushes, calls for the rest.

Pushes are best effort, so each room keeps a cursor (:mod:`system.roomview`):
a message is shown once, in seq order, whether it comes by push, by poll or
in a join's recent history, and one that follows a gap is held while a poll
fills the gap. The user's own sends are known without being shown.

The client rides through faults on its own. A broken stream is noticed at
once, a silent one by keepalive (ping timeout, about 2 s); the client then
reconnects with capped, fully jittered backoff (the attempt count starts
over once a stream has stayed up ``healthy_after`` seconds), re-registers
(new client id), re-joins its rooms with that id and polls after each
cursor, merging pushes that arrive meanwhile. A room that stays silent for
``sync_interval`` is polled too: that finds a lost last push, and a node
that restarted and forgot its members (the room is then re-joined). A
restarted node also restarts a room's seqs from 1; the client notices
(``history_reset``) and follows the new numbering.

Calls wait for the link during an outage (up to ``outage_wait``) and retry
on UNAVAILABLE / DEADLINE_EXCEEDED; every call is idempotent, a send thanks
to its client message id, so a retried send is stored once. A send that
still fails raises :class:`SendFailed`, which says whether it surely was not
stored (``definite``) or may have been.

Observers (:class:`Observer`) see every raw push, every message shown, the
end of each stream and the reconnection steps; hooks are optional.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from tenacity import (AsyncRetrying, RetryCallState, retry_if_exception, stop_before_delay, stop_never,
                      wait_random_exponential)

from system import log
from system.grpcopts import DEFAULT_KEEPALIVE, Keepalive
from system.objects import STORED_KEY
from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc
from system.room import MANAGER_ID, ROOM_PREFIX
from system.roomview import Held, RoomView

SEND_REPLY_TYPES = (chat_pb2.Client_SendChatMessageResponse, chat_pb2.ChatRoom_SendChatMessageResponse)
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                       grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN})
# Answers that mean the server refused the request: it surely did nothing.
DEFINITE = frozenset({grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.ALREADY_EXISTS,
                      grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.FAILED_PRECONDITION,
                      grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.UNIMPLEMENTED,
                      grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.RESOURCE_EXHAUSTED})
CALL_BACKOFF_MIN = 0.05
OWN_IDS_KEPT = 10000

_log = log.get("client")


class ClientObserver(Protocol):
    """What the client tells its user. Optional hooks, called only when present:
    ``on_reconnecting(attempt, error, wait)``, ``on_reconnected(client_id, recovered)``,
    ``on_recovery_incomplete(room, first_available_seq, cursor)``, ``on_history_reset(room)``,
    ``on_gap(room, after_seq)``, ``on_poll(room, after_seq, reason)``,
    ``on_polled(room, after_seq, reason, result, error)``; :class:`Observer` documents them."""

    def on_display(self, room: str, message: chat_pb2.ChatMessage, source: str) -> None:
        """A message was shown to the user, once per (room, seq); source is push, poll or join."""

    def on_push(self, room: str, message: chat_pb2.ChatMessage) -> None:
        """A push arrived (before deduplication)."""

    def on_stream_end(self, error: BaseException | None) -> None:
        """The Register stream ended without ``close()``; a reconnecting client re-registers next."""


class Observer:
    """A do-nothing observer to subclass, with every hook."""

    def on_display(self, room: str, message: chat_pb2.ChatMessage, source: str) -> None:
        pass

    def on_push(self, room: str, message: chat_pb2.ChatMessage) -> None:
        pass

    def on_stream_end(self, error: BaseException | None) -> None:
        pass

    def on_reconnecting(self, attempt: int, error: BaseException | None, wait: float) -> None:
        """Before each backoff sleep: attempt ``attempt`` (2, 3, …) starts in ``wait`` seconds."""

    def on_reconnected(self, client_id: str, recovered: int) -> None:
        """Re-registered, re-joined and caught up; ``recovered`` messages were shown from the recovery polls."""

    def on_recovery_incomplete(self, room: str, first_available_seq: int, cursor: int) -> None:
        """Messages after ``cursor`` were trimmed before we fetched them; we go on from what is left."""

    def on_history_reset(self, room: str) -> None:
        """The room's history started again (its node restarted): its seqs count from 1 again."""

    def on_gap(self, room: str, after_seq: int) -> None:
        """A message after a gap arrived; a poll after ``after_seq`` fills the gap."""

    def on_poll(self, room: str, after_seq: int, reason: str) -> None:
        """A poll starts; ``reason``: user, recovery, gap, silence or reset."""

    def on_polled(self, room: str, after_seq: int, reason: str, result: "PollResult | None",
                  error: BaseException | None) -> None:
        """A poll ended: with its ``result`` (messages newly shown) or its ``error``."""


class ProtocolError(Exception):
    """The server answered something this client cannot read."""


class NotSent(grpc.aio.AioRpcError):
    """The call was never made (so it surely did nothing)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


class LinkDown(NotSent):
    """The link to the gate stayed down for the whole wait."""

    def __init__(self, details: str) -> None:
        super().__init__(grpc.StatusCode.UNAVAILABLE, details)


class SendFailed(grpc.aio.AioRpcError):
    """A send failed for good. ``definite``: surely not stored; else it may have been (record it as unknown).

    ``details()`` is for the user: the room and why, never the internal message id;
    ``attempts`` counts the requests that went on the wire (0: the link was down all along).
    """

    def __init__(self, code: grpc.StatusCode, details: str, *, definite: bool, room: str, client_msg_id: str,
                 attempts: int) -> None:
        outcome = "not sent" if definite else "may not have been sent"
        tries = f" (tried {attempts} times)" if attempts > 1 else ""
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata(), f"message to {room} {outcome}: {details}{tries}")
        self.definite = definite
        self.room = room
        self.client_msg_id = client_msg_id
        self.attempts = attempts


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


class _StreamLost(Exception):
    """A Register stream ended; ``healthy`` when it had been up long enough to start counting attempts over."""

    def __init__(self, error: BaseException | None, healthy: bool) -> None:
        super().__init__(describe(error))
        self.error = error
        self.healthy = healthy
        self.at = time.monotonic()


def stored_verdict(error: BaseException) -> str | None:
    """What the server said of a failed write: "no" (surely not stored), "unknown", or None (it said nothing)."""
    if not isinstance(error, grpc.aio.AioRpcError) or isinstance(error, NotSent):
        return None
    return next((v for k, v in error.trailing_metadata() or () if k == STORED_KEY), None)


def surely_not_stored(error: BaseException) -> bool:
    """Did this failed attempt surely do nothing? Never sent, refused, or the server says it stored nothing."""
    if isinstance(error, NotSent):
        return True
    if not isinstance(error, grpc.aio.AioRpcError):
        return False
    return error.code() in DEFINITE or stored_verdict(error) == "no"


def describe(error: BaseException | None) -> str:
    if error is None:
        return "closed by the gate"
    if isinstance(error, grpc.aio.AioRpcError):
        return f"{error.code().name}: {error.details()}"
    return f"{type(error).__name__}: {error}"


# What gRPC and the OS say, and the few words a user needs; the first match wins.
_CAUSES = (("connection refused", "connection refused"), ("reset by peer", "connection reset"),
           ("connection reset", "connection reset"), ("keepalive watchdog", "no answer to keepalive pings"),
           ("ping timeout", "no answer to keepalive pings"), ("goaway", "the server closed the connection"),
           ("broken pipe", "connection closed"), ("socket closed", "connection closed"),
           ("end of tcp stream", "connection closed"), ("dns resolution failed", "address not found"),
           ("name or service not known", "address not found"), ("deadline exceeded", "timed out"),
           ("no route to host", "no route to host"), ("network is unreachable", "network unreachable"))


def cause(error: BaseException | None) -> str:
    """Why a call or stream failed, in a few words for a person (``describe`` keeps the details)."""
    if error is None:
        return "closed by the server"
    if isinstance(error, TimeoutError):  # asyncio.TimeoutError too
        return "timed out"
    text = describe(error).lower()
    for needle, words in _CAUSES:
        if needle in text:
            return words
    if isinstance(error, grpc.aio.AioRpcError):
        if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return "timed out"
        if error.code() == grpc.StatusCode.UNAVAILABLE:
            return "server unavailable"
        return error.code().name.lower().replace("_", " ")
    if isinstance(error, ProtocolError):
        return "unexpected answer from the server"
    return type(error).__name__


def _reconnect_again(exc: BaseException) -> bool:
    return isinstance(exc, Exception) and not (isinstance(exc, _StreamLost) and exc.healthy)


class ChatClient:
    """One user on one gate: ``connect()`` for pushes (poll-only without it).

    Calls raise ``grpc.aio.AioRpcError`` (``send``: its subclass :class:`SendFailed`).
    ``push_window`` is the push stream's flow-control window in bytes: a
    client that stops reading makes the gate's small buffer overflow after
    about that much, instead of after megabytes.
    """

    def __init__(self, server: str, user: str, *, observers: Iterable[ClientObserver] = (),
                 keepalive: Keepalive = DEFAULT_KEEPALIVE, call_timeout: float = 5.0, page_size: int = 0,
                 reconnect: bool = True, outage_wait: float = 10.0, backoff_min: float = 0.1,
                 backoff_max: float = 2.0, healthy_after: float = 5.0, sync_interval: float | None = 3.0,
                 push_window: int = 16384) -> None:
        self.server = server
        self.user = user
        self.observers: list[ClientObserver] = list(observers)
        self.keepalive = keepalive
        self.call_timeout = call_timeout
        self.page_size = page_size
        self.reconnect = reconnect
        self.outage_wait = outage_wait
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.healthy_after = healthy_after
        self.sync_interval = sync_interval
        self.push_window = push_window
        self.client_id = ""
        self.rooms: dict[str, RoomView] = {}
        self.reconnects = 0           # successful reconnections so far
        self._channel: grpc.aio.Channel | None = None
        self._stub: gate_pb2_grpc.GateServiceStub | None = None
        self._call: grpc.aio.UnaryStreamCall | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._syncer: asyncio.Task[None] | None = None
        self._link_up = asyncio.Event()
        self._reading = asyncio.Event()
        self._reading.set()
        self._closing = False
        self._own: OrderedDict[str, None] = OrderedDict()  # ids of our sends not (yet) acknowledged
        self._sending: Counter[str] = Counter()  # room -> our sends awaiting their reply
        self._shown_by_poll = 0

    # -- the link ------------------------------------------------------------
    async def connect(self) -> str:
        """Register (one attempt: a wrong address fails at once), then keep the link up on our own."""
        if self._supervisor is not None:
            raise RuntimeError("connect() was already called")
        call = await self._register()
        self._supervisor = asyncio.create_task(self._supervise(call), name=f"link {self.user}")
        if self.reconnect and self.sync_interval:
            self._syncer = asyncio.create_task(self._sync_loop(), name=f"sync {self.user}")
        return self.client_id

    async def close(self) -> None:
        """Stop every task and the channel; never waits on the network."""
        self._closing = True
        self._link_up.set()  # wake calls waiting for the link: they give up
        tasks = [t for t in (self._supervisor, self._syncer) if t is not None]
        tasks += [v.filling for v in self.rooms.values() if v.filling is not None]
        for task in tasks:
            task.cancel()
        if self._call is not None:
            self._call.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._channel is not None:
            await self._channel.close()
            self._channel, self._stub = None, None

    @property
    def connected(self) -> bool:
        """The push stream is up (False before connect(), while reconnecting and after close())."""
        return self._link_up.is_set() and not self._closing

    def stop_reading(self) -> None:
        """Stall: stop taking pushes off the stream (and stop polling on our own) until resumed."""
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    # -- calls -----------------------------------------------------------------
    async def list_rooms(self) -> list[str]:
        reply = await self._rpc("ChatRoomMgr", MANAGER_ID, "ListChatRooms", chat_pb2.ChatRoom_ListRequest,
                                 (chat_pb2.ChatRoom_ListResponse,), self.outage_wait)
        return list(reply.chat_rooms)

    async def join(self, room: str) -> JoinResult:
        """Join ``room``; its recent history is shown (source ``join``)."""
        view = self.rooms.setdefault(room, RoomView(room))
        was_joined, view.joined = view.joined, True  # pushes may race the reply: accept them already
        high_water = view.high_water()
        try:
            reply = await self._join_rpc(room, self.outage_wait)
        except BaseException:
            view.joined = was_joined
            raise
        recent = list(reply.recent_messages)
        if not view.started:
            self._show(view, view.place(recent[0].seq - 1 if recent else reply.last_seq))
        elif view.is_new_epoch(reply.last_seq, recent, high_water, reply.store_epoch):
            self._history_reset(view, reply.last_seq, reply.store_epoch)
        view.adopt(reply.store_epoch)
        view.last_seq = max(view.last_seq, reply.last_seq)
        view.last_activity = time.monotonic()
        self._accept(view, recent, "join")
        self._settle(view)
        return JoinResult(room, reply.last_seq, recent)

    async def leave(self, room: str) -> None:
        view = self.rooms.get(room)
        was_joined = view.joined if view else False
        if view is not None:
            view.joined = False  # no re-join or polling for it from now on
        try:
            await self._rpc("ChatRoom", ROOM_PREFIX + room, "Leave",
                             lambda: chat_pb2.ChatRoom_LeaveRequest(user_name=self.user, client_id=self.client_id),
                             (chat_pb2.ChatRoom_LeaveResponse,), self.outage_wait)
        except BaseException:
            if view is not None:
                view.joined = was_joined
            raise

    async def send(self, room: str, text: str, client_msg_id: str | None = None) -> SendResult:
        """Send; retried with the same ``client_msg_id`` until acknowledged (stored once) or :class:`SendFailed`."""
        cmid = client_msg_id or uuid.uuid4().hex
        self._own[cmid] = None
        while len(self._own) > OWN_IDS_KEPT:
            self._own.popitem(last=False)
        failures: list[BaseException] = []
        self._sending[room] += 1
        started = time.monotonic()
        try:
            reply = await self._rpc("ChatRoom", ROOM_PREFIX + room, "SendMessage",
                                     lambda: chat_pb2.ChatRoom_SendChatMessageRequest(
                                         user_name=self.user, message=text, client_msg_id=cmid),
                                     SEND_REPLY_TYPES, self.outage_wait, failures)
        except (grpc.aio.AioRpcError, ProtocolError) as exc:
            self._sent(room)
            code = exc.code() if isinstance(exc, grpc.aio.AioRpcError) else grpc.StatusCode.UNKNOWN
            definite = all(surely_not_stored(f) for f in failures)
            raise SendFailed(code, self._send_failure(exc, time.monotonic() - started), definite=definite, room=room,
                             client_msg_id=cmid, attempts=len([f for f in failures if not isinstance(f, NotSent)])) from exc
        except BaseException:  # cancelled: closing
            self._sent(room, settle=False)
            raise
        self._own.pop(cmid, None)
        view = self.rooms.get(room)
        if view is not None and view.started:
            if view.foreign(reply.store_epoch) or (not reply.store_epoch and not reply.duplicate
                                                   and view.known(reply.seq)):  # stored in a new history
                self._history_reset(view, reply.seq, reply.store_epoch)
                self._start_catch_up(view, "reset")
            self._show(view, view.own(reply.seq, reply.timestamp))
        self._sent(room)
        return SendResult(room, cmid, reply.seq, reply.timestamp, reply.duplicate)

    def _send_failure(self, exc: BaseException, waited: float) -> str:
        """Why a send failed, for :class:`SendFailed`'s message: the server's refusal, or what the link did."""
        if isinstance(exc, LinkDown):
            return f"no connection to the server for {round(waited, 1):g}s"
        if isinstance(exc, grpc.aio.AioRpcError) and (exc.code() in DEFINITE or isinstance(exc, NotSent)
                                                      or stored_verdict(exc)):
            return exc.details() or cause(exc)  # the server's (or our own) words for the refusal
        return cause(exc)

    async def poll(self, room: str) -> PollResult:
        """Fetch and show what came after the room's cursor, page by page."""
        return await self._poll(room, self.outage_wait, "user")

    # -- keeping the link --------------------------------------------------------
    def _channel_options(self) -> list[tuple[str, int]]:
        # No BDP probing: the push stream's window stays at push_window, so a stalled reader
        # pushes back on the gate soon. Unary replies are not slowed: gRPC opens the window to
        # fit a message that is being read.
        # A channel of our own subchannels: a reconnect dials afresh instead of inheriting the
        # backoff of a shared subchannel that failed during the outage.
        return self.keepalive.channel_options() + [("grpc.http2.bdp_probe", 0),
                                                   ("grpc.http2.lookahead_bytes", self.push_window),
                                                   ("grpc.use_local_subchannel_pool", 1)]

    def _gate(self) -> gate_pb2_grpc.GateServiceStub:
        """The gate stub; its channel opens on first use, so a poll-only client needs no connect()."""
        if self._stub is None:
            self._channel = grpc.aio.insecure_channel(self.server, options=self._channel_options())
            self._stub = gate_pb2_grpc.GateServiceStub(self._channel)
        return self._stub

    async def _register(self) -> grpc.aio.UnaryStreamCall:
        """A fresh channel and Register stream; calls still on the old channel retry on the new one."""
        old, self._channel, self._stub = self._channel, None, None
        if old is not None:
            await old.close()
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
        self._call, self.client_id = call, registered.client_id
        self._link_up.set()
        return call

    async def _supervise(self, call: grpc.aio.UnaryStreamCall) -> None:
        """Read the first stream; after every loss, reconnect until close()."""
        up = time.monotonic()
        lost = self._stream_lost(await self._pump(call), up)
        while self.reconnect and not self._closing:
            retrying = AsyncRetrying(wait=wait_random_exponential(multiplier=self.backoff_min, max=self.backoff_max),
                                     retry=retry_if_exception(_reconnect_again), before_sleep=self._before_sleep,
                                     reraise=True)
            try:
                async for attempt in retrying:
                    with attempt:
                        await self._session(attempt.retry_state.attempt_number, lost)
            except _StreamLost as healthy_then_lost:  # it stayed up long enough: count attempts from 1 again
                lost = healthy_then_lost

    def _stream_lost(self, error: BaseException | None, up: float) -> _StreamLost:
        """A stream that was up has ended: no link until the next one; say so."""
        up_for = time.monotonic() - up
        self._link_up.clear()
        log.event(_log, logging.WARNING, "stream_lost", user=self.user, client_id=self.client_id,
                  error=describe(error), up_for=round(up_for, 3))
        if not self._closing:
            self._notify("on_stream_end", error)
        return _StreamLost(error, up_for >= self.healthy_after)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        error = exc.error if isinstance(exc, _StreamLost) else exc
        attempt, wait = state.attempt_number + 1, state.upcoming_sleep
        log.event(_log, logging.WARNING, "reconnect_wait", user=self.user, attempt=attempt,
                  wait=round(wait, 3), error=describe(error))
        self._notify("on_reconnecting", attempt, error, wait)

    async def _session(self, attempt: int, lost: _StreamLost) -> None:
        """Re-register, recover while reading pushes, then read until the stream ends; always raises."""
        call = await self._register()
        up = time.monotonic()
        reader = asyncio.create_task(self._pump(call), name=f"pushes {self.user}")
        recovery = asyncio.create_task(self._recover(), name=f"recovery {self.user}")
        try:
            await asyncio.wait({reader, recovery}, return_when=asyncio.FIRST_COMPLETED)
            if recovery.done() and recovery.exception() is None:
                recovered = recovery.result()
                self.reconnects += 1
                log.event(_log, logging.INFO, "reconnected", user=self.user, client_id=self.client_id,
                          attempt=attempt, recovered=recovered, took=round(time.monotonic() - lost.at, 3))
                self._notify("on_reconnected", self.client_id, recovered)
                error = await reader
            elif recovery.done():  # a bug, not the network: start over on a new stream
                error = recovery.exception()
                _log.error("recovery failed", exc_info=error)
            else:
                error = reader.result()
        finally:
            call.cancel()
            for task in (reader, recovery):
                task.cancel()
            await asyncio.gather(reader, recovery, return_exceptions=True)
        raise self._stream_lost(error, up)

    async def _pump(self, call: grpc.aio.UnaryStreamCall) -> BaseException | None:
        """Read pushes until the stream ends; return why (None: the gate ended it)."""
        try:
            while True:
                await self._reading.wait()
                item = await call.read()
                if item is grpc.aio.EOF:
                    return None
                await self._reading.wait()  # a read already waiting when reading stopped: keep it till then
                self._on_payload(item)
        except grpc.aio.AioRpcError as exc:
            return exc

    async def _recover(self) -> int:
        """Re-join every room with the new client id, then poll after each cursor; return how many were shown."""
        before = self._shown_by_poll
        views = [v for v in self.rooms.values() if v.joined]
        for view in views:
            view.recovering = True
        try:
            for view in views:
                if view.joined:
                    await self._rejoin(view)
                if view.joined:
                    try:
                        await self._poll(view.name, None, "recovery")  # transient failures: retried till the stream ends
                    except (grpc.aio.AioRpcError, ProtocolError) as exc:  # refused: the silence check tries again
                        _log.warning("recovery poll of %s failed: %s", view.name, describe(exc))
        finally:
            for view in views:
                view.recovering = False
                self._settle(view)
        return self._shown_by_poll - before

    async def _rejoin(self, view: RoomView) -> None:
        high_water = view.high_water()
        try:
            reply = await self._join_rpc(view.name, None)
        except grpc.aio.AioRpcError as exc:  # refused for good (e.g. the room is gone): stop following it
            log.event(_log, logging.WARNING, "rejoin_failed", user=self.user, room=view.name,
                      code=exc.code().name, error=exc.details())
            view.joined = False
            return
        if view.started and view.is_new_epoch(reply.last_seq, reply.recent_messages, high_water, reply.store_epoch):
            self._history_reset(view, reply.last_seq, reply.store_epoch)
        view.adopt(reply.store_epoch)

    async def _join_rpc(self, room: str, budget: float | None) -> chat_pb2.ChatRoom_JoinResponse:
        """Join with our current client id; again if a reconnect changed the id while the call ran."""
        used: list[str] = []

        def request() -> chat_pb2.ChatRoom_JoinRequest:
            used.append(self.client_id)
            return chat_pb2.ChatRoom_JoinRequest(user_name=self.user, client_id=self.client_id)

        for _ in range(3):
            reply = await self._rpc("ChatRoom", ROOM_PREFIX + room, "Join", request,
                                     (chat_pb2.ChatRoom_JoinResponse,), budget)
            if used[-1] == self.client_id:
                break
        return reply

    async def _sync_loop(self) -> None:
        """Poll rooms that stayed silent: a lost last push, or a node that forgot we are members."""
        assert self.sync_interval
        tick = max(0.05, self.sync_interval / 4)
        while True:
            await asyncio.sleep(tick)
            if not self.connected or not self._reading.is_set():
                continue
            now = time.monotonic()
            for view in list(self.rooms.values()):
                if view.joined and view.started and now - view.last_activity >= self.sync_interval:
                    view.last_activity = now
                    self._start_catch_up(view, "silence")

    # -- what is shown -------------------------------------------------------------
    async def _poll(self, room: str, budget: float | None, reason: str) -> PollResult:
        """Every poll goes through here, so observers see each one, whatever asked for it."""
        after = self.rooms[room].poll_after() if room in self.rooms and self.rooms[room].started else 0
        self._notify("on_poll", room, after, reason)
        try:
            result = await self._poll_pages(room, budget)
        except BaseException as exc:
            self._notify("on_polled", room, after, reason, None, exc)
            raise
        self._notify("on_polled", room, after, reason, result, None)
        return result

    async def _poll_pages(self, room: str, budget: float | None) -> PollResult:
        view = self.rooms.setdefault(room, RoomView(room))
        if not view.started:
            self._show(view, view.place(0))
        shown: list[chat_pb2.ChatMessage] = []
        truncated, first_available, checked, after = False, 0, False, view.poll_after()
        high_water = view.high_water()
        while True:
            reply = await self._rpc("ChatRoom", ROOM_PREFIX + room, "GetRecentMessages",
                                     lambda: chat_pb2.ChatRoom_GetRecentMessagesRequest(after_seq=after,
                                                                                        limit=self.page_size),
                                     (chat_pb2.ChatRoom_GetRecentMessagesResponse,), budget)
            messages = list(reply.messages)
            if not checked:
                checked = True
                if view.is_new_epoch(reply.last_seq, messages, high_water, reply.store_epoch):
                    self._history_reset(view, reply.last_seq, reply.store_epoch)
                    if view.joined:  # the rooms went with the old node, and our membership too
                        await self._join_rpc(room, budget)
                    after = 0
                    continue
                if view.missing_before(reply.first_available_seq, reply.last_seq):
                    truncated, first_available = True, reply.first_available_seq
                    self._recovery_incomplete(view, reply.first_available_seq)
            view.adopt(reply.store_epoch)
            view.last_seq = max(view.last_seq, reply.last_seq)
            shown += self._accept(view, messages, "poll")
            if not reply.has_more or not messages:
                break
            after = messages[-1].seq
        view.last_activity = time.monotonic()
        self._settle(view)
        return PollResult(room, shown, truncated, first_available, reply.last_seq)

    def _on_payload(self, item: any_pb2.Any) -> None:
        note = chat_pb2.Client_NewMessageNotification()
        if not item.Is(note.DESCRIPTOR):
            _log.debug("ignoring pushed %s", item.type_url)
            return
        item.Unpack(note)
        msg = note.message
        joined = [name for name, view in self.rooms.items() if view.joined]
        room = msg.room_name or (joined[0] if len(joined) == 1 else "")
        self._notify("on_push", room, msg)
        view = self.rooms.get(room)
        if view is not None and view.joined:
            view.last_activity = time.monotonic()
            if view.foreign(note.store_epoch):  # from another store's history: a poll says which is current
                self._start_catch_up(view, "reset")
                return
            self._accept(view, [msg], "push")
            self._settle(view)

    def _accept(self, view: RoomView, messages: list[chat_pb2.ChatMessage], source: str) -> list[chat_pb2.ChatMessage]:
        """Show what is next (with what it releases), hold the rest; return those of ``messages`` shown."""
        own = [m.user_name == self.user and m.client_msg_id in self._own for m in messages]  # sends not acked yet
        shown = view.offer(messages, source, own)
        self._show(view, shown)
        ids = {id(m) for m in messages}
        return [m for m, _ in shown if id(m) in ids]

    def _show(self, view: RoomView, shown: list[Held]) -> None:
        for msg, source in shown:
            if source == "poll":
                self._shown_by_poll += 1
            self._notify("on_display", view.name, msg, source)

    def _sent(self, room: str, settle: bool = True) -> None:
        """One of our sends to ``room`` has its answer; a gap it did not fill is a real one."""
        self._sending[room] -= 1
        if not self._sending[room]:
            del self._sending[room]
            view = self.rooms.get(room)
            if settle and view is not None:
                self._settle(view)

    def _settle(self, view: RoomView) -> None:
        """Messages are held behind a gap: poll to fill it (unless a poll or the recovery is on it).

        While one of our own sends to the room awaits its reply, the gap may be that message
        (others' pushes can overtake our reply): the send settles again when its reply is in.
        """
        if self._sending[view.name]:
            return
        if view.started and view.pending and view.filling is None and not view.recovering:
            log.event(_log, logging.INFO, "gap_detected", user=self.user, room=view.name, cursor=view.cursor,
                      seq=min(view.pending))
            self._notify("on_gap", view.name, view.cursor)
            self._start_catch_up(view, "gap")

    def _start_catch_up(self, view: RoomView, reason: str) -> None:
        if view.filling is None and not view.recovering and not self._closing:
            view.filling = asyncio.create_task(self._catch_up(view, reason), name=f"catch-up {view.name}")

    async def _catch_up(self, view: RoomView, reason: str) -> None:
        """One poll, no waiting for the link (the recovery covers outages); re-join if pushes went missing."""
        try:
            result = await self._poll(view.name, 0, reason)
            if view.joined and (reason == "reset" or (reason == "silence" and result.messages)):
                if reason == "silence":
                    log.event(_log, logging.INFO, "push_missed", user=self.user, room=view.name,
                              count=len(result.messages))
                await self._join_rpc(view.name, 0)
        except (grpc.aio.AioRpcError, ProtocolError) as exc:  # the next push, poll or recovery tries again
            _log.info("catch-up poll of %s failed: %s", view.name, describe(exc))
        finally:
            view.filling = None

    def _history_reset(self, view: RoomView, last_seq: int, epoch: int = 0) -> None:
        log.event(_log, logging.WARNING, "history_reset", user=self.user, room=view.name, cursor=view.cursor,
                  last_seq=last_seq, epoch=epoch)
        view.reset(last_seq, epoch)
        self._notify("on_history_reset", view.name)

    def _recovery_incomplete(self, view: RoomView, first_available_seq: int) -> None:
        log.event(_log, logging.WARNING, "recovery_incomplete", user=self.user, room=view.name,
                  first_available_seq=first_available_seq, cursor=view.cursor)
        self._notify("on_recovery_incomplete", view.name, first_available_seq, view.cursor)
        view.truncated = True
        view.skip_to(first_available_seq - 1)
        self._show(view, view.release())

    def _notify(self, hook: str, *args: object) -> None:
        for observer in self.observers:
            method = getattr(observer, hook, None)
            if method is None:
                continue
            try:
                method(*args)
            except Exception:  # an observer's bug must not stop the listener
                _log.exception("observer %s failed", hook)

    # -- one call, retried through outages ---------------------------------------------
    async def _rpc(self, type_: str, object_id: str, method: str, request: Callable[[], Message],
                    reply_types: tuple[type[Message], ...], budget: float | None,
                    failures: list[BaseException] | None = None) -> Message:
        """Call, retrying transient failures with new attempts until ``budget`` s have passed (None: forever).

        The request is built anew for each attempt, so it carries the current client id.
        """
        deadline = None if budget is None else time.monotonic() + budget
        failures = [] if failures is None else failures
        retrying = AsyncRetrying(
            stop=stop_never if budget is None else stop_before_delay(budget),
            wait=wait_random_exponential(multiplier=CALL_BACKOFF_MIN, max=self.backoff_max),
            retry=retry_if_exception(self._transient), reraise=True,
            before_sleep=lambda state: log.event(
                _log, logging.INFO, "call_retry", user=self.user, method=method, attempt=state.attempt_number,
                error=describe(state.outcome.exception() if state.outcome else None)))
        async for attempt in retrying:
            with attempt:
                try:
                    await self._wait_link(deadline)
                    return await self._invoke(type_, object_id, method, request(), reply_types)
                except (grpc.aio.AioRpcError, ProtocolError) as exc:
                    failures.append(exc)
                    raise
        raise AssertionError("unreachable: tenacity returns or raises")

    def _transient(self, exc: BaseException) -> bool:
        return (isinstance(exc, grpc.aio.AioRpcError) and not isinstance(exc, NotSent)
                and exc.code() in RETRYABLE and not self._closing)

    async def _wait_link(self, deadline: float | None) -> None:
        """While reconnecting, wait (until ``deadline``) for the new stream instead of failing at once."""
        if self._supervisor is not None and self.reconnect and not self._link_up.is_set():
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                await asyncio.wait_for(self._link_up.wait(), timeout)
            except asyncio.TimeoutError:
                raise LinkDown(f"no link to the gate {self.server} for {self.outage_wait:g}s (reconnecting)") from None
        if self._closing:
            raise NotSent(grpc.StatusCode.CANCELLED, "the client is closed")

    async def _invoke(self, type_: str, object_id: str, method: str, request: Message,
                      reply_types: tuple[type[Message], ...]) -> Message:
        packed = any_pb2.Any()
        packed.Pack(request)
        try:
            reply = await self._gate().CallObject(
                gate_pb2.CallObjectRequest(client_id=self.client_id, type=type_, id=object_id, method=method,
                                           request=packed),
                timeout=self.call_timeout)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            # Not us being cancelled: the channel closed under the call (a reconnect replaced it, or close()).
            raise grpc.aio.AioRpcError(grpc.StatusCode.CANCELLED, grpc.aio.Metadata(), grpc.aio.Metadata(),
                                       "the client is closed" if self._closing else "channel replaced by a reconnect")
        for reply_type in reply_types:
            message = reply_type()
            if reply.response.Unpack(message):
                return message
        raise ProtocolError(f"{method} answered {reply.response.type_url!r}")
