"""The failover rule: when another node starts storing a room's messages, how long the room went unserved."""

from __future__ import annotations

from chaos.checker import check
from system.contract import log_ts
from tests.chaos.checker.checker_histories import valid_run


def stored(ts: float, room: str = "General", duplicate: bool = False) -> dict:
    """A node's message_stored line, its ``ts`` as the node writes it."""
    return {"ts": log_ts(ts), "level": "INFO", "component": "node", "event": "message_stored", "room": room, "seq": 1,
            "user": "alice", "client_msg_id": "x", "duplicate": duplicate}


def test_no_failover_when_one_node_stores_everything_even_across_its_restarts():
    ops, logs, metrics = valid_run()
    logs = {**logs, "node0": [*logs["node0"], stored(100.0), stored(100.5)], "node0#2": [stored(103.0)]}
    r = check(ops, logs, metrics)
    assert (r.failovers, r.failover_max, r.failover_times) == (0, None, [])


def test_a_room_moving_to_another_node_is_timed_from_last_old_ack_to_first_new_one():
    ops, logs, metrics = valid_run()
    logs = {**logs, "node0": [*logs["node0"], stored(100.0), stored(101.0), stored(101.2, room="Movies")],
            "node1": [stored(104.5), stored(104.6, duplicate=True), stored(105.0)],
            "node2": [stored(102.2, room="Movies")], "gate0": [*logs["gate0"], stored(200.0)]}
    r = check(ops, logs, metrics)
    assert r.verdict == "valid" and r.failovers == 2 and r.failover_max == 3.5
    assert [(f.room, f.old, f.new, f.seconds) for f in r.failover_times] == [
        ("General", "node0", "node1", 3.5), ("Movies", "node0", "node2", 1.0)]
