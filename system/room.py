"""The chat sample's objects: ``ChatRoomMgr`` and ``ChatRoom``.

A room numbers each message when it accepts the send (``seq`` from 1, no
gaps; ``timestamp`` in microseconds, unique and increasing), hands it to
its store, and acknowledges the send only once the store says the message
is durable. Only then is it pushed, best effort, to every member but the
sender; push failures are reported by the push port and never fail the
send: members recover by polling after their cursor. A retried send (same
user and ``client_msg_id``) is stored once and answered with the original
numbers, also after a restart: the ids are stored too.

Members are stored as well, so pushes resume at once after a restart. A
write the store refuses fails the sends waiting on it (saying whether they
surely were not stored) and makes the room reload from the store before
its next call; a write refused because another owner claimed the room
(:class:`~system.store.Fenced`) drops the room from this node.

Presence (:mod:`system.presence`): joins and leaves are pushed to the
others once durable, best effort (batched in big rooms: :mod:`system.announce`);
every join, poll and ``Members`` reply carries the member list with who is
away and how far each has read, or, to a client that says which version it
holds, the changes since in bounded pages (:mod:`system.memberlog`). ``Typing`` is
pushed to the others and nothing else (never stored, never in a poll).
``MarkRead`` stores a read position (monotone) and pushes it once durable.

Sans-I/O apart from the store: the room pushes through a :class:`PushPort`
and reads a clock.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import Message
from system import contract

from system import clientid, log
from system import limits
from system.names import canonical_user_name
from system.announce import Announcer
from system.objects import (CallInfo, GoverseObject, InvalidArgument, Later, NotFound, ObjectError, ObjectHost,
                            PermissionDenied, ResourceExhausted, Superseded, Unavailable, method)
from system.pb import chat_pb2
from system.presence import Presence, PresenceConfig
from system.push import PushError, PushMeta
from system.store import Batch, Fenced, Limits, RoomRecord, Store, StoredMessage, StoreError, unstorable
from system.store.writer import RoomWriter
from system.transcript import Transcript
from system.visible import visible

DEFAULT_ROOMS = ("General", "Technology", "Crypto", "Sports", "Movies")
ROOM_PREFIX = contract.ROOM_PREFIX
MANAGER_ID = "ChatRoomMgr0"
ROOM_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MAX_CLIENT_MSG_ID = 128

_log = log.get("room")


@dataclass(frozen=True)
class RoomConfig:
    rooms: tuple[str, ...] = DEFAULT_ROOMS
    max_message_bytes: int = 4096
    history_limit: int = 10000   # messages kept per room, in memory and in the store; older ones are trimmed
    join_history: int = 50       # recent messages returned by Join
    page_size: int = 1000        # GetRecentMessages page when limit is 0, and its cap
    dedup_window: int = 10000    # client message ids remembered per room
    group_writes: bool = True    # sends queued while a write is in flight share the next one (False: benchmarks)
    push_to_sender: bool = False  # push each message to its sender too, as Goverse's ChatRoom does
    max_members: int = 5000      # members per room; a Join past it is refused (0: no limit)
    presence: PresenceConfig = PresenceConfig()

    @property
    def limits(self) -> Limits:
        return Limits(history=self.history_limit, dedup=self.dedup_window)


class PushPort(Protocol):
    def push(self, client_ids: list[str], message: Message, meta: PushMeta) -> list[PushError]:
        """Queue ``message`` for the clients; failures are reported by the port and returned."""


def now_us() -> int:
    return time.time_ns() // 1000


def check_storable(what: str, value: str) -> str:
    """Refuse a value some store cannot keep, the same for every store (:func:`system.store.unstorable`):
    refused here, it never reaches a write it would fail, with the sends sharing that write."""
    why = unstorable(value)
    if why is not None:
        raise InvalidArgument(f"{what} cannot be stored: {why}")
    return value


def check_user_name(name: str) -> str:
    """The canonical form of a request's user name (:func:`system.names.canonical_user_name`, the gate's rule)."""
    try:
        return canonical_user_name(name)
    except ValueError as exc:
        raise InvalidArgument(f"bad user_name: {exc}") from None


def speaker(name: str, call: CallInfo) -> str:
    """Who a request speaks as: the user the gate vouched for (a request naming another is refused), or,
    when nobody vouched (a caller on the node's own port), the request's ``user_name``."""
    if call.user is None:
        return check_user_name(name)
    user = check_user_name(call.user)
    if name and check_user_name(name) != user:
        raise PermissionDenied(f"you are '{visible(user)}'; you cannot speak as '{visible(name[:64])}'")
    return user


def member_client(named: str, call: CallInfo) -> str:
    """The client id a Join or Leave is for: the one its request names, which must be the caller's own."""
    if named and call.client_id and named != call.client_id:
        raise PermissionDenied(f"the request names client {named!r} but the call comes from {call.client_id!r}")
    return named or call.client_id


def refusal(room: str, exc: StoreError) -> ObjectError:
    """What a caller is told when the store failed: retryable or not, and whether it was stored."""
    if isinstance(exc, Fenced):
        return Superseded(f"room {room!r} moved to another node; not stored, retry")
    if exc.rejected and exc.definite:
        return InvalidArgument(f"room {room!r}: the store refused it; not stored ({exc})", stored="no")
    if exc.full:
        return ResourceExhausted(f"room {room!r}: the store is full; not stored ({exc})", stored="no")
    if exc.definite:
        return Unavailable(f"room {room!r}: store unavailable; not stored ({exc})", stored="no")
    return Unavailable(f"room {room!r}: store failed mid-write; it may have been stored ({exc})", stored="unknown")


class ChatRoomMgr(GoverseObject):
    type_name = "ChatRoomMgr"

    def __init__(self, object_id: str, rooms: Callable[[], Awaitable[Sequence[str]]]) -> None:
        super().__init__(object_id)
        self._rooms = rooms

    @method(chat_pb2.ChatRoom_ListRequest)
    async def ListChatRooms(self, request: chat_pb2.ChatRoom_ListRequest,
                            call: CallInfo) -> chat_pb2.ChatRoom_ListResponse:
        return chat_pb2.ChatRoom_ListResponse(chat_rooms=list(await self._rooms()))


class ChatRoom(GoverseObject):
    type_name = "ChatRoom"

    def __init__(self, object_id: str, config: RoomConfig, port: PushPort, store: Store, record: RoomRecord,
                 clock: Callable[[], int] = now_us, monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(object_id)
        self.name = object_id.removeprefix(ROOM_PREFIX)
        self.config = config
        self.port = port
        self.store = store
        self.clock = clock
        self.monotonic = monotonic
        self._load(record)

    def _load(self, record: RoomRecord) -> None:
        """Take the room as the store holds it (at activation, and again after a failed write)."""
        transcript = Transcript(self.name, self.config.history_limit, self.config.dedup_window, record)
        self.transcript = transcript
        self.members: dict[str, str] = dict(record.members)  # user -> client id ("" when it has no push stream)
        self.explicit = record.explicit
        self.presence = Presence(self.config.presence, record.members, record.reads, self.monotonic(), self.clock())
        if getattr(self, "announcer", None) is not None:
            self.announcer.close()
        self.announcer = Announcer(self.name, self.presence, lambda: len(self.members), self._tell_others)
        self.stale = False
        self._pending: dict[tuple[str, str], asyncio.Future[Batch]] = {}  # sends being stored, by (user, id)
        self.writer = RoomWriter(self.store, self.name, record.token, on_durable=lambda b: self._durable(transcript, b),
                                 on_failure=self._write_failed,
                                 on_dropped=lambda b, exc: self._write_refused(transcript, b, exc),
                                 trim=transcript.trim_points,
                                 group=self.config.group_writes)

    async def _fresh(self) -> None:
        """Reload after a failed write; refuse when another node owns the room now."""
        if self.evicted:
            raise Superseded(f"room {self.name!r} moved to another node; retry")
        if self.stale:
            try:
                record = await self.store.claim(self.name, self.config.limits, create=False)
            except StoreError as exc:
                raise refusal(self.name, exc) from None
            if record is None:
                self.evicted = True
                raise NotFound(f"chat room {self.name!r} was deleted")
            self._load(record)

    def _durable(self, transcript: Transcript, batch: Batch) -> None:
        """The store made ``batch`` durable: commit it, then push its messages (in seq order)."""
        if transcript is not self.transcript:  # written by a writer we have since replaced
            return
        for msg in transcript.commit(batch.messages):
            log.event(_log, logging.INFO, "message_stored", room=self.name, seq=msg.seq, user=msg.user_name,
                      client_msg_id=msg.client_msg_id, duplicate=False)
            recipients = {cid: name for name, cid in self.members.items()
                          if cid and (name != msg.user_name or self.config.push_to_sender)}
            if recipients:
                meta = PushMeta(room=self.name, seq=msg.seq, sender=msg.user_name, users=recipients)
                note = chat_pb2.Client_NewMessageNotification(message=msg, store_epoch=self.store.epoch)
                self.port.push(list(recipients), note, meta)
        now = self.monotonic()
        for user in batch.left:
            when = self.presence.left(user, self.clock())
            if when is not None:
                self.announcer.member(user, False, when)
        for user in batch.joined:
            when = self.presence.joined(user, now, self.clock())
            if when is not None:
                self.announcer.member(user, True, when)
        for user, seq in batch.read.items():
            if self.presence.read(user, seq, self.clock()):
                self._tell_others(user, chat_pb2.Client_ReadNotification(
                    room_name=self.name, user_name=user, read_seq=self.presence.read_position(user),
                    store_epoch=self.store.epoch))

    def _tell_others(self, user: str | None, note: Message) -> None:
        """Push ``note`` about ``user`` to every other member with a push stream (best effort; None: to all)."""
        recipients = {cid: name for name, cid in self.members.items() if name != user and cid}
        if recipients:
            self.port.push(list(recipients), note, PushMeta(room=self.name, sender=user, users=recipients))

    def _write_refused(self, transcript: Transcript, batch: Batch, exc: StoreError) -> None:
        """The store refused one change alone (the others are written): its numbers go to the sends after it."""
        transcript.staged_seq -= len(batch.messages)
        if transcript is self.transcript:
            for user in batch.joined:  # never stored: not a member
                if self.members.get(user) == batch.joined[user]:
                    del self.members[user]
        log.event(_log, logging.WARNING, "store_write_refused", room=self.name, error=str(exc),
                  users=sorted({m.user for m in batch.messages} | set(batch.joined) | set(batch.left)
                               | set(batch.read)))

    def _write_failed(self, exc: StoreError) -> None:
        log.event(_log, logging.WARNING, "store_write_failed", room=self.name, definite=exc.definite,
                  fenced=isinstance(exc, Fenced), error=str(exc))
        if isinstance(exc, Fenced):
            self.evicted = True
        else:
            self.stale = True

    async def _settled(self, done: "asyncio.Future[Batch]", reply: Callable[[], Message]) -> Message:
        try:
            await asyncio.shield(done)
        except StoreError as exc:
            raise refusal(self.name, exc) from None
        return reply()

    @method(chat_pb2.ChatRoom_JoinRequest)
    async def Join(self, request: chat_pb2.ChatRoom_JoinRequest, call: CallInfo) -> Message | Later:
        user = speaker(request.user_name, call)
        client = member_client(request.client_id, call)
        if client:
            try:
                clientid.parse(client)
            except clientid.MalformedClientId as exc:
                raise InvalidArgument(str(exc)) from None
        await self._fresh()
        self.presence.heard_from(user, self.monotonic(), self.clock())
        joined = lambda: self._joined(request)  # noqa: E731
        if self.members.get(user) == client:
            return joined()
        if user not in self.members:
            self._check_room_for(user)
        self.members[user] = client
        return Later(self._settled(self.writer.submit(joined={user: client}), joined))

    def _joined(self, request: chat_pb2.ChatRoom_JoinRequest) -> chat_pb2.ChatRoom_JoinResponse:
        members, as_of, page = self.presence.listing(request, self.monotonic(), self.clock())
        return chat_pb2.ChatRoom_JoinResponse(room_name=self.name, last_seq=self.transcript.last_seq,
                                              recent_messages=self.transcript.recent(self.config.join_history),
                                              store_epoch=self.store.epoch, members=members, members_as_of=as_of,
                                              member_page=page, heartbeat_ms=self.presence.heartbeat_ms())

    @method(chat_pb2.ChatRoom_LeaveRequest)
    async def Leave(self, request: chat_pb2.ChatRoom_LeaveRequest, call: CallInfo) -> Message | Later:
        user = speaker(request.user_name, call)
        client = member_client(request.client_id, call)
        await self._fresh()
        if user not in self.members or not (not client or self.members[user] in (client, "")):
            return chat_pb2.ChatRoom_LeaveResponse()
        del self.members[user]
        return Later(self._settled(self.writer.submit(left=[user]), chat_pb2.ChatRoom_LeaveResponse))

    @method(chat_pb2.ChatRoom_SendChatMessageRequest)
    async def SendMessage(self, request: chat_pb2.ChatRoom_SendChatMessageRequest,
                          call: CallInfo) -> Message | Later:
        user = speaker(request.user_name, call)
        self._check_text(request.message)
        cmid = request.client_msg_id
        if len(cmid) > MAX_CLIENT_MSG_ID:
            raise InvalidArgument(f"client_msg_id is longer than {MAX_CLIENT_MSG_ID} characters")
        check_storable("client_msg_id", cmid)
        await self._fresh()
        self.presence.heard_from(user, self.monotonic(), self.clock())
        if self.transcript.sent_as(user, cmid) is not None:
            return self._duplicate(user, cmid)
        key = (user, cmid)
        if cmid and key in self._pending:  # the first copy is being stored: answer as it is answered
            return Later(self._settled(self._pending[key], lambda: self._duplicate(user, cmid)))
        msg = self.transcript.stage(user, request.message, cmid, self.clock())
        done = self.writer.submit(messages=[msg])
        if cmid:
            self._pending[key] = done
            done.add_done_callback(lambda _: self._pending.pop(key, None) if self._pending.get(key) is done else None)
        return Later(self._settled(done, lambda: self._sent(done.result().messages[0])))

    def _sent(self, msg: StoredMessage) -> chat_pb2.Client_SendChatMessageResponse:
        """The reply to a durable send, with the numbers it was stored under."""
        return chat_pb2.Client_SendChatMessageResponse(seq=msg.seq, timestamp=msg.timestamp,
                                                       store_epoch=self.store.epoch)

    def _duplicate(self, user: str, cmid: str) -> chat_pb2.Client_SendChatMessageResponse:
        known = self.transcript.sent_as(user, cmid)
        if known is None:  # stored, then the room was reloaded or moved meanwhile: let the retry find it
            raise Unavailable(f"room {self.name!r} changed while storing {cmid!r}; retry", stored="unknown")
        seq, ts = known
        log.event(_log, logging.INFO, "message_stored", room=self.name, seq=seq, user=user,
                  client_msg_id=cmid, duplicate=True)
        return chat_pb2.Client_SendChatMessageResponse(seq=seq, timestamp=ts, duplicate=True,
                                                       store_epoch=self.store.epoch)

    @method(chat_pb2.ChatRoom_GetRecentMessagesRequest)
    async def GetRecentMessages(self, request: chat_pb2.ChatRoom_GetRecentMessagesRequest,
                                call: CallInfo) -> chat_pb2.ChatRoom_GetRecentMessagesResponse:
        if request.limit < 0 or request.after_seq < 0 or request.after_timestamp < 0:
            raise InvalidArgument("after_seq, after_timestamp and limit must not be negative")
        await self._fresh()
        limit = min(request.limit or self.config.page_size, self.config.page_size)
        t = self.transcript
        page, truncated, has_more = t.after(request.after_seq, request.after_timestamp, limit)
        now = self.monotonic()
        self.presence.heard_from(call.user, now, self.clock())  # a poll names nobody: the gate's word
        members, as_of, listed = self.presence.listing(request, now, self.clock())
        return chat_pb2.ChatRoom_GetRecentMessagesResponse(
            messages=page, history_truncated=truncated, has_more=has_more,
            first_available_seq=t.first_available_seq, last_seq=t.last_seq, store_epoch=self.store.epoch,
            members=members, members_as_of=as_of, member_page=listed)

    @method(chat_pb2.ChatRoom_MembersRequest)
    async def Members(self, request: chat_pb2.ChatRoom_MembersRequest,
                      call: CallInfo) -> chat_pb2.ChatRoom_MembersResponse:
        """Who is in the room; a member's call is its heartbeat (not heard from for the grace: away)."""
        user = speaker(request.user_name, call) if request.user_name or call.user else None
        await self._fresh()
        now = self.monotonic()
        self.presence.heard_from(user, now, self.clock())
        members, as_of, page = self.presence.listing(request, now, self.clock())
        return chat_pb2.ChatRoom_MembersResponse(members=members, as_of=as_of, store_epoch=self.store.epoch,
                                                 member_page=page, last_seq=self.transcript.last_seq,
                                                 heartbeat_ms=self.presence.heartbeat_ms())

    @method(chat_pb2.ChatRoom_TypingRequest)
    async def Typing(self, request: chat_pb2.ChatRoom_TypingRequest,
                     call: CallInfo) -> chat_pb2.ChatRoom_TypingResponse:
        """Push "``user`` is typing" to the other members: never stored, at most one per typing interval."""
        user = speaker(request.user_name, call)
        await self._fresh()
        self._must_be_member(user)
        now = self.monotonic()
        self.presence.heard_from(user, now, self.clock())
        expires_ms = int(self.config.presence.typing_expiry * 1000)
        if not self.presence.may_type(user, now):
            return chat_pb2.ChatRoom_TypingResponse(pushed=False, expires_ms=expires_ms)
        self._tell_others(user, chat_pb2.Client_TypingNotification(room_name=self.name, user_name=user,
                                                                   expires_ms=expires_ms, timestamp=self.clock()))
        return chat_pb2.ChatRoom_TypingResponse(pushed=True, expires_ms=expires_ms)

    @method(chat_pb2.ChatRoom_MarkReadRequest)
    async def MarkRead(self, request: chat_pb2.ChatRoom_MarkReadRequest, call: CallInfo) -> Message | Later:
        """Store that ``user`` read up to ``seq`` (never moving it back), then tell the others."""
        user = speaker(request.user_name, call)
        if request.seq < 0:
            raise InvalidArgument("seq must not be negative")
        await self._fresh()
        self._must_be_member(user)
        if request.seq > self.transcript.last_seq:
            raise InvalidArgument(f"seq {request.seq} is beyond the last message of {self.name!r} "
                                  f"(#{self.transcript.last_seq})")
        self.presence.heard_from(user, self.monotonic(), self.clock())
        reply = lambda: chat_pb2.ChatRoom_MarkReadResponse(read_seq=self.presence.read_position(user))  # noqa: E731
        if request.seq <= self.presence.read_position(user):
            return reply()
        return Later(self._settled(self.writer.submit(read={user: request.seq}), reply))

    def _check_room_for(self, user: str) -> None:
        """Refuse a new member past ``max_members``, once the members gone for good have been dropped."""
        limit = self.config.max_members
        if limit and len(self.members) >= limit:
            self.expire_members()
        if limit and len(self.members) >= limit:
            raise ResourceExhausted(f"room {self.name!r} is full: it has {len(self.members)} members, the limit "
                                    f"(--max-members-per-room) is {limit}; {user!r} was not added",
                                    limit=limits.MEMBERS_PER_ROOM)

    def expire_members(self) -> "asyncio.Future[Batch] | None":
        """Drop the members not heard from for the expiry: gone from the list once the store has it, and
        then told to the others as leaves (the future: that write; None when nobody was dropped). Run under
        the room's lock: by the node's sweep, and before a full room refuses a join."""
        if self.evicted or self.stale:
            return None
        gone = [user for user in self.presence.gone(self.monotonic()) if user in self.members]
        if not gone:
            return None
        for user in gone:
            del self.members[user]
        log.event(_log, logging.INFO, "members_expired", room=self.name, count=len(gone), users=gone[:20],
                  expiry=self.config.presence.expiry)
        return self.writer.submit(left=gone)  # when it fails, the room reloads them and the next sweep tries again

    def _must_be_member(self, user: str) -> None:
        if user not in self.members:
            raise PermissionDenied(f"{user!r} is not a member of {self.name!r}: join it first")

    def _check_text(self, text: str) -> None:
        if not text.strip():
            raise InvalidArgument("message is empty")
        check_storable("message", text)
        size = len(text.encode("utf-8"))
        if size > self.config.max_message_bytes:
            raise InvalidArgument(f"message is {size} bytes, the limit is {self.config.max_message_bytes}",
                                  limit=limits.MESSAGE_BYTES)

    async def deleted(self) -> None:
        await self.writer.close()
        try:
            await self.store.drop(self.name)
        except StoreError as exc:
            raise refusal(self.name, exc) from None

    async def close(self) -> None:
        self.announcer.close()
        await self.writer.close()


def default_objects(config: RoomConfig) -> list[tuple[str, str]]:
    """(type, id) of what a fresh cluster holds: the manager and the configured rooms.

    Goverse's chat server creates ``ChatRoomMgr0`` at start and the manager
    creates the default rooms, so a client's first ``/list`` or ``/join``
    finds them and ``ListObjects`` shows them before any call (Goverse's own
    test harness waits for them). The node creates them; see
    :meth:`system.node.NodeServer.create_default_objects` for which node.
    """
    rooms = [(ChatRoom.type_name, ROOM_PREFIX + name) for name in config.rooms]
    return [(ChatRoomMgr.type_name, MANAGER_ID), *rooms]


def install(host: ObjectHost, config: RoomConfig, port: PushPort, store: Store,
            clock: Callable[[], int] = now_us, monotonic: Callable[[], float] = time.monotonic) -> None:
    """Register the chat types on ``host``: the configured rooms exist on first call, others only by
    CreateObject (and then survive restarts: the store keeps them)."""

    async def room_names() -> list[str]:
        try:
            stored = await store.room_names()
        except StoreError as exc:
            raise refusal("*", exc) from None
        return list(config.rooms) + [name for name, explicit in stored if explicit and name not in config.rooms]

    def make_manager(object_id: str, explicit: bool) -> ChatRoomMgr:
        if object_id != MANAGER_ID:
            raise NotFound(f"no room manager {object_id!r}: the manager is {MANAGER_ID!r}")
        return ChatRoomMgr(object_id, room_names)

    async def make_room(object_id: str, explicit: bool) -> ChatRoom:
        name = object_id.removeprefix(ROOM_PREFIX)
        if not object_id.startswith(ROOM_PREFIX) or not ROOM_NAME_RE.match(name):
            raise InvalidArgument(f"bad room id {object_id!r}: want '{ROOM_PREFIX}<name>', name of 1-64 of A-Z a-z 0-9 _ . -")
        configured = name in config.rooms
        try:
            record = await store.claim(name, config.limits, create=explicit or configured,
                                       explicit=explicit and not configured)
        except StoreError as exc:
            raise refusal(name, exc) from None
        if record is None:
            same = next((r for r in config.rooms if r.casefold() == name.casefold()), None)  # names are exact
            hint = f"; did you mean {same!r}?" if same else ""
            raise NotFound(f"no chat room {name!r}: rooms are {', '.join(config.rooms)}{hint}")
        return ChatRoom(object_id, config, port, store, record, clock, monotonic)

    host.register(ChatRoomMgr, make_manager)
    host.register(ChatRoom, make_room)
