"""The push_logs rule: every push failure is one structured line at its level, and the lines agree with the counters."""

from __future__ import annotations

from chaos.checker import Evidence, check
from chaos.checker.rules.push_logs import incarnation, push_logs
from tests.chaos.checker.checker_histories import GATE_DROP, NODE_FAIL, valid_run, kinds


def test_quiet_on_a_valid_run():
    found = push_logs(Evidence.read(*valid_run()))
    assert found.violations == []
    assert [(c.process, c.event, c.logged, c.counted) for c in found.values["push_logs"]] == [
        ("gate0", "push_dropped", {"client_buffer_full": 1}, {"client_buffer_full": 1}),
        ("node0", "push_failed", {"gate_buffer_full": 1}, {"gate_buffer_full": 1})]


def test_unlogged_drop_is_invalid():
    ops, logs, metrics = valid_run()
    metrics["node0"]['pushchat_push_failed_total{reason="gate_buffer_full"}'] = 3.0
    metrics["node0"]["pushchat_push_attempted_total"] += 2  # the books balance: only the log is short
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
    logs["gate0"].append({**GATE_DROP, "level": "INFO", "reason": "client_not_found"})
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


def test_a_routine_drop_is_logged_at_info_and_any_other_at_warning():
    ops, logs, metrics = valid_run()
    logs["gate0"] += [{**GATE_DROP, "level": "INFO", "reason": "client_not_found"},
                      {**GATE_DROP, "level": "INFO", "reason": "client_disconnected"}]
    metrics["gate0"].update({'pushchat_push_dropped_total{reason="client_not_found"}': 1.0,
                             'pushchat_push_dropped_total{reason="client_disconnected"}': 1.0})
    found = push_logs(Evidence.read(ops, logs, metrics))
    assert found.violations == []
    assert (found.values["push_drops"], found.values["push_drops_counted"]) == (3, 3)
    logs["gate0"][-1] = {**GATE_DROP, "reason": "client_disconnected"}  # a routine drop as a WARNING
    logs["gate0"][0] = {**GATE_DROP, "level": "INFO"}  # a full buffer as INFO
    levels = [v.reason for v in push_logs(Evidence.read(ops, logs, metrics)).violations
              if v.kind == "push_log_level"]
    assert levels == ["gate0 logged push_dropped at level 'INFO', not WARNING",
                      "gate0 logged push_dropped at level 'WARNING', not INFO"], levels


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


def test_incarnations_are_numbered_from_one():
    assert incarnation("node0") == ("node0", 1) and incarnation("node0#3") == ("node0", 3)
