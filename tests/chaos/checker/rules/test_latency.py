"""The latency rule: visibility latency of each member's first showing of another member's message."""

from __future__ import annotations

from chaos.checker import Evidence, check
from chaos.checker.rules.latency import latency, quantile
from tests.chaos.checker.checker_histories import Run, valid_run


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


def test_only_first_showings_of_sent_messages_count_and_the_series_is_in_send_order():
    run = Run()
    run.join("alice")
    run.join("bob")
    run.send("alice", "a1")
    run.send("alice", "a2")
    run.show("bob", "a2", "alice")
    run.show("bob", "a1", "alice")
    run.show("bob", "a1", "alice")        # shown again: no second latency
    run.show("bob", "zz", "dave")         # never sent: no latency
    found = latency(Evidence.read(run.ops))
    assert found.violations == []
    assert [(p.member, p.sender) for p in found.values["latency_series"]] == [("bob", "alice")] * 2
    assert [p.send_time for p in found.values["latency_series"]] == sorted(
        p.send_time for p in found.values["latency_series"])


def test_no_showings_no_latency():
    run = Run()
    run.join("alice")
    run.send("alice", "a1")
    found = latency(Evidence.read(run.ops))
    assert found.values["latency_series"] == [] and found.values["latency_p50"] is None


def test_quantiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (quantile(values, 0.0), quantile(values, 0.5), quantile(values, 0.99), quantile(values, 1.0)) == (
        1.0, 51.0, 100.0, 100.0)
    assert quantile([], 0.5) is None


def _many_showings(n: int) -> list[dict]:
    run = Run()
    for who in ("alice", "bob"):
        run.join(who)
    for k in range(n):
        run.send("alice", f"a{k}")
        for _ in range(k % 7):  # latencies of 20 to 80 ms
            run.add("bob", "ok", "poll", room="General")
        run.add("bob", "ok", "deliver", room="General", seq=k + 1, client_msg_id=f"a{k}", sender="alice",
                source="push")
    return run.ops


def test_a_long_series_is_thinned_evenly_but_the_quantiles_are_of_every_latency(monkeypatch):
    from chaos.checker.rules import latency as module
    ops = _many_showings(50)
    full = latency(Evidence.read(ops))
    monkeypatch.setattr(module, "SERIES_LIMIT", 10)
    thin = latency(Evidence.read(ops))
    assert len(full.values["latency_series"]) == 50
    assert thin.values["latency_series"] == full.values["latency_series"][::8]  # every 8th: 7 of at most 10
    assert {k: v for k, v in thin.values.items() if k != "latency_series"} == \
        {k: v for k, v in full.values.items() if k != "latency_series"}


def test_the_series_keeps_what_halving_it_each_time_it_outgrew_the_limit_kept(monkeypatch):
    from chaos.checker.rules import latency as module
    monkeypatch.setattr(module, "SERIES_LIMIT", 10)
    for count in range(200):
        kept, step = [], 1  # the rule as it was: a point per step-th latency, halved past the limit
        for k in range(count):
            if k % step == 0:
                kept.append(k)
                if len(kept) > 10:
                    kept, step = kept[::2], step * 2
        assert list(range(0, count, module.series_step(count))) == kept, count
