"""The checker on synthetic runs: a valid one passes, and each kind of doctored copy fails for its reason."""

from __future__ import annotations

import copy
import json

from chaos.checker import EXIT_CODES, check, split_sample

NODE_FAIL = {"ts": 1.0, "level": "WARNING", "component": "node", "event": "push_failed", "room": "General",
             "user": "bob", "client_id": "127.0.0.1:1/b", "reason": "gate_buffer_full", "seq": 3, "sender": "alice"}
GATE_DROP = {"ts": 1.0, "level": "WARNING", "component": "gate", "event": "push_dropped",
             "client_id": "127.0.0.1:1/c", "reason": "client_buffer_full"}


class Run:
    """Builds a history the way the workload writes it; each record 10 ms after the last."""

    def __init__(self) -> None:
        self.ops: list[dict] = []
        self.seq: dict[str, int] = {}

    def add(self, process: str, type_: str, f: str, **value) -> dict:
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
            self.add(who, "ok", "send", room=room, client_msg_id=cmid, seq=self.seq[room], timestamp=1,
                     duplicate=False)
        elif outcome in ("fail", "info"):
            self.add(who, outcome, "send", room=room, client_msg_id=cmid, error=error)

    def show(self, who: str, cmid: str, sender: str, source: str = "push", room: str = "General") -> None:
        self.add(who, "ok", "deliver", room=room, seq=0, client_msg_id=cmid, sender=sender, source=source)

    def final_poll(self, who: str, cmids: list[str], room: str = "General") -> None:
        self.add(who, "ok", "final_poll", room=room,
                 messages=[{"seq": i + 1, "client_msg_id": c, "sender": "?"} for i, c in enumerate(cmids)])

    def done(self) -> None:
        self.add("runner", "info", "phase", name="done")


def valid_run() -> tuple[list[dict], dict, dict]:
    """alice and carol send; bob misses one push (logged on the node) and polls it back."""
    run = Run()
    for who in ("alice", "bob", "carol"):
        run.join(who)
    run.add("runner", "info", "phase", name="workload")
    run.add("nemesis", "info", "fault", fault="stop_reading", target="client bob", phase="start", params={}, id=0)
    run.send("alice", "a1")
    run.show("bob", "a1", "alice")
    run.show("carol", "a1", "alice")
    run.send("carol", "c1")
    run.show("alice", "c1", "carol")
    run.show("bob", "c1", "carol")
    run.send("alice", "a2")
    run.show("carol", "a2", "alice")          # bob's push of a2 failed: gate_buffer_full
    run.add("nemesis", "info", "fault", fault="stop_reading", target="client bob", phase="heal", params={}, id=0)
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
    metrics = {"node0": {'pushchat_push_failed_total{reason="gate_buffer_full"}': 1.0,
                         'pushchat_push_failed_created{reason="gate_buffer_full"}': 1.7e9},
               "gate0": {'pushchat_push_dropped_total{reason="client_buffer_full"}': 1.0}}
    return run.ops, logs, metrics


def without(ops: list[dict], **match) -> list[dict]:
    """The history minus the first record whose f/process/value fields match."""
    for i, op in enumerate(ops):
        fields = {"f": op["f"], "process": op["process"], "type": op["type"], **op["value"]}
        if all(fields.get(k) == v for k, v in match.items()):
            return ops[:i] + ops[i + 1:]
    raise AssertionError(f"no record matches {match}")


def kinds(results) -> set[str]:
    return {v.kind for v in results.violations}


def test_valid_run_is_valid_with_its_numbers():
    ops, logs, metrics = valid_run()
    r = check(ops, logs, metrics)
    assert r.verdict == "valid", r.violations + r.incomplete
    assert r.exit_code == 0
    assert (r.lost, r.duplicates, r.reordered, r.phantom, r.lost_by_server) == (0, 0, 0, 0, 0)
    assert (r.sends_ok, r.sends_failed, r.sends_indefinite) == (4, 0, 0)
    assert (r.push_failures, r.push_failures_counted, r.push_drops, r.push_drops_counted) == (1, 1, 1, 1)
    assert (r.delivered_by_push, r.delivered_by_poll, r.delivered_by_join) == (7, 1, 0)
    assert r.reconnects == 1 and r.faults_applied == 1
    bob = next(m for m in r.members if m.member == "bob")
    assert (bob.expected, bob.shown, bob.by_push, bob.by_poll, bob.final_poll) == (4, 4, 3, 1, True)
    assert [(w.kind, w.target) for w in r.fault_windows] == [("stop_reading", "client bob")]
    assert all(c.comparable for c in r.push_logs)


def test_latency_is_deliver_time_minus_send_invoke_for_other_members():
    ops, logs, metrics = valid_run()
    r = check(ops, logs, metrics)
    assert len(r.latency_series) == 8  # alice's own a3 is not a visibility latency
    invoke = {op["value"]["client_msg_id"]: op["time"] for op in ops if op["f"] == "send" and op["type"] == "invoke"}
    shown = [(op["process"], op["value"]["client_msg_id"], op["time"]) for op in ops if op["f"] == "deliver"]
    expected = sorted(t - invoke[c] for who, c, t in shown if not (who == "alice" and c == "a3"))
    assert r.latency_min == expected[0] and r.latency_max == expected[-1]
    assert r.latency_p50 == expected[len(expected) // 2]
    bob_a2 = next(p for p in r.latency_series if p.member == "bob" and p.source == "poll")
    assert bob_a2.sender == "alice" and bob_a2.latency > r.latency_p50


def test_results_serialise_to_json():
    r = check(*valid_run())
    doc = json.loads(r.to_json())
    assert doc["verdict"] == "valid" and doc["sends_ok"] == 4 and len(doc["members"]) == 3


def test_lost_message_is_invalid():
    ops, logs, metrics = valid_run()
    r = check(without(ops, f="deliver", process="bob", source="poll"), logs, metrics)
    assert r.verdict == "invalid" and r.exit_code == EXIT_CODES["invalid"] == 1
    assert r.lost == 1 and kinds(r) == {"lost"}
    assert "bob never showed a2 from alice in General" in r.violations[0].reason


def test_duplicate_display_is_invalid():
    ops, logs, metrics = valid_run()
    dup = copy.deepcopy(next(op for op in ops if op["f"] == "deliver" and op["process"] == "carol"))
    dup["index"] = len(ops)
    r = check(ops[:-1] + [dup, {**ops[-1], "index": len(ops) + 1}], logs, metrics)
    assert r.verdict == "invalid" and r.duplicates == 1 and kinds(r) == {"duplicate"}
    assert "carol showed 'a1' 2 times" in r.violations[0].reason


def test_reordering_is_invalid():
    ops, logs, metrics = valid_run()
    i = next(i for i, op in enumerate(ops) if op["f"] == "deliver" and op["process"] == "carol"
             and op["value"]["client_msg_id"] == "a1")
    j = next(i for i, op in enumerate(ops) if op["f"] == "deliver" and op["process"] == "carol"
             and op["value"]["client_msg_id"] == "a2")
    ops[i]["value"], ops[j]["value"] = ops[j]["value"], ops[i]["value"]  # carol shows a2 before a1
    r = check(ops, logs, metrics)
    assert r.verdict == "invalid" and r.reordered == 1 and kinds(r) == {"reordered"}
    assert "carol showed a2 from alice" in r.violations[0].reason and "before a1 from alice" in r.violations[0].reason


def test_concurrent_sends_may_show_in_either_order():
    run = Run()
    for who in ("alice", "bob", "carol"):
        run.join(who)
    run.add("alice", "invoke", "send", room="General", client_msg_id="a1", text="x")
    run.add("carol", "invoke", "send", room="General", client_msg_id="c1", text="x")
    run.add("carol", "ok", "send", room="General", client_msg_id="c1", seq=1)
    run.add("alice", "ok", "send", room="General", client_msg_id="a1", seq=2)
    run.show("bob", "a1", "alice")
    run.show("bob", "c1", "carol")
    run.show("carol", "a1", "alice")
    run.show("alice", "c1", "carol")
    for who in ("alice", "bob", "carol"):
        run.final_poll(who, ["c1", "a1"])
    run.done()
    # bob showed seq 2 before seq 1, but neither send finished before the other began
    assert check(run.ops).verdict == "valid"


def test_phantom_message_is_invalid():
    ops, logs, metrics = valid_run()
    ops.insert(-1, {"index": len(ops) - 1, "time": 9.0, "process": "carol", "type": "ok", "f": "deliver",
                    "value": {"room": "General", "seq": 9, "client_msg_id": "zz", "sender": "dave", "source": "poll"}})
    ops[-1] = {**ops[-1], "index": len(ops)}
    r = check(ops, logs, metrics)
    assert r.verdict == "invalid" and r.phantom == 1 and kinds(r) == {"phantom"}
    assert "nobody sent" in r.violations[0].reason


def test_unlogged_drop_is_invalid():
    ops, logs, metrics = valid_run()
    metrics["node0"]['pushchat_push_failed_total{reason="gate_buffer_full"}'] = 3.0
    r = check(ops, logs, metrics)
    assert r.verdict == "invalid" and kinds(r) == {"unlogged_push_failure"}
    assert r.push_log_mismatches == 1 and r.push_failures == 1 and r.push_failures_counted == 3
    assert "unlogged drop: node0 counted 3 push_failed (gate_buffer_full) but logged 1" in r.violations[0].reason


def test_counter_of_a_process_with_no_log_at_all_is_an_unlogged_drop():
    ops, logs, metrics = valid_run()
    del logs["gate0"]
    r = check(ops, logs, metrics)
    assert r.verdict == "invalid" and kinds(r) == {"unlogged_push_failure"}
    assert "gate0 counted 1 push_dropped" in r.violations[0].reason


def test_logged_but_uncounted_failure_is_invalid():
    ops, logs, metrics = valid_run()
    logs["gate0"].append({**GATE_DROP, "reason": "client_not_found"})
    r = check(ops, logs, metrics)
    assert r.verdict == "invalid" and kinds(r) == {"uncounted_push_failure"}
    assert "logged but not counted: gate0 logged 1 push_dropped (client_not_found)" in r.violations[0].reason


def test_push_failure_not_logged_as_structured_warning_is_invalid():
    ops, logs, metrics = valid_run()
    logs["node0"][0] = {**NODE_FAIL, "level": "INFO"}
    assert "push_log_level" in kinds(check(ops, logs, metrics))
    logs["node0"][0] = {k: v for k, v in NODE_FAIL.items() if k != "client_id"}
    r = check(ops, logs, metrics)
    assert kinds(r) == {"push_log_fields"} and "without client_id" in r.violations[0].reason


def test_send_failed_because_of_a_push_is_invalid():
    ops, logs, metrics = valid_run()
    run = Run()
    run.ops = ops[:-1]
    run.send("carol", "c2", outcome="fail", error="INTERNAL: push to gate failed: gate_buffer_full")
    run.done()
    r = check(run.ops, logs, metrics)
    assert r.verdict == "invalid" and r.sends_failed_by_push == 1 and kinds(r) == {"send_failed_by_push"}
    assert r.sends_failed == 1


def test_send_call_failed_on_the_node_because_of_a_push_is_invalid():
    ops, logs, metrics = valid_run()
    logs["node0"].append({"level": "WARNING", "event": "call_failed", "type": "ChatRoom", "id": "ChatRoom-General",
                          "method": "SendMessage", "code": "INTERNAL", "error": "PushMessageToClient: gate_not_connected"})
    logs["node0"].append({"level": "WARNING", "event": "call_failed", "type": "ChatRoom", "id": "ChatRoom-General",
                          "method": "Join", "code": "INTERNAL", "error": "push hub closed"})
    r = check(ops, logs, metrics)
    assert r.verdict == "invalid" and r.sends_failed_by_push == 1


def test_unrelated_send_failures_are_counted_not_blamed_on_push():
    ops, logs, metrics = valid_run()
    run = Run()
    run.ops = ops[:-1]
    run.send("carol", "c2", outcome="fail", error="UNAVAILABLE: connection refused to pushchat gate")
    run.send("carol", "c3", outcome="info", error="DEADLINE_EXCEEDED")
    run.done()
    r = check(run.ops, logs, metrics)
    assert r.verdict == "valid" and (r.sends_failed, r.sends_indefinite, r.sends_failed_by_push) == (1, 1, 0)


def test_incomplete_history_is_unknown():
    ops, logs, metrics = valid_run()
    r = check(ops[:-1], logs, metrics)
    assert r.verdict == "unknown" and r.exit_code == 2 and "phase done" in r.incomplete[0]
    r = check(without(ops, f="final_poll", process="bob"), logs, metrics)
    assert r.verdict == "unknown" and r.incomplete == ["bob has no successful final poll of General"]


def test_invalid_beats_unknown():
    ops, logs, metrics = valid_run()
    assert check(without(ops[:-1], f="deliver", process="carol"), logs, metrics).verdict == "invalid"


def test_indefinite_send_that_appears_is_fine_and_counted_apart():
    ops, logs, metrics = valid_run()
    run = Run()
    run.ops = ops[:-4]  # before the final polls
    run.send("carol", "c2", outcome="info", error="DEADLINE_EXCEEDED")
    run.show("alice", "c2", "carol", source="poll")
    run.add("carol", "invoke", "send", room="General", client_msg_id="c3", text="x")  # never answered
    for who in ("alice", "bob", "carol"):
        run.final_poll(who, ["a1", "c1", "a2", "a3", "c2"])
    run.done()
    r = check(run.ops, logs, metrics)
    assert r.verdict == "valid", r.violations
    assert (r.sends_indefinite, r.sends_indefinite_appeared, r.sends_ok) == (2, 1, 4)


def test_definite_failure_that_appears_is_invalid():
    ops, logs, metrics = valid_run()
    run = Run()
    run.ops = ops[:-4]
    run.send("carol", "c2", outcome="fail", error="UNAVAILABLE")
    run.show("alice", "c2", "carol", source="poll")
    for who in ("alice", "bob", "carol"):
        run.final_poll(who, ["a1", "c1", "a2", "a3", "c2"])
    run.done()
    r = check(run.ops, logs, metrics)
    assert r.verdict == "invalid" and kinds(r) == {"failed_send_appeared"}


def test_killed_node_without_metrics_is_not_comparable_not_a_violation():
    ops, logs, metrics = valid_run()
    logs["node0#2"] = [{"level": "INFO", "event": "gate_registered", "gate_addr": "x"}]
    metrics["node0"] = {'pushchat_push_failed_total{reason="gate_buffer_full"}': 0.0}  # the new incarnation's
    r = check(ops, logs, metrics)
    assert r.verdict == "valid", r.violations
    first = next(c for c in r.push_logs if c.process == "node0")
    assert not first.comparable and first.counted is None and first.logged == {"gate_buffer_full": 1}
    assert r.push_failures == 1 and r.push_failures_counted == 0


def test_restarted_node_is_compared_with_its_latest_incarnation():
    ops, logs, metrics = valid_run()
    logs["node0#2"] = [NODE_FAIL, NODE_FAIL]
    metrics["node0"] = {'pushchat_push_failed_total{reason="gate_buffer_full"}': 1.0}
    r = check(ops, logs, metrics)
    assert r.verdict == "invalid" and "node0#2 logged 2 push_failed" in r.violations[0].reason


def test_server_forgetting_an_acked_message_is_lost_by_server():
    ops, logs, metrics = valid_run()
    for op in ops:
        if op["f"] == "final_poll":
            op["value"]["messages"] = [m for m in op["value"]["messages"] if m["client_msg_id"] != "a1"]
    r = check(ops, logs, metrics)
    assert r.lost_by_server == 1 and r.lost == 0 and r.verdict == "valid"


def test_member_who_joined_after_a_send_is_not_expected_to_show_it():
    run = Run()
    run.join("alice")
    run.join("bob")
    run.send("alice", "a1")
    run.show("bob", "a1", "alice")
    run.join("carol")
    run.send("alice", "a2")
    run.show("bob", "a2", "alice")
    run.show("carol", "a2", "alice")
    for who in ("alice", "bob", "carol"):
        run.final_poll(who, ["a1", "a2"])
    run.done()
    r = check(run.ops)
    assert r.verdict == "valid" and next(m for m in r.members if m.member == "carol").expected == 1


def test_sample_names_split_into_metric_and_labels():
    assert split_sample('pushchat_push_failed_total{reason="gate_buffer_full"}') == (
        "pushchat_push_failed_total", {"reason": "gate_buffer_full"})
    assert split_sample("pushchat_connected_gates") == ("pushchat_connected_gates", {})
