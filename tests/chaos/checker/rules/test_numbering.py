"""A room's seqs run without gaps in a durable store's history (the final polls)."""

from __future__ import annotations

from chaos.checker import check
from tests.chaos.checker.checker_histories import kinds, valid_run


def _with_store(ops: list[dict], store: str) -> list[dict]:
    setup = {"index": -1, "time": 0.0, "process": "runner", "type": "info", "f": "phase",
             "value": {"name": "setup", "store": store}}
    return [setup, *ops]


def _skip_seq_three(ops: list[dict]) -> list[dict]:
    out = []
    for op in ops:
        if op["f"] == "final_poll":
            msgs = [{**m, "seq": m["seq"] + (1 if m["seq"] >= 3 else 0)} for m in op["value"]["messages"]]
            op = {**op, "value": {**op["value"], "messages": msgs}}
        out.append(op)
    return out


def test_quiet_on_a_valid_run():
    ops, logs, metrics = valid_run()
    r = check(_with_store(ops, "sqlite"), logs, metrics)
    assert r.verdict == "valid" and r.seq_gaps == 0


def test_a_skipped_seq_is_a_gap():
    ops, logs, metrics = valid_run()
    r = check(_with_store(_skip_seq_three(ops), "sqlite"), logs, metrics)
    assert "seq_gap" in kinds(r) and r.seq_gaps == 1
    assert "General holds seqs 1-5 but not 3" in next(v.reason for v in r.violations if v.kind == "seq_gap")


def test_a_memory_store_is_not_judged():
    ops, logs, metrics = valid_run()
    r = check(_with_store(_skip_seq_three(ops), "memory"), logs, metrics)
    assert "seq_gap" not in kinds(r) and r.seq_gaps == 0
