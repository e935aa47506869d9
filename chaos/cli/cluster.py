"""``pushchat cluster``: a real cluster for a first look: etcd, PostgreSQL, 3 nodes and 2 gates.

Every part is a real process on 127.0.0.1 (free ports, temporary folders,
all stopped on Ctrl-C). It prints how to connect a client to each gate and
how to kill a node, then each room's move as it happens (chaos.cluster_moves):
from which node to which, and how long its sends waited.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from system import placement


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", type=int, default=3, help="nodes to start (default 3)")
    parser.add_argument("--gates", type=int, default=2, help="gates to start (default 2)")
    parser.add_argument("--etcd-members", type=int, choices=[1, 3], default=1, help="etcd members (default 1)")
    parser.add_argument("--lease-ttl", type=float, default=3.0,
                        help="seconds a dead node's rooms wait before moving (default 3)")
    parser.add_argument("--logs", type=Path, help="folder for the servers' logs (default: a temporary folder)")


async def _main(args: argparse.Namespace) -> int:
    from chaos.infra.etcd import EtcdCluster
    from chaos.infra.postgres_server import PostgresServer
    from chaos.infra.process import ServerProcess

    logs = args.logs or Path(tempfile.mkdtemp(prefix="pushchat-cluster-"))
    logs.mkdir(parents=True, exist_ok=True)
    etcd, postgres = EtcdCluster(args.etcd_members), PostgresServer()
    servers: list[ServerProcess] = []
    try:
        print(f"starting etcd ({args.etcd_members} member(s)) and PostgreSQL…", file=sys.stderr, flush=True)
        await asyncio.gather(asyncio.to_thread(etcd.start), asyncio.to_thread(postgres.start))
        dsn = await asyncio.to_thread(postgres.create_database, "pushchat")
        cluster = ["--etcd", ",".join(etcd.endpoints), "--lease-ttl", f"{args.lease_ttl:g}"]
        print(f"starting {args.nodes} nodes and {args.gates} gates…", file=sys.stderr, flush=True)
        nodes = [ServerProcess(f"node{i}", "node", ["--store", dsn, *cluster], logs) for i in range(args.nodes)]
        servers += nodes
        await asyncio.gather(*(n.start() for n in nodes))
        gates = [ServerProcess(f"gate{i}", "gate", cluster, logs) for i in range(args.gates)]
        servers += gates
        await asyncio.gather(*(g.start() for g in gates))
    except Exception as exc:
        print(f"pushchat cluster: cannot start: {exc}", file=sys.stderr)
        await _stop(servers, etcd, postgres)
        return 1
    owner = placement.owner("ChatRoom-General", [n.addr for n in nodes])
    keeper = next(n for n in nodes if n.addr == owner)
    assert keeper.proc is not None
    lines = [f"pushchat cluster is up (Ctrl-C to stop): etcd {', '.join(etcd.endpoints)}, PostgreSQL {dsn}"]
    lines += [f"  {n.name} {n.addr} (pid {n.proc.pid if n.proc else '?'})" for n in nodes]
    lines += [f"  {g.name} {g.addr}" for g in gates]
    lines += ["Chat through either gate, in two other terminals:",
              f"  pushchat client --server {gates[0].addr} --user alice",
              f"  pushchat client --server {gates[-1].addr} --user bob",
              f"then /join General in both. General lives on {keeper.name}."]
    if len(nodes) > 1:
        lines += ["Kill it, and this window says when General moves to another node and how long it waited:",
                  f"  kill -9 {keeper.proc.pid}",
                  f"Sends wait about {args.lease_ttl:g} s (the lease TTL), then go on from the same history there."]
    else:
        lines += ["With one node a room has nowhere to move: start with --nodes 3 to watch a failover."]
    lines += [f"Logs: {logs}"]
    stop_watch = await _watch_moves(etcd.endpoints, nodes, dsn, args.lease_ttl)  # before anyone can kill
    print("\n".join(lines), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if stop_watch is not None:
        await stop_watch()  # before the servers: their stopping is no move to tell
    await _stop(servers, etcd, postgres)
    print("pushchat cluster: stopped", flush=True)
    return 0


async def _watch_moves(endpoints: list[str], nodes: list, dsn: str, ttl: float
                       ) -> Callable[[], Awaitable[None]] | None:
    """Print each room's move as it happens (chaos.cluster_moves); gives what stops it (None, said, if it cannot
    watch: the cluster runs on without it)."""
    from chaos.cli.cluster_moves import MoveWatch
    from system.store.postgres import PostgresStore

    store = PostgresStore(dsn, pool_size=1)

    async def rooms() -> list[str]:
        return [name for name, _ in await store.room_names()]

    watch = MoveWatch(endpoints, {n.name: (n.addr, n.proc) for n in nodes}, rooms, lambda line: print(line, flush=True),
                      ttl=ttl)
    async def stop() -> None:
        await watch.stop()
        await store.close()

    try:
        await store.open()
        await watch.start()
    except Exception as exc:
        print(f"pushchat cluster: cannot watch rooms move: {exc}", file=sys.stderr, flush=True)
        await stop()
        return None
    return stop


async def _stop(servers: list, etcd: object, postgres: object) -> None:
    await asyncio.gather(*(s.stop() for s in reversed(servers)), return_exceptions=True)
    await asyncio.gather(asyncio.to_thread(etcd.stop), asyncio.to_thread(postgres.stop),  # type: ignore[attr-defined]
                         return_exceptions=True)


def run(args: argparse.Namespace) -> int:
    if args.nodes < 1 or args.gates < 1:
        print("pushchat cluster: --nodes and --gates must be at least 1", file=sys.stderr)
        return 64
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return asyncio.run(_main(args))
