from google.protobuf import any_pb2 as _any_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("advertise_addr", "num_objects", "uptime_seconds")
    ADVERTISE_ADDR_FIELD_NUMBER: _ClassVar[int]
    NUM_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    advertise_addr: str
    num_objects: int
    uptime_seconds: int
    def __init__(self, advertise_addr: _Optional[str] = ..., num_objects: _Optional[int] = ..., uptime_seconds: _Optional[int] = ...) -> None: ...

class CallObjectRequest(_message.Message):
    __slots__ = ("id", "method", "type", "request", "client_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    method: str
    type: str
    request: _any_pb2.Any
    client_id: str
    def __init__(self, id: _Optional[str] = ..., method: _Optional[str] = ..., type: _Optional[str] = ..., request: _Optional[_Union[_any_pb2.Any, _Mapping]] = ..., client_id: _Optional[str] = ...) -> None: ...

class CallObjectResponse(_message.Message):
    __slots__ = ("response",)
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    response: _any_pb2.Any
    def __init__(self, response: _Optional[_Union[_any_pb2.Any, _Mapping]] = ...) -> None: ...

class CreateObjectRequest(_message.Message):
    __slots__ = ("type", "id")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    type: str
    id: str
    def __init__(self, type: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class CreateObjectResponse(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteObjectRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteObjectResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ObjectInfo(_message.Message):
    __slots__ = ("type", "id", "creation_time")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    type: str
    id: str
    creation_time: int
    def __init__(self, type: _Optional[str] = ..., id: _Optional[str] = ..., creation_time: _Optional[int] = ...) -> None: ...

class ListObjectsResponse(_message.Message):
    __slots__ = ("objects",)
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[ObjectInfo]
    def __init__(self, objects: _Optional[_Iterable[_Union[ObjectInfo, _Mapping]]] = ...) -> None: ...

class RegisterGateRequest(_message.Message):
    __slots__ = ("gate_addr",)
    GATE_ADDR_FIELD_NUMBER: _ClassVar[int]
    gate_addr: str
    def __init__(self, gate_addr: _Optional[str] = ...) -> None: ...

class RegisterGateResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClientMessageEnvelope(_message.Message):
    __slots__ = ("client_ids", "message")
    CLIENT_IDS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    client_ids: _containers.RepeatedScalarFieldContainer[str]
    message: _any_pb2.Any
    def __init__(self, client_ids: _Optional[_Iterable[str]] = ..., message: _Optional[_Union[_any_pb2.Any, _Mapping]] = ...) -> None: ...

class GateMessage(_message.Message):
    __slots__ = ("register_gate_response", "client_message")
    REGISTER_GATE_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    register_gate_response: RegisterGateResponse
    client_message: ClientMessageEnvelope
    def __init__(self, register_gate_response: _Optional[_Union[RegisterGateResponse, _Mapping]] = ..., client_message: _Optional[_Union[ClientMessageEnvelope, _Mapping]] = ...) -> None: ...
