"""``python -m tests.bench.cluster`` in its quickest mode: one TTL, one kill, a short steady state in each mode.

No timing is asserted; the figures must be sane: a failover and a failback that took some time, every send
acknowledged, in order, through both moves, and pushes for every message in both modes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench import cluster as cluster_bench
from tests.bench.cluster_procs import CLIENTS

QUICKEST = ["--ttls", "1", "--rounds", "1", "--duration", "1", "--warmup", "0.5", "--repeat", "1",
            "--senders", "2", "--rooms", "2"]


async def test_the_quickest_run_measures_a_failover_a_failback_and_both_modes(tmp_path: Path) -> None:
    args = cluster_bench.parser().parse_args(QUICKEST)
    report = await cluster_bench.measure(args, tmp_path)

    (failover,) = report.failovers
    assert failover.ttl == 1 and failover.granted == 1, "the bench's etcd grants a 1 s lease"
    assert not failover.failures, failover.failures
    (round_,) = failover.rounds
    assert round_.victim != round_.new_owner
    assert round_.failover > 0 and round_.failback > 0
    assert round_.parts is not None and round_.parts.lease > 0
    assert round_.back is not None and round_.back.gate_up >= 0 and round_.back.refused >= 0
    seqs = [ack.seq for ack in failover.acks]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "every send acknowledged once, in order, no gap"
    answered = {ack.by for ack in failover.acks}
    assert {round_.victim, round_.new_owner} <= answered and "?" not in answered

    assert [(s.mode, s.run) for s in report.steady] == [("static", 1), ("etcd", 1)]
    for steady in report.steady:
        assert steady.acks > 0 and steady.failed == 0 and steady.pushes_missing == steady.pushes_dropped == 0, steady
        assert 0 < steady.send_p50 <= steady.send_p99 and 0 < steady.push_p50 <= steady.push_p99, steady
        assert sum(int(n) for n in steady.placement.split()) == 2
        assert {"node0", "node1", "node2", "gate0", "gate1", "postgres", CLIENTS} <= set(steady.cpu)
        assert all(share >= 0 for share in steady.cpu.values()), steady.cpu

    text = cluster_bench.render(report, args)
    assert "| 1 (1) | 1 |" in text and "| static | 1 | " in text and "| etcd | 1 | " in text


def test_a_ttl_below_a_second_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cluster_bench.main(["--ttls", "0.5"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == ("python -m tests.bench.cluster: error: argument --ttls: "
                                                         "a lease TTL is at least 1 s (etcd counts whole seconds)")
