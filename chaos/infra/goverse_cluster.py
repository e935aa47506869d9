"""Goverse's node and gate running: etcd, one node (its chat sample) and one gate, for tests and benches.

The binaries come from :mod:`chaos.goverse_build` (cached: a look-up). The cluster has one node and one
gate with 64 shards (as Goverse's stress_config.yml), so it is ready in seconds; it is ready when the node
logged that the last of its default rooms (General, …, Movies) exists.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from chaos.infra.etcd import EtcdCluster
from chaos.infra.goverse_build import Binaries, build, default_source
from chaos.infra.postgres_server import free_port

READY_LINE = "Async CreateObject ChatRoom-Movies completed"  # the last default room exists
READY_TIMEOUT = 120.0
READY_POLL = 0.2
STOP_TIMEOUT = 10.0


class GoverseError(RuntimeError):
    """Goverse's node or gate exited before it was ready, or was not ready in time: says which, with its log."""


@dataclass(frozen=True)
class GoverseParts:
    gate: str      # the gate's host:port (clients' GateService)
    gate_pid: int
    node_pid: int


def write_config(path: Path, etcd: str, node: str, node_http: str, gate: str) -> None:
    """A one-node, one-gate cluster with 64 shards: ready in seconds."""
    path.write_text(f"""version: 1
cluster:
  shards: 64
  provider: "etcd"
  etcd:
    endpoints: ["{etcd}"]
    prefix: "/goverse-test"
nodes:
  - id: "node-1"
    grpc_addr: "{node}"
    advertise_addr: "{node}"
    http_addr: "{node_http}"
gates:
  - id: "gate-1"
    grpc_addr: "{gate}"
""")


@contextmanager
def goverse_cluster(binaries: Binaries, folder: Path) -> Iterator[GoverseParts]:
    """etcd, Goverse's node and gate, up (their logs and config in ``folder``); stopped at exit."""
    procs: list[subprocess.Popen[bytes]] = []
    with EtcdCluster(1) as etcd:
        gate = f"127.0.0.1:{free_port()}"
        config = folder / "goverse.yml"
        write_config(config, etcd.endpoints[0], f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}", gate)
        logs = (folder / "goverse-node.log", folder / "goverse-gate.log")
        try:
            for argv, log in (([str(binaries.node), "-config", str(config), "-node-id", "node-1"], logs[0]),
                              ([str(binaries.gate), "-config", str(config), "-gate-id", "gate-1"], logs[1])):
                with open(log, "wb") as out:
                    procs.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                                  stdin=subprocess.DEVNULL))
            _wait_ready(procs, logs)
            yield GoverseParts(gate, procs[1].pid, procs[0].pid)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _wait_ready(procs: list[subprocess.Popen[bytes]], logs: tuple[Path, Path]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        for proc, log in zip(procs, logs):
            if proc.poll() is not None:
                raise GoverseError(f"{log.name}: exited {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        if READY_LINE in logs[0].read_text(errors="replace"):
            return
        if time.monotonic() >= deadline:
            raise GoverseError(f"Goverse's node did not log {READY_LINE!r} within {READY_TIMEOUT:.0f} s")
        time.sleep(READY_POLL)


async def start_goverse(stack: ExitStack, folder: str) -> GoverseParts:
    """A Goverse cluster (binaries from the default source, cached) entered on ``stack``, without blocking the
    event loop while it comes up: for a bench that measures it beside the other servers."""
    source = default_source()
    if source is None:
        raise GoverseError("no Goverse source archive: see `pushchat goverse build --help`")
    binaries = await asyncio.to_thread(build, source)
    return await asyncio.to_thread(stack.enter_context, goverse_cluster(binaries, Path(folder)))
