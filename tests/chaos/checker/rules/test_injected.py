"""The injected rule: faults injected on purpose are counted apart from real ones, one line per count."""

from __future__ import annotations

from chaos.checker import check
from tests.chaos.checker.checker_histories import kinds, valid_run

DROP = {"ts": 1.0, "level": "WARNING", "component": "gate", "event": "fault_injected", "fault": "chaos-push_drop-0",
        "point": "push", "action": "drop", "room": "General", "seq": 2, "client_id": "127.0.0.1:1/b", "user": "bob"}
ABORT = {**DROP, "component": "node", "fault": "chaos-rpc_abort-1", "point": "rpc", "action": "abort",
         "method": "SendMessage", "code": "UNAVAILABLE", "when": "after"}


def injected_run(drops: int = 3, counted: int = 3) -> tuple[list[dict], dict, dict]:
    ops, logs, metrics = valid_run()
    logs["gate0"] += [DROP] * drops
    logs["node0"] += [ABORT]
    metrics["gate0"]['pushchat_faults_injected_total{action="drop",point="push"}'] = float(counted)
    metrics["gate0"]['pushchat_faults_injected_total{action="delay",point="push"}'] = 0.0
    metrics["node0"]['pushchat_faults_injected_total{action="abort",point="rpc"}'] = 1.0
    return ops, logs, metrics


def test_injected_drops_are_reported_apart_and_are_no_unlogged_drops():
    r = check(*injected_run())
    assert r.verdict == "valid", r.violations
    assert (r.injected_drops, r.injected_aborts, r.injected_faults, r.injected_faults_counted) == (3, 1, 4, 4)
    assert (r.push_drops, r.push_drops_counted, r.push_log_mismatches) == (1, 1, 0), "the real drop only"
    assert {(c.process, tuple(sorted(c.logged.items()))) for c in r.injected} == {
        ("gate0", (("push/drop", 3),)), ("node0", (("rpc/abort", 1),))}


def test_an_injection_counted_but_not_logged_or_logged_but_not_counted_is_invalid():
    r = check(*injected_run(drops=2, counted=3))
    assert r.verdict == "invalid" and kinds(r) == {"unlogged_injected_fault"} and r.injected_log_mismatches == 1
    assert "gate0 counted 3 injected push/drop faults but logged 2" in r.violations[0].reason
    r = check(*injected_run(drops=4, counted=3))
    assert kinds(r) == {"uncounted_injected_fault"}


def test_a_restarted_process_without_metrics_is_not_compared():
    ops, logs, metrics = injected_run()
    logs["gate0#2"] = [{"level": "INFO", "event": "client_registered", "client_id": "x"}]
    metrics["gate0"] = {'pushchat_push_dropped_total{reason="client_buffer_full"}': 1.0}  # the new incarnation's
    del logs["gate0"][0]  # its real drop line went with the old incarnation's counters
    r = check(ops, logs, metrics)
    assert "unlogged_injected_fault" not in kinds(r) and "uncounted_injected_fault" not in kinds(r)
    first = next(c for c in r.injected if c.process == "gate0")
    assert not first.comparable and first.counted is None and r.injected_drops == 3
