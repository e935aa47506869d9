"""Fault schedules: faults that may not overlap, and seeded random schedules."""

from __future__ import annotations

import pytest

from chaos.faults.fault import make_fault
from chaos.faults.kinds import FaultError
from chaos.naming import PartNames
from chaos.faults.schedule import conflicts, schedule_random

NAMES = PartNames(nodes=2, gates=2, clients=(("alice", 0), ("bob", 1), ("carol", 0)))


def test_same_kind_on_the_same_target_may_not_overlap():
    a = make_fault("disable", "client bob", 1, 2, id=0)
    b = make_fault("disable", "all client links", 2.5, 1, id=1)
    assert conflicts([a, b], NAMES)[2] == "client-bob"
    assert conflicts([a, make_fault("latency", "client bob", 1, 2, id=1)], NAMES) is None
    assert conflicts([make_fault("kill", "node 0", 1, 2), make_fault("pause", "all nodes", 2, 2, id=1)], NAMES)


def schedule(seed: int, count: int = 6):
    return schedule_random(seed, count, ["latency", "reset_peer", "disable", "kill", "pause"],
                           ["all links", "all nodes", "gate 1"], 10.0, 0.5, 2.0, NAMES)


def test_same_seed_gives_the_same_schedule_and_another_seed_another():
    first, second = schedule(7), schedule(7)
    assert [f.to_dict() for f in first] == [f.to_dict() for f in second]
    assert [f.to_dict() for f in schedule(8)] != [f.to_dict() for f in first]


@pytest.mark.parametrize("seed", range(20))
def test_random_schedule_is_staggered_without_overlap_and_inside_the_workload(seed):
    faults = schedule(seed)
    assert len(faults) == 6 and [f.id for f in faults] == list(range(6))
    assert all(0 <= f.start and f.end <= 10.0 and 0.5 <= f.duration <= 2.0 for f in faults)
    assert [f.start for f in faults] == sorted(f.start for f in faults)
    assert conflicts(faults, NAMES, strict=True) is None
    instants = sorted(t for f in faults for t in (f.start, f.end))
    assert all(b - a >= 0.1 - 1e-9 for a, b in zip(instants, instants[1:]))
    for f in faults:
        assert len(f.names(NAMES)) == 1  # each random fault hits one concrete part


def test_random_schedule_that_cannot_fit_says_so():
    with pytest.raises(FaultError, match="cannot place") as info:
        schedule_random(1, 10, ["kill"], ["node 0"], 4.0, 1.0, 2.0, NAMES)
    assert info.value.field == "count"
    with pytest.raises(FaultError, match="no target fits kill"):
        schedule_random(1, 1, ["kill"], ["all links"], 4.0, 1.0, 2.0, NAMES)


def test_random_schedule_avoids_existing_faults():
    existing = [make_fault("kill", "node 0", 0.0, 9.0, id=0)]
    faults = schedule_random(3, 4, ["kill"], ["all nodes"], 10.0, 0.5, 1.0, NAMES, existing=existing, first_id=1)
    assert {f.names(NAMES)[0] for f in faults} == {"node1"} and faults[0].id == 1




def test_server_faults_may_overlap_each_other_but_not_a_fault_of_their_own_kind():
    abort = make_fault("rpc_abort", "node 0", 1, 3, {"method": "SendMessage"}, id=1)
    delay = make_fault("rpc_delay", "node 0", 1, 3, id=2)
    kill = make_fault("kill", "node 0", 2, 1, id=3)
    assert conflicts([abort, delay, kill], NAMES) is None  # set again after the restart (chaos.infra.process)
    again = make_fault("rpc_abort", "all nodes", 2, 1, id=4)
    assert conflicts([abort, again], NAMES)[2] == "node0"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_random_schedule_of_server_faults_draws_only_targets_each_kind_takes(seed):
    kinds = ["push_drop", "store_fail", "clock", "rpc_abort"]
    targets = ["all nodes", "all gates", "client bob", "all links"]
    faults = schedule_random(seed, 6, kinds, targets, 10.0, 0.5, 1.5, NAMES)
    assert faults == schedule_random(seed, 6, kinds, targets, 10.0, 0.5, 1.5, NAMES)
    for fault in faults:
        allowed = {"store_fail": {"node"}, "clock": {"node", "gate"}}.get(fault.kind, {"node", "gate", "client"})
        assert fault.target.scope in allowed, fault.describe()
    assert {f.kind for f in faults} <= set(kinds) and conflicts(faults, NAMES, strict=True) is None
