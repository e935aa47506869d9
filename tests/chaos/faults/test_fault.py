"""Faults: a kind on a target for a while, validated as a whole."""

from __future__ import annotations

import pytest

from chaos.faults.fault import Fault, make_fault
from chaos.faults.kinds import FaultError
from chaos.naming import PartNames

NAMES = PartNames(nodes=2, gates=2, clients=(("alice", 0), ("bob", 1), ("carol", 0)))


@pytest.mark.parametrize("kind, target, message", [
    ("kill", "client bob", "kill needs a process target"),
    ("latency", "node 0", "latency needs a link target"),
    ("stop_reading", "gate 0 -> node 0", "stop_reading needs a client target"),
    ("latency", "the moon", "cannot read 'the moon'"),
])
def test_kind_and_target_must_fit(kind, target, message):
    with pytest.raises(FaultError, match=message) as info:
        make_fault(kind, target, 0, 1)
    assert info.value.field == "target"




def test_a_fault_names_what_it_hits_and_is_written_as_schedule_json_has_it():
    fault = make_fault("latency", "client bob", 1.5, 2, {"latency_ms": 100}, id=3)
    assert isinstance(fault, Fault) and fault.end == 3.5 and fault.category == "link"
    assert fault.names(NAMES) == ["client-bob"] and not fault.extension
    assert fault.describe() == "latency(latency_ms=100, jitter_ms=50, stream=both) on client bob, 1.5-3.5 s into the workload"
    assert fault.describe(origin=2.0).endswith("on client bob, 3.5-5.5 s")
    assert fault.to_dict() == {"id": 3, "kind": "latency", "target": "client bob", "start": 1.5, "duration": 2.0,
                               "end": 3.5, "params": {"latency_ms": 100, "jitter_ms": 50, "stream": "both"}}
    stall = make_fault("stall", "all gate links", 0, 1)
    assert not stall.extension and stall.names(NAMES) == ["gate0-node0", "gate0-node1", "gate1-node0", "gate1-node1"]
    assert make_fault("stop_reading", "all clients", 0, 1).names(NAMES) == ["alice", "bob", "carol"]
