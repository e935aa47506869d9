"""The reconnected rule: every member a fault cut off (or whose stream ended) reconnected after, per member."""

from __future__ import annotations

from chaos.checker import Evidence, check
from chaos.checker.rules.reconnected import reconnected
from tests.chaos.checker.checker_histories import Run, kinds, valid_run


def registered(*members: str) -> list[dict]:
    return [{"ts": 1.0, "level": "INFO", "component": "gate", "event": "client_registered",
             "client_id": f"127.0.0.1:1/{m}"} for m in members]


def two_gates() -> Run:
    """alice on gate 0; bob and carol on gate 1 (as their client ids, recorded at connect, say)."""
    run = Run()
    for who in ("alice", "bob", "carol"):
        run.add(who, "invoke", "connect", addr="127.0.0.1:9")
        run.add(who, "ok", "connect", client_id=f"127.0.0.1:1/{who}")
        run.join(who)
    run.add("runner", "info", "phase", name="workload")
    return run


LOGS = {"gate0": registered("alice"), "gate1": registered("bob", "carol"), "gate1#2": []}


def judge(run: Run, logs: dict | None = None):
    return reconnected(Evidence.read(run.ops, LOGS if logs is None else logs))


def test_every_client_of_a_killed_gate_must_reconnect_even_if_its_stream_end_was_never_recorded():
    run = two_gates()
    run.fault("start", fault="kill", target="gate 1", names=["gate1"])
    run.add("bob", "info", "stream_end", error="UNAVAILABLE")
    run.fault("heal", fault="kill", target="gate 1", names=["gate1"])
    run.add("bob", "ok", "reconnect", attempt=2, client_id="127.0.0.1:1/bob2", recovered=3)
    found = judge(run)   # carol never noticed, and never came back
    assert found.values == {"reconnects_due": 2, "reconnects_missing": 1}
    assert [(v.kind, v.member) for v in found.violations] == [("not_reconnected", "carol")]
    assert "kill of gate1" in found.violations[0].reason


def test_the_clients_of_the_gate_that_stayed_up_owe_nothing():
    run = two_gates()
    run.fault("start", fault="restart", target="gate 1", names=["gate1"])
    run.fault("heal", fault="restart", target="gate 1", names=["gate1"])
    for who in ("bob", "carol"):
        run.add(who, "ok", "reconnect", attempt=1, client_id=f"127.0.0.1:1/{who}2", recovered=0)
    found = judge(run)
    assert found.values == {"reconnects_due": 2, "reconnects_missing": 0} and found.violations == []


def test_a_reconnect_before_the_cut_does_not_pay_for_it():
    run = two_gates()
    run.add("bob", "info", "stream_end", error="reset")
    run.add("bob", "ok", "reconnect", attempt=1, client_id="127.0.0.1:1/bob2", recovered=0)
    run.add("bob", "info", "stream_end", error="reset again")
    run.add("bob", "invoke", "reconnect", attempt=1, error="refused", wait=0.1)
    run.add("bob", "invoke", "reconnect", attempt=2, error="refused", wait=0.2)
    found = judge(run)
    assert found.values == {"reconnects_due": 2, "reconnects_missing": 1}
    assert kinds(check(run.ops, LOGS)) >= {"not_reconnected"}


def test_one_reconnect_pays_every_cut_before_it_so_due_counts_comebacks():
    run = two_gates()
    run.fault("start", fault="disable", target="client carol", names=["client-carol"])
    run.add("carol", "info", "stream_end", error="closed")
    for attempt in (1, 2, 3):
        run.add("carol", "invoke", "reconnect", attempt=attempt, error="refused", wait=0.1)
    run.fault("heal", fault="disable", target="client carol", names=["client-carol"])
    run.add("carol", "ok", "reconnect", attempt=4, client_id="127.0.0.1:1/carol2", recovered=0)
    found = judge(run)
    assert found.values == {"reconnects_due": 1, "reconnects_missing": 0} and found.violations == []


def test_a_blackholed_link_is_owed_a_reconnect_but_a_reset_that_never_bit_is_not():
    run = two_gates()
    run.fault("start", id=1, fault="reset_peer", target="client alice", names=["client-alice"])
    run.fault("heal", id=1, fault="reset_peer", target="client alice", names=["client-alice"])
    run.fault("start", id=2, fault="blackhole", target="client bob", names=["client-bob"])
    run.fault("heal", id=2, fault="blackhole", target="client bob", names=["client-bob"])
    found = judge(run)
    assert found.values == {"reconnects_due": 1, "reconnects_missing": 1}
    assert [v.member for v in found.violations] == ["bob"]


def test_clients_of_a_gate_crashed_for_good_have_nowhere_to_come_back_to():
    run = two_gates()
    run.fault("start", fault="crash", target="gate 1", names=["gate1"])
    run.add("bob", "info", "stream_end", error="UNAVAILABLE")
    run.add("bob", "invoke", "reconnect", attempt=1, error="refused", wait=0.1)
    found = judge(run)
    assert found.values == {"reconnects_due": 0, "reconnects_missing": 0} and found.violations == []


def test_cuts_from_the_final_poll_on_are_not_judged_and_the_first_connect_is_no_cut():
    run = two_gates()
    run.add("runner", "info", "phase", name="final_poll")
    run.add("alice", "info", "stream_end", error="closing")
    found = judge(run)
    assert found.values == {"reconnects_due": 0, "reconnects_missing": 0}


def test_the_valid_run_stays_valid():
    r = check(*valid_run())
    assert r.verdict == "valid" and (r.reconnects_due, r.reconnects_missing) == (0, 0)
