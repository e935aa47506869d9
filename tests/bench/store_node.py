"""The store bench's node and stores: ``pushchat node`` with a group-commit switch and store counters on
SIGUSR1 (run as ``python -m tests.bench.store serve-node``), the shared PostgreSQL server, and filling a store.

Apart from tests/bench/store.py so that each module stays one job (and under 500 lines).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chaos.infra.process import ServerProcess
from chaos.rundir import log_file_name
from tests.bench.measure import child_env, family

ROOM = "General"
TEXT = "x" * 100
FILL_BATCH = 1000


# --- the node, as the benchmark runs it --------------------------------------------------------------

def serve_node(argv: Sequence[str]) -> int:
    """``pushchat node``, plus ``--group-commit on|off`` and store counters on SIGUSR1."""
    from system import cli_node, service
    from system.node import NodeConfig, NodeServer
    from system.store import make_store

    @dataclasses.dataclass
    class Config(NodeConfig):
        group_commit: bool = True

        def make_store(self, data_dir: str | None = None) -> Any:
            return make_store(self.store, data_dir or self.data_dir, sync=self.store_sync,
                              group_commit=self.group_commit, timeout=self.store_timeout)

        def room_config(self) -> Any:
            return dataclasses.replace(super().room_config(), group_writes=self.group_commit)

    parser = argparse.ArgumentParser(prog="python -m tests.bench.store serve-node",
                                     description="pushchat node, for the store benchmark")
    cli_node.configure(parser)
    parser.add_argument("--group-commit", choices=["on", "off"], default="on",
                        help="on: concurrent sends share store writes and commits; off: each send is a store write "
                             "and a commit of its own (with sqlite, one sync per send)")
    args = parser.parse_args(argv)
    service.setup_process("node", args)
    base = cli_node.config(args)
    config = Config(**{f.name: getattr(base, f.name) for f in dataclasses.fields(NodeConfig)},
                    group_commit=args.group_commit == "on")
    config.data_dir = args.data_dir
    server = NodeServer(config)

    def report(*_: object) -> None:
        print(json.dumps({"event": "store_stats", **store_stats(server)}), flush=True)

    signal.signal(signal.SIGUSR1, report)
    return service.run(server, "node")


def store_stats(server: Any) -> dict[str, float]:
    """The store's counters and the rooms' writes, as far as the store keeps them."""
    from system.room import ChatRoom

    store = server.store
    out = {name: getattr(store, name) for name in ("commits", "writes", "write_seconds", "commit_seconds")
           if hasattr(store, name)}
    out["room_writes"] = sum(h.obj.writer.writes for h in server.host.objects() if isinstance(h.obj, ChatRoom))
    return out


class BenchNode(ServerProcess):
    """A node started through :func:`serve_node`: knows when it was spawned, reports its store's counters."""

    def __init__(self, args: list[str], log_dir: Path) -> None:
        super().__init__("node", "node", args, log_dir)
        self.spawned = 0.0
        self.announced = 0.0

    async def start(self) -> None:
        self.incarnation += 1
        log_path = self.log_dir / log_file_name(self.name, self.incarnation)
        self.log_paths.append(log_path)
        listen = f"127.0.0.1:{self.port if self.addr else 0}"
        argv = [sys.executable, "-m", "tests.bench.store", "serve-node", "--listen", listen,
                "--log-file", str(log_path), "--exit-with-parent", *self.args]
        with open(self.log_dir / f"{self.name}.{self.incarnation}.stderr", "wb") as stderr:
            self.spawned = time.perf_counter()
            self.proc = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=stderr, stdin=asyncio.subprocess.DEVNULL,
                env={k: v for k, v in child_env().items() if k.lower() not in ("http_proxy", "https_proxy", "grpc_proxy")})
        announce = await self._read_announce(argv)
        self.announced = time.perf_counter()
        self.addr = announce["addr"]
        self.paused = False

    async def stats(self, timeout: float = 5.0) -> dict[str, float]:
        assert self.proc and self.proc.stdout and self.proc.pid
        os.kill(self.proc.pid, signal.SIGUSR1)
        while True:
            async with asyncio.timeout(timeout):
                line = await self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the node exited instead of reporting its store's counters")
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if doc.get("event") == "store_stats":
                return doc


# --- stores: where each kind keeps its data ------------------------------------------------------------

class Postgres:
    """One PostgreSQL server for the whole run (started on first use); a fresh database per measurement."""

    def __init__(self) -> None:
        self.server: Any = None
        self.unavailable: str | None = None

    def dsn(self) -> str | None:
        if self.server is None and self.unavailable is None:
            from chaos.infra.postgres_server import PostgresServer, PostgresUnavailable
            try:
                self.server = PostgresServer().start()
            except PostgresUnavailable as exc:
                self.unavailable = str(exc)
                return None
        if self.server is None:
            return None
        return self.server.create_database("bench_" + uuid.uuid4().hex[:12])

    def pids(self) -> list[int]:
        return family(self.server.proc.pid) if self.server is not None and self.server.alive else []

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def node_args(kind: str, where: str) -> list[str]:
    """The node flags for a store of ``kind`` at ``where`` (a folder, or a DSN)."""
    if kind == "memory":
        return ["--store", "memory"]
    if kind in ("sqlite", "sqlite-nogroup"):
        return ["--store", "sqlite", "--data-dir", where] + (["--group-commit", "off"] if kind == "sqlite-nogroup" else [])
    return ["--store", where]


async def fill(kind: str, where: str, count: int) -> None:
    """Store ``count`` messages in ROOM, straight through the store API, in batches."""
    from system.store import Batch, Limits, StoredMessage, make_store

    store = make_store("sqlite", where) if kind == "sqlite" else make_store(where)
    await store.open()
    try:
        record = await store.claim(ROOM, Limits(), create=True)
        assert record is not None
        base = time.time_ns() // 1000 - count
        for first in range(1, count + 1, FILL_BATCH):
            seqs = range(first, min(count, first + FILL_BATCH - 1) + 1)
            await store.write(ROOM, record.token, Batch(messages=[
                StoredMessage(seq, base + seq, f"filler{seq % 16}", TEXT, f"fill-{seq}") for seq in seqs]))
    finally:
        await store.close()
