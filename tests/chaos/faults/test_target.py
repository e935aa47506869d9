"""Fault targets: read in words, checked against a topology, resolved to the names of its parts."""

from __future__ import annotations

import pytest

from chaos.faults.fault import make_fault, resolve
from chaos.faults.kinds import FaultError
from chaos.naming import PartNames
from chaos.faults.target import TARGET_FORMS, Target, forms, parse_target

NAMES = PartNames(nodes=2, gates=2, clients=(("alice", 0), ("bob", 1), ("carol", 0)))


@pytest.mark.parametrize("text, canonical, kind, names", [
    ("client bob", "client bob", "latency", ["client-bob"]),
    ("client bob", "client bob", "stop_reading", ["bob"]),
    ("all client links", "all client links", "reset_peer", ["client-alice", "client-bob", "client-carol"]),
    ("gate 1 → node 0", "gate 1 -> node 0", "disable", ["gate1-node0"]),
    ("Gate 0->Node 1", "gate 0 -> node 1", "stall", ["gate0-node1"]),
    ("all gate links", "all gate links", "blackhole", ["gate0-node0", "gate0-node1", "gate1-node0", "gate1-node1"]),
    ("all links", "all links", "limit_data", ["client-alice", "client-bob", "client-carol", "gate0-node0",
                                              "gate0-node1", "gate1-node0", "gate1-node1"]),
    ("node 1", "node 1", "kill", ["node1"]),
    ("gate 0", "gate 0", "pause", ["gate0"]),
    ("all nodes", "all nodes", "kill", ["node0", "node1"]),
    ("all gates", "all gates", "pause", ["gate0", "gate1"]),
    ("all clients", "all clients", "stop_reading", ["alice", "bob", "carol"]),
])
def test_targets_resolve_to_the_topology_naming_convention(text, canonical, kind, names):
    target = parse_target(text)
    assert str(target) == canonical
    assert resolve(kind, target, NAMES) == names


WITH_STORE = PartNames(nodes=2, gates=1, clients=(("alice", 0),), store=True)


@pytest.mark.parametrize("text, canonical, kind, names", [
    ("node 1 -> store", "node 1 -> store", "latency", ["node1-store"]),
    ("Node 0 → Store", "node 0 -> store", "blackhole", ["node0-store"]),
    ("all store links", "all store links", "reset_peer", ["node0-store", "node1-store"]),
    ("store", "store", "kill", ["store"]),
    ("store", "store", "pause", ["store"]),
    ("all links", "all links", "latency", ["client-alice", "gate0-node0", "gate0-node1", "node0-store",
                                           "node1-store"]),
])
def test_store_targets_name_the_store_process_and_each_nodes_link_to_it(text, canonical, kind, names):
    target = parse_target(text)
    assert str(target) == canonical
    assert resolve(kind, target, WITH_STORE) == names


def test_store_targets_need_a_shared_store():
    for kind, text in (("latency", "node 0 -> store"), ("kill", "store"), ("reset_peer", "all store links")):
        with pytest.raises(FaultError, match="no shared store in this topology"):
            make_fault(kind, text, 0, 1).names(NAMES)
    with pytest.raises(FaultError, match="there are 2 node"):
        make_fault("latency", "node 2 -> store", 0, 1).names(WITH_STORE)


def test_targets_outside_the_topology_are_refused():
    for text, message in [("client dave", "no client 'dave'"), ("node 2", "2 node"), ("gate 0 -> node 5", "node"),
                          ("gate 2", "2 gate")]:
        kind = "kill" if text.startswith(("node", "gate 2")) else "latency"
        with pytest.raises(FaultError, match=message):
            make_fault(kind, text, 0, 1).names(NAMES)




@pytest.mark.parametrize("form", TARGET_FORMS)
def test_every_documented_form_reads_back_as_itself(form):
    text = form.replace("NAME", "bob").replace("I", "1").replace("J", "0")
    assert str(parse_target(text)) == text
    assert str(parse_target(" " + text[0].upper() + text[1:].replace("->", "→") + " ")) == text


def test_the_forms_a_category_accepts_are_named_in_errors():
    assert forms("process") == "store, etcd J, all etcd, node I, gate I, all nodes, all gates"
    assert forms("client") == "client NAME, all clients"
    with pytest.raises(FaultError, match=r"kill needs a process target \(store, etcd J, all etcd, node I, gate I"):
        make_fault("kill", "all links", 0, 1)
    assert parse_target(Target("node", node=1)) == Target("node", node=1)


CLUSTER = PartNames(nodes=3, gates=2, clients=(("alice", 0), ("bob", 1)), store=True, etcd=3)


@pytest.mark.parametrize("text, canonical, kind, names", [
    ("node 1 -> etcd", "node 1 -> etcd", "blackhole", ["node1-etcd0", "node1-etcd1", "node1-etcd2"]),
    ("Gate 0 → etcd 2", "gate 0 -> etcd 2", "latency", ["gate0-etcd2"]),
    ("etcd 2", "etcd 2", "kill", ["etcd2"]),
    ("all etcd", "all etcd", "pause", ["etcd0", "etcd1", "etcd2"]),
    ("{node 0, gate 0, client alice} | {node 1, node 2, gate 1, etcd, store}",
     "{node 0, gate 0, client alice} | {node 1, node 2, gate 1, etcd, store}", "partition",
     ["gate0-node1", "gate0-node2", "gate1-node0", "node0-store", "node0-etcd0", "node0-etcd1", "node0-etcd2",
      "gate0-etcd0", "gate0-etcd1", "gate0-etcd2"]),
    ("{node 1} | {etcd}", "{node 1} | {etcd}", "partition", ["node1-etcd0", "node1-etcd1", "node1-etcd2"]),
])
def test_cluster_targets_name_etcd_members_their_links_and_the_links_a_partition_cuts(text, canonical, kind, names):
    target = parse_target(text)
    assert str(target) == canonical
    assert make_fault(kind, text, 0, 1).names(CLUSTER) == names


@pytest.mark.parametrize("kind, text, message", [
    ("partition", "node 0", "partition needs a partition target"),
    ("partition", "{node 0} | {node 0}", "node 0 is in two groups"),
    ("partition", "{node 7} | {etcd}", "this topology has no node 7"),
    ("partition", "{client alice} | {gate 1}", "no link crosses"),
    ("partition", "{rack 1} | {etcd}", "'rack 1' in a partition is no part"),
    ("kill", "etcd 3", "there are 3 etcd member"),
])
def test_bad_cluster_targets_say_why(kind, text, message):
    with pytest.raises(FaultError, match=message):
        make_fault(kind, text, 0, 1).names(CLUSTER)


def test_etcd_targets_need_etcd():
    with pytest.raises(FaultError, match="no etcd in this topology"):
        make_fault("kill", "etcd 0", 0, 1).names(PartNames(1, 1, (("alice", 0),)))
