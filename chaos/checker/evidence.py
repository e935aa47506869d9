"""A run's evidence, read once into the indexes every rule shares.

The history is walked once (in index order) into sends, joins, leaves,
displays, final polls, faults, reconnects and phases; log lines are
grouped by process and event. What several rules derive from those (the
members, each member's first showings, the arrays) is computed on first
use and kept. Rules read these instead of walking the history themselves,
so a check stays linear in the history's size however many rules there are.

Message identity is ``(room, client_msg_id)``: a killed node may restart
its sequence numbers, so ``seq`` alone identifies nothing.
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Mapping, Sequence

from chaos.checker.arrays import Arrays
from chaos.checker.systems import DEFAULT_SYSTEM, PUSHES_TO_SENDER
from chaos.checker.columns import (DisplayIndex, Display, KeyedRows, PushList, PushRows, Pushed, Rows, Showings,
                                   ShowingsIndex, Table, seq_of)
from chaos.history import HistoryError, Op, Record

#: The presence records (chaos/workload/presence_recorder.py): shown joins and leaves, typing and read positions, what was sent.
PRESENCE_OPS = frozenset({"member", "typing", "read", "typing_sent", "mark_read", "final_presence"})
Key = tuple[str, str]  # (room, client_msg_id) for a message, (room, member) for a member
LogLine = Mapping[str, Any]


_OUTCOME_BITS = {"ok": 1, "fail": 2, "info": 4}


@dataclass(slots=True)
class Send:
    """Everything the history says about one message's send, over its retries."""

    room: str
    client_msg_id: str
    sender: str
    invoke: float | None = None  # first invocation (or the ok, if no invocation was recorded)
    ok: float | None = None      # first acknowledgement
    invokes: int = 0
    completions: int = 0
    flags: int = 0               # the completions' types seen, as bits (a set each was a fifth of a send's bytes)

    @property
    def outcomes(self) -> set[str]:
        """The types of its completions (ok, fail, info)."""
        return {name for name, bit in _OUTCOME_BITS.items() if self.flags & bit}

    @property
    def outcome(self) -> str:
        """ok, fail (definite) or info (indefinite: a timeout, or never answered)."""
        if self.flags & 1:
            return "ok"
        if self.flags & 4 or self.invokes > self.completions:
            return "info"
        return "fail"

    @property
    def label(self) -> str:
        return f"{self.client_msg_id} from {self.sender}"


_SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?:\{(?P<labels>.*)\})?$")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def split_sample(sample: str) -> tuple[str, dict[str, str]]:
    """``'x_total{reason="a"}'`` → ``('x_total', {'reason': 'a'})``."""
    m = _SAMPLE.match(sample.strip())
    if not m:
        return sample, {}
    return m["name"], dict(_LABEL.findall(m["labels"] or ""))


def unbalanced(logged: Mapping[str, int], counted: Mapping[str, int]) -> list[tuple[str, int, int]]:
    """(key, lines, count) wherever a process's log lines and its counter disagree: the books of a rule
    that promises one WARNING line per counted event."""
    keys = sorted(set(logged) | set(counted))
    return [(k, logged.get(k, 0), counted.get(k, 0)) for k in keys if logged.get(k, 0) != counted.get(k, 0)]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _record(item: Op | Mapping[str, Any] | Record) -> Record:
    if type(item) is tuple:
        return item  # type: ignore[return-value]
    op = item if isinstance(item, Op) else Op.from_dict(item)  # type: ignore[arg-type]
    return (op.index, op.time, op.process, op.type, op.f, op.value)


@dataclass
class Evidence:
    """History, logs and metrics of one run, indexed. Build it with :meth:`read`."""

    duration: float = 0.0                                        # time of the last record
    sends: dict[Key, Send] = field(default_factory=dict)         # by message, in order of first record
    send_failures: list[tuple[Send, Op]] = field(default_factory=list)  # fail/info completions, in order
    joined: dict[Key, float] = field(default_factory=dict)       # member -> first successful join
    left: set[Key] = field(default_factory=set)
    displays: Mapping[Key, list[Display]] = field(default_factory=dict)  # member -> what it showed, in order
    final_polls: dict[str, set[str]] = field(default_factory=dict)    # room -> client_msg_ids the server held
    numbered: Sequence[tuple[str, int, str, str]] = field(default_factory=list)  # (room, seq, cmid, where seen)
    stamps: Sequence[tuple[str, int, int, str]] = field(default_factory=list)  # acks: (room, seq, timestamp, cmid)
    final_polled: set[Key] = field(default_factory=set)          # members with a successful final poll
    faults: list[Op] = field(default_factory=list)               # every fault record, in order
    net: list[Op] = field(default_factory=list)                  # IP-layer rules loaded and removed (f: net)
    started_at: float | None = None                              # wall clock at time 0 (logs' ts are wall clock)
    reconnects: list[Op] = field(default_factory=list)           # successful reconnections
    phases: dict[str, float] = field(default_factory=dict)       # phase name -> when it began
    store: str | None = None                                     # the nodes' store, from the setup phase
    system: str = DEFAULT_SYSTEM                                 # the system under test, from the setup phase
    history_limit: int | None = None                             # messages a room keeps, from the setup phase
    history_resets: list[Op] = field(default_factory=list)       # a client found its room's history started over
    attacks: list[Op] = field(default_factory=list)              # a hostile member's attack records, in order
    presence: dict[str, list[Op]] = field(default_factory=dict)  # f (member, typing, read, …) -> its records
    pushes_received: Counter[str] = field(default_factory=Counter)  # member -> raw pushes its client got
    pushes: Sequence[Pushed] = field(default_factory=list)       # raw pushes that named their message, in order
    client_ids: dict[str, list[str]] = field(default_factory=dict)  # member -> every client id it registered as
    link_down: dict[str, list[float]] = field(default_factory=dict)  # member -> when its stream ended, or it
    #                                                                  was about to try again (reconnect invoke)
    stored_members: list[Op] = field(default_factory=list)       # the store's member list per room, at the end
    truncated: set[Key] = field(default_factory=set)             # members told part of a room's history was trimmed
    logs: Mapping[str, list[LogLine]] = field(default_factory=dict)  # process incarnation -> log lines
    metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # process -> flat samples
    log_events: dict[str, dict[str, list[LogLine]]] = field(default_factory=dict)  # process -> event -> lines
    showings: Mapping[Key, Showings] = field(default_factory=dict)  # member -> its showings, deduplicated
    _ack_where: dict[str, int] = field(default_factory=dict, repr=False)  # process -> "P's acknowledgement" (numbered)
    _messages: Table = field(default_factory=Table, repr=False)  # every message key read, numbered
    _columns: tuple = field(default=(), repr=False)  # (showings' rows by member, push rows, people, sources)

    @classmethod
    def read(cls, history: Iterable[Op | Mapping[str, Any] | Record],
             logs: Mapping[str, list[LogLine]] | None = None,
             metrics: Mapping[str, Mapping[str, float]] | None = None) -> "Evidence":
        """Index a run in one pass. ``history``: a list of records (sorted here by index), or any other
        iterable of them in index order, e.g. :func:`chaos.history.records` streaming a file, so that no
        record outlives its reading; ``logs``: process (``node0``, ``gate1``, ``node0#2`` for a later
        incarnation) → parsed JSON log lines; ``metrics``: process → flattened samples
        scraped at the end from the processes alive then."""
        ev = cls(logs=logs or {}, metrics=metrics or {})
        listed = isinstance(history, (list, tuple))
        ev._index(sorted(map(_record, history), key=lambda r: r[0]) if listed else iter(history))
        for process, lines in ev.logs.items():
            by_event: dict[str, list[LogLine]] = {}
            for line in lines:
                event = line.get("event")
                if isinstance(event, str):
                    by_event.setdefault(event, []).append(line)
            ev.log_events[process] = by_event
        return ev

    def _index(self, records: Iterable[Record | Op | Mapping[str, Any]]) -> None:
        """The one pass: the bulk (showings, raw pushes) into columns, the rest into the indexes. A stream
        must come in index order (a history file does: its writer numbers the lines as it writes them)."""
        messages, names, sources = Table(), Table(), Table()
        shown: dict[Key, Rows] = {}
        appenders: dict[Key, tuple] = {}  # member -> its rows' four appends (time, seq, msg, source)
        push_rows = PushRows()
        push_member, push_msg, push_seq, push_sender, push_time = (
            push_rows.member.append, push_rows.msg.append, push_rows.seq.append, push_rows.sender.append,
            push_rows.time.append)
        received: dict[str, int] = {}
        intern, message_id, source_id, name_id = sys.intern, messages.ids.get, sources.ids.get, names.ids.get
        self.numbered, self.stamps = KeyedRows(messages, "numbered"), KeyedRows(messages, "stamps")
        self._messages = messages
        last: float = -math.inf
        time = None
        other = _Others(self, messages)
        for record in records:
            index, time, process, type_, f, v = record if type(record) is tuple else _record(record)
            if index < last:
                raise HistoryError(f"history record {index} came after {last}: a streamed history must be in "
                                   "index order (pass a list to have it sorted)")
            last = index
            if f == "deliver":  # the commonest records, inlined
                if type_ != "ok":
                    continue
                room, cmid, seq = v.get("room", ""), v.get("client_msg_id"), v.get("seq")
                source = v.get("source", "push")
                if type(room) is not str:
                    room = str(room)
                member = (room, process)
                add = appenders.get(member)
                if add is None:
                    rows = shown[member] = Rows()
                    add = appenders[member] = (rows.time.append, rows.seq.append, rows.msg.append, rows.source.append)
                add[0](time)
                add[1](seq if type(seq) is int and -2**63 <= seq < 2**63 else seq_of(seq))
                key = (room, cmid if type(cmid) is str and cmid else str(cmid) if cmid else f"seq:{seq}")
                i = message_id(key)
                add[2](messages.id((intern(room), key[1])) if i is None else i)
                i = source_id(source)
                add[3](sources.id(str(source)) if i is None else i)
            elif f == "push":
                received[process] = received.get(process, 0) + 1
                cmid = v.get("client_msg_id")
                if cmid:
                    room, seq, sender = v.get("room", ""), v.get("seq"), v.get("sender", "")
                    key = (room if type(room) is str else str(room), cmid if type(cmid) is str else str(cmid))
                    i = name_id(process)
                    push_member(names.id(process) if i is None else i)
                    i = message_id(key)
                    push_msg(messages.id((intern(key[0]), key[1])) if i is None else i)
                    push_seq(seq if type(seq) is int and -2**63 <= seq < 2**63 else seq_of(seq))
                    sender = sender if type(sender) is str else str(sender)
                    i = name_id(sender)
                    push_sender(names.id(sender) if i is None else i)
                    push_time(time)
            else:
                other.add(index, time, process, type_, f, v)
        if time is not None:
            self.duration = time
        self.pushes_received.update(received)
        self.final_polls = dict(other.final_polls)
        self._columns = (shown, push_rows, names, sources)
        self.displays = DisplayIndex(shown, messages, sources)
        self.showings = ShowingsIndex(shown, messages, sources, self.sends)
        self.pushes = PushList(push_rows, messages, names)

    def _record_send(self, key: Key, i: int, process: str, type_: str, time: float, v: Mapping[str, Any],
                     index: int, f: str) -> None:
        """A send record of message ``key`` (number ``i`` in the table of message keys)."""
        room = key[0]
        send = self.sends.get(key)
        if send is None:
            send = self.sends[key] = Send(room, key[1], process)
        if type_ == "invoke":
            send.invokes += 1
            send.invoke = time if send.invoke is None else send.invoke
            return
        send.completions += 1
        send.flags |= _OUTCOME_BITS.get(type_, 0)
        if type_ == "ok":
            send.ok = time if send.ok is None else send.ok
            send.invoke = time if send.invoke is None else send.invoke
            where = self._ack_where.get(process)
            if where is None:
                where = self._ack_where[process] = self.numbered.label(f"{process}'s acknowledgement")
            seq = v.get("seq")
            seq = seq if type(seq) is int and -2**63 <= seq < 2**63 else seq_of(seq)
            rows = self.numbered  # a row (message, seq, where), appended here: a send's ok is every tenth record
            rows.msg.append(i)
            rows.a.append(seq)
            rows.b.append(where)
            if "timestamp" in v:
                stamp = v["timestamp"]
                rows = self.stamps
                rows.msg.append(i)
                rows.a.append(seq)
                rows.b.append(stamp if type(stamp) is int and -2**63 <= stamp < 2**63 else seq_of(stamp))
        else:
            self.send_failures.append((send, Op(index, time, process, type_, f, v)))

    @cached_property
    def push_to_sender(self) -> bool:
        """Whether the rooms pushed each message to its sender too: a node said so in its ``room_config``
        line (``pushchat node --push-to-sender``); a run whose node logs say nothing ran without it. Some
        systems always do (``chaos.checker.systems.PUSHES_TO_SENDER``: Goverse)."""
        return self.system in PUSHES_TO_SENDER or any(bool(line.get("push_to_sender")) for process in self.log_events
                   for line in self.log_lines(process, "room_config"))

    @cached_property
    def rooms_of(self) -> dict[str, tuple[str, ...]]:
        """client_msg_id -> the rooms it was sent to (one, as the workload numbers its sends; a tuple, not a
        set each: a soak has a million)."""
        rooms: dict[str, tuple[str, ...]] = {}
        for room, cmid in self.sends:
            had = rooms.get(cmid)
            if had is None:
                rooms[cmid] = (room,)
            elif room not in had:
                rooms[cmid] = had + (room,)
        return rooms

    @cached_property
    def arrays(self) -> Arrays:
        """The columns and the sends as numpy arrays, for rules that judge every showing at once."""
        shown, push_rows, people, sources = self._columns or ({}, PushRows(), Table(), Table())
        numbered = self.numbered if isinstance(self.numbered, KeyedRows) else KeyedRows(self._messages, "numbered")
        return Arrays(shown, push_rows, self._messages, people, sources, self.sends, numbered)

    def log_lines(self, process: str, event: str) -> list[LogLine]:
        """The lines of one process incarnation's log with this ``event``, in order."""
        return self.log_events.get(process, {}).get(event, [])

    @cached_property
    def members(self) -> list[Key]:
        """Every (room, member) that joined and did not leave, or showed anything, sorted."""
        return sorted((set(self.joined) - self.left) | set(self.displays))

    @cached_property
    def acked_by_room(self) -> dict[str, list[Send]]:
        """Acknowledged sends per room, in order of their first record."""
        acked: dict[str, list[Send]] = defaultdict(list)
        for send in self.sends.values():
            if send.outcome == "ok":
                acked[send.room].append(send)
        return dict(acked)

    def showings_of(self, member: Key) -> Showings:
        return self.showings.get(member) or Showings(Counter(), [])


class _Others:
    """The one pass's records other than showings and raw pushes, each into its index."""

    def __init__(self, ev: Evidence, messages: Table) -> None:
        self.ev, self.messages = ev, messages
        self.final_polls: defaultdict[str, set[str]] = defaultdict(set)
        self.last_final: tuple[str, Any] = ("", None)  # the room and messages the last final poll recorded

    def add(self, index: int, time: float, process: str, type_: str, f: str, v: Mapping[str, Any]) -> None:
        ev = self.ev
        room = v.get("room", "")
        room = sys.intern(room if type(room) is str else str(room))
        if f == "send":
            cmid = v.get("client_msg_id", "")
            key = (room, cmid if type(cmid) is str else str(cmid))
            i = self.messages.ids.get(key)
            if i is None:
                i = self.messages.id(key)
            ev._record_send(self.messages.values[i], i, process, type_, time, v, index, f)
        elif f == "join":
            if type_ == "ok":
                ev.joined.setdefault((room, process), time)
        elif f == "leave":
            if type_ == "ok":
                ev.left.add((room, process))
        elif f == "final_poll":
            if type_ == "ok":
                ev.final_polled.add((room, process))
                held = v.get("messages") or ()
                if self.last_final[0] == room and (self.last_final[1] is held or self.last_final[1] == held):
                    return  # what the member before found: every member of a room records the same list
                self.last_final = (room, held)  # one room's only (indexing a list twice changes nothing)
                held = [m for m in held if type(m) is dict or isinstance(m, Mapping)]
                ids = [self.messages.id((room, str(m.get("client_msg_id")))) for m in held]
                self.final_polls[room].update(self.messages.values[i][1] for i in ids)
                for m, i in zip(held, ids):
                    ev.numbered.add(i, seq_of(m.get("seq")), "final poll")
        elif f == "fault":
            ev.faults.append(Op(index, time, process, type_, f, v))
        elif f == "net":
            ev.net.append(Op(index, time, process, type_, f, v))
        elif f == "phase":
            name = v.get("name")
            if isinstance(name, str):
                ev.phases.setdefault(name, time)
            if name == "setup" and isinstance(v.get("store"), str):
                ev.store = v["store"]
            if name == "setup" and isinstance(v.get("system"), str):
                ev.system = v["system"]
            if name == "setup" and isinstance(v.get("history_limit"), int):
                ev.history_limit = v["history_limit"]
            if name == "setup" and isinstance(v.get("started_at"), (int, float)):
                ev.started_at = float(v["started_at"])
        elif f == "history_reset":
            ev.history_resets.append(Op(index, time, process, type_, f, v))
        elif f == "attack":
            ev.attacks.append(Op(index, time, process, type_, f, v))
        elif f in PRESENCE_OPS:
            ev.presence.setdefault(f, []).append(Op(index, time, process, type_, f, v))
        elif f in ("connect", "reconnect"):
            if type_ == "invoke":
                ev.link_down.setdefault(process, []).append(time)
            if type_ == "ok":
                if v.get("client_id"):
                    ev.client_ids.setdefault(process, []).append(str(v["client_id"]))
                if f == "reconnect":
                    ev.reconnects.append(Op(index, time, process, type_, f, v))
        elif f == "stream_end":
            ev.link_down.setdefault(process, []).append(time)
        elif f == "stored_members":
            if type_ == "ok":
                ev.stored_members.append(Op(index, time, process, type_, f, v))
        elif f == "poll" and v.get("truncated"):
            ev.truncated.add((room, process))
