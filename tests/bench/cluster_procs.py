"""The cluster bench's cluster: etcd or static membership, 3 nodes and 2 gates on one PostgreSQL database,
as real processes, and their CPU (tests/bench/measure.py). Used by tests/bench/failover.py and steady.py."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from system import placement
from system.wait import wait_until
from tests.bench.measure import cpu_seconds, family

FAILOVER_ROOM = "General"
CLIENTS = "clients"  # this process, in the CPU figures
STEADY_ROOMS = tuple(f"Room{i}" for i in range(12))  # candidates, so that the rooms measured spread over the nodes
STEADY_TTL = 2.0
# The members measuring push latency are two clients in this process, behind on a busy machine: with the
# gate's default 10 they would lose pushes to client_buffer_full, and the figures would measure that.
CLIENT_BUFFER = 1024
# etcd refuses leases shorter than 1.5 election timeouts (rounded up to whole seconds): with its
# default 1000 ms a 1 s lease is granted as 2 s. 500 ms (5 heartbeats) lets a 1 s TTL be 1 s.
ETCD_ELECTION_MS = 500


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)



@dataclass
class Cluster:
    """3 nodes and 2 gates on one PostgreSQL database, static or on etcd; its processes' CPU on demand."""

    mode: str                        # "etcd" or "static"
    nodes: list[Any]                 # chaos.infra.process.ServerProcess
    gates: list[Any]
    extra_pids: dict[str, tuple[int, bool]] = field(default_factory=dict)  # name -> (pid, count its tree)

    @property
    def node_addrs(self) -> list[str]:
        return [n.addr for n in self.nodes]

    def owner(self, object_id: str) -> Any:
        addr = placement.owner(object_id, self.node_addrs)
        return next(n for n in self.nodes if n.addr == addr)

    def cpu(self) -> dict[str, float]:
        out = {p.name: cpu_seconds([p.proc.pid], reaped_children=True) for p in [*self.nodes, *self.gates]
               if p.alive}
        out.update({name: cpu_seconds(family(pid) if tree else [pid], reaped_children=True)
                    for name, (pid, tree) in self.extra_pids.items()})
        out[CLIENTS] = time.process_time()
        return out

    async def gates_see_all_nodes(self, timeout: float) -> None:
        def all_up() -> bool:
            for gate in self.gates:
                scraped = gate.scrape_metrics() or {}
                if scraped.get("pushchat_connected_nodes") != len(self.nodes):
                    return False
            return True
        await wait_until(lambda: asyncio.to_thread(all_up), timeout, "every gate connected to every node",
                         interval=0.05)

    async def stop(self) -> None:
        await asyncio.gather(*(p.stop() for p in [*self.gates, *self.nodes]), return_exceptions=True)


async def start_cluster(mode: str, dsn: str, logs: Path, *, etcd: Sequence[str] = (), ttl: float = STEADY_TTL,
                        prefix: str = "/pushchat", gates: int = 2, node_args: Sequence[str] = (),
                        gate_args: Sequence[str] = ()) -> Cluster:
    """Static: nodes on fixed free ports, each told the others (``--peers``), gates told them all (``--nodes``)."""
    from chaos.infra.postgres_server import free_port
    from chaos.infra.process import ServerProcess

    logs.mkdir(parents=True, exist_ok=True)
    store = ["--store", dsn, "--store-timeout", "2", *node_args]
    if mode == "etcd":
        membership = ["--etcd", ",".join(etcd), "--etcd-prefix", prefix, "--lease-ttl", f"{ttl:g}"]
        nodes = [ServerProcess(f"node{i}", "node", [*store, *membership], logs) for i in range(3)]
        routing = membership
    else:
        addrs = [f"127.0.0.1:{free_port()}" for _ in range(3)]
        nodes = [ServerProcess(f"node{i}", "node", [*store, "--listen", addr,
                                                    "--peers", ",".join(a for a in addrs if a != addr)], logs)
                 for i, addr in enumerate(addrs)]
        routing = ["--nodes", ",".join(addrs)]
    # the bench's senders go as fast as they can: no per-client call rate limit (docs/security.md)
    cluster = Cluster(mode, nodes, [ServerProcess(f"gate{i}", "gate", [*routing, "--call-rate", "0", *gate_args], logs)
                                    for i in range(gates)])
    try:
        await asyncio.gather(*(n.start() for n in cluster.nodes))
        await asyncio.gather(*(g.start() for g in cluster.gates))
        await cluster.gates_see_all_nodes(30.0)
    except BaseException:
        await cluster.stop()
        raise
    return cluster


@dataclass
class Env:
    """What every measurement shares: the logs folder, etcd and PostgreSQL."""

    logs: Path
    etcd: Any       # chaos.infra.etcd.EtcdCluster
    postgres: Any   # chaos.infra.postgres_server.PostgresServer
