"""The names of a topology's parts, said once: what faults resolve to and what the topology creates."""

from __future__ import annotations

import re

from chaos.naming import SERVER_PROCESS, PartNames


def test_every_link_and_process_of_a_topology_is_named():
    names = PartNames(nodes=2, gates=1, clients=(("alice", 0), ("bob", 0)), store=True)
    assert names.links() == ["client-alice", "client-bob", "gate0-node0", "gate0-node1", "node0-store",
                             "node1-store"]
    assert names.processes() == ["node0", "node1", "gate0", "store"]
    assert names.client_names == ["alice", "bob"]
    bare = PartNames(nodes=1, gates=2, clients=())
    assert bare.links() == ["gate0-node0", "gate1-node0"] and bare.processes() == ["node0", "gate0", "gate1"]


def test_server_processes_are_the_nodes_and_gates():
    names = PartNames(nodes=2, gates=2, clients=(("alice", 0),), store=True)
    servers = [p for p in names.processes() if re.fullmatch(SERVER_PROCESS, p)]
    assert servers == ["node0", "node1", "gate0", "gate1"]
    assert not any(re.fullmatch(SERVER_PROCESS, link) for link in names.links())
