"""The members rule: every acknowledged message shown by every member, once, in order, nothing unsent."""

from __future__ import annotations

import copy

from chaos.checker import Evidence, check
from chaos.checker.rules.members import members
from tests.chaos.checker.checker_histories import Run, valid_run, without, kinds


def test_quiet_on_a_valid_run_with_its_numbers():
    found = members(Evidence.read(*valid_run()))
    assert found.violations == [] and found.incomplete == []
    assert {k: found.values[k] for k in ("lost", "duplicates", "reordered", "phantom")} == dict.fromkeys(
        ("lost", "duplicates", "reordered", "phantom"), 0)
    assert (found.values["delivered_by_push"], found.values["delivered_by_poll"], found.values["push_share"]) == (
        7, 1, 0.875)
    assert [(m.member, m.expected, m.shown) for m in found.values["members"]] == [
        ("alice", 1, 2), ("bob", 4, 4), ("carol", 3, 3)]


def test_lost_message_is_invalid():
    ops, logs, metrics = valid_run()
    r = check(without(ops, f="deliver", process="bob", source="poll"), logs, metrics)
    assert r.verdict == "invalid"
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


def test_member_who_left_is_not_expected_to_show_what_came_after():
    ops, logs, metrics = valid_run()
    ops = without(ops, f="deliver", process="bob", source="poll")
    assert members(Evidence.read(ops, logs, metrics)).values["lost"] == 1
    ops.append({"index": len(ops), "time": 0.0, "process": "bob", "type": "ok", "f": "leave",
                "value": {"room": "General"}})
    found = members(Evidence.read(ops, logs, metrics))
    assert found.violations == [] and found.values["lost"] == 0
    assert next(m for m in found.values["members"] if m.member == "bob").expected == 0
