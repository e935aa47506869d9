"""The capacity bench on its smallest setting: real node, gate and measuring processes, every row filled in."""

from __future__ import annotations

import subprocess
import sys


def _rows(*args: str) -> list[list[str]]:
    out = subprocess.run([sys.executable, "-m", "tests.bench.capacity", *args], capture_output=True, text=True,
                         timeout=240, check=True).stdout
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in out.splitlines()
            if line.startswith("| ") and not line.startswith(("| server", "| system", "| nodes"))]


def test_a_gate_holding_idle_streams_from_two_measuring_processes_reports_its_memory_per_stream() -> None:
    [row] = _rows("gate", "--streams", "40", "--workers", "2", "--idle", "0.5")
    server, streams, per_connection, _, before, after, per_stream, _ = row
    assert (server, streams, per_connection) == ("gate", "40", "100")
    assert float(after) > float(before) and float(per_stream) > 0


def test_the_bare_grpc_aio_floor_holds_the_same_idle_streams_one_connection_each() -> None:
    [row] = _rows("gate", "--bare", "--streams", "20", "--per-channel", "1", "--workers", "2", "--idle", "0.5")
    server, streams, per_connection, _, before, after, per_stream, _ = row
    assert (server, streams, per_connection) == ("bare grpc.aio", "20", "1")
    assert float(after) > float(before) and float(per_stream) > 0


def test_fan_out_reaches_every_member_spread_over_measuring_processes_for_pushchat_and_the_baseline() -> None:
    rows = _rows("fanout", "--sizes", "30", "--workers", "3", "--latency-messages", "3", "--burst", "5")
    assert [(r[0], r[1], r[-1]) for r in rows] == [("pushchat", "30", "0"), ("baseline", "30", "0")]  # 0 missing
    for _, _, p50, _, last, _, cpu, _ in rows:  # a message's last arrival comes no sooner than the median one
        assert float(last) >= float(p50) > 0 and float(cpu.replace(",", "")) >= 0


def test_fan_out_can_leave_the_baseline_out() -> None:
    rows = _rows("fanout", "--sizes", "10", "--workers", "2", "--latency-messages", "2", "--burst", "2",
                 "--systems", "pushchat")
    assert [(r[0], r[1], r[-1]) for r in rows] == [("pushchat", "10", "0")]


def test_many_rooms_over_two_gates_deliver_every_message() -> None:
    """Each measuring process holds members on both gates: its requests take turns on its one pipe."""
    [row] = _rows("rooms", "--rooms", "2", "--members", "2", "--per-room", "3", "--nodes", "1", "--workers", "1")
    assert (row[0], row[1], row[2], row[3], row[-1]) == ("1", "2", "2 x 2", "6", "0")  # 0 missing
