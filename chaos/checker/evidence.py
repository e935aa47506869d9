"""A run's evidence, read once into the indexes every rule shares.

The history is walked once (in index order) into sends, joins, leaves,
displays, final polls, faults, reconnects and phases; log lines are
grouped by process and event. What several rules derive from those (the
members, each member's first showings, what appeared) is computed on first
use and kept. Rules read these instead of walking the history themselves,
so a check stays linear in the history's size however many rules there are.

Message identity is ``(room, client_msg_id)``: a killed node may restart
its sequence numbers, so ``seq`` alone identifies nothing.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Mapping

from chaos.history import Op

#: The presence records (chaos/workload/presence.py): shown joins and leaves, typing and read positions, what was sent.
PRESENCE_OPS = frozenset({"member", "typing", "read", "typing_sent", "mark_read", "final_presence"})
Key = tuple[str, str]  # (room, client_msg_id) for a message, (room, member) for a member
LogLine = Mapping[str, Any]


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
    outcomes: set[str] = field(default_factory=set)

    @property
    def outcome(self) -> str:
        """ok, fail (definite) or info (indefinite: a timeout, or never answered)."""
        if "ok" in self.outcomes:
            return "ok"
        if "info" in self.outcomes or self.invokes > self.completions:
            return "info"
        return "fail"

    @property
    def label(self) -> str:
        return f"{self.client_msg_id} from {self.sender}"


@dataclass(slots=True)
class Display:
    """A message a member showed its user: which, when and how it got there."""

    key: Key
    time: float
    source: str
    seq: int = 0
    send: Send | None = None  # its send, once the evidence has paired them (None: never sent)


@dataclass(slots=True)
class Showings:
    """One member's displays of one room, deduplicated."""

    counts: Counter[Key]   # message -> times shown
    first: list[Display]   # each message's first showing, in display order, paired with its send


@dataclass(slots=True)
class Pushed:
    """A raw push a member's client received (shown or not), as its history record named it."""

    member: str
    room: str          # the room the client filed it under
    seq: int
    client_msg_id: str
    sender: str
    time: float


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


@dataclass
class Evidence:
    """History, logs and metrics of one run, indexed. Build it with :meth:`read`."""

    duration: float = 0.0                                        # time of the last record
    sends: dict[Key, Send] = field(default_factory=dict)         # by message, in order of first record
    send_failures: list[tuple[Send, Op]] = field(default_factory=list)  # fail/info completions, in order
    joined: dict[Key, float] = field(default_factory=dict)       # member -> first successful join
    left: set[Key] = field(default_factory=set)
    displays: dict[Key, list[Display]] = field(default_factory=dict)  # member -> what it showed, in order
    final_polls: dict[str, set[str]] = field(default_factory=dict)    # room -> client_msg_ids the server held
    numbered: list[tuple[str, int, str, str]] = field(default_factory=list)  # (room, seq, cmid, where seen)
    stamps: list[tuple[str, int, int, str]] = field(default_factory=list)  # acks: (room, seq, timestamp, cmid)
    final_polled: set[Key] = field(default_factory=set)          # members with a successful final poll
    faults: list[Op] = field(default_factory=list)               # every fault record, in order
    net: list[Op] = field(default_factory=list)                  # IP-layer rules loaded and removed (f: net)
    started_at: float | None = None                              # wall clock at time 0 (logs' ts are wall clock)
    reconnects: list[Op] = field(default_factory=list)           # successful reconnections
    phases: dict[str, float] = field(default_factory=dict)       # phase name -> when it began
    store: str | None = None                                     # the nodes' store, from the setup phase
    history_resets: list[Op] = field(default_factory=list)       # a client found its room's history started over
    attacks: list[Op] = field(default_factory=list)              # a hostile member's attack records, in order
    presence: dict[str, list[Op]] = field(default_factory=dict)  # f (member, typing, read, …) -> its records
    pushes_received: Counter[str] = field(default_factory=Counter)  # member -> raw pushes its client got
    pushes: list[Pushed] = field(default_factory=list)           # raw pushes that named their message, in order
    client_ids: dict[str, list[str]] = field(default_factory=dict)  # member -> every client id it registered as
    link_down: dict[str, list[float]] = field(default_factory=dict)  # member -> when its stream ended, or it
    #                                                                  was about to try again (reconnect invoke)
    stored_members: list[Op] = field(default_factory=list)       # the store's member list per room, at the end
    truncated: set[Key] = field(default_factory=set)             # members told part of a room's history was trimmed
    logs: Mapping[str, list[LogLine]] = field(default_factory=dict)  # process incarnation -> log lines
    metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # process -> flat samples
    log_events: dict[str, dict[str, list[LogLine]]] = field(default_factory=dict)  # process -> event -> lines

    @classmethod
    def read(cls, history: Iterable[Op | Mapping[str, Any]],
             logs: Mapping[str, list[LogLine]] | None = None,
             metrics: Mapping[str, Mapping[str, float]] | None = None) -> "Evidence":
        """Index a run. ``logs``: process (``node0``, ``gate1``, ``node0#2`` for a later
        incarnation) → parsed JSON log lines; ``metrics``: process → flattened samples
        scraped at the end from the processes alive then."""
        ops = sorted((op if isinstance(op, Op) else Op.from_dict(op) for op in history), key=lambda op: op.index)
        ev = cls(duration=ops[-1].time if ops else 0.0, logs=logs or {}, metrics=metrics or {})
        displays: defaultdict[Key, list[Display]] = defaultdict(list)
        final_polls: defaultdict[str, set[str]] = defaultdict(set)
        last_final: dict[str, Any] = {}  # room -> the messages its last final poll recorded
        for op in ops:
            v = op.value
            room = str(v.get("room", ""))
            f = op.f
            if f == "deliver":
                if op.type == "ok":
                    key = (room, str(v.get("client_msg_id") or f"seq:{v.get('seq')}"))
                    displays[(room, op.process)].append(Display(key, op.time, str(v.get("source", "push")),
                                                                _int(v.get("seq"))))
            elif f == "send":
                ev._record_send(room, op)
            elif f == "join":
                if op.type == "ok":
                    ev.joined.setdefault((room, op.process), op.time)
            elif f == "leave":
                if op.type == "ok":
                    ev.left.add((room, op.process))
            elif f == "final_poll":
                if op.type == "ok":
                    ev.final_polled.add((room, op.process))
                    messages = v.get("messages") or ()
                    if last_final.get(room) == messages:
                        continue  # what the member before found: every member of a room records the same list
                    last_final[room] = messages
                    held = [m for m in messages if type(m) is dict or isinstance(m, Mapping)]
                    final_polls[room].update(str(m.get("client_msg_id")) for m in held)  # the ABC check is slow
                    ev.numbered += [(room, _int(m.get("seq")), str(m.get("client_msg_id")), "final poll")
                                    for m in held]
            elif f == "fault":
                ev.faults.append(op)
            elif f == "net":
                ev.net.append(op)
            elif f == "phase":
                name = v.get("name")
                if isinstance(name, str):
                    ev.phases.setdefault(name, op.time)
                if name == "setup" and isinstance(v.get("store"), str):
                    ev.store = v["store"]
                if name == "setup" and isinstance(v.get("started_at"), (int, float)):
                    ev.started_at = float(v["started_at"])
            elif f == "history_reset":
                ev.history_resets.append(op)
            elif f == "attack":
                ev.attacks.append(op)
            elif f in PRESENCE_OPS:
                ev.presence.setdefault(f, []).append(op)
            elif f == "push":
                ev.pushes_received[op.process] += 1
                if v.get("client_msg_id"):
                    ev.pushes.append(Pushed(op.process, room, _int(v.get("seq")), str(v["client_msg_id"]),
                                            str(v.get("sender", "")), op.time))
            elif f in ("connect", "reconnect"):
                if op.type == "invoke":
                    ev.link_down.setdefault(op.process, []).append(op.time)
                if op.type == "ok":
                    if v.get("client_id"):
                        ev.client_ids.setdefault(op.process, []).append(str(v["client_id"]))
                    if f == "reconnect":
                        ev.reconnects.append(op)
            elif f == "stream_end":
                ev.link_down.setdefault(op.process, []).append(op.time)
            elif f == "stored_members" and op.type == "ok":
                ev.stored_members.append(op)
            if f == "poll" and v.get("truncated"):
                ev.truncated.add((room, op.process))
        ev.displays, ev.final_polls = dict(displays), dict(final_polls)
        for process, lines in ev.logs.items():
            by_event: dict[str, list[LogLine]] = {}
            for line in lines:
                event = line.get("event")
                if isinstance(event, str):
                    by_event.setdefault(event, []).append(line)
            ev.log_events[process] = by_event
        return ev

    def _record_send(self, room: str, op: Op) -> None:
        key = (room, str(op.value.get("client_msg_id", "")))
        send = self.sends.get(key)
        if send is None:
            send = self.sends[key] = Send(key[0], key[1], op.process)
        if op.type == "invoke":
            send.invokes += 1
            send.invoke = op.time if send.invoke is None else send.invoke
            return
        send.completions += 1
        send.outcomes.add(op.type)
        if op.type == "ok":
            send.ok = op.time if send.ok is None else send.ok
            send.invoke = op.time if send.invoke is None else send.invoke
            self.numbered.append((room, _int(op.value.get("seq")), key[1], f"{op.process}'s acknowledgement"))
            if "timestamp" in op.value:
                self.stamps.append((room, _int(op.value.get("seq")), _int(op.value["timestamp"]), key[1]))
        else:
            self.send_failures.append((send, op))

    @cached_property
    def push_to_sender(self) -> bool:
        """Whether the rooms pushed each message to its sender too: a node said so in its ``room_config``
        line (``pushchat node --push-to-sender``); a run whose node logs say nothing ran without it."""
        return any(bool(line.get("push_to_sender")) for process in self.log_events
                   for line in self.log_lines(process, "room_config"))

    @cached_property
    def rooms_of(self) -> dict[str, set[str]]:
        """client_msg_id -> the rooms it was sent to (one, as the workload numbers its sends)."""
        rooms: dict[str, set[str]] = {}
        for room, cmid in self.sends:
            rooms.setdefault(cmid, set()).add(room)
        return rooms

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

    @cached_property
    def appeared(self) -> set[Key]:
        """Messages some member showed or some final poll found on the server."""
        shown = {d.key for displays in self.displays.values() for d in displays}
        return shown | {(room, cmid) for room, ids in self.final_polls.items() for cmid in ids}

    @cached_property
    def showings(self) -> dict[Key, Showings]:
        """Per member, how often it showed each message, and each one's first showing with its send."""
        out: dict[Key, Showings] = {}
        sends = self.sends
        for member, displays in self.displays.items():
            counts: Counter[Key] = Counter()
            first: list[Display] = []
            for d in displays:
                if d.key in counts:
                    counts[d.key] += 1
                else:
                    counts[d.key] = 1
                    d.send = sends.get(d.key)
                    first.append(d)
            out[member] = Showings(counts, first)
        return out

    def showings_of(self, member: Key) -> Showings:
        return self.showings.get(member) or Showings(Counter(), [])
