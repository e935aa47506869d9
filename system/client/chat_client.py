"""``ChatClient``: what a program using the library calls; the work is done by the parts it wires.

- :mod:`~system.client.connection`: the channel and the Register stream, reconnected on its own;
- :mod:`~system.client.calls`: each call, waiting through outages and retried;
- :mod:`~system.client.catchup`: what is shown of each room, and how it is kept complete;
- :mod:`~system.client.observer`: the hooks through which the user hears of it all.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Iterable

import grpc

from system.client.calls import Calls
from system.client.catchup import SEND_REPLY_TYPES, CatchUp
from system.client.connection import GateConnection
from system.client.failures import ProtocolError, SendFailed
from system.client.observer import Observers
from system.client.presence import PresenceTracker, RoomPresence
from system.client.results import JoinResult, PollResult, SendResult
from system.client.roomview import BEAT_JITTER, RoomView
from system.grpcopts import DEFAULT_KEEPALIVE, Keepalive
from system.pb import chat_pb2
from system.room import MANAGER_ID, ROOM_PREFIX
from system.tls import ClientTls



class ChatClient:
    """One user on one gate: ``connect()`` for pushes (poll-only without it).

    Calls raise ``grpc.aio.AioRpcError`` (``send``: its subclass :class:`SendFailed`).
    ``observers``: objects with some of :class:`~system.client.observer.Observer`'s hooks.
    ``push_window`` is the push stream's flow-control window in bytes: a
    client that stops reading makes the gate's small buffer overflow after
    about that much, instead of after megabytes. ``token``: a signed token
    (or a function returning a fresh one) for a gate run with ``--auth
    token``; ``tls``: trust the gate's certificate through this CA
    (:class:`system.tls.ClientTls`). A gate that refuses the token ends the
    reconnecting (``refused``). Reconnect waits are fully jittered, doubling from ``backoff_min`` up to
    ``backoff_max``: 5 s, so that the 2,000 members of a room whose gates died redial at a few hundred a
    second rather than 2,000 (at 2 s, their attempts saturated the proxy every link of the run went through).

    Presence: while connected, each joined room gets a ``Members`` call every
    ``presence_interval`` seconds (None: never): the member's heartbeat (a
    member unheard for the node's grace shows as away) and the room's list.
    A big room asks for a longer interval in its replies (``heartbeat_ms``:
    20 s at 2,000 members, its grace grown to match), and its heartbeats and
    silence polls keep to that.
    ``typing()`` calls go out at most once per ``typing_interval``.
    """

    def __init__(self, server: str, user: str, *, observers: Iterable[object] = (),
                 keepalive: Keepalive = DEFAULT_KEEPALIVE, call_timeout: float = 5.0, page_size: int = 0,
                 reconnect: bool = True, outage_wait: float = 10.0, backoff_min: float = 0.1,
                 backoff_max: float = 5.0, healthy_after: float = 5.0, sync_interval: float | None = 3.0,
                 push_window: int = 16384, token: str | Callable[[], str] | None = None,
                 tls: ClientTls | None = None, presence_interval: float | None = 5.0,
                 typing_interval: float = 1.0) -> None:
        self.server = server
        self.user = user
        self.outage_wait = outage_wait
        self._observers = Observers(observers)
        self._connection = GateConnection(server, user, self._observers, keepalive=keepalive,
                                          call_timeout=call_timeout, reconnect=reconnect, backoff_min=backoff_min,
                                          backoff_max=backoff_max, healthy_after=healthy_after,
                                          push_window=push_window, token=token, tls=tls)
        self._calls = Calls(self._connection, outage_wait=outage_wait)
        self._presence = PresenceTracker(user, self._observers)
        self._catch_up = CatchUp(user, self._connection, self._calls, self._observers, page_size=page_size,
                                 sync_interval=sync_interval, presence=self._presence)
        self._syncer: asyncio.Task[None] | None = None
        self.presence_interval = presence_interval
        self.typing_interval = typing_interval
        self._heartbeat: asyncio.Task[None] | None = None
        self._typed: dict[str, float] = {}  # room -> monotonic time of our last Typing call

    # -- the connection ----------------------------------------------------------------
    async def connect(self) -> str:
        """Register (one attempt: a wrong address fails at once), then keep the link up on our own."""
        client_id = await self._connection.connect(self._catch_up.on_payload, self._catch_up.recover)
        if self._connection.reconnect and self._catch_up.sync_interval:
            self._syncer = asyncio.create_task(self._catch_up.watch_silence(), name=f"sync {self.user}")
        if self.presence_interval:
            self._heartbeat = asyncio.create_task(self._beat(self.presence_interval), name=f"presence {self.user}")
        return client_id

    async def close(self) -> None:
        """Stop every task and the channel; never waits on the network."""
        self._presence.close()
        await self._connection.close([self._syncer, self._heartbeat, *self._catch_up.tasks()])

    @property
    def client_id(self) -> str:
        """The id the gate gave this client's current Register stream ("" before ``connect()``)."""
        return self._connection.client_id

    @property
    def connected(self) -> bool:
        """The push stream is up (False before connect(), while reconnecting and after close())."""
        return self._connection.connected

    @property
    def refused(self) -> grpc.aio.AioRpcError | None:
        """Why the gate refused this client for good (an expired token, say); None while it has not."""
        return self._connection.refused

    @property
    def reconnects(self) -> int:
        """Successful reconnections so far."""
        return self._connection.reconnects

    @property
    def rooms(self) -> dict[str, RoomView]:
        """What this client knows of each room it joined or polled."""
        return self._catch_up.rooms

    def stop_reading(self) -> None:
        """Stall: stop taking pushes off the stream (and stop polling on our own) until resumed."""
        self._connection.reading.clear()

    def resume_reading(self) -> None:
        self._connection.reading.set()

    # -- calls -------------------------------------------------------------------------
    async def list_rooms(self) -> list[str]:
        reply = await self._calls.call("ChatRoomMgr", MANAGER_ID, "ListChatRooms", chat_pb2.ChatRoom_ListRequest,
                                       (chat_pb2.ChatRoom_ListResponse,), self.outage_wait)
        return list(reply.chat_rooms)

    async def join(self, room: str) -> JoinResult:
        """Join ``room``; its recent history is shown (source ``join``)."""
        view = self._catch_up.view(room)
        was_joined, view.joined = view.joined, True  # pushes may race the reply: accept them already
        high_water = view.high_water()
        sent: list[chat_pb2.MemberCursor] = []
        try:
            reply = await self._catch_up.join_call(room, self.outage_wait, sent)
        except BaseException:
            view.joined = was_joined
            raise
        in_turn = self._catch_up.joined(view, reply, high_water, sent[-1])
        await self._catch_up.member_pages(room, reply.member_page, "join", self.outage_wait, in_turn)
        return JoinResult(room, reply.last_seq, list(reply.recent_messages))

    async def leave(self, room: str) -> None:
        view = self.rooms.get(room)
        was_joined = view.joined if view else False
        if view is not None:
            view.joined = False  # no re-join or polling for it from now on
        try:
            await self._calls.call("ChatRoom", ROOM_PREFIX + room, "Leave",
                                   lambda: chat_pb2.ChatRoom_LeaveRequest(user_name=self.user,
                                                                          client_id=self.client_id),
                                   (chat_pb2.ChatRoom_LeaveResponse,), self.outage_wait)
        except BaseException:
            if view is not None:
                view.joined = was_joined
            raise

    async def send(self, room: str, text: str, client_msg_id: str | None = None) -> SendResult:
        """Send; retried with the same ``client_msg_id`` until acknowledged (stored once) or :class:`SendFailed`."""
        cmid = client_msg_id or uuid.uuid4().hex
        failures: list[BaseException] = []
        self._catch_up.sending(room, cmid)
        started = time.monotonic()
        try:
            reply = await self._calls.call("ChatRoom", ROOM_PREFIX + room, "SendMessage",
                                           lambda: chat_pb2.ChatRoom_SendChatMessageRequest(
                                               user_name=self.user, message=text, client_msg_id=cmid),
                                           SEND_REPLY_TYPES, self.outage_wait, failures)
        except (grpc.aio.AioRpcError, ProtocolError) as exc:
            self._catch_up.sent(room)
            raise SendFailed.after(exc, failures, room=room, client_msg_id=cmid,
                                   waited=time.monotonic() - started) from exc
        except BaseException:  # cancelled: closing
            self._catch_up.sent(room, settle=False)
            raise
        self._catch_up.acknowledged(room, cmid, reply)
        return SendResult(room, cmid, reply.seq, reply.timestamp, reply.duplicate)

    async def poll(self, room: str) -> PollResult:
        """Fetch and show what came after the room's cursor, page by page."""
        return await self._catch_up.poll(room, self.outage_wait, "user")

    # -- presence, typing, read receipts ---------------------------------------------------
    def presence(self, room: str) -> RoomPresence:
        """Who is in ``room`` (and away), who is typing, how far each has read, as this client knows it."""
        return self._presence.view(room)

    async def members(self, room: str, budget: float | None = None) -> list[chat_pb2.Member]:
        """The room's members now, as this client shows them once this call (also our heartbeat) brought the changes."""
        reply = await self._members_call(room, self.outage_wait if budget is None else budget)
        if not reply.member_page.origin:
            return list(reply.members)
        view = self._presence.view(room)
        return [chat_pb2.Member(user_name=user, away=away, read_seq=view.reads.get(user, 0))
                for user, away in sorted(view.members.items())]

    async def _members_call(self, room: str, budget: float) -> chat_pb2.ChatRoom_MembersResponse:
        """One ``Members`` call and the pages after it, applied to what this client shows; its cost is the
        changes it brought, never the room's size (the list is built only for a caller of ``members()``)."""
        view = self._presence.view(room)
        sent: list[chat_pb2.MemberCursor] = []

        def request() -> chat_pb2.ChatRoom_MembersRequest:
            sent.append(view.cursor())
            return chat_pb2.ChatRoom_MembersRequest(user_name=self.user, members_since=sent[-1])

        reply = await self._calls.call("ChatRoom", ROOM_PREFIX + room, "Members", request,
                                       (chat_pb2.ChatRoom_MembersResponse,), budget)
        in_turn = self._presence.replied(room, reply.member_page, list(reply.members), reply.as_of, "members",
                                         sent[-1])
        self._catch_up.beat_answered(room, reply.last_seq, reply.store_epoch, reply.heartbeat_ms)
        await self._catch_up.member_pages(room, reply.member_page, "members", budget, in_turn)
        return reply

    async def typing(self, room: str) -> chat_pb2.ChatRoom_TypingResponse | None:
        """Tell the room's other members we are typing; None when too soon after the last (no call made)."""
        now = time.monotonic()
        if now - self._typed.get(room, -float("inf")) < self.typing_interval:
            return None
        self._typed[room] = now
        return await self._calls.call("ChatRoom", ROOM_PREFIX + room, "Typing",
                               lambda: chat_pb2.ChatRoom_TypingRequest(user_name=self.user),
                               (chat_pb2.ChatRoom_TypingResponse,), 0)  # stale by the time an outage ends

    async def mark_read(self, room: str, seq: int | None = None) -> int:
        """Record that we have read ``room`` up to ``seq`` (default: all it showed); return our read position."""
        view = self.rooms.get(room)
        upto = seq if seq is not None else (view.cursor if view is not None else 0)
        reply = await self._calls.call("ChatRoom", ROOM_PREFIX + room, "MarkRead",
                                       lambda: chat_pb2.ChatRoom_MarkReadRequest(user_name=self.user, seq=upto),
                                       (chat_pb2.ChatRoom_MarkReadResponse,), self.outage_wait)
        if self._presence.view(room).read(self.user, reply.read_seq):
            self._observers.on_read(room, self.user, reply.read_seq, "members")
        return reply.read_seq

    async def _beat(self, interval: float) -> None:
        """While connected, each joined room's Members call: our heartbeat, and its list to converge on.

        Every ``interval``, or, in a room that asked for longer (a big room: ``heartbeat_ms`` in its
        replies), at the first turn after that long has passed since the room's last beat. A room being
        recovered gets none: its re-join, queued on a node that answers a reconnect storm, will be our word."""
        wait = random.uniform(0, interval)  # members who connected together do not beat in step
        while True:
            await asyncio.sleep(wait)
            wait = interval * random.uniform(1 - BEAT_JITTER, 1 + BEAT_JITTER)
            if not self.connected or not self._connection.reading.is_set():
                continue
            for name, view in list(self.rooms.items()):
                if view.beat_due(time.monotonic()):
                    try:
                        await self._members_call(name, 0)
                    except (grpc.aio.AioRpcError, ProtocolError):  # the next beat tries again
                        pass
                    if view.beat_every > interval:
                        view.heard_by_room(time.monotonic(), random.uniform)
