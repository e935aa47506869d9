"""The chat sample's objects: ``ChatRoomMgr`` and ``ChatRoom``.

A room numbers each message when it stores it (``seq`` from 1, no gaps;
``timestamp`` in microseconds, unique and increasing), acknowledges the send,
and only then pushes it, best effort, to every member but the sender. Push
failures are reported by the push port and never fail the send: members
recover by polling after their cursor. A retried send (same user and
``client_msg_id``) is stored once and answered with the original numbers.

Sans-I/O: the room pushes through a :class:`PushPort` and reads a clock.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import Message

from system import clientid, log
from system.objects import CallInfo, GoverseObject, InvalidArgument, NotFound, ObjectHost, method
from system.pb import chat_pb2
from system.push import PushError, PushMeta

DEFAULT_ROOMS = ("General", "Technology", "Crypto", "Sports", "Movies")
ROOM_PREFIX = "ChatRoom-"
MANAGER_ID = "ChatRoomMgr0"
ROOM_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MAX_USER_NAME = 64
MAX_CLIENT_MSG_ID = 128

_log = log.get("room")


@dataclass(frozen=True)
class RoomConfig:
    rooms: tuple[str, ...] = DEFAULT_ROOMS
    max_message_bytes: int = 4096
    history_limit: int = 10000   # messages kept per room; older ones are trimmed
    join_history: int = 50       # recent messages returned by Join
    page_size: int = 1000        # GetRecentMessages page when limit is 0, and its cap
    dedup_window: int = 10000    # client message ids remembered per room


class PushPort(Protocol):
    def push(self, client_ids: list[str], message: Message, meta: PushMeta) -> list[PushError]:
        """Queue ``message`` for the clients; failures are reported by the port and returned."""


def now_us() -> int:
    return time.time_ns() // 1000


def check_user_name(name: str) -> str:
    if not name or not name.strip():
        raise InvalidArgument("user_name is empty")
    if len(name) > MAX_USER_NAME or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise InvalidArgument(f"bad user_name {name[:80]!r}: want 1-{MAX_USER_NAME} printable characters")
    return name


class History:
    """A room's messages: bounded, numbered without gaps, searchable by seq or timestamp."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("history limit must be at least 1")
        self.messages: deque[chat_pb2.ChatMessage] = deque(maxlen=limit)
        self.last_seq = 0
        self.last_timestamp = 0
        self.trimmed_last_timestamp = 0  # timestamp of the newest message trimmed away

    @property
    def first_available_seq(self) -> int:
        return self.messages[0].seq if self.messages else self.last_seq + 1

    def append(self, room: str, user: str, text: str, client_msg_id: str, now: int) -> chat_pb2.ChatMessage:
        if len(self.messages) == self.messages.maxlen:
            self.trimmed_last_timestamp = self.messages[0].timestamp
        self.last_seq += 1
        self.last_timestamp = max(now, self.last_timestamp + 1)
        msg = chat_pb2.ChatMessage(user_name=user, message=text, timestamp=self.last_timestamp,
                                   seq=self.last_seq, room_name=room, client_msg_id=client_msg_id)
        self.messages.append(msg)
        return msg

    def recent(self, count: int) -> list[chat_pb2.ChatMessage]:
        return list(self.messages)[-count:] if count > 0 else []

    def after(self, after_seq: int, after_timestamp: int, limit: int) -> tuple[list[chat_pb2.ChatMessage], bool, bool]:
        """Messages after the cursor (seq wins when > 0): (page, truncated, has_more)."""
        if after_seq > 0:
            truncated = self.first_available_seq > after_seq + 1 and after_seq < self.last_seq
            start = max(0, after_seq - self.first_available_seq + 1)
        else:
            truncated = self.trimmed_last_timestamp > after_timestamp
            start = bisect.bisect_right(self.messages, after_timestamp, key=lambda m: m.timestamp)
        stop = min(len(self.messages), start + limit)
        page = list(itertools.islice(self.messages, start, stop))  # one walk; deque indexing is O(n) mid-way
        return page, truncated, stop < len(self.messages)


class ChatRoomMgr(GoverseObject):
    type_name = "ChatRoomMgr"

    def __init__(self, object_id: str, rooms: Callable[[], Sequence[str]]) -> None:
        super().__init__(object_id)
        self._rooms = rooms

    @method(chat_pb2.ChatRoom_ListRequest)
    def ListChatRooms(self, request: chat_pb2.ChatRoom_ListRequest, call: CallInfo) -> chat_pb2.ChatRoom_ListResponse:
        return chat_pb2.ChatRoom_ListResponse(chat_rooms=list(self._rooms()))


class ChatRoom(GoverseObject):
    type_name = "ChatRoom"

    def __init__(self, object_id: str, config: RoomConfig, port: PushPort,
                 clock: Callable[[], int] = now_us) -> None:
        super().__init__(object_id)
        self.name = object_id.removeprefix(ROOM_PREFIX)
        self.config = config
        self.port = port
        self.clock = clock
        self.members: dict[str, str] = {}  # user name -> client id ("" when the user has no push stream)
        self.history = History(config.history_limit)
        self._sent: OrderedDict[tuple[str, str], tuple[int, int]] = OrderedDict()  # (user, client_msg_id) -> (seq, ts)

    @method(chat_pb2.ChatRoom_JoinRequest)
    def Join(self, request: chat_pb2.ChatRoom_JoinRequest, call: CallInfo) -> chat_pb2.ChatRoom_JoinResponse:
        user = check_user_name(request.user_name)
        client = request.client_id or call.client_id
        if client:
            try:
                clientid.parse(client)
            except clientid.MalformedClientId as exc:
                raise InvalidArgument(str(exc)) from None
        self.members[user] = client
        return chat_pb2.ChatRoom_JoinResponse(room_name=self.name, last_seq=self.history.last_seq,
                                              recent_messages=self.history.recent(self.config.join_history))

    @method(chat_pb2.ChatRoom_LeaveRequest)
    def Leave(self, request: chat_pb2.ChatRoom_LeaveRequest, call: CallInfo) -> chat_pb2.ChatRoom_LeaveResponse:
        user = check_user_name(request.user_name)
        client = request.client_id or call.client_id
        if not client or self.members.get(user) in (client, ""):
            self.members.pop(user, None)
        return chat_pb2.ChatRoom_LeaveResponse()

    @method(chat_pb2.ChatRoom_SendChatMessageRequest)
    def SendMessage(self, request: chat_pb2.ChatRoom_SendChatMessageRequest,
                    call: CallInfo) -> chat_pb2.Client_SendChatMessageResponse:
        user = check_user_name(request.user_name)
        self._check_text(request.message)
        cmid = request.client_msg_id
        if len(cmid) > MAX_CLIENT_MSG_ID:
            raise InvalidArgument(f"client_msg_id is longer than {MAX_CLIENT_MSG_ID} characters")
        if cmid and (user, cmid) in self._sent:
            seq, ts = self._sent[(user, cmid)]
            log.event(_log, logging.INFO, "message_stored", room=self.name, seq=seq, user=user,
                      client_msg_id=cmid, duplicate=True)
            return chat_pb2.Client_SendChatMessageResponse(seq=seq, timestamp=ts, duplicate=True)
        msg = self.history.append(self.name, user, request.message, cmid, self.clock())
        if cmid:
            self._remember(user, cmid, msg)
        log.event(_log, logging.INFO, "message_stored", room=self.name, seq=msg.seq, user=user,
                  client_msg_id=cmid, duplicate=False)
        recipients = {cid: name for name, cid in self.members.items() if name != user and cid}
        if recipients:
            meta = PushMeta(room=self.name, seq=msg.seq, sender=user, users=recipients)
            self.port.push(list(recipients), chat_pb2.Client_NewMessageNotification(message=msg), meta)
        return chat_pb2.Client_SendChatMessageResponse(seq=msg.seq, timestamp=msg.timestamp)

    @method(chat_pb2.ChatRoom_GetRecentMessagesRequest)
    def GetRecentMessages(self, request: chat_pb2.ChatRoom_GetRecentMessagesRequest,
                          call: CallInfo) -> chat_pb2.ChatRoom_GetRecentMessagesResponse:
        if request.limit < 0 or request.after_seq < 0 or request.after_timestamp < 0:
            raise InvalidArgument("after_seq, after_timestamp and limit must not be negative")
        limit = min(request.limit or self.config.page_size, self.config.page_size)
        page, truncated, has_more = self.history.after(request.after_seq, request.after_timestamp, limit)
        return chat_pb2.ChatRoom_GetRecentMessagesResponse(
            messages=page, history_truncated=truncated, has_more=has_more,
            first_available_seq=self.history.first_available_seq, last_seq=self.history.last_seq)

    def _check_text(self, text: str) -> None:
        if not text.strip():
            raise InvalidArgument("message is empty")
        size = len(text.encode("utf-8"))
        if size > self.config.max_message_bytes:
            raise InvalidArgument(f"message is {size} bytes, the limit is {self.config.max_message_bytes}")

    def _remember(self, user: str, cmid: str, msg: chat_pb2.ChatMessage) -> None:
        self._sent[(user, cmid)] = (msg.seq, msg.timestamp)
        while len(self._sent) > self.config.dedup_window:
            self._sent.popitem(last=False)


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


def install(host: ObjectHost, config: RoomConfig, port: PushPort, clock: Callable[[], int] = now_us) -> None:
    """Register the chat types on ``host``: the configured rooms exist on first call, others only by CreateObject."""

    def room_names() -> list[str]:
        created = sorted(h.obj.name for h in host.objects()
                         if isinstance(h.obj, ChatRoom) and h.obj.name not in config.rooms)
        return list(config.rooms) + created

    def make_manager(object_id: str, explicit: bool) -> ChatRoomMgr:
        if object_id != MANAGER_ID:
            raise NotFound(f"no room manager {object_id!r}: the manager is {MANAGER_ID!r}")
        return ChatRoomMgr(object_id, room_names)

    def make_room(object_id: str, explicit: bool) -> ChatRoom:
        name = object_id.removeprefix(ROOM_PREFIX)
        if not object_id.startswith(ROOM_PREFIX) or not ROOM_NAME_RE.match(name):
            raise InvalidArgument(f"bad room id {object_id!r}: want '{ROOM_PREFIX}<name>', name of 1-64 of A-Z a-z 0-9 _ . -")
        if not explicit and name not in config.rooms:
            raise NotFound(f"no chat room {name!r}: rooms are {', '.join(config.rooms)}")
        return ChatRoom(object_id, config, port, clock)

    host.register(ChatRoomMgr, make_manager)
    host.register(ChatRoom, make_room)
