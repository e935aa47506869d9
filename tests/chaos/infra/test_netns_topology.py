"""``network: namespaces`` with the whole cluster: nodes, gates, PostgreSQL and etcd each in a namespace of its own,
reached there by every fault kind (kills, restarts, fault points, a blackhole), and nothing left however the run
ends."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from chaos.infra import netns
from chaos.infra.links import Links
from chaos.infra.netplan import parse_namespace
from chaos.topology import Topology, TopologyPlan
from system.wait import wait_until

try:
    netns.preflight()
    REASON = ""
except netns.NetworkUnavailable as exc:
    REASON = str(exc)

pytestmark = pytest.mark.skipif(bool(REASON), reason=REASON)

PLAN = TopologyPlan(nodes=1, gates=1, clients={"alice": 0}, store="postgres", etcd=1, network="namespaces",
                    node_args=("--rooms", "General"))


def _netns_of(pid: int) -> int:
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def _pids(topo: Topology) -> dict[str, int]:
    """Each process's pid (for PostgreSQL, its postmaster's)."""
    assert topo.store is not None and topo.etcd is not None
    procs = {"node0": topo.nodes[0].proc, "gate0": topo.gates[0].proc, "store": topo.store.server.proc,
             "etcd0": topo.etcd.members[0].proc}
    return {name: proc.pid for name, proc in procs.items() if proc is not None}


def _in_own_namespace(topo: Topology) -> dict[str, bool]:
    assert topo.network is not None
    return {name: _netns_of(pid) == os.stat(f"/run/netns/{topo.network.opened.namespace(name)}").st_ino
            for name, pid in _pids(topo).items()}


def _faults_listed(topo: Topology, server: str) -> list[dict[str, Any]]:
    """GET /faults from the server's own loopback, in its namespace."""
    assert topo.network is not None
    proc = topo.server(server)
    conn = http.client.HTTPConnection("127.0.0.1", proc.fault_port, timeout=5)
    conn.sock = topo.network.socket_in(server)
    conn.sock.settimeout(5)
    conn.sock.connect(("127.0.0.1", proc.fault_port))
    conn.request("GET", "/faults", headers={"Content-Type": "application/json"})
    doc = json.loads(conn.getresponse().read())
    conn.close()
    return doc["faults"]


async def _store_answers(topo: Topology, timeout: float) -> bool:
    assert topo.store is not None
    try:
        conn = await asyncpg.connect(topo.store.server.dsn(), timeout=timeout)
    except (OSError, asyncio.TimeoutError):
        return False
    await conn.close()
    return True


class RunFailed(Exception):
    pass


def test_every_process_runs_in_a_namespace_of_its_own_where_faults_reach_it(chaos_links: Links,
                                                                              tmp_path: Path) -> None:
    """... and a run that fails (here, at its end) leaves nothing: no namespace, no veth, no process."""
    left: dict[str, Any] = {}

    async def scenario() -> None:
        async with Topology(PLAN, tmp_path, chaos_links) as topo:
            assert _in_own_namespace(topo) == {"node0": True, "gate0": True, "store": True, "etcd0": True}
            assert topo.store is not None and topo.etcd is not None
            assert topo.store.server.host == topo.network.addr("store")  # type: ignore[union-attr]
            assert topo.etcd.endpoints == [f"{topo.network.addr('etcd0')}:2379"]  # type: ignore[union-attr]

            # a fault point, set through the fault control on the node's own loopback
            spec = {"id": "t1", "point": "rpc", "action": "abort", "percent": 100, "method": "SendMessage"}
            await topo.add_fault_point("node0", spec)
            assert [f["id"] for f in _faults_listed(topo, "node0")] == ["t1"]
            await topo.remove_fault_point("node0", "t1")
            assert _faults_listed(topo, "node0") == []

            # an etcd member killed and started again, in its namespace, on its address (the store's restart
            # takes the same path: its prefix and its own port)
            before = _pids(topo)["etcd0"]
            await topo.restart("etcd0")
            await asyncio.to_thread(topo.etcd._wait_healthy, topo.etcd.members[0])
            assert _pids(topo)["etcd0"] != before and _in_own_namespace(topo)["etcd0"]

            # a blackhole on the store: its connections go silent (no refusal), until the heal
            loaded = await topo.net_isolate("store", "pushchat_fault9_store")
            assert not await _store_answers(topo, 1.0)
            assert await topo.net_heal(loaded) >= 1  # the dropped handshake, counted
            assert await _store_answers(topo, 5)
            left.update(host_link=topo.network.opened.host_link, pids=_pids(topo))  # type: ignore[union-attr]
            raise RunFailed

    with pytest.raises(RunFailed):
        asyncio.run(scenario())
    assert _namespaces_of(os.getpid()) == [] and left["host_link"] not in netns.leftovers()[1]
    assert _gone(left["pids"].values())


LEFT_RUNNING = """
import sys, time
from chaos.infra import netns
from chaos.infra.etcd import EtcdCluster
from chaos.infra.postgres_server import PostgresServer

net = netns.Network(["store", "etcd0"]).open()
store = PostgresServer(host=net.addr("store"), prefix=tuple(net.exec_argv("store"))).start()
etcd = EtcdCluster(1, places=[(net.addr("etcd0"), tuple(net.exec_argv("etcd0")))]).start()
print(net.opened.host_link, store.proc.pid, etcd.members[0].proc.pid, flush=True)
time.sleep(120)  # until the test kills it
"""


def _namespaces_of(pid: int) -> list[str]:
    return [ns for ns in netns.leftovers()[0] if parse_namespace(ns)[1] == pid]  # type: ignore[index]


def _gone(pids: Any) -> bool:
    """No such process, or a zombie its dead parent left for init."""
    def alive(pid: int) -> bool:
        try:
            return "(zombie)" not in Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False
    return not any(alive(pid) for pid in pids)


def test_a_killed_runs_store_and_etcd_are_ended_and_their_namespaces_removed_by_the_next_run() -> None:
    """SIGKILL: nothing of the run unwinds, PostgreSQL and etcd run on in its namespaces. The next run's sweep
    ends them and removes the namespaces, veths and tables (the tables live in the namespaces)."""
    proc = subprocess.Popen([sys.executable, "-c", LEFT_RUNNING], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline().split()
    assert len(line) == 3, proc.stderr.read()
    host_link, pids = line[0], [int(p) for p in line[1:]]
    assert len(_namespaces_of(proc.pid)) == 3  # the store's, etcd0's and the hub
    proc.kill()
    proc.wait(timeout=20)
    assert not _gone(pids)  # nobody ended them: the sweep must
    netns.sweep()
    assert _namespaces_of(proc.pid) == [] and host_link not in netns.leftovers()[1]
    asyncio.run(wait_until(lambda: _gone(pids), 10, "PostgreSQL and etcd, ended by the sweep"))
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
    assert "pushchat" not in tables
