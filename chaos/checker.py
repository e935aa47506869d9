"""Judge a run: history + node/gate logs + metrics → results and a verdict.

Pure: no I/O, nothing imported from the system or the topology. The
promises checked are the project's: every acknowledged message reaches
every member (by push, or by polling after push failed), shown once and in
order; every push failure is a structured WARNING whose count equals the
counters; and no send fails because a push failed.

Message identity is ``(room, client_msg_id)``: a killed node may restart
its sequence numbers, so ``seq`` alone identifies nothing.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Iterable, Mapping

from chaos.history import Op

QUANTILES: tuple[float, ...] = (0.0, 0.5, 0.95, 0.99, 1.0)
EXIT_CODES: dict[str, int] = {"valid": 0, "invalid": 1, "unknown": 2}
SOURCES: tuple[str, ...] = ("push", "poll", "join")  # how a client came to show a message

#: Push failure reasons (node, then gate) of docs/architecture.md.
PUSH_REASONS: tuple[str, ...] = ("malformed_client_id", "gate_not_connected", "gate_buffer_full", "gate_disconnected",
                                 "client_buffer_full", "client_not_found", "client_disconnected")
#: What in a send's error means a push failure leaked into the send.
PUSH_ERROR = re.compile("|".join(PUSH_REASONS) + r"|\bpush(?!chat)", re.IGNORECASE)

# log event -> (its counter, the fields docs/architecture.md promises)
PUSH_EVENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "push_failed": ("pushchat_push_failed_total", ("room", "user", "client_id", "reason")),
    "push_dropped": ("pushchat_push_dropped_total", ("client_id", "reason")),
}


@dataclass
class Violation:
    kind: str  # lost, duplicate, reordered, phantom, failed_send_appeared, unlogged_push_failure, ...
    reason: str
    room: str | None = None
    member: str | None = None
    message: str | None = None


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
class Summary:
    """The numbers a scenario's ``expect`` can name (see scenarios/README.md)."""

    verdict: str = "valid"
    lost: int = 0
    duplicates: int = 0
    reordered: int = 0
    phantom: int = 0
    lost_by_server: int = 0
    sends_ok: int = 0
    sends_failed: int = 0
    sends_indefinite: int = 0
    sends_indefinite_appeared: int = 0
    sends_failed_appeared: int = 0
    sends_failed_by_push: int = 0
    push_failures: int = 0
    push_failures_counted: int = 0
    push_drops: int = 0
    push_drops_counted: int = 0
    push_log_mismatches: int = 0
    reconnects: int = 0
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
    violation_count: int = 0
    duration: float = 0.0


#: Result names a scenario expectation may use.
EXPECTABLE: tuple[str, ...] = tuple(f.name for f in fields(Summary))


@dataclass
class Results(Summary):
    members: list[MemberStats] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    push_logs: list[PushLogCheck] = field(default_factory=list)
    latency_series: list[LatencyPoint] = field(default_factory=list)
    fault_windows: list[FaultWindow] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


@dataclass
class _Send:
    room: str
    client_msg_id: str
    sender: str
    invoke: float | None = None
    ok: float | None = None
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


@dataclass
class _Display:
    key: tuple[str, str]
    time: float
    source: str


def quantile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank quantile, as Jepsen's checkers take it."""
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(math.floor(q * len(sorted_values))))]


_SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?:\{(?P<labels>.*)\})?$")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def split_sample(sample: str) -> tuple[str, dict[str, str]]:
    """``'x_total{reason="a"}'`` → ``('x_total', {'reason': 'a'})``."""
    m = _SAMPLE.match(sample.strip())
    if not m:
        return sample, {}
    return m["name"], dict(_LABEL.findall(m["labels"] or ""))


def _ops(history: Iterable[Op | Mapping[str, Any]]) -> list[Op]:
    ops = [op if isinstance(op, Op) else Op.from_dict(op) for op in history]
    return sorted(ops, key=lambda op: op.index)


def check(history: Iterable[Op | Mapping[str, Any]],
          logs: Mapping[str, list[Mapping[str, Any]]] | None = None,
          metrics: Mapping[str, Mapping[str, float]] | None = None) -> Results:
    """Check a run. ``logs``: process (``node0``, ``gate1``, ``node0#2`` for a later
    incarnation) → parsed JSON log lines; ``metrics``: process → flattened
    samples scraped at the end from the processes alive then."""
    ops = _ops(history)
    res = Results()
    res.duration = ops[-1].time if ops else 0.0

    sends: dict[tuple[str, str], _Send] = {}
    joined: dict[tuple[str, str], float] = {}       # (room, member) -> first join ok time
    left: set[tuple[str, str]] = set()
    displays: dict[tuple[str, str], list[_Display]] = defaultdict(list)
    final_polls: dict[str, set[str]] = defaultdict(set)
    final_polled: set[tuple[str, str]] = set()
    open_faults: dict[Any, tuple[float, Mapping[str, Any]]] = {}
    done = False

    for op in ops:
        v = op.value
        room = str(v.get("room", ""))
        if op.f == "join" and op.type == "ok":
            joined.setdefault((room, op.process), op.time)
        elif op.f == "leave" and op.type == "ok":
            left.add((room, op.process))
        elif op.f == "send":
            _record_send(res, sends, op)
        elif op.f == "deliver" and op.type == "ok":
            key = (room, str(v.get("client_msg_id") or f"seq:{v.get('seq')}"))
            displays[(room, op.process)].append(_Display(key, op.time, str(v.get("source", "push"))))
        elif op.f == "reconnect" and op.type == "ok":
            res.reconnects += 1
        elif op.f == "final_poll" and op.type == "ok":
            final_polled.add((room, op.process))
            final_polls[room].update(str(m.get("client_msg_id")) for m in v.get("messages") or ()
                                     if isinstance(m, Mapping))
        elif op.f == "fault":
            _record_fault(res, open_faults, op)
        elif op.f == "phase" and v.get("name") == "done":
            done = True
    for fid, (start, v) in open_faults.items():
        res.fault_windows.append(FaultWindow(fid, str(v.get("fault")), str(v.get("target")), start, res.duration))

    _check_sends(res, sends, displays, final_polls)
    _check_members(res, sends, joined, left, displays, final_polled)
    _check_logs(res, logs or {}, metrics or {})

    res.violation_count = len(res.violations)
    if not done:
        res.incomplete.insert(0, "no 'phase done' record: the run did not finish")
    res.verdict = "invalid" if res.violations else "unknown" if res.incomplete else "valid"
    return res


def _record_send(res: Results, sends: dict[tuple[str, str], _Send], op: Op) -> None:
    v = op.value
    key = (str(v.get("room", "")), str(v.get("client_msg_id", "")))
    send = sends.get(key)
    if send is None:
        send = sends[key] = _Send(key[0], key[1], op.process)
    if op.type == "invoke":
        send.invokes += 1
        send.invoke = op.time if send.invoke is None else send.invoke
        return
    send.completions += 1
    send.outcomes.add(op.type)
    if op.type == "ok":
        send.ok = op.time if send.ok is None else send.ok
        send.invoke = op.time if send.invoke is None else send.invoke
    elif PUSH_ERROR.search(str(v.get("error", ""))):
        res.sends_failed_by_push += 1
        res.violations.append(Violation(
            "send_failed_by_push", f"send {send.label} in {key[0]} failed ({op.type}) because of a push: "
            f"{v.get('error')!r}", key[0], op.process, key[1]))


def _record_fault(res: Results, open_faults: dict[Any, tuple[float, Mapping[str, Any]]], op: Op) -> None:
    v = op.value
    fid = v.get("id", (v.get("fault"), v.get("target")))
    phase = v.get("phase")
    if phase == "start":
        res.faults_applied += 1
        open_faults[fid] = (op.time, v)
    elif phase == "skipped":
        res.faults_skipped += 1
    elif phase == "heal" and fid in open_faults:
        start, started = open_faults.pop(fid)
        res.fault_windows.append(FaultWindow(fid, str(started.get("fault")), str(started.get("target")),
                                             start, op.time))


def _check_sends(res: Results, sends: dict[tuple[str, str], _Send],
                 displays: Mapping[tuple[str, str], list[_Display]], final_polls: Mapping[str, set[str]]) -> None:
    appeared = {d.key for shown in displays.values() for d in shown}
    appeared |= {(room, cmid) for room, ids in final_polls.items() for cmid in ids}
    for key, send in sends.items():
        outcome = send.outcome
        if outcome == "ok":
            res.sends_ok += 1
            if key[0] in final_polls and key[1] not in final_polls[key[0]]:
                res.lost_by_server += 1
        elif outcome == "info":
            res.sends_indefinite += 1
            res.sends_indefinite_appeared += key in appeared
        else:
            res.sends_failed += 1
            if key in appeared:
                res.sends_failed_appeared += 1
                res.violations.append(Violation(
                    "failed_send_appeared", f"send {send.label} in {key[0]} failed definitely, yet it was "
                    "stored (a failure that may have happened must be recorded as info)", key[0], send.sender, key[1]))


def _check_members(res: Results, sends: Mapping[tuple[str, str], _Send], joined: Mapping[tuple[str, str], float],
                   left: set[tuple[str, str]], displays: Mapping[tuple[str, str], list[_Display]],
                   final_polled: set[tuple[str, str]]) -> None:
    acked_by_room: dict[str, list[_Send]] = defaultdict(list)
    for send in sends.values():
        if send.outcome == "ok":
            acked_by_room[send.room].append(send)
    members = sorted((set(joined) - left) | set(displays))
    for room, member in members:
        stats = MemberStats(room, member, final_poll=(room, member) in final_polled)
        res.members.append(stats)
        shown: Counter[tuple[str, str]] = Counter()
        max_invoke, latest = -math.inf, None  # prefix maximum of send-invoke times over display order
        for d in displays.get((room, member), []):
            shown[d.key] += 1
            if shown[d.key] > 1:
                continue
            send = sends.get(d.key)
            if send is None:
                stats.phantom += 1
                res.violations.append(Violation("phantom", f"{member} showed {d.key[1]!r} in {room}, "
                                                "which nobody sent", room, member, d.key[1]))
                continue
            if send.sender != member and d.source in SOURCES:
                setattr(stats, f"by_{d.source}", getattr(stats, f"by_{d.source}") + 1)
            if send.ok is not None and latest is not None and max_invoke > send.ok:
                stats.reordered += 1
                res.violations.append(Violation(
                    "reordered", f"{member} showed {latest.label} (sent at {max_invoke:.3f} s) before "
                    f"{send.label} (acknowledged earlier, at {send.ok:.3f} s) in {room}", room, member, send.client_msg_id))
            if send.invoke is not None:
                if send.invoke > max_invoke:
                    max_invoke, latest = send.invoke, send
                if send.sender != member:
                    res.latency_series.append(LatencyPoint(send.invoke, d.time - send.invoke, room, member,
                                                           send.sender, d.source))
        stats.shown = len(shown)
        for key, times in sorted(shown.items()):
            if times > 1:
                stats.duplicates += times - 1
                res.violations.append(Violation("duplicate", f"{member} showed {key[1]!r} {times} times in {room}",
                                                room, member, key[1]))
        join_time = joined.get((room, member))
        if join_time is not None and (room, member) not in left:
            for send in acked_by_room.get(room, []):
                if send.sender == member or send.invoke is None or send.invoke < join_time:
                    continue
                stats.expected += 1
                if (room, send.client_msg_id) not in shown:
                    stats.lost += 1
                    res.violations.append(Violation(
                        "lost", f"{member} never showed {send.label} in {room}, acknowledged at {send.ok:.3f} s",
                        room, member, send.client_msg_id))
            if not stats.final_poll:
                res.incomplete.append(f"{member} has no successful final poll of {room}")
        for name in ("lost", "duplicates", "reordered", "phantom"):
            setattr(res, name, getattr(res, name) + getattr(stats, name))
        res.delivered_by_push += stats.by_push
        res.delivered_by_poll += stats.by_poll
        res.delivered_by_join += stats.by_join
    shown_total = res.delivered_by_push + res.delivered_by_poll + res.delivered_by_join
    res.push_share = round(res.delivered_by_push / shown_total, 4) if shown_total else None
    latencies = sorted(p.latency for p in res.latency_series)
    for name, q in zip(("latency_min", "latency_p50", "latency_p95", "latency_p99", "latency_max"), QUANTILES):
        setattr(res, name, quantile(latencies, q))
    res.latency_series.sort(key=lambda p: (p.send_time, p.member))


def _incarnation(process: str) -> tuple[str, int]:
    base, _, number = process.partition("#")
    return base, int(number) if number.isdigit() else 1


def _check_logs(res: Results, logs: Mapping[str, list[Mapping[str, Any]]],
                metrics: Mapping[str, Mapping[str, float]]) -> None:
    latest: dict[str, int] = {}
    for process in logs:
        base, number = _incarnation(process)
        latest[base] = max(latest.get(base, 0), number)

    def metrics_of(process: str) -> Mapping[str, float] | None:
        base, number = _incarnation(process)
        if number != latest.get(base, number):
            return metrics.get(process) if process != base else None
        return metrics.get(process, metrics.get(base))

    used_metrics = set()
    for process in sorted(logs):
        lines = logs[process]
        for line in lines:
            if line.get("event") == "call_failed" and line.get("method") == "SendMessage" \
                    and PUSH_ERROR.search(str(line.get("error", ""))):
                res.sends_failed_by_push += 1
                res.violations.append(Violation(
                    "send_failed_by_push", f"{process} failed a SendMessage call because of a push: "
                    f"{line.get('error')!r}"))
        samples = metrics_of(process)
        if samples is not None:
            used_metrics.add(process if process in metrics else _incarnation(process)[0])
        for event, (counter, required) in PUSH_EVENTS.items():
            logged = _logged(res, process, event, required, lines)
            counted = _counted(samples, counter) if samples is not None else None
            _compare(res, process, event, logged, counted)
    for process in sorted(set(metrics) - used_metrics):  # counters with no log at all
        for event, (counter, _) in PUSH_EVENTS.items():
            _compare(res, process, event, {}, _counted(metrics[process], counter))
    for process, samples in metrics.items():
        res.push_failures_counted += sum(_counted(samples, PUSH_EVENTS["push_failed"][0]).values())
        res.push_drops_counted += sum(_counted(samples, PUSH_EVENTS["push_dropped"][0]).values())


def _logged(res: Results, process: str, event: str, required: tuple[str, ...],
            lines: list[Mapping[str, Any]]) -> dict[str, int]:
    logged: Counter[str] = Counter()
    for line in lines:
        if line.get("event") != event:
            continue
        if line.get("level") != "WARNING":
            res.violations.append(Violation("push_log_level", f"{process} logged {event} at level "
                                            f"{line.get('level')!r}, not WARNING"))
            continue
        missing = [name for name in required if name not in line]
        if missing:
            res.violations.append(Violation("push_log_fields", f"{process} logged {event} without "
                                            f"{', '.join(missing)}"))
        logged[str(line.get("reason", ""))] += 1
        if event == "push_failed":
            res.push_failures += 1
        else:
            res.push_drops += 1
    return dict(logged)


def _counted(samples: Mapping[str, float], counter: str) -> dict[str, int]:
    counted: Counter[str] = Counter()
    for sample, value in samples.items():
        name, labels = split_sample(sample)
        if name == counter:
            counted[labels.get("reason", "")] += int(round(float(value)))
    return {reason: n for reason, n in counted.items() if n}


def _compare(res: Results, process: str, event: str, logged: dict[str, int], counted: dict[str, int] | None) -> None:
    if not logged and not counted:
        return
    if counted is None:
        res.push_logs.append(PushLogCheck(process, event, logged, None, False,
                                          "no metrics (process gone or restarted): not comparable"))
        return
    res.push_logs.append(PushLogCheck(process, event, logged, counted, True))
    for reason in sorted(set(logged) | set(counted)):
        n_logged, n_counted = logged.get(reason, 0), counted.get(reason, 0)
        if n_counted > n_logged:
            res.push_log_mismatches += 1
            res.violations.append(Violation(
                "unlogged_push_failure", f"unlogged drop: {process} counted {n_counted} {event} "
                f"({reason or 'no reason'}) but logged {n_logged} WARNING lines"))
        elif n_logged > n_counted:
            res.push_log_mismatches += 1
            res.violations.append(Violation(
                "uncounted_push_failure", f"logged but not counted: {process} logged {n_logged} {event} "
                f"({reason or 'no reason'}) WARNING lines but its counter says {n_counted}"))
