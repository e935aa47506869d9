from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChatMessage(_message.Message):
    __slots__ = ("user_name", "message", "timestamp", "seq", "room_name", "client_msg_id")
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ROOM_NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MSG_ID_FIELD_NUMBER: _ClassVar[int]
    user_name: str
    message: str
    timestamp: int
    seq: int
    room_name: str
    client_msg_id: str
    def __init__(self, user_name: _Optional[str] = ..., message: _Optional[str] = ..., timestamp: _Optional[int] = ..., seq: _Optional[int] = ..., room_name: _Optional[str] = ..., client_msg_id: _Optional[str] = ...) -> None: ...

class Client_ListChatRoomsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Client_ListChatRoomsResponse(_message.Message):
    __slots__ = ("chat_rooms",)
    CHAT_ROOMS_FIELD_NUMBER: _ClassVar[int]
    chat_rooms: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, chat_rooms: _Optional[_Iterable[str]] = ...) -> None: ...

class ChatRoom_ListRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChatRoom_ListResponse(_message.Message):
    __slots__ = ("chat_rooms",)
    CHAT_ROOMS_FIELD_NUMBER: _ClassVar[int]
    chat_rooms: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, chat_rooms: _Optional[_Iterable[str]] = ...) -> None: ...

class Client_JoinChatRoomRequest(_message.Message):
    __slots__ = ("room_name", "user_name")
    ROOM_NAME_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    room_name: str
    user_name: str
    def __init__(self, room_name: _Optional[str] = ..., user_name: _Optional[str] = ...) -> None: ...

class Client_JoinChatRoomResponse(_message.Message):
    __slots__ = ("room_name", "recent_messages")
    ROOM_NAME_FIELD_NUMBER: _ClassVar[int]
    RECENT_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    room_name: str
    recent_messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    def __init__(self, room_name: _Optional[str] = ..., recent_messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ...) -> None: ...

class Client_SendChatMessageRequest(_message.Message):
    __slots__ = ("room_name", "user_name", "message", "client_msg_id")
    ROOM_NAME_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MSG_ID_FIELD_NUMBER: _ClassVar[int]
    room_name: str
    user_name: str
    message: str
    client_msg_id: str
    def __init__(self, room_name: _Optional[str] = ..., user_name: _Optional[str] = ..., message: _Optional[str] = ..., client_msg_id: _Optional[str] = ...) -> None: ...

class Client_SendChatMessageResponse(_message.Message):
    __slots__ = ("seq", "timestamp", "duplicate", "store_epoch")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    STORE_EPOCH_FIELD_NUMBER: _ClassVar[int]
    seq: int
    timestamp: int
    duplicate: bool
    store_epoch: int
    def __init__(self, seq: _Optional[int] = ..., timestamp: _Optional[int] = ..., duplicate: _Optional[bool] = ..., store_epoch: _Optional[int] = ...) -> None: ...

class Client_GetRecentMessagesRequest(_message.Message):
    __slots__ = ("room_name", "after_timestamp", "after_seq", "limit")
    ROOM_NAME_FIELD_NUMBER: _ClassVar[int]
    AFTER_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    room_name: str
    after_timestamp: int
    after_seq: int
    limit: int
    def __init__(self, room_name: _Optional[str] = ..., after_timestamp: _Optional[int] = ..., after_seq: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class Client_GetRecentMessagesResponse(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    def __init__(self, messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ...) -> None: ...

class ChatRoom_JoinRequest(_message.Message):
    __slots__ = ("user_name", "client_id", "members_since")
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_SINCE_FIELD_NUMBER: _ClassVar[int]
    user_name: str
    client_id: str
    members_since: MemberCursor
    def __init__(self, user_name: _Optional[str] = ..., client_id: _Optional[str] = ..., members_since: _Optional[_Union[MemberCursor, _Mapping]] = ...) -> None: ...

class ChatRoom_JoinResponse(_message.Message):
    __slots__ = ("room_name", "recent_messages", "last_seq", "store_epoch", "members", "members_as_of", "member_page", "heartbeat_ms")
    ROOM_NAME_FIELD_NUMBER: _ClassVar[int]
    RECENT_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    STORE_EPOCH_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_AS_OF_FIELD_NUMBER: _ClassVar[int]
    MEMBER_PAGE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_MS_FIELD_NUMBER: _ClassVar[int]
    room_name: str
    recent_messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    last_seq: int
    store_epoch: int
    members: _containers.RepeatedCompositeFieldContainer[Member]
    members_as_of: int
    member_page: MemberPage
    heartbeat_ms: int
    def __init__(self, room_name: _Optional[str] = ..., recent_messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., last_seq: _Optional[int] = ..., store_epoch: _Optional[int] = ..., members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., members_as_of: _Optional[int] = ..., member_page: _Optional[_Union[MemberPage, _Mapping]] = ..., heartbeat_ms: _Optional[int] = ...) -> None: ...

class ChatRoom_SendChatMessageRequest(_message.Message):
    __slots__ = ("user_name", "message", "client_msg_id")
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MSG_ID_FIELD_NUMBER: _ClassVar[int]
    user_name: str
    message: str
    client_msg_id: str
    def __init__(self, user_name: _Optional[str] = ..., message: _Optional[str] = ..., client_msg_id: _Optional[str] = ...) -> None: ...

class ChatRoom_SendChatMessageResponse(_message.Message):
    __slots__ = ("seq", "timestamp", "duplicate", "store_epoch")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    STORE_EPOCH_FIELD_NUMBER: _ClassVar[int]
    seq: int
    timestamp: int
    duplicate: bool
    store_epoch: int
    def __init__(self, seq: _Optional[int] = ..., timestamp: _Optional[int] = ..., duplicate: _Optional[bool] = ..., store_epoch: _Optional[int] = ...) -> None: ...

class ChatRoom_GetRecentMessagesRequest(_message.Message):
    __slots__ = ("after_timestamp", "after_seq", "limit", "members_since")
    AFTER_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_SINCE_FIELD_NUMBER: _ClassVar[int]
    after_timestamp: int
    after_seq: int
    limit: int
    members_since: MemberCursor
    def __init__(self, after_timestamp: _Optional[int] = ..., after_seq: _Optional[int] = ..., limit: _Optional[int] = ..., members_since: _Optional[_Union[MemberCursor, _Mapping]] = ...) -> None: ...

class ChatRoom_GetRecentMessagesResponse(_message.Message):
    __slots__ = ("messages", "history_truncated", "first_available_seq", "last_seq", "has_more", "store_epoch", "members", "members_as_of", "member_page")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    HISTORY_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    FIRST_AVAILABLE_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    STORE_EPOCH_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_AS_OF_FIELD_NUMBER: _ClassVar[int]
    MEMBER_PAGE_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    history_truncated: bool
    first_available_seq: int
    last_seq: int
    has_more: bool
    store_epoch: int
    members: _containers.RepeatedCompositeFieldContainer[Member]
    members_as_of: int
    member_page: MemberPage
    def __init__(self, messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., history_truncated: _Optional[bool] = ..., first_available_seq: _Optional[int] = ..., last_seq: _Optional[int] = ..., has_more: _Optional[bool] = ..., store_epoch: _Optional[int] = ..., members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., members_as_of: _Optional[int] = ..., member_page: _Optional[_Union[MemberPage, _Mapping]] = ...) -> None: ...

class ChatRoom_LeaveRequest(_message.Message):
    __slots__ = ("user_name", "client_id")
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    user_name: str
    client_id: str
    def __init__(self, user_name: _Optional[str] = ..., client_id: _Optional[str] = ...) -> None: ...

class ChatRoom_LeaveResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Client_NewMessageNotification(_message.Message):
    __slots__ = ("message", "store_epoch")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STORE_EPOCH_FIELD_NUMBER: _ClassVar[int]
    message: ChatMessage
    store_epoch: int
    def __init__(self, message: _Optional[_Union[ChatMessage, _Mapping]] = ..., store_epoch: _Optional[int] = ...) -> None: ...

class Member(_message.Message):
    __slots__ = ("user_name", "away", "read_seq", "since")
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    AWAY_FIELD_NUMBER: _ClassVar[int]
    READ_SEQ_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    user_name: str
    away: bool
    read_seq: int
    since: int
    def __init__(self, user_name: _Optional[str] = ..., away: _Optional[bool] = ..., read_seq: _Optional[int] = ..., since: _Optional[int] = ...) -> None: ...

class ChatRoom_MembersRequest(_message.Message):
    __slots__ = ("user_name", "members_since")
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_SINCE_FIELD_NUMBER: _ClassVar[int]
    user_name: str
    members_since: MemberCursor
    def __init__(self, user_name: _Optional[str] = ..., members_since: _Optional[_Union[MemberCursor, _Mapping]] = ...) -> None: ...

class ChatRoom_MembersResponse(_message.Message):
    __slots__ = ("members", "as_of", "store_epoch", "member_page", "last_seq", "heartbeat_ms")
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    STORE_EPOCH_FIELD_NUMBER: _ClassVar[int]
    MEMBER_PAGE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_MS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[Member]
    as_of: int
    store_epoch: int
    member_page: MemberPage
    last_seq: int
    heartbeat_ms: int
    def __init__(self, members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., as_of: _Optional[int] = ..., store_epoch: _Optional[int] = ..., member_page: _Optional[_Union[MemberPage, _Mapping]] = ..., last_seq: _Optional[int] = ..., heartbeat_ms: _Optional[int] = ...) -> None: ...

class MemberCursor(_message.Message):
    __slots__ = ("version", "origin", "listing")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    LISTING_FIELD_NUMBER: _ClassVar[int]
    version: int
    origin: int
    listing: bool
    def __init__(self, version: _Optional[int] = ..., origin: _Optional[int] = ..., listing: _Optional[bool] = ...) -> None: ...

class MemberPage(_message.Message):
    __slots__ = ("version", "origin", "full", "members", "gone", "more")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    FULL_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    GONE_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    version: int
    origin: int
    full: bool
    members: _containers.RepeatedCompositeFieldContainer[Member]
    gone: _containers.RepeatedScalarFieldContainer[str]
    more: bool
    def __init__(self, version: _Optional[int] = ..., origin: _Optional[int] = ..., full: _Optional[bool] = ..., members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., gone: _Optional[_Iterable[str]] = ..., more: _Optional[bool] = ...) -> None: ...

class Client_MembersChangedNotification(_message.Message):
    __slots__ = ("room_name", "from_version", "page")
    ROOM_NAME_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    room_name: str
    from_version: int
    page: MemberPage
    def __init__(self, room_name: _Optional[str] = ..., from_version: _Optional[int] = ..., page: _Optional[_Union[MemberPage, _Mapping]] = ...) -> None: ...

class Client_MemberNotification(_message.Message):
    __slots__ = ("room_name", "user_name", "joined", "timestamp")
    ROOM_NAME_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    JOINED_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    room_name: str
    user_name: str
    joined: bool
    timestamp: int
    def __init__(self, room_name: _Optional[str] = ..., user_name: _Optional[str] = ..., joined: _Optional[bool] = ..., timestamp: _Optional[int] = ...) -> None: ...

class ChatRoom_TypingRequest(_message.Message):
    __slots__ = ("user_name",)
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    user_name: str
    def __init__(self, user_name: _Optional[str] = ...) -> None: ...

class ChatRoom_TypingResponse(_message.Message):
    __slots__ = ("pushed", "expires_ms")
    PUSHED_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_MS_FIELD_NUMBER: _ClassVar[int]
    pushed: bool
    expires_ms: int
    def __init__(self, pushed: _Optional[bool] = ..., expires_ms: _Optional[int] = ...) -> None: ...

class Client_TypingNotification(_message.Message):
    __slots__ = ("room_name", "user_name", "expires_ms", "timestamp")
    ROOM_NAME_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_MS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    room_name: str
    user_name: str
    expires_ms: int
    timestamp: int
    def __init__(self, room_name: _Optional[str] = ..., user_name: _Optional[str] = ..., expires_ms: _Optional[int] = ..., timestamp: _Optional[int] = ...) -> None: ...

class ChatRoom_MarkReadRequest(_message.Message):
    __slots__ = ("user_name", "seq")
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    user_name: str
    seq: int
    def __init__(self, user_name: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class ChatRoom_MarkReadResponse(_message.Message):
    __slots__ = ("read_seq",)
    READ_SEQ_FIELD_NUMBER: _ClassVar[int]
    read_seq: int
    def __init__(self, read_seq: _Optional[int] = ...) -> None: ...

class Client_ReadNotification(_message.Message):
    __slots__ = ("room_name", "user_name", "read_seq", "store_epoch")
    ROOM_NAME_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    READ_SEQ_FIELD_NUMBER: _ClassVar[int]
    STORE_EPOCH_FIELD_NUMBER: _ClassVar[int]
    room_name: str
    user_name: str
    read_seq: int
    store_epoch: int
    def __init__(self, room_name: _Optional[str] = ..., user_name: _Optional[str] = ..., read_seq: _Optional[int] = ..., store_epoch: _Optional[int] = ...) -> None: ...
