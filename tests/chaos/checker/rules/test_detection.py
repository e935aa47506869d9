"""The detection rule: a gate must notice an IP-layer cut of its link to a node while the cut lasts."""

from __future__ import annotations

from chaos.checker import check
from tests.chaos.checker.checker_histories import valid_run

DIALS = "10.213.1.254:40001"  # the proxy gate0 dials for gate0-node0


def cut_run(percent: int = 100, link: str = "gate0-node0") -> tuple[list[dict], dict, dict]:
    """valid_run with a cut at time 1.0 (wall 1001.0), removed at 7.0 (wall 1007.0)."""
    ops, logs, metrics = valid_run()
    loaded = {"fault": "net_drop_one_way", "id": 0, "part": "gate0", "table": "t", "link": link, "dials": DIALS,
              "stream": "downstream", "percent": percent}
    return with_net_fault(ops, loaded, dropped=12), logs, metrics


def with_net_fault(ops: list[dict], loaded: dict, dropped: int) -> list[dict]:
    """``ops`` of a run set up at wall 1000.0, with the IP-layer fault ``loaded`` on from 1.0 s to 7.0 s."""
    n = len(ops)
    return [{"index": n, "time": 0.0, "process": "runner", "type": "info", "f": "phase",
             "value": {"name": "setup", "started_at": 1000.0}}, *ops,
            {"index": n + 1, "time": 1.0, "process": "nemesis", "type": "info", "f": "net",
             "value": {**loaded, "phase": "loaded"}},
            {"index": n + 2, "time": 7.0, "process": "nemesis", "type": "info", "f": "net",
             "value": {**loaded, "phase": "removed", "dropped_packets": dropped}}]


def down(ts: float, node: str = DIALS) -> dict:
    return {"ts": ts, "level": "WARNING", "component": "gate", "event": "node_stream_down", "node": node,
            "error": "Stream removed", "was_up": True}


def test_a_cut_the_gate_noticed_is_timed_from_the_cut() -> None:
    ops, logs, metrics = cut_run()
    logs = {**logs, "gate0": [*logs["gate0"], down(1003.25), down(1004.0)]}
    r = check(ops, logs, metrics)
    assert (r.verdict, r.cuts_noticed, r.cuts_unnoticed, r.detection_max) == ("valid", 1, 0, 2.25)


def test_a_cut_the_gate_never_noticed_is_a_violation() -> None:
    ops, logs, metrics = cut_run()
    # a stream down before the cut, after the heal, or for another node's link does not count
    logs = {**logs, "gate0": [*logs["gate0"], down(999.0), down(1008.0), down(1003.0, node="10.213.1.254:40002")]}
    r = check(ops, logs, metrics)
    assert (r.verdict, r.cuts_noticed, r.cuts_unnoticed) == ("invalid", 0, 1)
    assert [v.kind for v in r.violations] == ["cut_unnoticed"]


def test_packet_loss_and_links_of_no_gate_are_not_judged() -> None:
    for ops, logs, metrics in (cut_run(percent=15), cut_run(link="node0-store")):
        r = check(ops, logs, metrics)
        assert (r.verdict, r.cuts_noticed, r.cuts_unnoticed, r.detection_max) == ("valid", 0, 0, None)


def test_a_blackholed_node_is_a_cut_of_every_gate_link_to_it() -> None:
    """net_blackhole of node0 cuts gate0-node0 and gate1-node0: each gate must notice its own; the store link,
    dialled by the node, is not a gate's to notice."""
    ops, logs, metrics = valid_run()
    other = "10.213.1.254:40002"  # the proxy gate1 dials for gate1-node0
    loaded = {"fault": "net_blackhole", "id": 3, "part": "node0", "table": "pushchat_fault3_node0",
              "cuts": [{"link": "gate0-node0", "dials": DIALS}, {"link": "gate1-node0", "dials": other},
                       {"link": "node0-store", "dials": "10.213.1.254:40003"}]}
    ops = with_net_fault(ops, loaded, dropped=40)
    logs = {**logs, "gate0": [*logs["gate0"], down(1002.5)], "gate1": [*logs.get("gate1", []), down(1003.5, other)]}
    r = check(ops, logs, metrics)
    assert (r.verdict, r.cuts_noticed, r.cuts_unnoticed, r.detection_max) == ("valid", 2, 0, 2.5)
    logs = {**logs, "gate1": [line for line in logs["gate1"] if line.get("event") != "node_stream_down"]}
    r = check(ops, logs, metrics)
    assert (r.verdict, r.cuts_noticed, r.cuts_unnoticed) == ("invalid", 1, 1)
    assert "gate1 never noticed its link gate1-node0 cut" in r.violations[0].reason


def test_a_gate_that_drops_the_node_when_its_lease_lapses_has_noticed() -> None:
    """On etcd the cut node's lease may lapse before keepalive fires: the gate's node_left for the link it dials
    closes that link, which is noticing it too (partition-majority-ip under load)."""
    ops, logs, metrics = cut_run()
    left = {"ts": 1002.0, "level": "INFO", "component": "gate", "event": "node_left", "node": "node0", "dial": DIALS}
    r = check(ops, {**logs, "gate0": [*logs["gate0"], left]}, metrics)
    assert (r.verdict, r.cuts_noticed, r.cuts_unnoticed, r.detection_max) == ("valid", 1, 0, 1.0)
