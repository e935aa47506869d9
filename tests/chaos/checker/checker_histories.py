"""Doctored histories for the checker's tests: a builder that writes records as the workload does,
a valid run to start from, and small helpers to take it apart."""

from __future__ import annotations

from typing import Any

from chaos.checker import Results

NODE_FAIL = {"ts": 1.0, "level": "WARNING", "component": "node", "event": "push_failed", "room": "General",
             "user": "bob", "client_id": "127.0.0.1:1/b", "reason": "gate_buffer_full", "seq": 3, "sender": "alice"}
GATE_DROP = {"ts": 1.0, "level": "WARNING", "component": "gate", "event": "push_dropped",
             "client_id": "127.0.0.1:1/c", "reason": "client_buffer_full"}


class Run:
    """Builds a history the way the workload writes it; each record 10 ms after the last."""

    def __init__(self) -> None:
        self.ops: list[dict] = []
        self.seq: dict[str, int] = {}

    def add(self, process: str, type_: str, f: str, **value: Any) -> dict:
        op = {"index": len(self.ops), "time": round(0.01 * (len(self.ops) + 1), 6), "process": process,
              "type": type_, "f": f, "value": value}
        self.ops.append(op)
        return op

    def join(self, who: str, room: str = "General") -> None:
        self.add(who, "invoke", "join", room=room)
        self.add(who, "ok", "join", room=room, client_id=f"127.0.0.1:1/{who}", last_seq=0)

    def send(self, who: str, cmid: str, outcome: str = "ok", room: str = "General", error: str = "") -> None:
        self.add(who, "invoke", "send", room=room, client_msg_id=cmid, text="x")
        if outcome == "ok":
            self.seq[room] = self.seq.get(room, 0) + 1
            self.add(who, "ok", "send", room=room, client_msg_id=cmid, seq=self.seq[room],
                     timestamp=1000 + self.seq[room],
                     duplicate=False)
        elif outcome in ("fail", "info"):
            self.add(who, outcome, "send", room=room, client_msg_id=cmid, error=error)

    def show(self, who: str, cmid: str, sender: str, source: str = "push", room: str = "General") -> None:
        self.add(who, "ok", "deliver", room=room, seq=0, client_msg_id=cmid, sender=sender, source=source)

    def push(self, who: str, cmid: str, sender: str, seq: int, room: str = "General") -> None:
        """A raw push ``who``'s client received, filed under ``room``."""
        self.add(who, "ok", "push", room=room, seq=seq, client_msg_id=cmid, sender=sender)

    def final_poll(self, who: str, cmids: list[str], room: str = "General") -> None:
        self.add(who, "ok", "final_poll", room=room,
                 messages=[{"seq": i + 1, "client_msg_id": c, "sender": "?"} for i, c in enumerate(cmids)])

    def fault(self, phase: str, id: Any = 0, fault: str = "stop_reading", target: str = "client bob",
              **extra: Any) -> None:
        self.add("nemesis", "info", "fault", fault=fault, target=target, phase=phase, params={}, id=id, **extra)

    def done(self) -> None:
        self.add("runner", "info", "phase", name="done")


def valid_run() -> tuple[list[dict], dict, dict]:
    """alice and carol send; bob misses one push (logged on the node) and polls it back."""
    run = Run()
    for who in ("alice", "bob", "carol"):
        run.join(who)
    run.add("runner", "info", "phase", name="workload")
    run.fault("start")
    run.send("alice", "a1")
    run.show("bob", "a1", "alice")
    run.show("carol", "a1", "alice")
    run.send("carol", "c1")
    run.show("alice", "c1", "carol")
    run.show("bob", "c1", "carol")
    run.send("alice", "a2")
    run.show("carol", "a2", "alice")          # bob's push of a2 failed: gate_buffer_full
    run.fault("heal")
    run.add("bob", "ok", "reconnect", attempt=1, client_id="127.0.0.1:1/bob2", recovered=True)
    run.show("bob", "a2", "alice", source="poll")
    run.send("alice", "a3")
    run.show("bob", "a3", "alice")
    run.show("carol", "a3", "alice")
    run.show("alice", "a3", "alice", source="poll")   # own messages may be shown, are not required
    for who in ("alice", "bob", "carol"):
        run.final_poll(who, ["a1", "c1", "a2", "a3"])
    run.done()
    logs = {"node0": [NODE_FAIL, {"level": "INFO", "event": "message_stored"}], "gate0": [GATE_DROP]}
    metrics = {"node0": {"pushchat_push_attempted_total": 8.0, "pushchat_push_delivered_total": 7.0,
                         'pushchat_push_failed_total{reason="gate_buffer_full"}': 1.0,
                         'pushchat_push_failed_created{reason="gate_buffer_full"}': 1.7e9},
               "gate0": {"pushchat_push_attempted_total": 7.0, "pushchat_push_delivered_total": 6.0,
                         'pushchat_push_dropped_total{reason="client_buffer_full"}': 1.0,
                         "pushchat_push_unsent_total": 0.0}}
    return run.ops, logs, metrics


def continued(ops: list[dict], keep: int) -> Run:
    """A builder that goes on from the first ``keep`` records of a history (negative: all but the last)."""
    run = Run()
    run.ops = ops[:keep]
    return run


def without(ops: list[dict], **match: Any) -> list[dict]:
    """The history minus the first record whose f/process/value fields match."""
    for i, op in enumerate(ops):
        fields = {"f": op["f"], "process": op["process"], "type": op["type"], **op["value"]}
        if all(fields.get(k) == v for k, v in match.items()):
            return ops[:i] + ops[i + 1:]
    raise AssertionError(f"no record matches {match}")


def kinds(results: Results) -> set[str]:
    return {v.kind for v in results.violations}
