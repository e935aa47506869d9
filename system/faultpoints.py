"""In-process fault points: faults TCP cannot make, decided per event inside a node or gate.

A proxy can delay, cut or stall bytes, but TCP never duplicates or
reorders them, and no gRPC call comes back with a chosen status. These
points can: on a push stream (a node's per-gate stream, a gate's
per-client stream) a push is **dropped**, **duplicated**, **reordered**
(held back behind the next N) or **delayed**; a call is **aborted** with a
status code or **delayed**, by method; a store write **fails** or is
**delayed**. Each fault is a :class:`FaultSpec` with a percentage, rolled
per event on its own (gRFC A33, Envoy's fault filter: independent rolls,
20 % + 10 % hit about 28 % of events), its own seeded random numbers, an
optional target (a client, a gate, a room, a method) and an optional cap
on the faults active at once in the process (A33's ``max_active_faults``).

Off unless a process is started with ``--fault-control`` (then driven
over HTTP by :mod:`system.faultcontrol`); with no fault set, every hook
is one empty check. Each injection is logged (``fault_injected``) and
counted (``pushchat_faults_injected_total{point,action}``) in one place,
:meth:`FaultPoints._inject`, so the two always agree; an injection the
cap refused is ``fault_overflow`` / ``pushchat_faults_overflow_total``.

The decisions are pure; the effects (:class:`PushStream`, :meth:`FaultPoints.call`,
:class:`FaultyStore`) only wait, raise or repeat, without sockets.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Generic, TypeVar

import grpc
from google.protobuf import any_pb2, descriptor_pool, message_factory
from system import contract
from prometheus_client import CollectorRegistry, Counter, Gauge

from system import log
from system.store.base import Batch, StoreError

T = TypeVar("T")

#: point -> the actions it offers
ACTIONS: dict[str, tuple[str, ...]] = {
    "push": ("drop", "duplicate", "reorder", "delay"),
    "rpc": ("abort", "delay"),
    "store": ("fail", "delay"),
}
WHEN = contract.FAULT_WHEN  # an abort or a store failure: before the work (surely not done) or after it
CODES = contract.STATUS_CODES
HOLD_LIMIT = 1.0  # s a reordered push waits for the pushes it is held behind before it goes anyway
ROOM_PREFIX = contract.ROOM_PREFIX


class FaultSpecError(ValueError):
    """A fault description that cannot be used; the message is one line for the caller."""


@dataclass(frozen=True)
class FaultSpec:
    """One fault: ``action`` at ``point`` for ``percent`` % of the matching events.

    Targets (empty: any): ``client`` a user name (a gate's client, a recipient in a node's
    envelope, the caller of a call); ``gate`` a gate's advertise address (a node's stream to it);
    ``room``; ``method`` (a chat method such as ``SendMessage``, or ``CreateObject`` …).
    """

    id: str
    point: str
    action: str
    percent: float = 100.0
    client: str = ""
    gate: str = ""
    room: str = ""
    method: str = ""
    delay_ms: int = 0           # delay
    behind: int = 1             # reorder: held back behind this many later pushes
    code: str = "UNAVAILABLE"   # abort
    when: str = "before"        # abort, fail
    max_active_faults: int = 0  # 0: no cap; else not injected while this many faults are active in the process
    seed: int = 0               # with ``id``, seeds this fault's rolls

    @classmethod
    def from_json(cls, doc: Any) -> "FaultSpec":
        """Validate a decoded JSON object; :class:`FaultSpecError` says what is wrong, in one line."""
        if not isinstance(doc, Mapping):
            raise FaultSpecError("a fault is a JSON object")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(doc) - set(known))
        if unknown:
            raise FaultSpecError(f"unknown field(s) {', '.join(unknown)} (known: {', '.join(known)})")
        values: dict[str, Any] = {}
        for name, value in doc.items():
            want = known[name].type
            if want == "str" and not isinstance(value, str):
                raise FaultSpecError(f"{name} must be a string, not {value!r}")
            if want in ("int", "float") and (isinstance(value, bool) or not isinstance(value, (int, float))
                                             or (want == "int" and value != int(value))):
                raise FaultSpecError(f"{name} must be a {'whole ' if want == 'int' else ''}number, not {value!r}")
            values[name] = int(value) if want == "int" else float(value) if want == "float" else value
        for required in ("id", "point", "action"):
            if not values.get(required):
                raise FaultSpecError(f"{required} is required")
        spec = cls(**values)
        spec._check()
        return spec

    def _check(self) -> None:
        if self.point not in ACTIONS:
            raise FaultSpecError(f"point must be one of {', '.join(ACTIONS)}, not {self.point!r}")
        if self.action not in ACTIONS[self.point]:
            raise FaultSpecError(f"a {self.point} fault's action is one of {', '.join(ACTIONS[self.point])}, "
                                 f"not {self.action!r}")
        if not 0 <= self.percent <= 100:
            raise FaultSpecError(f"percent must be within 0-100, not {self.percent:g}")
        for name in ("delay_ms", "max_active_faults"):
            if getattr(self, name) < 0:
                raise FaultSpecError(f"{name} must be >= 0, not {getattr(self, name)}")
        if self.behind < 1:
            raise FaultSpecError(f"behind must be >= 1, not {self.behind}")
        if self.code not in CODES:
            raise FaultSpecError(f"code must be a gRPC status such as UNAVAILABLE, not {self.code!r}")
        if self.when not in WHEN:
            raise FaultSpecError(f"when must be before or after, not {self.when!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, event: "Event") -> bool:
        return (self.point == event.point
                and (not self.client or self.client in event.users)
                and (not self.gate or self.gate == event.gate)
                and (not self.room or self.room == event.room)
                and (not self.method or self.method == event.method))


@dataclass(frozen=True)
class Event:
    """Something a fault may hit: a push on a stream, a call, a store write."""

    point: str
    users: frozenset[str] = frozenset()  # a push's recipients, a call's caller
    gate: str = ""
    room: str = ""
    method: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)  # logged with an injection (seq, client_id, …)


@dataclass(eq=False)
class Injection:
    """One fault applied to one event; active until :meth:`done`."""

    spec: FaultSpec
    points: "FaultPoints"
    finished: bool = False

    @property
    def action(self) -> str:
        return self.spec.action

    def done(self) -> None:
        if not self.finished:
            self.finished = True
            self.points._finish(self)


class _Fault:
    """A spec and its own random numbers (rolled per event, independently of every other fault)."""

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        self.rng = random.Random(f"{spec.seed}/{spec.id}")

    def roll(self) -> bool:
        return self.rng.random() * 100.0 < self.spec.percent


class FaultPoints:
    """The faults set in one process, and the decision for each event. ``enabled``: a controller may set some."""

    def __init__(self, component: str, registry: CollectorRegistry | None = None, enabled: bool = False) -> None:
        self.component = component
        self.enabled = enabled
        self._log = log.get(component)
        self._faults: dict[str, _Fault] = {}
        self.active = 0
        self._users: dict[str, str] = {}  # client id -> user name, learned from the calls (a gate's clients)
        self.injected: Counter | None = None
        if enabled:
            registry = registry or CollectorRegistry()
            self.injected = Counter("pushchat_faults_injected", "faults injected, each logged as fault_injected",
                                    ["point", "action"], registry=registry)
            self.overflow = Counter("pushchat_faults_overflow", "injections refused by max_active_faults, each "
                                    "logged as fault_overflow", ["point", "action"], registry=registry)
            self.active_gauge = Gauge("pushchat_faults_active", "injections in progress (delays, held pushes)",
                                      registry=registry)
            for point, actions in ACTIONS.items():
                for action in actions:
                    self.injected.labels(point=point, action=action)

    # -- the controller's side ------------------------------------------------------------
    def add(self, spec: FaultSpec) -> None:
        if not self.enabled:
            raise FaultSpecError(f"fault points are off in this {self.component} (start it with --fault-control)")
        if spec.id in self._faults:
            raise FaultSpecError(f"a fault with id {spec.id!r} is set already")
        self._faults[spec.id] = _Fault(spec)
        log.event(self._log, logging.INFO, "fault_set", **spec.to_json())

    def remove(self, fault_id: str) -> bool:
        found = self._faults.pop(fault_id, None)
        if found is not None:
            log.event(self._log, logging.INFO, "fault_cleared", id=fault_id)
        return found is not None

    def clear(self) -> None:
        for fault_id in list(self._faults):
            self.remove(fault_id)

    def specs(self) -> list[FaultSpec]:
        return [f.spec for f in self._faults.values()]

    def wants(self, point: str) -> bool:
        """Any fault set at ``point``? (Hooks build no event when not.)"""
        return any(f.spec.point == point for f in self._faults.values())

    # -- the decision ------------------------------------------------------------------------
    def decide(self, event: Event, only: Callable[[FaultSpec], bool] | None = None) -> list[Injection]:
        """The faults that hit ``event`` (of those ``only`` admits): each matching fault rolls its own number
        (A33), capped by its ``max_active_faults``; each one returned is logged, counted and active until
        its ``done()``."""
        out: list[Injection] = []
        for fault in list(self._faults.values()):
            spec = fault.spec
            if not spec.matches(event) or (only is not None and not only(spec)) or not fault.roll():
                continue
            if spec.max_active_faults and self.active >= spec.max_active_faults:
                self.overflow.labels(point=spec.point, action=spec.action).inc()
                log.event(self._log, logging.INFO, "fault_overflow", fault=spec.id, point=spec.point,
                          action=spec.action, active=self.active)
                continue
            out.append(self._inject(spec, event))
        return out

    def _inject(self, spec: FaultSpec, event: Event) -> Injection:
        """The one place an injection is logged and counted: they always agree."""
        assert self.injected is not None
        self.active += 1
        self.active_gauge.set(self.active)
        self.injected.labels(point=spec.point, action=spec.action).inc()
        extra = {"delay_ms": spec.delay_ms} if spec.action == "delay" else \
            {"code": spec.code, "when": spec.when} if spec.action == "abort" else \
            {"when": spec.when} if spec.action == "fail" else {"behind": spec.behind} if spec.action == "reorder" else {}
        where = {k: v for k, v in (("room", event.room), ("gate", event.gate), ("method", event.method)) if v}
        log.event(self._log, logging.WARNING, "fault_injected", fault=spec.id, point=spec.point, action=spec.action,
                  **where, **dict(event.detail), **extra)
        return Injection(spec, self)

    def _finish(self, injection: Injection) -> None:
        self.active -= 1
        self.active_gauge.set(self.active)

    # -- who is who ------------------------------------------------------------------------
    def note_caller(self, client_id: str, request: any_pb2.Any) -> None:
        """A gate learns its clients' user names from their calls (a push carries none)."""
        if self.enabled and client_id and client_id not in self._users:
            user = user_of(request)
            if user:
                self._users[client_id] = user

    def user(self, client_id: str) -> str:
        return self._users.get(client_id, "")

    # -- calls -------------------------------------------------------------------------------
    async def call(self, context: grpc.aio.ServicerContext, when: str, method: str, object_id: str,
                   client_id: str = "", request: any_pb2.Any | None = None) -> None:
        """A call hook: ``before`` the work, delay it and maybe abort it; ``after``, maybe abort its reply.

        An abort ends the call through ``context.abort`` (it raises); Envoy's order: delays first.
        """
        if not self._faults or not self.wants("rpc"):
            return
        users = {self.user(client_id) or (user_of(request) if request is not None else "")} - {""}
        event = Event("rpc", frozenset(users), room=object_id.removeprefix(ROOM_PREFIX), method=method,
                      detail={"client_id": client_id} if client_id else {})
        if when == "before":  # delays, then aborts before the work
            hits = self.decide(event, lambda s: s.action == "delay" or s.when == "before")
        else:
            hits = self.decide(event, lambda s: s.action == "abort" and s.when == "after")
        aborts = []
        for injection in sorted(hits, key=lambda i: i.action != "delay"):
            if injection.action == "delay":
                try:
                    await asyncio.sleep(injection.spec.delay_ms / 1000)
                finally:
                    injection.done()
            else:
                injection.done()
                aborts.append(injection)
        if aborts:
            spec = aborts[0].spec
            await context.abort(grpc.StatusCode[spec.code],
                                f"injected fault {spec.id}: {spec.code} {when} {method}")

    # -- push streams ------------------------------------------------------------------------
    def push_stream(self, get: Callable[[], Awaitable[T | None]], describe: Callable[[T], Event]
                    ) -> "PushStream[T] | None":
        """A stream shaped by the push faults (None when fault points are off: read ``get`` directly)."""
        return PushStream(self, get, describe) if self.enabled else None

    # -- stores --------------------------------------------------------------------------------
    def wrap_store(self, store: Any) -> Any:
        return FaultyStore(store, self) if self.enabled else store


@dataclass
class _Held(Generic[T]):
    item: T
    waiting: int       # later pushes still to go out before it
    until: float       # monotonic time it goes anyway
    injection: Injection


class PushStream(Generic[T]):
    """One push stream, shaped: ``await get()`` gives the next item to send (None: the stream ends).

    Drop: the item is skipped. Duplicate: sent twice in a row. Reorder: held back until
    ``behind`` later items went out (or :data:`HOLD_LIMIT` passed). Delay: the stream waits
    before the item, so those behind it wait too (a stream keeps its order).
    """

    def __init__(self, points: FaultPoints, get: Callable[[], Awaitable[T | None]],
                 describe: Callable[[T], Event]) -> None:
        self.points = points
        self._get = get
        self._describe = describe
        self._ready: deque[T | None] = deque()
        self._held: list[_Held[T]] = []

    def unsent(self) -> list[T]:
        """Items taken from the source and not handed out yet (held or repeated): lost if the stream ends."""
        return [h.item for h in self._held] + [i for i in self._ready if i is not None]

    async def get(self) -> T | None:
        while not self._ready:
            await self._pull()
        return self._ready.popleft()

    async def _pull(self) -> None:
        timeout = None
        if self._held:
            timeout = max(0.0, min(h.until for h in self._held) - time.monotonic())
        try:
            async with asyncio.timeout(timeout):  # None: no deadline
                item = await self._get()
        except asyncio.TimeoutError:
            now = time.monotonic()
            for held in [h for h in self._held if h.until <= now]:
                self._release(held)
            return
        if item is None:
            for held in list(self._held):
                self._release(held)
            self._ready.append(None)
            return
        if not self.points.wants("push"):
            self._send(item)
            return
        hits = {i.spec.action: i for i in self.points.decide(self._describe(item))}
        if "drop" in hits:
            for injection in hits.values():
                injection.done()
            return
        if "delay" in hits:
            try:
                await asyncio.sleep(hits["delay"].spec.delay_ms / 1000)
            finally:
                hits["delay"].done()
        if "reorder" in hits:
            spec = hits["reorder"].spec
            self._held.append(_Held(item, spec.behind, time.monotonic() + HOLD_LIMIT, hits["reorder"]))
            if "duplicate" in hits:
                hits["duplicate"].done()  # one fault at a time on a held push: it goes once, late
            return
        self._send(item)
        if "duplicate" in hits:
            self._ready.append(item)
            hits["duplicate"].done()

    def _send(self, item: T) -> None:
        self._ready.append(item)
        for held in list(self._held):
            held.waiting -= 1
            if held.waiting <= 0:
                self._release(held)

    def _release(self, held: _Held[T]) -> None:
        self._held.remove(held)
        self._ready.append(held.item)
        held.injection.done()


class FaultyStore:
    """A store whose writes the store faults can fail or delay; everything else is the store's own."""

    def __init__(self, store: Any, points: FaultPoints) -> None:
        self._store = store
        self._points = points

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def write(self, room: str, token: int, batch: Batch) -> None:
        if not self._points.wants("store"):
            return await self._store.write(room, token, batch)
        seqs = [m.seq for m in batch.messages]
        detail = {"seqs": [seqs[0], seqs[-1]]} if seqs else {}
        hits = {i.spec.action: i for i in self._points.decide(Event("store", room=room, detail=detail))}
        if "delay" in hits:
            try:
                await asyncio.sleep(hits["delay"].spec.delay_ms / 1000)
            finally:
                hits["delay"].done()
        failure = hits.get("fail")
        if failure is not None:
            failure.done()
            if failure.spec.when == "before":
                raise StoreError(f"injected fault {failure.spec.id}: write to room {room!r} refused", definite=True)
        await self._store.write(room, token, batch)
        if failure is not None:
            raise StoreError(f"injected fault {failure.spec.id}: write to room {room!r} reported failed after it was "
                             "made", definite=False)


_FACTORY_CACHE: dict[str, Any] = {}


def user_of(request: any_pb2.Any | None) -> str:
    """The ``user_name`` of a packed chat request (Join, SendMessage, Leave…), or ''."""
    if request is None or not request.type_url:
        return ""
    name = request.type_url.rsplit("/", 1)[-1]
    cls = _FACTORY_CACHE.get(name)
    if cls is None:
        try:
            cls = message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(name))
        except KeyError:
            return ""
        _FACTORY_CACHE[name] = cls
    msg = cls()
    if "user_name" not in cls.DESCRIPTOR.fields_by_name or not request.Unpack(msg):
        return ""
    return str(msg.user_name)


def specs_json(specs: Iterable[FaultSpec]) -> list[dict[str, Any]]:
    return [s.to_json() for s in specs]
