"""Many clients from a few worker processes: their histories merged, faults hitting them, nothing lost."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import asyncio

from chaos.history import History, read
from chaos.scenario.model import LoadSpec
from chaos.workload import fleet
from chaos.workload.client import Counts
from chaos.workload.fleet import Fleet, LoadError, merge_histories
from system.grpcopts import Keepalive


def _fleet(tmp_path: Path) -> Fleet:
    return Fleet(LoadSpec(clients=4, workers=2), 1, lambda name: "127.0.0.1:1", tmp_path, 0.0, Counts(), Keepalive())


async def test_a_start_that_keeps_going_is_waited_for_past_the_stall_limit(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(fleet, "START_STALL", 1.5)
    f = _fleet(tmp_path)

    async def slow_start() -> None:  # thousands joining one room: minutes, one client after another
        for _ in range(4):
            await asyncio.sleep(1.0)
            f.counts.started += 1

    await f._while_starting(asyncio.ensure_future(slow_start()))
    assert f.counts.started == 4


async def test_a_start_where_no_client_starts_is_given_up_with_how_far_it_got(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(fleet, "START_STALL", 1.0)
    f = _fleet(tmp_path)
    f.counts.started = 3
    hung = asyncio.ensure_future(asyncio.Event().wait())
    with pytest.raises(LoadError, match="none started for 1s \\(3 of 4 started\\)"):
        await f._while_starting(hung)
    assert hung.cancelled()


def test_worker_histories_merge_into_the_runners_by_time_renumbered(tmp_path: Path) -> None:
    clock = iter([0.0, 0.0, 0.1, 0.5, 0.9])  # the runner's: made at 0, then three records
    main = History(tmp_path / "history.jsonl", clock=lambda: next(clock))
    main.info("runner", "phase", {"name": "setup"})
    main.info("runner", "phase", {"name": "workload"})
    main.info("runner", "phase", {"name": "recovery"})
    main.close()
    other = tmp_path / "history-load0.jsonl"
    lines = [{"index": i, "time": t, "process": f"load{i}", "type": "ok", "f": "join", "value": {"room": "room0"}}
             for i, t in enumerate((0.2, 0.3))]
    other.write_text("".join(json.dumps(doc) + "\n" for doc in lines) + '{"index": 2, "ti')  # a cut-off line
    assert merge_histories(tmp_path / "history.jsonl", [other, tmp_path / "history-load1.jsonl"]) == 5
    ops = read(tmp_path / "history.jsonl")
    assert [op.index for op in ops] == [0, 1, 2, 3, 4]
    assert [op.process for op in ops] == ["runner", "runner", "load0", "load1", "runner"]
    assert [op.time for op in ops] == sorted(op.time for op in ops)
    assert not other.exists()


QUICK_LOAD = """
name: quick-load
description: 30 clients in 3 rooms on 2 gates, driven by 2 worker processes; streams dropped, one client stalled
seed: 1
topology:
  nodes: 1
  gates: 2
  load: {clients: 30, rooms: 3, workers: 2, rate: 30}
workload:
  duration: 5.0
recovery_wait: 8.0
faults:
  - {kind: reset_peer, target: client load07, start: 1.0, duration: 0.5}
  - {kind: disable, target: client load12, start: 1.5, duration: 1.0}
  - {kind: stop_reading, target: client load20, start: 1.0, duration: 1.5}
  - {kind: kill, target: gate 1, start: 3.0, duration: 0.8}
expect:
  verdict: valid
  lost: "== 0"
  sends_ok: "> 0"
  reconnects_missing: "== 0"         # load07, load12 and every one of gate 1's 15 clients came back
  reconnects_due: ">= 1"
  push_log_mismatches: "== 0"
"""


@pytest.mark.chaos
def test_a_quick_load_run_loses_nothing_under_faults(chaos) -> None:
    result = chaos.run_yaml(QUICK_LOAD)
    assert result.passed, result.explain()
    ops = read(result.out / "history.jsonl")
    assert [op.index for op in ops] == list(range(len(ops)))  # one merged history, in order
    joined = {op.process for op in ops if op.f == "join" and op.type == "ok"}
    assert joined == {f"load{i:02d}" for i in range(30)}
    rooms = Counter(op.value["room"] for op in ops if op.f == "join" and op.type == "ok")
    assert rooms == {"room0": 10, "room1": 10, "room2": 10}
    # every load client showed messages, and those of its own room only
    shown = {(op.process, op.value["room"]) for op in ops if op.f == "deliver"}
    assert {p for p, _ in shown} == joined and all(room == f"room{int(p[4:]) % 3}" for p, room in shown)
    # driven from 2 worker processes, their histories merged away
    assert sorted(p.name for p in (result.out / "logs").glob("load-worker*.err")) == [
        "load-worker0.err", "load-worker1.err"]
    assert not list(result.out.glob("history-load*.jsonl"))
    stalled = [op for op in ops if op.f == "fault" and op.value.get("fault") == "stop_reading"]
    assert [op.value["phase"] for op in stalled] == ["start", "heal"]


SECURE_LOAD = """
name: secure-load
description: load clients with tokens, over TLS to their gate
seed: 1
topology:
  nodes: 1
  gates: 1
  auth: token
  tls: true
  load: {clients: 6, rooms: 2, workers: 2, rate: 12}
workload:
  duration: 2.0
recovery_wait: 5.0
expect:
  verdict: valid
  lost: "== 0"
  sends_ok: "> 0"
"""


@pytest.mark.chaos
def test_load_clients_carry_their_tokens_and_trust_the_runs_ca(chaos) -> None:
    result = chaos.run_yaml(SECURE_LOAD)
    assert result.passed, result.explain()
    senders = {op.process for op in read(result.out / "history.jsonl") if op.f == "send" and op.type == "ok"}
    assert senders == {f"load{i}" for i in range(6)}
