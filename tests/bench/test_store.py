"""The store benchmark runs end to end in its quickest mode: every store measured, a restart timed.

No figure is judged here (they depend on the machine); what is checked is
that each one was really measured: sends acknowledged without failure, the
store's own counters read from the node process, the restarted node
numbering on from what was stored.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def bench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tests.bench.store", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def postgres_here() -> bool:
    from chaos.infra.postgres_server import PostgresUnavailable, find_binaries
    try:
        find_binaries()
    except PostgresUnavailable:
        return False
    return True


def test_quickest_run_measures_every_store_and_a_restart(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    done = bench("--duration", "1", "--warmup", "0.3", "--senders", "3", "--restart-messages", "300",
                 "--restart-stores", "sqlite", "--restart-rounds", "1", "--json", str(figures))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "sqlite / memory throughput, 3 senders:" in done.stdout
    assert "store_bench: sqlite-nogroup, 3 senders in one room" in done.stderr
    result = json.loads(figures.read_text())
    rows = {r["store"]: r for r in result["sends"]}
    assert set(rows) == {"memory", "sqlite", "sqlite-nogroup", "postgres"}
    if not postgres_here():
        assert rows.pop("postgres")["skipped"]
    for store, row in rows.items():
        assert not row["skipped"] and row["sends"] > 0 and row["failed"] == 0, (store, row)
        assert row["p50_ms"] > 0 and set(row["cpu"]) >= {"node", "gate", "bench"}, (store, row)
        assert row["store_stats"]["room_writes"] > 0, (store, row)
    for store in ("sqlite", "sqlite-nogroup"):
        assert rows[store]["store_stats"]["commits"] > 0 and rows[store]["store_stats"]["commit_seconds"] > 0
    one_by_one = rows["sqlite-nogroup"]  # each send a write of its own, each write a commit of its own
    assert one_by_one["acked"] == one_by_one["totals"]["room_writes"] == one_by_one["totals"]["writes"] \
        == one_by_one["totals"]["commits"]
    assert one_by_one["per_commit"] == one_by_one["sends_per_write"] == 1.0
    [restart] = result["restarts"]
    assert restart["store"] == "sqlite" and restart["messages"] == 300 and len(restart["rounds"]) == 1
    listening, acked = restart["rounds"][0]
    assert 0 < listening <= acked


def test_help_and_a_wrong_store_name() -> None:
    helped = bench("--help")
    assert helped.returncode == 0
    for flag in ("--duration", "--senders", "--stores", "--rooms", "--restart-messages", "--json"):
        assert flag in helped.stdout
    wrong = bench("--stores", "memory,oracle")
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines()[-1].endswith(
        "argument --stores: unknown 'oracle': want some of memory, sqlite, sqlite-nogroup, postgres")


@pytest.mark.parametrize("senders", ["0", "x"])
def test_a_bad_sender_count_is_refused_in_one_line(senders: str) -> None:
    wrong = bench("--senders", senders)
    assert wrong.returncode == 2 and "--senders" in wrong.stderr.strip().splitlines()[-1]
