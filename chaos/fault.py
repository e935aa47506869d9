"""Faults: what breaks, where, when and for how long; and the injector that applies them.

The top of this module is pure: fault kinds with validated parameters,
human-readable targets (``client bob``, ``gate 0 -> node 1``, ``all nodes``)
resolved against the topology's naming convention, and seeded random
schedules. :class:`FaultInjector` at the bottom is the I/O edge; it talks to
links, processes and clients only through the Protocols defined here, so the
topology can be swapped for fakes in tests.

Naming convention shared with the topology: client link proxy
``client-NAME``, gate → node link proxy ``gate{I}-node{J}``, processes
``node{I}`` and ``gate{I}``.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Mapping, Protocol, Sequence

LINK, PROCESS, CLIENT = "link", "process", "client"
STREAMS = ("both", "upstream", "downstream")


class FaultError(ValueError):
    """A bad fault description; ``field`` is the offending field, relative to the fault."""

    def __init__(self, field_: str, message: str) -> None:
        super().__init__(f"{field_}: {message}" if field_ else message)
        self.field = field_
        self.message = message


# ---------------------------------------------------------------- kinds


@dataclass(frozen=True)
class Param:
    default: Any
    type: type  # int or str
    choices: tuple[str, ...] = ()  # for str
    minimum: float = 0.0

    def check(self, name: str, value: Any) -> Any:
        if self.type is str:
            if value not in self.choices:
                raise FaultError(name, f"must be one of {', '.join(self.choices)}, not {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FaultError(name, f"must be a number, not {value!r}")
        if self.type is int and value != int(value):
            raise FaultError(name, f"must be a whole number, not {value!r}")
        if value < self.minimum:
            raise FaultError(name, f"must be >= {self.minimum:g}, not {value!r}")
        return self.type(value)


STREAM = {"stream": Param("both", str, STREAMS)}  # both, upstream (towards the server) or downstream


@dataclass(frozen=True)
class Kind:
    name: str
    applies_to: str  # LINK, PROCESS or CLIENT
    params: Mapping[str, Param] = field(default_factory=dict)
    extension: bool = False  # needs pushchat's embedded Toxiproxy server


# What each kind does is documented for users in scenarios/README.md.
KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("latency", LINK, {"latency_ms": Param(200, int), "jitter_ms": Param(50, int), **STREAM}),
    Kind("bandwidth", LINK, {"rate_kbps": Param(16, int, minimum=1), **STREAM}),  # KB/s, 1 KB = 1000 bytes
    Kind("reset_peer", LINK, {"timeout_ms": Param(0, int)}),       # toxic reset_peer on both streams
    Kind("disable", LINK),                                          # proxy disabled: connections closed
    Kind("limit_data", LINK, {"bytes": Param(4096, int, minimum=1), **STREAM}),
    Kind("blackhole", LINK),                                        # toxic timeout 0: data swallowed
    Kind("stall", LINK, {"stream": Param("downstream", str, STREAMS)}, extension=True),  # backpressure
    Kind("kill", PROCESS),                                          # SIGKILL, restart at heal
    Kind("pause", PROCESS),                                         # SIGSTOP, SIGCONT at heal
    Kind("stop_reading", CLIENT),                                   # client stops consuming its pushes
)}

#: Kinds that need pushchat's embedded Toxiproxy server (a real one lacks them).
EXTENSION_KINDS: frozenset[str] = frozenset(k.name for k in KINDS.values() if k.extension)


def unknown_kind(kind: Any) -> str:
    """The one-line complaint about a kind no entry registers, with the likeliest one meant."""
    close = difflib.get_close_matches(str(kind), list(KINDS), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(KINDS)}"
    return f"unknown fault kind {kind!r} ({hint})"


def check_params(kind: str, raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate a kind's parameters and fill in defaults (unknown names are errors)."""
    if kind not in KINDS:
        raise FaultError("kind", unknown_kind(kind))
    spec = KINDS[kind].params
    raw = dict(raw or {})
    for name in raw:
        if name not in spec:
            known = ", ".join(spec) or "none"
            raise FaultError(name, f"unknown parameter for {kind} (known: {known})")
    return {name: p.check(name, raw[name]) if name in raw else p.default for name, p in spec.items()}


# ---------------------------------------------------------------- targets


@dataclass(frozen=True)
class TopologyNames:
    """The names a topology gives its parts; targets resolve against it."""

    nodes: int
    gates: int
    clients: tuple[tuple[str, int], ...]  # (client name, gate index), in topology order
    store: bool = False  # a shared store process (PostgreSQL) with a link from every node

    @property
    def client_names(self) -> list[str]:
        return [name for name, _ in self.clients]

    def node(self, i: int) -> str:
        return f"node{i}"

    def gate(self, i: int) -> str:
        return f"gate{i}"

    def client_link(self, name: str) -> str:
        return f"client-{name}"

    def gate_link(self, gate: int, node: int) -> str:
        return f"gate{gate}-node{node}"

    def store_link(self, node: int) -> str:
        return f"node{node}-store"

    STORE = "store"

    def links(self) -> list[str]:
        """Every proxy the topology creates."""
        return [self.client_link(c) for c in self.client_names] + [
            self.gate_link(g, n) for g in range(self.gates) for n in range(self.nodes)] + (
            [self.store_link(n) for n in range(self.nodes)] if self.store else [])

    def processes(self) -> list[str]:
        return [self.node(i) for i in range(self.nodes)] + [self.gate(i) for i in range(self.gates)] + (
            [self.STORE] if self.store else [])


# scope -> (pattern, categories it can serve)
_SCOPES: dict[str, tuple[re.Pattern[str], tuple[str, ...]]] = {
    "client": (re.compile(r"(?i:client)\s+(?P<name>[A-Za-z][A-Za-z0-9_-]*)"), (LINK, CLIENT)),
    "clients": (re.compile(r"(?i:all\s+clients)"), (LINK, CLIENT)),
    "client_links": (re.compile(r"(?i:all\s+client\s+links)"), (LINK,)),
    "gate_link": (re.compile(r"(?i:gate)\s*(?P<gate>\d+)\s*(?:->|→)\s*(?i:node)\s*(?P<node>\d+)"), (LINK,)),
    "store_link": (re.compile(r"(?i:node)\s*(?P<node>\d+)\s*(?:->|→)\s*(?i:store)"), (LINK,)),
    "store_links": (re.compile(r"(?i:all\s+store\s+links)"), (LINK,)),
    "store": (re.compile(r"(?i:store)"), (PROCESS,)),
    "gate_links": (re.compile(r"(?i:all\s+gate\s+links)"), (LINK,)),
    "links": (re.compile(r"(?i:all\s+links)"), (LINK,)),
    "node": (re.compile(r"(?i:node)\s*(?P<node>\d+)"), (PROCESS,)),
    "gate": (re.compile(r"(?i:gate)\s*(?P<gate>\d+)"), (PROCESS,)),
    "nodes": (re.compile(r"(?i:all\s+nodes)"), (PROCESS,)),
    "gates": (re.compile(r"(?i:all\s+gates)"), (PROCESS,)),
}
_FORMS = {"client": "client NAME", "clients": "all clients", "client_links": "all client links",
          "gate_link": "gate I -> node J", "store_link": "node I -> store", "store_links": "all store links",
          "store": "store", "gate_links": "all gate links", "links": "all links",
          "node": "node I", "gate": "gate I", "nodes": "all nodes", "gates": "all gates"}
TARGET_FORMS: tuple[str, ...] = tuple(_FORMS.values())


@dataclass(frozen=True)
class Target:
    """A parsed target; ``str()`` gives its canonical text."""

    scope: str
    name: str = ""
    gate: int = -1
    node: int = -1

    def __str__(self) -> str:
        return {
            "client": f"client {self.name}", "clients": "all clients",
            "client_links": "all client links", "gate_link": f"gate {self.gate} -> node {self.node}",
            "store_link": f"node {self.node} -> store", "store_links": "all store links", "store": "store",
            "gate_links": "all gate links", "links": "all links", "node": f"node {self.node}",
            "gate": f"gate {self.gate}", "nodes": "all nodes", "gates": "all gates",
        }[self.scope]

    def serves(self, category: str) -> bool:
        return category in _SCOPES[self.scope][1]


def parse_target(text: Any) -> Target:
    if isinstance(text, Target):
        return text
    if not isinstance(text, str):
        raise FaultError("target", f"must be a string such as 'client bob', not {text!r}")
    for scope, (pattern, _) in _SCOPES.items():
        m = pattern.fullmatch(text.strip())
        if m:
            groups = m.groupdict()
            return Target(scope, name=groups.get("name") or "",
                          gate=int(groups.get("gate") or -1), node=int(groups.get("node") or -1))
    raise FaultError("target", f"cannot read {text!r}; forms: {', '.join(TARGET_FORMS)}")


def expand(target: Target, category: str, names: TopologyNames) -> list[Target]:
    """The single-part targets a (possibly group) target covers, in topology order."""
    if not target.serves(category):
        raise FaultError("target", f"{target} is not a {category} target")
    s = target.scope
    if s in ("store", "store_link", "store_links") and not names.store:
        raise FaultError("target", f"{target}: there is no shared store in this topology (give it store: postgres)")
    if s == "store_link" and target.node >= names.nodes:
        raise FaultError("target", f"{target}: there are {names.nodes} node(s), numbered from 0")
    if s in ("store", "store_link"):
        return [target]
    if s == "client":
        if target.name not in names.client_names:
            raise FaultError("target", f"no client {target.name!r} (clients: {', '.join(names.client_names)})")
        return [target]
    if s in ("node", "gate", "gate_link"):
        if target.node >= names.nodes and s != "gate":
            raise FaultError("target", f"{target}: there are {names.nodes} node(s), numbered from 0")
        if target.gate >= names.gates and s != "node":
            raise FaultError("target", f"{target}: there are {names.gates} gate(s), numbered from 0")
        return [target]
    clients = [Target("client", name=c) for c in names.client_names]
    gate_links = [Target("gate_link", gate=g, node=n) for g in range(names.gates) for n in range(names.nodes)]
    store_links = [Target("store_link", node=n) for n in range(names.nodes)] if names.store else []
    return {
        "clients": clients, "client_links": clients, "gate_links": gate_links, "store_links": store_links,
        "links": clients + gate_links + store_links,
        "nodes": [Target("node", node=i) for i in range(names.nodes)],
        "gates": [Target("gate", gate=i) for i in range(names.gates)],
    }[s]


def concrete_name(single: Target, category: str, names: TopologyNames) -> str:
    """The proxy, process or client name of a single-part target."""
    if single.scope == "client":
        return names.client_link(single.name) if category == LINK else single.name
    if single.scope == "gate_link":
        return names.gate_link(single.gate, single.node)
    if single.scope == "store_link":
        return names.store_link(single.node)
    if single.scope == "store":
        return names.STORE
    return names.node(single.node) if single.scope == "node" else names.gate(single.gate)


def resolve(kind: str, target: Target, names: TopologyNames) -> list[str]:
    category = KINDS[kind].applies_to
    return [concrete_name(t, category, names) for t in expand(target, category, names)]


# ---------------------------------------------------------------- faults


@dataclass(frozen=True)
class Fault:
    """One fault: ``kind`` on ``target`` from ``start`` for ``duration`` seconds, then healed.

    Times are seconds from the start of the workload. ``id`` numbers the
    faults of a schedule; toxic names and history records carry it.
    """

    kind: str
    target: Target
    start: float
    duration: float
    params: Mapping[str, Any] = field(default_factory=dict)
    id: int = 0

    @property
    def end(self) -> float:
        return round(self.start + self.duration, 6)

    @property
    def category(self) -> str:
        return KINDS[self.kind].applies_to

    @property
    def extension(self) -> bool:
        return self.kind in EXTENSION_KINDS

    def names(self, topology: TopologyNames) -> list[str]:
        return resolve(self.kind, self.target, topology)

    def describe(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.kind}({params}) on {self.target}, {self.start:g}-{self.end:g} s"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "target": str(self.target), "start": self.start,
                "duration": self.duration, "end": self.end, "params": dict(self.params)}


def make_fault(kind: str, target: str | Target, start: Any, duration: Any,
               params: Mapping[str, Any] | None = None, id: int = 0) -> Fault:
    """Build a validated fault; raises :class:`FaultError` naming the bad field."""
    if not isinstance(kind, str):
        raise FaultError("kind", f"must be a string, not {kind!r}")
    params = check_params(kind, params)
    tgt = parse_target(target)
    category = KINDS[kind].applies_to
    if not tgt.serves(category):
        raise FaultError("target", f"{kind} needs a {category} target ({_forms(category)}), not {tgt}")
    if isinstance(start, bool) or not isinstance(start, (int, float)) or start < 0:
        raise FaultError("start", f"must be a number >= 0, not {start!r}")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration <= 0:
        raise FaultError("duration", f"must be a positive number, not {duration!r}")
    return Fault(kind, tgt, float(start), float(duration), params, id)


def _forms(category: str) -> str:
    return ", ".join(_FORMS[s] for s, (_, cats) in _SCOPES.items() if category in cats)


def _clash(a: Fault, b: Fault, names: TopologyNames, strict: bool, gap: float) -> str | None:
    """The concrete target two faults may not share at the same time, or None."""
    if not (a.start < b.end + gap and b.start < a.end + gap) or a.category != b.category:
        return None
    if not (strict or a.kind == b.kind or a.category == PROCESS):
        return None
    theirs = set(b.names(names))
    return next((n for n in a.names(names) if n in theirs), None)


def conflicts(faults: Sequence[Fault], names: TopologyNames, *, strict: bool = False,
              gap: float = 0.0) -> tuple[Fault, Fault, str] | None:
    """The first pair of faults that may not overlap, with the target they share, or None.

    Two faults clash when they overlap in time (within ``gap``) on a shared
    concrete target and either ``strict`` is set (random schedules), or they
    are of the same kind (the heal of one would undo the other), or both act
    on a process (a kill and a pause of one process do not mix).
    """
    ordered = sorted(faults, key=lambda f: (f.start, f.id))
    for i, later in enumerate(ordered):
        for earlier in ordered[:i]:
            name = _clash(earlier, later, names, strict, gap)
            if name:
                return earlier, later, name
    return None


def schedule_random(seed: int, count: int, kinds: Sequence[str], targets: Sequence[str | Target],
                    duration: float, min_duration: float, max_duration: float,
                    topology_names: TopologyNames, *, params: Mapping[str, Mapping[str, Any]] | None = None,
                    existing: Sequence[Fault] = (), first_id: int = 0, spacing: float = 0.1,
                    target_gap: float = 0.5) -> list[Fault]:
    """A seeded, staggered schedule of ``count`` faults within ``[0, duration]`` (Jepsen style).

    Each fault draws a kind, then one concrete target from the pools in
    ``targets`` that fits the kind, a duration and a start. No two faults
    share a concrete target at the same time (nor within ``target_gap`` of
    each other, so a restarted process is up again first), and no two
    starts/ends fall within ``spacing`` of each other. Same seed and inputs,
    same schedule: only ``random.Random(seed)`` and ordered sequences are used.
    """
    if count < 0:
        raise FaultError("count", f"must be >= 0, not {count}")
    if not 0 < min_duration <= max_duration:
        raise FaultError("min_duration", "must be positive and at most max_duration")
    if max_duration > duration:
        raise FaultError("max_duration", f"must fit in the workload ({duration:g} s)")
    pools = [parse_target(t) for t in targets]
    candidates: dict[str, list[Target]] = {}
    for kind in kinds:
        check_params(kind, None)
        category = KINDS[kind].applies_to
        found: list[Target] = []
        for pool in pools:
            if pool.serves(category):
                found += [t for t in expand(pool, category, topology_names) if t not in found]
        if not found:
            raise FaultError("targets", f"no target fits {kind} (needs {_forms(category)})")
        candidates[kind] = found
    overrides = params or {}
    rng = random.Random(seed)
    placed: list[Fault] = list(existing)
    drawn: list[Fault] = []
    for _ in range(count):
        for _attempt in range(500):
            kind = kinds[rng.randrange(len(kinds))]
            pool = candidates[kind]
            target = pool[rng.randrange(len(pool))]
            length = round(rng.uniform(min_duration, max_duration), 3)
            start = round(rng.uniform(0.0, duration - length), 3)
            fault = make_fault(kind, target, start, length, overrides.get(kind), id=-1)
            instants = [t for f in placed for t in (f.start, f.end)]
            if any(abs(t - start) < spacing or abs(t - fault.end) < spacing for t in instants):
                continue
            if any(_clash(other, fault, topology_names, True, target_gap) for other in placed):
                continue
            placed.append(fault)
            drawn.append(fault)
            break
        else:
            raise FaultError("count", f"cannot place {count} faults without overlap on a target; "
                                      "lower count or durations, or add targets")
    drawn.sort(key=lambda f: (f.start, f.kind, str(f.target)))
    return [Fault(f.kind, f.target, f.start, f.duration, f.params, first_id + i) for i, f in enumerate(drawn)]


# ---------------------------------------------------------------- the injector (I/O edge)


class Link(Protocol):
    """One proxy, as ``chaos/links.py`` offers it (synchronous HTTP calls)."""

    def add_toxic(self, type: str, stream: str = "downstream", attributes: Mapping[str, Any] | None = None,
                  name: str | None = None, toxicity: float = 1.0) -> str: ...
    def update_toxic(self, name: str, attributes: Mapping[str, Any] | None = None,
                     toxicity: float | None = None) -> None: ...
    def remove_toxic(self, name: str) -> None: ...
    def disable(self) -> None: ...
    def enable(self) -> None: ...


class Links(Protocol):
    def get(self, name: str) -> Link: ...


class Processes(Protocol):
    """Node and gate OS processes, by name (``node0``, ``gate1``)."""

    async def kill(self, name: str) -> None: ...      # SIGKILL
    async def restart(self, name: str) -> None: ...   # start again, same address; return once it listens
    async def pause(self, name: str) -> None: ...     # SIGSTOP
    async def resume(self, name: str) -> None: ...    # SIGCONT


class ClientControl(Protocol):
    """The workload's hook on one client; the methods may be plain or async."""

    def stop_reading(self) -> Any: ...
    def resume_reading(self) -> Any: ...


class HistoryWriter(Protocol):
    def info(self, process: str, f: str, value: Mapping[str, Any] | None = None) -> Any: ...


# kind -> (toxic type, attributes from params, streams from params)
_TOXICS: dict[str, tuple[str, Callable[[Mapping[str, Any]], dict[str, Any]]]] = {
    "latency": ("latency", lambda p: {"latency": p["latency_ms"], "jitter": p["jitter_ms"]}),
    "bandwidth": ("bandwidth", lambda p: {"rate": p["rate_kbps"]}),
    "reset_peer": ("reset_peer", lambda p: {"timeout": p["timeout_ms"]}),
    "limit_data": ("limit_data", lambda p: {"bytes": p["bytes"]}),
    "blackhole": ("timeout", lambda p: {"timeout": 0}),
    "stall": ("stall", lambda p: {}),
}
_PROCESS_ACTIONS = {"kill": ("kill", "restart"), "pause": ("pause", "resume")}

Undo = Callable[[], Awaitable[Any]]


async def _maybe_await(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


class FaultInjector:
    """Applies faults and heals them, recording each step as a ``fault`` info record.

    ``start`` remembers how to undo exactly what it did; ``heal`` undoes it.
    Extension kinds are skipped, with a recorded reason, unless
    ``supports_extensions`` (the embedded server is in use).
    """

    def __init__(self, links: Links, processes: Processes, clients: Mapping[str, ClientControl],
                 history: HistoryWriter, supports_extensions: bool, *, names: TopologyNames,
                 process: str = "nemesis") -> None:
        self.links, self.processes, self.clients = links, processes, clients
        self.history, self.supports_extensions = history, supports_extensions
        self.names, self.process = names, process
        self._active: dict[int, tuple[Fault, list[Undo]]] = {}

    @property
    def active(self) -> list[Fault]:
        return [fault for fault, _ in self._active.values()]

    def _record(self, fault: Fault, phase: str, names: Iterable[str], **extra: Any) -> None:
        self.history.info(self.process, "fault", {
            "fault": fault.kind, "target": str(fault.target), "phase": phase, "params": dict(fault.params),
            "id": fault.id, "names": list(names), **extra})

    async def start(self, fault: Fault) -> bool:
        """Apply ``fault``; False if it was skipped or failed (both recorded)."""
        if fault.id in self._active:
            raise ValueError(f"fault id {fault.id} is already active")
        names = fault.names(self.names)
        if fault.extension and not self.supports_extensions:
            self._record(fault, "skipped", names, reason=(
                f"{fault.kind} is an extension toxic of pushchat's embedded Toxiproxy server; "
                "a real Toxiproxy lacks it"))
            return False
        undo: list[Undo] = []
        try:
            for name in names:
                await self._apply(fault, name, undo)
        except Exception as exc:  # a fault that cannot be applied must not end the run
            errors = await self._undo(undo)
            self._record(fault, "error", names, error=f"{type(exc).__name__}: {exc}", undo_errors=errors)
            return False
        self._active[fault.id] = (fault, undo)
        self._record(fault, "start", names)
        return True

    async def _apply(self, fault: Fault, name: str, undo: list[Undo]) -> None:
        kind, p = fault.kind, fault.params
        if kind in _TOXICS:
            link = self.links.get(name)
            toxic_type, attributes = _TOXICS[kind]
            stream = p.get("stream", "both")
            for s in ("upstream", "downstream") if stream == "both" else (stream,):
                wanted = f"chaos-{kind}-{fault.id}-{s}"
                got = await asyncio.to_thread(link.add_toxic, toxic_type, stream=s,
                                              attributes=attributes(p), name=wanted)
                undo.append(lambda link=link, toxic=got or wanted: asyncio.to_thread(link.remove_toxic, toxic))
        elif kind == "disable":
            link = self.links.get(name)
            await asyncio.to_thread(link.disable)
            undo.append(lambda link=link: asyncio.to_thread(link.enable))
        elif kind in _PROCESS_ACTIONS:
            do, redo = _PROCESS_ACTIONS[kind]
            await getattr(self.processes, do)(name)
            undo.append(lambda name=name, redo=redo: getattr(self.processes, redo)(name))
        elif kind == "stop_reading":
            client = self.clients[name]
            await _maybe_await(client.stop_reading())
            undo.append(lambda client=client: _maybe_await(client.resume_reading()))
        else:  # pragma: no cover - KINDS and this dispatch are kept in step
            raise ValueError(f"no way to apply {kind}")

    @staticmethod
    async def _undo(steps: list[Undo]) -> list[str]:
        errors = []
        for step in reversed(steps):
            try:
                await step()
            except Exception as exc:  # keep healing the rest
                errors.append(f"{type(exc).__name__}: {exc}")
        return errors

    async def heal(self, fault: Fault) -> None:
        """Undo what ``start`` did; a fault that is not active (skipped, failed) is a no-op."""
        entry = self._active.pop(fault.id, None)
        if entry is None:
            return
        errors = await self._undo(entry[1])
        self._record(fault, "heal", fault.names(self.names), **({"errors": errors} if errors else {}))

    async def heal_all(self) -> None:
        for fault in reversed(self.active):
            await self.heal(fault)

    async def run(self, schedule: Sequence[Fault], t0: float,
                  clock: Callable[[], float] = time.monotonic) -> None:
        """Start and heal each fault at ``t0 + start`` / ``t0 + end`` (``t0`` on ``clock``).

        Heals come before starts at the same instant. Whatever is still
        active when this returns or is cancelled is healed.
        """
        events = sorted([(f.start, 1, i, f) for i, f in enumerate(schedule)]
                        + [(f.end, 0, i, f) for i, f in enumerate(schedule)], key=lambda e: e[:3])
        try:
            for at, is_start, _, fault in events:
                delay = t0 + at - clock()
                if delay > 0:
                    await asyncio.sleep(delay)  # the schedule itself: wait for this fault's time
                await (self.start(fault) if is_start else self.heal(fault))
        finally:
            await self.heal_all()
