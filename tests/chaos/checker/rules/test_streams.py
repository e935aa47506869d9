"""What a node wrote to a gate's current stream, the gate read: the two processes' books agree."""

from __future__ import annotations

from chaos.checker import check
from tests.chaos.checker.checker_histories import kinds, valid_run

LINK = '{gate="127.0.0.1:2",node="127.0.0.1:1"}'


def _with(written: float | None, read: float | None) -> tuple[list[dict], dict, dict]:
    ops, logs, metrics = valid_run()
    if written is not None:
        metrics["node0"]["pushchat_stream_pushes_written" + LINK] = written
    if read is not None:
        metrics["gate0"]["pushchat_stream_pushes_read" + LINK] = read
    return ops, logs, metrics


def test_quiet_when_the_gate_read_what_the_node_wrote():
    r = check(*_with(7.0, 7.0))
    assert r.verdict == "valid" and r.stream_unbalanced == 0
    assert [(a.node, a.gate, a.written, a.read) for a in r.stream_accounts] == [("node0", "gate0", 7, 7)]


def test_a_gate_that_read_fewer_than_the_node_wrote_lost_pushes_in_between():
    r = check(*_with(7.0, 4.0))  # every member still shows everything: only the two ends' books tell
    assert kinds(r) == {"pushes_lost_between"} and r.stream_unbalanced == 1 and r.lost == 0
    assert "node0 wrote 7 pushes to gate0's current stream but gate0 read 4 from it: 3 vanished" in r.violations[0].reason


def test_a_stream_up_at_one_end_only_is_not_compared():
    for written, read in ((7.0, None), (None, 3.0)):
        r = check(*_with(written, read))
        assert r.verdict == "valid" and r.stream_accounts == []
