"""The durability rule: with a durable store, a forgotten acknowledged message or a history that starts over
is a violation; with the memory store they are only numbers a scenario bounds."""

from __future__ import annotations

from chaos.checker import check
from tests.chaos.checker.checker_histories import kinds, valid_run


def with_store(ops: list[dict], store: str | None) -> list[dict]:
    setup = {"index": -1, "time": 0.0, "process": "runner", "type": "info", "f": "phase",
             "value": {"name": "setup", "scenario": "t", "seed": 1, "notes": [], **({"store": store} if store else {})}}
    return [setup, *ops]


def forget_a1(ops: list[dict]) -> None:
    for op in ops:
        if op["f"] == "final_poll":
            op["value"]["messages"] = [m for m in op["value"]["messages"] if m["client_msg_id"] != "a1"]


def reset(ops: list[dict], who: str) -> list[dict]:
    last = ops[-1]
    return [*ops[:-1], {"index": last["index"], "time": last["time"], "process": who, "type": "info",
                        "f": "history_reset", "value": {"room": "General"}},
            {**last, "index": last["index"] + 1, "time": last["time"] + 0.01}]


def test_quiet_on_a_valid_run_with_a_durable_store():
    ops, logs, metrics = valid_run()
    r = check(with_store(ops, "sqlite"), logs, metrics)
    assert r.verdict == "valid" and r.history_resets == 0 and r.lost_by_server == 0


def test_a_durable_store_that_forgot_an_acknowledged_message_is_invalid():
    ops, logs, metrics = valid_run()
    forget_a1(ops)
    r = check(with_store(ops, "postgres"), logs, metrics)
    assert r.verdict == "invalid" and kinds(r) == {"lost_by_server"} and r.lost_by_server == 1
    assert "the postgres store is durable, yet 1 acknowledged message(s) were gone" in r.violations[0].reason


def test_a_history_that_starts_over_on_a_durable_store_is_invalid_naming_the_member():
    ops, logs, metrics = valid_run()
    r = check(with_store(reset(ops, "bob"), "sqlite"), logs, metrics)
    assert r.verdict == "invalid" and kinds(r) == {"history_reset"} and r.history_resets == 1
    assert [v.member for v in r.violations] == ["bob"]


def test_with_the_memory_store_both_are_only_counted():
    ops, logs, metrics = valid_run()
    forget_a1(ops)
    for store in ("memory", None):  # None: a history from before stores were recorded
        r = check(with_store(reset(ops, "bob"), store), logs, metrics)
        assert (r.lost_by_server, r.history_resets) == (1, 1)
        assert not {"lost_by_server", "history_reset"} & kinds(r)
