"""The evidence: a run's history, logs and metrics read once into the indexes the rules share."""

from __future__ import annotations

import random

from chaos.checker import Evidence, split_sample
from tests.chaos.checker.checker_histories import NODE_FAIL, Run, valid_run


def test_sample_names_split_into_metric_and_labels():
    assert split_sample('pushchat_push_failed_total{reason="gate_buffer_full"}') == (
        "pushchat_push_failed_total", {"reason": "gate_buffer_full"})
    assert split_sample("pushchat_connected_gates") == ("pushchat_connected_gates", {})


def test_records_are_read_in_index_order_whatever_order_they_come_in():
    ops, logs, metrics = valid_run()
    shuffled = ops[:]
    random.Random(7).shuffle(shuffled)
    a, b = Evidence.read(ops, logs, metrics), Evidence.read(shuffled, logs, metrics)
    assert a.displays == b.displays and list(a.sends) == list(b.sends) and a.duration == b.duration == ops[-1]["time"]
    assert [d.key[1] for d in a.displays[("General", "bob")]] == ["a1", "c1", "a2", "a3"]


def test_sends_gather_their_retries_and_outcomes():
    run = Run()
    run.add("alice", "invoke", "send", room="General", client_msg_id="a1", text="x")
    run.add("alice", "info", "send", room="General", client_msg_id="a1", error="DEADLINE_EXCEEDED")
    run.add("alice", "invoke", "send", room="General", client_msg_id="a1", text="x")
    run.add("alice", "ok", "send", room="General", client_msg_id="a1", seq=1)
    run.add("alice", "invoke", "send", room="General", client_msg_id="a2", text="x")
    ev = Evidence.read(run.ops)
    a1, a2 = ev.sends[("General", "a1")], ev.sends[("General", "a2")]
    assert (a1.invokes, a1.completions, a1.invoke, a1.ok, a1.outcome) == (2, 2, 0.01, 0.04, "ok")
    assert a2.outcome == "info"  # never answered
    assert [(send.client_msg_id, op.type) for send, op in ev.send_failures] == [("a1", "info")]
    assert ev.acked_by_room == {"General": [a1]}


def test_a_display_without_a_message_id_is_known_by_its_seq():
    run = Run()
    run.add("bob", "ok", "deliver", room="General", seq=4, sender="alice")
    assert Evidence.read(run.ops).displays[("General", "bob")][0].key == ("General", "seq:4")


def test_showings_count_repeats_and_keep_each_first_showing_in_order_with_its_send():
    run = Run()
    run.send("alice", "a1")
    for cmid in ("a1", "a2", "a1", "a3", "a2"):
        run.show("bob", cmid, "alice")
    ev = Evidence.read(run.ops)
    s = ev.showings_of(("General", "bob"))
    assert [d.key[1] for d in s.first] == ["a1", "a2", "a3"] and s.counts[("General", "a1")] == 2
    assert [d.send for d in s.first] == [ev.sends[("General", "a1")], None, None]
    assert Evidence.read(run.ops).showings_of(("General", "nobody")).first == []


def test_members_are_who_joined_and_stayed_or_showed_something():
    run = Run()
    run.join("alice")
    run.join("bob")
    run.add("bob", "ok", "leave", room="General")
    run.show("carol", "a1", "alice", room="Other")
    assert Evidence.read(run.ops).members == [("General", "alice"), ("Other", "carol")]


def test_log_lines_are_grouped_by_process_and_event():
    ev = Evidence.read([], {"node0": [NODE_FAIL, {"event": "message_stored"}, NODE_FAIL, {"no": "event"}]})
    assert ev.log_lines("node0", "push_failed") == [NODE_FAIL, NODE_FAIL]
    assert ev.log_lines("node0", "call_failed") == [] and ev.log_lines("gate9", "push_failed") == []


def test_phases_final_polls_faults_and_reconnects_are_indexed():
    ev = Evidence.read(*valid_run())
    assert set(ev.phases) == {"workload", "done"}
    assert ev.final_polls == {"General": {"a1", "c1", "a2", "a3"}}
    assert ev.final_polled == {("General", "alice"), ("General", "bob"), ("General", "carol")}
    assert [op.value["phase"] for op in ev.faults] == ["start", "heal"] and len(ev.reconnects) == 1
