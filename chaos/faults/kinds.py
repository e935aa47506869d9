"""Fault kinds: what can break. Each kind is one registered entry, and nothing else lists it.

An entry says what the kind is called, what it applies to (a link, a
process or a client), its parameters with their defaults, and how to
apply it to one part (each step it takes adds the step that undoes it:
the heal). A kind that adds a toxic names it; whether the kind needs
pushchat's embedded Toxiproxy server follows from the toxic registry
(``chaos.toxiproxy.toxics.EXTENSIONS``), less the extensions standard toxics
stand in for (:data:`STAND_INS`). Server kinds act inside a node or
gate, through its fault points (``system.faultpoints``), or on its clock.
What each kind does is documented
for users in scenarios/README.md; ``docs/architecture.md`` says where to
add one.

Kinds act on parts only through the Protocols below, so the injector
(``chaos.faults.nemesis``) can be driven with fakes in tests.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, Protocol

from chaos.naming import CLIENT, LINK, PROCESS, SERVER
from chaos.toxiproxy.toxics import EXTENSIONS, REGISTRY as TOXICS
from system.contract import FAULT_WHEN as WHEN, STATUS_CODES as CODES

#: Extensions a standard toxic can stand in for (``chaos.infra.links`` adds it under the name asked for).
STAND_INS: dict[str, tuple[str, dict[str, Any]]] = {"stall": ("bandwidth", {"rate": 1})}

if TYPE_CHECKING:  # type only: a Fault is made of a kind (fault.py imports this module)
    from chaos.faults.fault import Fault

STREAMS = ("both", "upstream", "downstream")


class FaultError(ValueError):
    """A bad fault description; ``field`` is the offending field, relative to the fault."""

    def __init__(self, field_: str, message: str) -> None:
        super().__init__(f"{field_}: {message}" if field_ else message)
        self.field = field_
        self.message = message


@dataclass(frozen=True)
class Param:
    default: Any
    type: type  # int, float or str
    choices: tuple[str, ...] = ()  # for str (none: any word)
    minimum: float = 0.0
    maximum: float = float("inf")

    def check(self, name: str, value: Any) -> Any:
        if self.type is str:
            if self.choices and value not in self.choices:
                raise FaultError(name, f"must be one of {', '.join(self.choices)}, not {value!r}")
            if not isinstance(value, str) or not value:
                raise FaultError(name, f"must be a word, not {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FaultError(name, f"must be a number, not {value!r}")
        if self.type is int and value != int(value):
            raise FaultError(name, f"must be a whole number, not {value!r}")
        if value < self.minimum:
            raise FaultError(name, f"must be >= {self.minimum:g}, not {value!r}")
        if value > self.maximum:
            raise FaultError(name, f"must be <= {self.maximum:g}, not {value!r}")
        return self.type(value)


STREAM = Param("both", str, STREAMS)  # both, upstream (towards the server) or downstream


# ---------------------------------------------------------------- what kinds act on


class LinkControl(Protocol):
    """One proxy, as ``chaos/infra/links.py`` offers it (synchronous HTTP calls)."""

    def add_toxic(self, type: str, stream: str = "downstream", attributes: Mapping[str, Any] | None = None,
                  name: str | None = None, toxicity: float = 1.0) -> str: ...
    def update_toxic(self, name: str, attributes: Mapping[str, Any] | None = None,
                     toxicity: float | None = None) -> None: ...
    def remove_toxic(self, name: str) -> None: ...
    def disable(self) -> None: ...
    def enable(self) -> None: ...


class LinksControl(Protocol):
    """Every proxy by name: what ``chaos.infra.links.Links`` is (a Protocol here, so faults import no infra)."""

    def get(self, name: str) -> LinkControl: ...


class Processes(Protocol):
    """Node, gate and store OS processes, by name (``node0``, ``gate1``, ``store``)."""

    async def kill(self, name: str) -> None: ...      # SIGKILL
    async def restart(self, name: str) -> None: ...   # start again, same address; return once it listens
    async def pause(self, name: str) -> None: ...     # SIGSTOP
    async def resume(self, name: str) -> None: ...    # SIGCONT
    async def terminate(self, name: str) -> None: ...  # SIGTERM: a clean stop (a node drains, leaves the cluster)
    async def launch(self, name: str) -> None: ...     # start a stopped process again, same address


class Servers(Protocol):
    """Nodes and gates from inside: their fault points (``system.faultpoints``) and their clocks."""

    async def add_fault_point(self, name: str, spec: Mapping[str, Any]) -> None: ...
    async def remove_fault_point(self, name: str, fault_id: str) -> None: ...
    async def set_clock(self, name: str, jump_s: float, rate: float) -> None: ...  # offset and speed from real time


class ClientControl(Protocol):
    """The workload's hook on one client; the methods may be plain or async."""

    def stop_reading(self) -> Any: ...
    def resume_reading(self) -> Any: ...


class Parts(Protocol):
    """Everything a fault can act on, each part by the name ``chaos.naming`` gives it."""

    links: LinksControl
    processes: Processes  # also the Servers, for SERVER kinds
    clients: Mapping[str, ClientControl]
    seed: int  # the run's seed: fault points roll their numbers from it


Undo = Callable[[], Awaitable[Any]]
#: Apply a fault to one part (by name); append to ``undo`` how to undo each step as soon as it is taken.
Apply = Callable[[Parts, str, "Fault", list[Undo]], Awaitable[None]]


# ---------------------------------------------------------------- the registry


@dataclass(frozen=True)
class FaultKind:
    name: str
    applies_to: str  # LINK, PROCESS, CLIENT or SERVER
    apply: Apply
    params: Mapping[str, Param] = field(default_factory=dict)
    toxic: str | None = None  # the toxic type it adds, if any
    target: str | None = None  # the one target form it takes, when it takes only one (e.g. "partition")
    scopes: tuple[str, ...] = ()  # the target forms it takes, when not every one of its category's
    needs: str | None = None  # what the processes must be started with for it ("faketime")

    @property
    def extension(self) -> bool:
        """Needs pushchat's embedded Toxiproxy server: its toxic is one a real Toxiproxy lacks, and no
        standard toxic stands in for it."""
        return self.toxic in EXTENSIONS and self.toxic not in STAND_INS


KINDS: dict[str, FaultKind] = {}


def register(kind: FaultKind) -> FaultKind:
    if kind.name in KINDS:
        raise ValueError(f"fault kind {kind.name!r} is registered twice")
    if kind.toxic is not None and kind.toxic not in TOXICS:
        raise ValueError(f"fault kind {kind.name!r} adds toxic {kind.toxic!r}, which no toxic module registers")
    KINDS[kind.name] = kind
    return kind


#: Kinds that had another name: a scenario still using the old one is told the new one.
RENAMED: dict[str, str] = {"reset": "reset_peer"}


def unknown_kind(kind: Any) -> str:
    """The one-line complaint about a kind no entry registers, with the likeliest one meant."""
    close = [RENAMED[kind]] if kind in RENAMED else difflib.get_close_matches(str(kind), list(KINDS), n=1)
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


# ---------------------------------------------------------------- how kinds act


async def _maybe_await(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


def unanswered(exc: BaseException) -> bool:
    """A Toxiproxy call that got no answer (``ToxiproxyError`` with no HTTP status: it timed out, or the server
    was unreachable): the server may have acted on it all the same."""
    return hasattr(exc, "status") and getattr(exc, "status") is None


async def _remove_if_there(link: LinkControl, toxic_name: str) -> None:
    """Remove a toxic whose adding got no answer; a 404 says it was never added, which is as good."""
    try:
        await asyncio.to_thread(link.remove_toxic, toxic_name)
    except Exception as exc:
        if getattr(exc, "status", None) != 404:
            raise


def toxic(name: str, toxic_type: str, attributes: Callable[[Mapping[str, Any]], dict[str, Any]],
          target: str | None = None, **params: Param) -> FaultKind:
    """A link fault: the toxic on the ``stream`` parameter's direction (both when the kind has none)."""

    async def apply(parts: Parts, part: str, fault: "Fault", undo: list[Undo]) -> None:
        link = parts.links.get(part)
        stream = fault.params.get("stream", "both")
        for s in ("upstream", "downstream") if stream == "both" else (stream,):
            wanted = f"chaos-{fault.kind}-{fault.id}-{s}"
            try:
                got = await asyncio.to_thread(link.add_toxic, toxic_type, stream=s,
                                              attributes=attributes(fault.params), name=wanted)
            except Exception as exc:
                if unanswered(exc):  # the server may have added it all the same: removing it is part of the undo
                    undo.append(lambda link=link, toxic=wanted: _remove_if_there(link, toxic))
                raise
            undo.append(lambda link=link, toxic=got or wanted: asyncio.to_thread(link.remove_toxic, toxic))

    return FaultKind(name, LINK, apply, params, toxic=toxic_type, target=target)


def link_switch(name: str, on: Callable[[LinkControl], None], off: Callable[[LinkControl], None]) -> FaultKind:
    async def apply(parts: Parts, part: str, fault: "Fault", undo: list[Undo]) -> None:
        link = parts.links.get(part)
        await asyncio.to_thread(on, link)
        undo.append(lambda: asyncio.to_thread(off, link))

    return FaultKind(name, LINK, apply)


def process_switch(name: str, on: Callable[[Processes, str], Awaitable[None]],
                   off: Callable[[Processes, str], Awaitable[None]] | None) -> FaultKind:
    """A process fault; ``off`` (None: nothing, the process stays as ``on`` left it) is the heal."""
    async def apply(parts: Parts, part: str, fault: "Fault", undo: list[Undo]) -> None:
        await on(parts.processes, part)
        if off is not None:
            undo.append(lambda: off(parts.processes, part))

    return FaultKind(name, PROCESS, apply)


def client_switch(name: str, on: Callable[[ClientControl], Any], off: Callable[[ClientControl], Any]) -> FaultKind:
    async def apply(parts: Parts, part: str, fault: "Fault", undo: list[Undo]) -> None:
        client = parts.clients[part]
        await _maybe_await(on(client))
        undo.append(lambda: _maybe_await(off(client)))

    return FaultKind(name, CLIENT, apply)


def fault_point(name: str, point: str, action: str, scopes: tuple[str, ...], **params: Param) -> FaultKind:
    """A server fault: set in the node's or gate's fault points (``system.faultpoints``) at start, cleared at heal.

    Every such kind rolls ``percent`` per event from the run's seed and takes ``room`` and
    ``max_active_faults``; a ``client NAME`` target narrows it to that client (on its gate), and
    ``gate I -> node J`` to node J's stream to gate I.
    """

    async def apply(parts: Parts, part: str, fault: "Fault", undo: list[Undo]) -> None:
        p, target = fault.params, fault.target
        spec: dict[str, Any] = {"id": f"chaos-{fault.kind}-{fault.id}", "point": point, "action": action,
                                "seed": getattr(parts, "seed", 0), "percent": p["percent"],
                                "max_active_faults": p["max_active_faults"]}
        spec.update({k: p[k] for k in ("room", "method") if p.get(k, ANY) != ANY})
        spec.update({k: p[k] for k in ("delay_ms", "behind", "code", "when") if k in p})
        if target.scope == "client":
            spec["client"] = target.name
        elif target.scope == "gate_link":
            spec["gate"] = f"gate{target.gate}"  # a process name: the servers resolve it to its address
        servers: Servers = parts.processes  # type: ignore[assignment]
        await servers.add_fault_point(part, spec)
        undo.append(lambda: servers.remove_fault_point(part, spec["id"]))

    common = {"percent": Param(100, float, maximum=100), "room": Param(ANY, str),
              "max_active_faults": Param(0, int)}
    return FaultKind(name, SERVER, apply, {**common, **params}, scopes=scopes)


async def _set_clock(parts: Parts, part: str, fault: "Fault", undo: list[Undo]) -> None:
    servers: Servers = parts.processes  # type: ignore[assignment]
    await servers.set_clock(part, fault.params["jump_s"], fault.params["rate"])
    undo.append(lambda: servers.set_clock(part, 0, 1.0))


ANY = "any"  # a target parameter's "no filter"
METHODS = (ANY, "Join", "Leave", "SendMessage", "GetRecentMessages", "ListChatRooms")
PUSH_SCOPES = ("node", "nodes", "gate", "gates", "client", "gate_link")
RPC_SCOPES = ("node", "nodes", "gate", "gates", "client")
STORE_SCOPES = ("node", "nodes")
CLOCK_SCOPES = ("node", "nodes", "gate", "gates")

# ---------------------------------------------------------------- the kinds (this order is the one errors list)

register(toxic("latency", "latency", lambda p: {"latency": p["latency_ms"], "jitter": p["jitter_ms"]},
               latency_ms=Param(200, int), jitter_ms=Param(50, int), stream=STREAM))
register(toxic("bandwidth", "bandwidth", lambda p: {"rate": p["rate_kbps"]},  # KB/s, 1 KB = 1000 bytes
               rate_kbps=Param(16, int, minimum=1), stream=STREAM))
register(toxic("reset_peer", "reset_peer", lambda p: {"timeout": p["timeout_ms"]},  # TCP RST, both streams
               timeout_ms=Param(0, int)))
register(link_switch("disable",  # proxy disabled: connections closed, connects refused
                     lambda link: link.disable(), lambda link: link.enable()))
register(toxic("limit_data", "limit_data", lambda p: {"bytes": p["bytes"]},
               bytes=Param(4096, int, minimum=1), stream=STREAM))
register(toxic("blackhole", "timeout", lambda p: {"timeout": 0}))  # data swallowed
register(toxic("stall", "stall", lambda p: {}, stream=Param("downstream", str, STREAMS)))  # backpressure
register(process_switch("kill",  # SIGKILL, restarted at heal
                        lambda processes, name: processes.kill(name), lambda processes, name: processes.restart(name)))
register(process_switch("crash",  # SIGKILL, never restarted: a part lost for good
                        lambda processes, name: processes.kill(name), None))
register(process_switch("restart",  # SIGTERM (a clean stop: drain, leave the cluster), started again at heal
                        lambda processes, name: processes.terminate(name),
                        lambda processes, name: processes.launch(name)))
register(toxic("partition", "timeout", lambda p: {"timeout": 0}, target="partition"))  # every link across, silent
register(process_switch("pause",  # SIGSTOP, SIGCONT at heal
                        lambda processes, name: processes.pause(name), lambda processes, name: processes.resume(name)))
register(client_switch("stop_reading",  # the client stops consuming its pushes
                       lambda client: client.stop_reading(), lambda client: client.resume_reading()))
register(fault_point("push_drop", "push", "drop", PUSH_SCOPES))
register(fault_point("push_duplicate", "push", "duplicate", PUSH_SCOPES))
register(fault_point("push_reorder", "push", "reorder", PUSH_SCOPES, behind=Param(1, int, minimum=1)))
register(fault_point("push_delay", "push", "delay", PUSH_SCOPES, delay_ms=Param(500, int)))
register(fault_point("rpc_abort", "rpc", "abort", RPC_SCOPES, method=Param(ANY, str, METHODS),
                     code=Param("UNAVAILABLE", str, CODES), when=Param("before", str, WHEN)))
register(fault_point("rpc_delay", "rpc", "delay", RPC_SCOPES, method=Param(ANY, str, METHODS),
                     delay_ms=Param(500, int)))
register(fault_point("store_fail", "store", "fail", STORE_SCOPES, when=Param("before", str, WHEN)))
register(fault_point("store_delay", "store", "delay", STORE_SCOPES, delay_ms=Param(500, int)))
register(FaultKind("clock", SERVER, _set_clock, {"jump_s": Param(0, int, minimum=-10**9),
                                                 "rate": Param(1.0, float, minimum=0.01, maximum=100)},
                   scopes=CLOCK_SCOPES, needs="faketime"))  # libfaketime: jump or skew a server's wall clock

#: Kinds that need pushchat's embedded Toxiproxy server (a real one lacks their toxic).
EXTENSION_KINDS: frozenset[str] = frozenset(name for name, kind in KINDS.items() if kind.extension)
