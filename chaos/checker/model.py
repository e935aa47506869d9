"""What the checker reports: the record types of ``results.json``.

``Summary`` holds the scalars a scenario's ``expect`` can name (see
scenarios/README.md); ``Results`` adds the per-member, per-process and
per-point details. Each field is filled by exactly one rule (``rules/``),
except the verdict, the violation count and the duration, which
:func:`chaos.checker.check` derives.
"""

from __future__ import annotations

import copy
import functools
import json
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

QUANTILES: tuple[float, ...] = (0.0, 0.5, 0.95, 0.99, 1.0)
SOURCES: tuple[str, ...] = ("push", "poll", "join")  # how a client came to show a message


@dataclass
class Violation:
    kind: str  # lost, duplicate, reordered, phantom, failed_send_appeared, unlogged_push_failure, ...
    reason: str
    room: str | None = None
    member: str | None = None
    message: str | None = None


@dataclass
class NotApplicable:
    """A rule, or some of its numbers, that the run's system gives no way to judge: n/a, never a pass."""

    rule: str
    fields: list[str]   # the result fields it would have set (n/a in tables and for expectations)
    reason: str


@dataclass
class MemberStats:
    room: str
    member: str
    expected: int = 0   # acknowledged messages this member had to show
    shown: int = 0      # distinct messages shown
    lost: int = 0
    duplicates: int = 0
    reordered: int = 0
    phantom: int = 0
    by_push: int = 0    # by_*: how others' messages came to be shown (own ones are not pushed)
    by_poll: int = 0
    by_join: int = 0
    final_poll: bool = False


@dataclass
class PushLogCheck:
    """Logged push failures of one process incarnation against its counters."""

    process: str
    event: str
    logged: dict[str, int]
    counted: dict[str, int] | None  # None: no metrics for this incarnation (killed)
    comparable: bool
    note: str = ""


@dataclass
class PushAccount:
    """One book of pushes: a node or gate incarnation (attempted = delivered + failed), or a member's
    client (``client``: attempted = pushes it received, delivered = pushes its gates wrote to it)."""

    process: str
    attempted: int
    delivered: int
    failed: int      # node: failures before a gate queue; gate: drops before a client queue
    client: bool = False

    @property
    def balanced(self) -> bool:
        return self.attempted <= self.delivered if self.client else self.attempted == self.delivered + self.failed


@dataclass
class StreamAccount:
    """The two ends of one node-gate stream up at the end: pushes the node wrote to it, the gate read from it."""

    node: str     # the node process (incarnation) that counted
    gate: str
    written: int
    read: int

    @property
    def balanced(self) -> bool:
        return self.read >= self.written


@dataclass
class InjectedCheck:
    """Injected faults of one process incarnation: ``fault_injected`` lines against its counters."""

    process: str
    logged: dict[str, int]           # "point/action" -> lines
    counted: dict[str, int] | None   # None: no metrics for this incarnation (killed)
    comparable: bool


@dataclass
class LatencyPoint:
    send_time: float
    latency: float
    room: str
    member: str
    sender: str
    source: str


@dataclass
class FaultWindow:
    id: Any
    kind: str
    target: str
    start: float
    end: float


@dataclass
class HostileAttack:
    """How one kind of attack by the hostile members fared: tried, refused (by gRPC code), accepted."""

    attack: str
    attempts: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # gRPC code -> attempts refused with it
    accepted: int = 0
    inconclusive: int = 0  # neither: the link failed (a fault), so the gate never said


@dataclass
class Failover:
    """A room changing owner: the last acknowledgement by the old node, the first by the new one."""

    room: str
    old: str         # node that stored the room's messages before (e.g. node1)
    new: str
    last_old: float  # unix seconds of the old owner's last message_stored
    first_new: float
    seconds: float   # first_new - last_old


@dataclass
class Summary:
    """The numbers a scenario's ``expect`` can name (see scenarios/README.md)."""

    verdict: str = "valid"
    lost: int = 0
    duplicates: int = 0
    reordered: int = 0
    phantom: int = 0
    misfiled: int = 0                # pushes and showings filed under a room their message was not sent to
    lost_by_server: int = 0
    history_resets: int = 0
    conflicting_seq: int = 0         # (room, seq) pairs that carried two different messages
    failovers: int = 0               # times a room's messages began to be stored by another node
    failover_max: float | None = None  # longest of them, s (last ack by the old owner to first by the new)
    sends_ok: int = 0
    sends_failed: int = 0
    sends_indefinite: int = 0
    sends_indefinite_appeared: int = 0
    sends_failed_appeared: int = 0
    sends_failed_by_push: int = 0
    sends_ok_share: float | None = None  # acknowledged / every send made: liveness per send, not per second
    push_failures: int = 0
    push_failures_counted: int = 0
    push_drops: int = 0
    push_drops_counted: int = 0
    push_log_mismatches: int = 0
    push_unbalanced: int = 0         # push books (node, gate, client) that do not balance: each a violation
    own_pushes: int = 0              # pushes members received of their own messages (only with --push-to-sender)
    stream_unbalanced: int = 0       # node-gate streams whose gate read fewer pushes than the node wrote to it
    shown_by_final_poll: int = 0     # messages members first showed at the final poll: recovery had not got them
    recovery_misses: int = 0         # messages a member had not shown when it said it had recovered
    seq_gaps: int = 0                # seqs missing inside a room's history at the final poll (durable stores)
    reconnects: int = 0
    reconnects_due: int = 0          # times a member was cut off (each run of cuts one reconnect pays): timing-bound
    reconnects_missing: int = 0      # members cut off that never reconnected after (a violation)
    delivered_by_push: int = 0
    delivered_by_poll: int = 0
    delivered_by_join: int = 0
    push_share: float | None = None  # by push / all first showings of others' messages
    latency_min: float | None = None
    latency_p50: float | None = None
    latency_p95: float | None = None
    latency_p99: float | None = None
    latency_max: float | None = None
    faults_applied: int = 0
    faults_skipped: int = 0
    hostile_attempts: int = 0        # attacks tried by hostile members (topology.hostile)
    hostile_refused: int = 0         # ... refused by the gate or node (PERMISSION_DENIED, UNAUTHENTICATED, ...)
    hostile_accepted: int = 0        # ... that went through: each one is a violation
    hostile_inconclusive: int = 0    # ... that a link failure cut short, so nobody said yes or no
    # in-process faults (system.faultpoints): injected, so apart from the real push_failures / push_drops
    injected_faults: int = 0           # fault_injected WARNING lines, every point and action
    injected_faults_counted: int = 0   # pushchat_faults_injected_total
    injected_drops: int = 0            # pushes dropped on purpose (by action, from the lines)
    injected_duplicates: int = 0
    injected_reorders: int = 0
    injected_delays: int = 0           # pushes, calls and store writes delayed
    injected_aborts: int = 0           # calls aborted with a status
    injected_store_failures: int = 0   # store writes failed
    injected_log_mismatches: int = 0   # (process, point, action) where lines and counters differ
    stored_twice: int = 0              # messages (room, client_msg_id) the server holds under two seqs
    timestamp_regressions: int = 0     # acknowledged messages whose timestamp is not above the one before
    # presence, typing, read receipts (workload.presence): judged only when the run recorded them
    stored_members_checked: int = 0    # (room, member) rows of the store compared with the member's registration
    stored_members_stale: int = 0      # ... that named another client id, or no row: a deposed owner's write
    presence_checked: int = 0          # (room, member) final member lists compared with the room's
    presence_diverged: int = 0         # ... that differed from the members the room has
    receipts_shown: int = 0            # read positions members were shown (pushed or polled)
    receipt_regressions: int = 0       # ... lower than one shown before for the same (reader, viewer)
    read_regressions: int = 0          # MarkRead replies below one the same reader was answered before
    receipts_ahead: int = 0            # ... beyond what the reader had been sent at the time
    receipts_diverged: int = 0         # (room, reader, viewer) final read positions that did not converge
    typing_shown: int = 0              # typing indicators shown
    typing_overstayed: int = 0         # ... shown past the typist's last typing + expiry + tolerance
    typing_stored: int = 0             # messages the server holds that nobody sent (a typing stored as one)
    # IP-layer cuts of a gate's link to a node (chaos.faults.net_kinds): the gate must notice them by keepalive
    cuts_noticed: int = 0              # ... that the gate noticed (its stream to that node ended) while they lasted
    cuts_unnoticed: int = 0            # ... that it did not: each a violation (cut_unnoticed)
    detection_max: float | None = None  # the longest from a cut to the gate's noticing it, s
    violation_count: int = 0
    duration: float = 0.0


#: Result names a scenario expectation may use.
EXPECTABLE: tuple[str, ...] = tuple(f.name for f in fields(Summary))


@dataclass
class Results(Summary):
    members: list[MemberStats] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    not_applicable: list[NotApplicable] = field(default_factory=list)
    system: str = "pushchat"         # the system under test, as the history's setup record says
    push_logs: list[PushLogCheck] = field(default_factory=list)
    push_accounts: list[PushAccount] = field(default_factory=list)
    stream_accounts: list[StreamAccount] = field(default_factory=list)
    latency_series: list[LatencyPoint] = field(default_factory=list)  # every point up to 100,000, then evenly thinned
    fault_windows: list[FaultWindow] = field(default_factory=list)
    failover_times: list[Failover] = field(default_factory=list)
    hostile_attacks: list[HostileAttack] = field(default_factory=list)
    injected: list[InjectedCheck] = field(default_factory=list)

    def na_reason(self, name: str) -> str | None:
        """Why the result field ``name`` is n/a for this run, or None when it was judged."""
        return na_reason(self.not_applicable, name)

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "Results":
        """The ``Results`` that :meth:`to_dict` wrote (``results`` in results.json), the one reader of them;
        fields a run of an older version did not write take their defaults, names it no longer knows are
        ignored."""
        results: Results = from_plain(cls, doc)
        return results

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


#: Fields :func:`chaos.checker.check` derives from the rules' findings; no rule may own them.
DERIVED: tuple[str, ...] = ("verdict", "violation_count", "duration", "violations", "incomplete", "not_applicable",
                            "system")
#: Every field of ``Results``, in its order.
RESULT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Results))


def na_reason(not_applicable: Any, name: str) -> str | None:
    """Why field ``name`` is n/a, from ``Results.not_applicable`` or its results.json form."""
    for item in not_applicable or ():
        fields_, why = (item.fields, item.reason) if isinstance(item, NotApplicable) else (
            item.get("fields", ()), item.get("reason", ""))
        if name in fields_:
            return str(why)
    return None


_SCALARS = frozenset({str, int, float, bool, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(value: Any) -> Any:
    """What ``dataclasses.asdict`` gives, without its deep copy of every scalar: a load run's 10^5 latency
    points took asdict a second."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    names = _FIELD_NAMES.get(kind)
    if names is None and is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(value))
    if names is not None:
        out = {}
        for name in names:
            v = getattr(value, name)
            out[name] = v if type(v) in _SCALARS else _plain(v)
        return out
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return kind(_plain(v) for v in value)
    if isinstance(value, dict):
        return kind((_plain(k), _plain(v)) for k, v in value.items())
    return copy.deepcopy(value)


@functools.cache
def _shape(kind: type) -> tuple[frozenset[str], dict[str, Any]]:
    """A dataclass's field names, and the hints of those that hold dataclasses (or lists of them)."""
    hints = typing.get_type_hints(kind)
    names = frozenset(f.name for f in fields(kind) if f.init)
    nested = {name: hints[name] for name in names if _holds_records(hints[name])}
    return names, nested


def _holds_records(hint: Any) -> bool:
    if typing.get_origin(hint) is list:
        return _holds_records(typing.get_args(hint)[0])
    return isinstance(hint, type) and is_dataclass(hint)


def from_plain(kind: Any, value: Any) -> Any:
    """``value`` (as JSON gave it) as ``kind``, the inverse of :func:`_plain`: dataclasses and lists of them
    rebuilt, anything else as is; fields a dict lacks take their defaults, names the class lacks are ignored."""
    if isinstance(kind, type) and is_dataclass(kind) and isinstance(value, Mapping):
        names, nested = _shape(kind)
        if not nested and value.keys() <= names:  # the common case (10^5 latency points): no more to do
            return kind(**value)
        return kind(**{name: from_plain(nested[name], v) if name in nested else v
                       for name, v in value.items() if name in names})
    if typing.get_origin(kind) is list and isinstance(value, list):
        (item,) = typing.get_args(kind)
        return [from_plain(item, v) for v in value]
    return value
