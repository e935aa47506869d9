"""A scenario: the topology to start, the workload, the faults to inject and the outcomes that must hold.

The model only; ``chaos.scenario.files`` reads and validates it from YAML
(format: scenarios/README.md), ``chaos.run`` runs it.
"""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from chaos.checker.model import na_reason
from chaos.checker.systems import SYSTEMS
from chaos.faults.fault import Fault
from chaos.faults.kinds import EXTENSION_KINDS
from chaos.naming import PartNames
from chaos.faults.schedule import schedule_random

#: A scenario's ``topology.limits`` keys and the gate flags they set.
GATE_LIMIT_FLAGS = {"max_clients": "--max-clients", "streams_per_connection": "--max-streams-per-connection",
                    "call_rate": "--call-rate", "call_burst": "--call-burst",
                    "connection_call_rate": "--connection-call-rate",
                    "connection_call_burst": "--connection-call-burst",
                    "rooms_per_client": "--max-rooms-per-client"}

#: The comparisons an expectation can make (besides ``in``: one of a list).
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class LoadSpec:
    """Many clients driven from a few worker processes (``topology.load``; ``chaos.workload.fleet``).

    Client ``i`` is ``load{i}`` (zero-padded), on gate ``i % gates``, a member of room ``i % rooms``;
    ``rate`` is the messages per second all of them send together; ``presence``: each records the member
    list it shows after the final poll (for the checker's presence rule; not typing or receipts, whose
    pushes to every member of a big room would be the load)."""

    clients: int
    rooms: int = 1
    workers: int = 2
    rate: float = 100.0
    presence: bool = False

    def client_name(self, i: int) -> str:
        return f"load{i:0{len(str(self.clients - 1))}d}"

    def room_names(self) -> tuple[str, ...]:
        return tuple(self._room(r) for r in range(self.rooms))

    def _room(self, r: int) -> str:
        return f"room{r:0{len(str(self.rooms - 1))}d}"

    def clients_on(self, gates: int) -> tuple[tuple[str, int], ...]:
        """(name, gate index) of every load client."""
        return tuple((self.client_name(i), i % gates) for i in range(self.clients))

    def room_of(self, i: int) -> str:
        return self._room(i % self.rooms)


@dataclass(frozen=True)
class TopologySpec:
    """The topology a scenario declares (``chaos.topology.Topology`` is the running one)."""

    nodes: int = 1
    gates: int = 1
    clients: tuple[tuple[str, int], ...] = ()  # (name, gate index), in file order
    rooms: tuple[str, ...] = ("General",)
    gate_buffer: int = 1024      # node's buffer per gate (messages)
    client_buffer: int = 10      # gate's buffer per client (messages)
    history_limit: int = 10000   # messages a room keeps
    page_size: int = 1000        # the nodes' largest poll page: small makes a member that fell pages behind cheap
    push_to_sender: bool = False  # the nodes push each message to its sender too (--push-to-sender)
    max_message_bytes: int = 4096
    store: str = "sqlite"        # where nodes keep rooms: sqlite (durable, a file per node), postgres (durable,
                                 # one server the nodes share, each node through its own link), memory
    etcd: int = 0                # 0: a static list of nodes; 1 or 3: a cluster on etcd with that many members
    lease_ttl: float = 2.0       # with etcd: seconds a silent member's key outlives it
    auth: str = "none"           # the gates' (and nodes') --auth: none, or token (the run makes a secret and tokens)
    tls: bool = False            # both hops over TLS (the run makes a CA and certificates; the proxies carry TLS)
    hostile: tuple[tuple[str, int], ...] = ()  # (name, gate index) of clients that attack instead of chatting
    limits: tuple[tuple[str, float], ...] = ()  # gate limits (GATE_LIMIT_FLAGS keys) other than the defaults
    load: LoadSpec | None = None  # many clients in worker processes, besides the named ones
    network: str = "host"        # host: all on 127.0.0.1; namespaces: each node and gate in its own network
                                 # namespace (chaos.infra.netns), for the IP-layer kinds (net_*), which turn it on

    @property
    def client_names(self) -> list[str]:
        """The named clients, run in the runner's process (the load clients are not among them)."""
        return [name for name, _ in self.clients]

    @property
    def load_clients(self) -> tuple[tuple[str, int], ...]:
        return self.load.clients_on(self.gates) if self.load else ()

    @property
    def hostile_names(self) -> list[str]:
        return [name for name, _ in self.hostile]

    def names(self) -> PartNames:
        """What the running topology will call its parts: fault targets resolve against it."""
        return PartNames(self.nodes, self.gates, self.clients + self.load_clients, store=self.store == "postgres",
                         etcd=self.etcd)


@dataclass(frozen=True)
class Workload:
    duration: float = 5.0    # seconds of sending
    rate: float = 10.0       # sends per second per sender
    senders: tuple[str, ...] = ()
    text_bytes: int = 32
    presence: bool = False   # clients also type, mark read and record presence (chaos/workload/presence_recorder.py)
    typists: tuple[str, ...] = ()        # members that type in the first quarter and never send
    stale_readers: tuple[str, ...] = ()  # members that mark read behind themselves after each send
    #                                      (both: chaos/workload/variations.py)


@dataclass(frozen=True)
class RandomFaults:
    count: int
    kinds: tuple[str, ...]
    targets: tuple[str, ...]
    min_duration: float
    max_duration: float
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Expectation:
    """``name op value``; op ``in`` means "one of" the literals in ``value``."""

    name: str
    op: str
    value: Any

    @property
    def wanted(self) -> str:
        if self.op == "in":
            return " or ".join(map(str, self.value))
        return f"{self.op} {self.value:g}" if isinstance(self.value, (int, float)) and not isinstance(
            self.value, bool) else f"{self.op} {self.value}"

    def holds(self, actual: Any) -> bool:
        if self.op == "in":
            return actual in self.value
        if self.op not in ("==", "!=") and not isinstance(actual, (int, float)):
            return False
        try:
            return bool(OPS[self.op](actual, self.value))
        except TypeError:
            return False


@dataclass(frozen=True)
class ExpectationOutcome:
    name: str
    wanted: str
    actual: Any
    passed: bool


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    seed: int
    topology: TopologySpec
    workload: Workload
    recovery_wait: float
    faults: tuple[Fault, ...]
    random_faults: RandomFaults | None
    expect: tuple[Expectation, ...]
    path: Path
    groups: tuple[str, ...] = ()   # what `pushchat chaos run|campaign --group` selects it by
    system: str = "pushchat"       # the system under test: pushchat, or goverse (chaos.scenario.goverse)
    expect_on: tuple[tuple[str, tuple[Expectation, ...]], ...] = ()  # system -> expectations in place of expect

    def for_system(self, system: str | None) -> "Scenario":
        """This scenario against ``system`` (None: its own), with that system's expectations (``expect_on``) when
        it states them. ``ValueError`` naming every part the system cannot run (a fault point kind for goverse)."""
        from chaos.scenario import goverse as goverse_scenario  # here: the scenario model stays importable on its own

        system = system or self.system
        if system not in SYSTEMS:
            raise ValueError(f"system must be one of {', '.join(SYSTEMS)}, not {system!r}")
        if system == goverse_scenario.GOVERSE:
            refused = goverse_scenario.check(self)
            if refused:
                raise ValueError(f"{self.name} cannot run against goverse: " + "; ".join(refused))
        expect = dict(self.expect_on).get(system, self.expect)
        return dataclasses.replace(self, system=system, expect=expect)

    @property
    def kinds(self) -> list[str]:
        """Every fault kind the scenario can apply: its listed faults', then its random schedule's."""
        return [f.kind for f in self.faults] + list(self.random_faults.kinds if self.random_faults else ())

    @property
    def extension_kinds(self) -> list[str]:
        """Fault kinds used here that need pushchat's embedded Toxiproxy server."""
        return sorted({k for k in self.kinds if k in EXTENSION_KINDS})

    def schedule(self, seed: int | None = None) -> list[Fault]:
        """The run's faults: the listed ones plus the seeded random ones, by start time."""
        faults = list(self.faults)
        r = self.random_faults
        if r is not None:
            faults += schedule_random(
                self.seed if seed is None else seed, r.count, r.kinds, r.targets, self.workload.duration,
                r.min_duration, r.max_duration, self.topology.names(), params=r.params,
                existing=self.faults, first_id=len(self.faults))
        return sorted(faults, key=lambda f: (f.start, f.id))


def evaluate(expect: Sequence[Expectation], results: Any) -> list[ExpectationOutcome]:
    """Test each expectation against a ``Results`` or its dict (results.json). One on a number the run's system
    gives no way to judge (n/a) does not hold: its actual value is ``n/a: <why>``."""
    out = []
    plain = isinstance(results, Mapping)
    na = results.get("not_applicable") if plain else getattr(results, "not_applicable", None)
    for e in expect:
        why = na_reason(na, e.name)
        if why is not None:
            out.append(ExpectationOutcome(e.name, e.wanted, f"n/a: {why}", False))
            continue
        actual = results.get(e.name) if plain else getattr(results, e.name, None)
        out.append(ExpectationOutcome(e.name, e.wanted, actual, e.holds(actual)))
    return out
