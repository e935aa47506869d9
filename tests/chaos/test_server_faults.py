"""Server faults for real: node and gate processes break themselves on cue, and the checker sees it all.

Each kind is shown to have happened three ways: the servers' ``fault_injected``
lines (logs), ``pushchat_faults_injected_total`` (counters) and the nemesis's
fault records, paired with what the clients recorded (history). And a client
whose merge is broken on purpose (here only, by a monkeypatch) must be judged
invalid by the same scenarios a working one passes.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from system import log
from system.contract import ts_seconds
from system.client.roomview import RoomView


def _ops(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]


def _injected_lines(out: Path) -> list[dict]:
    lines = []
    for path in sorted((out / "logs").glob("*.log")):
        if path.name.startswith(("node", "gate")):
            lines += [json.loads(x) for x in path.read_text().splitlines() if '"fault_injected"' in x]
    return lines


def _counted(out: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for samples in json.loads((out / "metrics.json").read_text()).values():
        for name, value in samples.items():
            if name.startswith("pushchat_faults_injected_total{"):
                labels = dict(part.split("=") for part in name[name.index("{") + 1:-1].split(","))
                counts[f"{labels['point'].strip(chr(34))}/{labels['action'].strip(chr(34))}"] += int(value)
    return counts


@pytest.mark.chaos
def test_every_server_fault_kind_happens_and_is_logged_counted_and_recorded(chaos) -> None:
    result = chaos.run_yaml("""
        name: every-server-fault
        description: each in-process fault kind once, on real processes
        seed: 5
        topology: {nodes: 1, gates: 2, clients: {alice: 1, bob: 0, carol: 0}, rooms: [General]}
        workload: {duration: 6.0, rate: 15, senders: [alice, carol]}
        recovery_wait: 3.0
        faults:
          - {kind: push_drop, target: client bob, start: 0.3, duration: 2.0, percent: 30}
          - {kind: push_duplicate, target: gate 0 -> node 0, start: 0.3, duration: 2.0, percent: 30}
          - {kind: push_reorder, target: gate 1, start: 0.3, duration: 2.0, percent: 30}
          - {kind: push_delay, target: node 0, start: 2.5, duration: 1.5, percent: 20, delay_ms: 50}
          - {kind: rpc_abort, target: gate 1, start: 2.5, duration: 1.5, method: SendMessage, percent: 30}
          - {kind: rpc_delay, target: node 0, start: 2.5, duration: 1.5, method: SendMessage, percent: 30,
             delay_ms: 50}
          - {kind: store_fail, target: node 0, start: 4.0, duration: 1.8, percent: 40, when: after}
          - {kind: store_delay, target: node 0, start: 4.0, duration: 1.8, percent: 50, delay_ms: 50}
        expect: {verdict: valid, lost: "== 0", duplicates: "== 0", reordered: "== 0", stored_twice: "== 0",
                 injected_log_mismatches: "== 0"}
    """)
    assert result.passed, result.explain()
    r = result.results
    for name in ("injected_drops", "injected_duplicates", "injected_reorders", "injected_delays",
                 "injected_aborts", "injected_store_failures"):
        assert getattr(r, name) > 0, (name, result.explain())
    assert r.push_drops == 0, "injected drops are not real drops"

    lines = _injected_lines(result.out)
    logged = Counter(f"{line['point']}/{line['action']}" for line in lines)
    assert logged == _counted(result.out), "every injection is one line and one count"
    assert set(logged) == {"push/drop", "push/duplicate", "push/reorder", "push/delay", "rpc/abort", "rpc/delay",
                           "store/fail", "store/delay"}
    # each line names the fault the nemesis started, on the part it names, within its window
    started = {f"chaos-{v['fault']}-{v['id']}": v for o in _ops(result.out) if o["f"] == "fault"
               for v in [o["value"]] if v["phase"] == "start"}
    assert {line["fault"] for line in lines} == set(started)
    assert all(line["user"] == "bob" for line in lines if line["fault"].startswith("chaos-push_drop"))
    # what the clients saw: bob polled back what was dropped for him, alice's aborted sends were retried
    ops = _ops(result.out)
    assert any(o["process"] == "bob" and o["f"] == "deliver" and o["value"]["source"] == "poll" for o in ops)
    retries = [line for path in (result.out / "logs").glob("client-alice.log")
               for line in map(json.loads, path.read_text().splitlines()) if line["event"] == "call_retry"]
    assert any("injected fault" in line["error"] for line in retries), retries[:3]


@pytest.mark.chaos
def test_a_clock_fault_moves_the_nodes_wall_clock_and_timestamps_still_grow(chaos) -> None:
    day = 86400
    result = chaos.run_yaml(f"""
        name: clock-forward
        description: node 0 a day ahead for a while
        topology: {{clients: [alice, bob], rooms: [General]}}
        workload: {{duration: 4.0, rate: 10, senders: [alice]}}
        recovery_wait: 2.0
        faults: [{{kind: clock, target: node 0, start: 1.0, duration: 2.0, jump_s: {day}}}]
        expect: {{verdict: valid, lost: "== 0", timestamp_regressions: "== 0"}}
    """)
    assert result.passed, result.explain()
    acks = [o for o in _ops(result.out) if o["f"] == "send" and o["type"] == "ok"]
    stamps = [o["value"]["timestamp"] / 1e6 for o in acks]
    first = stamps[0]
    assert any(s - first > day * 0.99 for s in stamps), "during the jump, messages were stamped a day ahead"
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    node = [json.loads(x) for x in (result.out / "logs" / "node0.1.log").read_text().splitlines()]
    assert any(ts_seconds(line["ts"]) - ts_seconds(node[0]["ts"]) > day * 0.99 for line in node), \
        "the node's own log lines were too"
    assert (result.out / "clock" / "node0.faketime").read_text() == "+0.000000", "healed: the clock is real again"


def _no_merge_for(user: str):  # type: ignore[no-untyped-def]
    """A RoomView.offer that shows whatever arrives, as it arrives, for ``user``'s client only."""
    original = RoomView.offer

    def offer(self, messages, source, own=()):  # type: ignore[no-untyped-def]
        if log.current_user.get() != user:
            return original(self, messages, source, own)
        shown = []
        for i, msg in enumerate(messages):
            if i < len(own) and own[i]:
                self.know(msg.seq, msg.timestamp)
                continue
            self.messages.append(msg)
            shown.append((msg, source))
            self.cursor = max(self.cursor, msg.seq)
        return shown if self.started else []

    return offer


@pytest.mark.chaos
@pytest.mark.parametrize("scenario, violation", [("duplicate-pushes", "duplicate"), ("reordered-pushes", "reordered")])
def test_a_client_without_its_merge_is_judged_invalid_by_name(chaos, monkeypatch, scenario: str,
                                                               violation: str) -> None:
    monkeypatch.setattr(RoomView, "offer", _no_merge_for("bob"))
    result = chaos.run(scenario)
    assert result.results.verdict == "invalid", result.explain()
    found = [v for v in result.results.violations if v.kind == violation]
    assert found and {v.member for v in found} == {"bob"}, result.explain()
    assert {v.member for v in result.results.violations if v.member} == {"bob"}, "the others merge fine"
