"""The run page's timeline, from a history and logs written here: incarnations, pauses, faults, client events."""

from __future__ import annotations

import json
from pathlib import Path

from chaos.history import History, read
from chaos.reports.html_report import timeline

T0 = 1_800_000_000.0


def _log(folder: Path, name: str, first_ts: float) -> None:
    (folder / "logs").mkdir(exist_ok=True)
    (folder / "logs" / name).write_text(json.dumps({"ts": first_ts, "level": "INFO", "event": "store_opened"}) + "\n")


def test_the_timeline_shows_incarnations_pauses_faults_and_client_events(tmp_path: Path) -> None:
    clock = iter([0.0, 0.0, 0.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.2, 5.0, 6.0]).__next__
    h = History(tmp_path / "history.jsonl", clock=clock)
    h.info("runner", "phase", {"name": "setup", "started_at": T0})                                  # 0.0
    h.info("runner", "phase", {"name": "workload"})                                                 # 0.5
    kill = {"fault": "kill", "target": "node 0", "params": {}, "id": 0, "names": ["node0"]}
    h.info("nemesis", "fault", {**kill, "phase": "start"})                                          # 2.0
    h.info("bob", "stream_end", {"error": "UNAVAILABLE"})                                           # 2.5
    h.info("nemesis", "fault", {**kill, "phase": "heal"})                                           # 3.0
    pause = {"fault": "pause", "target": "store", "params": {}, "id": 1, "names": ["store"]}
    h.info("nemesis", "fault", {**pause, "phase": "start"})                                         # 3.5
    h.info("nemesis", "fault", {**pause, "phase": "heal"})                                          # 4.0
    h.info("alice", "send", {"room": "General", "client_msg_id": "alice-9", "error": "timed out"})  # 4.2 (info)
    h.info("runner", "phase", {"name": "done"})                                                     # 5.0
    h.close()
    _log(tmp_path, "node0.1.log", T0 + 0.3)
    _log(tmp_path, "node0.2.log", T0 + 3.2)
    _log(tmp_path, "gate0.1.log", T0 + 0.4)
    _log(tmp_path, "client-bob.log", T0 + 9)  # a client's library log is no process of the topology

    t = timeline(read(tmp_path / "history.jsonl"), tmp_path)
    lanes = {lane.name: lane for lane in t.lanes}
    assert [(lane.group, lane.name) for lane in t.lanes] == [
        ("phases", "phases"), ("processes", "node0"), ("processes", "gate0"), ("processes", "store"),
        ("faults", "kill node 0"), ("faults", "pause store"), ("clients", "alice"), ("clients", "bob")]
    assert [(b.label, b.start, b.end) for b in lanes["phases"].bars] == [
        ("setup", 0.0, 0.5), ("workload", 0.5, 5.0), ("done", 5.0, 5.0)]
    node0 = [(b.label, round(b.start, 3), b.end) for b in lanes["node0"].bars]
    assert node0 == [("#1", 0.3, 2.0), ("#2", 3.2, 5.0)]  # killed at 2.0, its second life logged from 3.2
    assert "ended by kill" in lanes["node0"].bars[0].title and lanes["node0"].bars[0].href == "#h2"
    assert [(b.label, b.start, b.end, b.hatched) for b in lanes["store"].bars] == [
        ("#1", 0.0, 5.0, False), ("paused", 3.5, 4.0, True)]
    assert [(b.start, b.end, b.href) for b in lanes["kill node 0"].bars] == [(2.0, 3.0, "#h2")]
    assert [(k.label, k.at, k.href) for k in lanes["bob"].ticks] == [("end", 2.5, "#h3")]
    assert [(k.label, k.at) for k in lanes["alice"].ticks] == [("send unknown", 4.2)]
