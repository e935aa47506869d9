"""The object host: Goverse's virtual objects, without the network.

Objects are found by id, created on their first call (when their type
allows it; a factory may be a coroutine, e.g. to load the object's state),
and run one call at a time: each object has its own lock, so two methods of
one room never interleave even when a method awaits. A method may return
:class:`Later`: the rest of its work (waiting for a durable write) then runs
after the lock is released, so calls queued behind it can start meanwhile.
A call's payload is a packed ``Any``; the method declares the request type
it accepts, and anything else is refused with an :class:`ObjectError` whose
``code`` names the gRPC status the server should answer with.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from google.protobuf import any_pb2
from google.protobuf.message import DecodeError, Message

OBJECT_ID_RE = re.compile(r"^[\x21-\x7e]{1,256}$")
#: Trailing metadata of a refused write, as the node sends it and the gate passes it on:
#: "no" (surely not stored) or "unknown".
STORED_KEY = "pushchat-stored"
#: Trailing metadata of a call refused by a node that does not own the object in its view of the cluster
#: (its value: the owner in that view, or "" when the node's own lease lapsed).
#: Views on etcd differ for a moment after a change, so the gate routes such a call again rather than failing it.
MISROUTED_KEY = "pushchat-misrouted"


class ObjectError(Exception):
    """A refused call; ``code`` is a ``grpc.StatusCode`` name.

    ``stored`` tells a caller of a write whether it happened: ``"no"`` (surely
    not) or ``"unknown"``; None when the call wrote nothing.
    """

    code = "INTERNAL"

    def __init__(self, message: str, *, stored: str | None = None, limit: str | None = None) -> None:
        super().__init__(message)
        self.stored = stored
        self.limit = limit  # the limit it hit (system.limits), if it is one

    @property
    def trailing(self) -> tuple[tuple[str, str], ...]:
        """The trailing metadata a node sends with this refusal."""
        return ((STORED_KEY, self.stored),) if self.stored else ()


class Unavailable(ObjectError):
    code = "UNAVAILABLE"


class Misrouted(Unavailable):
    """This node does not serve the object now, in its view of the cluster (another owns it, or our lease
    lapsed): surely not done. A write fenced by the store is not this: the views agree, and another node
    took the room; routing again would only take it back."""

    def __init__(self, message: str, owner: str) -> None:
        super().__init__(message, stored="no")
        self.owner = owner

    @property
    def trailing(self) -> tuple[tuple[str, str], ...]:
        return (*super().trailing, (MISROUTED_KEY, self.owner))


class Superseded(Unavailable):
    """Another node claimed the object since we loaded it: the store fenced our write off. Surely not done."""

    def __init__(self, message: str) -> None:
        super().__init__(message, stored="no")


class ResourceExhausted(ObjectError):
    code = "RESOURCE_EXHAUSTED"


@dataclass(frozen=True)
class Later:
    """A method's remaining work, awaited outside the object's lock; its result is the reply."""

    work: Awaitable[Message]


class NotFound(ObjectError):
    code = "NOT_FOUND"


class Unimplemented(ObjectError):
    code = "UNIMPLEMENTED"


class InvalidArgument(ObjectError):
    code = "INVALID_ARGUMENT"


class PermissionDenied(ObjectError):
    code = "PERMISSION_DENIED"


@dataclass(frozen=True)
class CallInfo:
    """Who is calling: the ``client_id`` the gate put on ``CallObjectRequest`` (may be empty), and the
    ``user`` the gate vouched for (None: nobody vouched; the request's own user name is taken)."""

    client_id: str = ""
    user: str | None = None


@dataclass(frozen=True)
class MethodSpec:
    name: str
    request_type: type[Message]
    fn: Callable[..., Any]


def method(request_type: type[Message]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark ``fn(self, request, call)`` as a callable method taking ``request_type``."""
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn._request_type = request_type  # type: ignore[attr-defined]
        return fn
    return mark


class GoverseObject:
    """Base of hosted objects; subclasses set ``type_name`` and mark methods with :func:`method`."""

    type_name: ClassVar[str] = ""
    methods: ClassVar[dict[str, MethodSpec]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.methods = {
            name: MethodSpec(name, fn._request_type, fn)
            for name, fn in inspect.getmembers(cls, inspect.isfunction)
            if hasattr(fn, "_request_type")
        }

    def __init__(self, object_id: str) -> None:
        self.object_id = object_id
        self.evicted = False  # set when the object must be dropped (e.g. another node owns it now)

    async def deleted(self) -> None:
        """``DeleteObject`` removed it: drop what it keeps elsewhere."""

    async def close(self) -> None:
        """The host is stopping."""


# factory(object_id, explicit) -> new object (or a coroutine giving one), or raise ObjectError when
# that id may not exist.
Factory = Callable[[str, bool], "GoverseObject | Awaitable[GoverseObject]"]


@dataclass
class Hosted:
    type_name: str
    object_id: str
    obj: GoverseObject
    created: float = field(default_factory=time.time)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ObjectHost:
    """Objects of the registered types, by id."""

    def __init__(self) -> None:
        self._types: dict[str, tuple[type[GoverseObject], Factory]] = {}
        self._objects: dict[str, Hosted] = {}
        self._activating: dict[str, asyncio.Future[Hosted]] = {}

    def register(self, cls: type[GoverseObject], factory: Factory) -> None:
        self._types[cls.type_name] = (cls, factory)

    def objects(self) -> list[Hosted]:
        return list(self._objects.values())

    async def create(self, type_name: str, object_id: str) -> Hosted:
        """Explicit creation (``CreateObject``); an existing object of that type is returned as is."""
        return await self._get_or_create(type_name, object_id, explicit=True)

    async def delete(self, object_id: str) -> bool:
        hosted = self._objects.get(object_id)
        if hosted is None:
            return False
        async with hosted.lock:  # after the calls already running on it
            if self._objects.get(object_id) is hosted:
                del self._objects[object_id]
            await hosted.obj.deleted()
        return True

    async def close(self) -> None:
        for hosted in list(self._objects.values()):
            await hosted.obj.close()

    async def evict(self, object_id: str) -> bool:
        """Drop an object this host must no longer serve (another owns it now); it closes, its data stays."""
        hosted = self._objects.pop(object_id, None)
        if hosted is None:
            return False
        hosted.obj.evicted = True
        await hosted.obj.close()
        return True

    async def visit(self, type_name: str, fn: Callable[[GoverseObject], Any]) -> None:
        """Run ``fn(obj)`` on every loaded object of ``type_name``, each under its lock, as a call would be
        (housekeeping that must not interleave with the object's calls)."""
        for hosted in self.objects():
            if hosted.type_name != type_name or hosted.obj.evicted:
                continue
            async with hosted.lock:
                if self._objects.get(hosted.object_id) is hosted:
                    fn(hosted.obj)

    async def call(self, type_name: str, object_id: str, method_name: str,
                   request: any_pb2.Any, call: CallInfo | None = None) -> any_pb2.Any:
        """Unpack, run one method under the object's lock (its ``Later`` part after it), pack the reply."""
        cls, _ = self._type(type_name)
        spec = cls.methods.get(method_name)
        if spec is None:
            known = ", ".join(sorted(cls.methods))
            raise Unimplemented(f"{type_name} has no method {method_name!r} (it has: {known})")
        message = unpack(request, spec.request_type, f"{type_name}.{method_name}")
        hosted = await self._get_or_create(type_name, object_id, explicit=False)
        try:
            async with hosted.lock:
                reply = spec.fn(hosted.obj, message, call or CallInfo())
                if inspect.isawaitable(reply):
                    reply = await reply
            if isinstance(reply, Later):
                reply = await reply.work
        finally:
            if hosted.obj.evicted and self._objects.get(object_id) is hosted:
                del self._objects[object_id]
        packed = any_pb2.Any()
        packed.Pack(reply)
        return packed

    def _type(self, type_name: str) -> tuple[type[GoverseObject], Factory]:
        entry = self._types.get(type_name)
        if entry is None:
            known = ", ".join(sorted(self._types))
            raise NotFound(f"unknown object type {type_name!r} (known: {known})")
        return entry

    async def _get_or_create(self, type_name: str, object_id: str, explicit: bool) -> Hosted:
        _, factory = self._type(type_name)
        if not OBJECT_ID_RE.match(object_id or ""):
            raise InvalidArgument(f"bad object id {object_id!r}: want 1-256 printable ASCII characters")
        hosted = self._objects.get(object_id)
        if hosted is None and object_id in self._activating:  # another call is loading it: share the result
            hosted = await asyncio.shield(self._activating[object_id])
        if hosted is not None:
            if hosted.type_name != type_name:
                raise InvalidArgument(f"object {object_id!r} is a {hosted.type_name}, not a {type_name}")
            return hosted
        loading: asyncio.Future[Hosted] = asyncio.get_running_loop().create_future()
        self._activating[object_id] = loading
        try:
            obj = factory(object_id, explicit)
            if inspect.isawaitable(obj):
                obj = await obj
            hosted = Hosted(type_name, object_id, obj)
            self._objects[object_id] = hosted
            loading.set_result(hosted)
            return hosted
        except BaseException as exc:
            loading.set_exception(exc)
            loading.exception()  # retrieved here: sharers get it through their await
            raise
        finally:
            del self._activating[object_id]


def unpack(packed: any_pb2.Any, request_type: type[Message], what: str) -> Message:
    """The request of ``request_type`` inside ``packed``, or InvalidArgument saying what was wrong."""
    want = request_type.DESCRIPTOR.full_name
    if not packed.type_url:
        raise InvalidArgument(f"{what}: missing request payload, want an Any holding {want}")
    if not packed.Is(request_type.DESCRIPTOR):
        raise InvalidArgument(f"{what}: request payload is {packed.type_url!r}, want {want}")
    message = request_type()
    try:
        packed.Unpack(message)
    except DecodeError as exc:
        raise InvalidArgument(f"{what}: request payload does not parse as {want}: {exc}") from None
    return message
