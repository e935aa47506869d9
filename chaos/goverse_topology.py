"""Goverse as the system under test: etcd, its chat node(s) and its gate as OS processes, every link proxied.

The programs are built from Goverse's source archive by ``pushchat goverse
build`` (``chaos.goverse_build``, cached). Each process gets its own config
file (Goverse's format: ``shards: 64``, so a node claims its shards and makes
its default rooms in seconds) whose addresses put every link through the
harness's proxy, named as for pushchat (``chaos.naming``):

- ``client-NAME``: a client to the gate;
- ``gate0-node{J}``: node J's advertise address is this proxy's listen
  address, so everything that dials node J (every gate, the other nodes)
  goes through it; Goverse pushes ride a gate's stream to the node, inside
  it. With several gates, ``gate{I}-node{J}`` names the same proxy (a fault
  on one is refused: ``chaos.scenario.goverse.shared_links``);
- ``etcd-…``: each node and the gate to etcd, when the scenario names etcd
  members (``topology.etcd``); else they dial etcd directly.

Processes are named ``node{J}`` and ``gate{I}``; kill, pause and restart act on
them as on ours (a restart binds the same ports: they are in the config).
Each incarnation's output is kept as ``{name}.{n}.goverse.txt`` and written
as the checker's JSON lines (``chaos.infra.goverse_logs``) to ``{name}.{n}.log``
at close. Goverse has none of our counters: nothing is scraped.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from chaos.infra import goverse_build, goverse_logs
from chaos.infra.etcd import EtcdCluster, EtcdMemberProcess
from chaos.naming import PartNames
from chaos.infra.postgres_server import free_port
from chaos.infra.process import PartsByName, ProcessError, Signalled
from chaos.rundir import RunFolder, incarnation_key, log_file_key, log_file_name
from chaos.scenario.model import TopologySpec

SHARDS = 64                # Goverse's stress_config.yml: fewer to claim (8192, its default, takes ~30 s)
STABILITY = "1s"           # how long the node list must hold still before shards are mapped (its default: 10s)
READY_LINE = "Async CreateObject ChatRoom-Movies completed"  # the last of the node's default rooms exists
READY_TIMEOUT = 60.0
LISTEN_TIMEOUT = 20.0
RAW_SUFFIX = ".goverse.txt"


def binaries() -> goverse_build.Binaries:
    """Goverse's node and gate, built from its source archive (cached after the first time); a clear error
    when there is no archive or a prerequisite of the build is missing."""
    source = goverse_build.default_source()
    if source is None or not source.is_file():
        raise ProcessError("system goverse needs Goverse's source archive: put it in shared/third_party/goverse/ "
                           f"beside the checkout, or set ${goverse_build.ARCHIVE_ENV}, then `pushchat goverse build`")
    try:
        return goverse_build.build(source)  # checks the prerequisites only when it has to build
    except goverse_build.BuildError as exc:
        raise ProcessError(f"system goverse: {exc}") from None


class GoverseProcess(Signalled):
    """One Goverse node or gate: start (its config names its ports), kill, pause, resume, stop, restart."""

    def __init__(self, name: str, argv: list[str], addr: str, log_dir: Path) -> None:
        self.name, self.argv, self.addr, self.log_dir = name, argv, addr, log_dir
        self.incarnation = 0
        self.proc: asyncio.subprocess.Process | None = None
        self.paused = False
        self.raw_paths: list[Path] = []

    @property
    def log_name(self) -> str:
        return incarnation_key(self.name, self.incarnation)

    @property
    def log_paths(self) -> list[Path]:
        """Each incarnation's log as the checker reads it (written from the raw output at close)."""
        return [self.log_dir / log_file_name(self.name, n + 1) for n in range(len(self.raw_paths))]

    @property
    def raw(self) -> Path:
        return self.raw_paths[-1]

    async def start(self) -> None:
        """Start an incarnation and return once it listens on its port."""
        self.incarnation += 1
        raw = self.log_dir / f"{self.name}.{self.incarnation}{RAW_SUFFIX}"
        self.raw_paths.append(raw)
        with open(raw, "wb") as out:
            self.proc = await asyncio.create_subprocess_exec(*self.argv, stdout=out, stderr=asyncio.subprocess.STDOUT,
                                                             stdin=asyncio.subprocess.DEVNULL, env=_env())
        self.paused = False
        deadline = time.monotonic() + LISTEN_TIMEOUT
        while not await asyncio.to_thread(_accepts, self.addr):
            if not self.alive:
                raise ProcessError(f"{self.name} exited with {self.proc.returncode} before listening on {self.addr} "
                                   f"(see {raw}): {_tail(raw)}")
            if time.monotonic() > deadline:
                await self.kill()
                raise ProcessError(f"{self.name} did not listen on {self.addr} within {LISTEN_TIMEOUT:.0f}s "
                                   f"(see {raw})")
            await asyncio.sleep(0.05)

    def scrape_metrics(self) -> None:
        return None  # Goverse's counters are not ours (see chaos.checker.systems)


class GoverseTopology(PartsByName):
    """Start, address, disturb and stop one run's Goverse processes and links (``Topology``'s interface)."""

    def __init__(self, spec: TopologySpec, out_dir: Path, links: Any, binaries: goverse_build.Binaries) -> None:
        self.spec, self.binaries, self.links = spec, binaries, links
        self.folder = RunFolder(out_dir)
        self.log_dir = self.folder.logs
        self.config_dir = Path(out_dir) / "goverse"
        self.clients = dict(spec.clients)
        self.names = PartNames(spec.nodes, spec.gates, tuple(spec.clients), etcd=spec.etcd)
        self.prefix = f"gv{os.getpid()}-{uuid.uuid4().hex[:6]}-"
        self.nodes: list[GoverseProcess] = []
        self.gates: list[GoverseProcess] = []
        self.etcd: EtcdCluster | None = None
        self.etcd_members: list[EtcdMemberProcess] = []
        self.proxies: dict[str, Any] = {}

    async def start(self) -> "GoverseTopology":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.config_dir.mkdir(parents=True, exist_ok=True)
        names = self.names
        try:
            self.etcd = EtcdCluster(max(1, self.spec.etcd))
            await asyncio.to_thread(self.etcd.start)
            self.etcd_members = [EtcdMemberProcess(self.etcd, j, names.etcd_member(j)) for j in range(self.spec.etcd)]
            grpc = {server: f"127.0.0.1:{free_port()}" for server in names.servers()}
            for j in range(self.spec.nodes):
                await self._proxy(names.gate_link(0, j), grpc[names.node(j)])
                for g in range(1, self.spec.gates):  # node J's one advertise address: the same proxy for every gate
                    self.proxies[names.gate_link(g, j)] = self.proxies[names.gate_link(0, j)]
            for server in names.servers():
                for j in range(self.spec.etcd):
                    await self._proxy(names.etcd_link(server, j), self.etcd.endpoints[j])
            nodes = [(names.node(j), grpc[names.node(j)], self.proxies[names.gate_link(0, j)].listen,
                      f"127.0.0.1:{free_port()}") for j in range(self.spec.nodes)]
            gates = [(names.gate(g), grpc[names.gate(g)], f"127.0.0.1:{free_port()}") for g in range(self.spec.gates)]
            for name, addr, _, _ in nodes:
                config = self._config(name, nodes, gates)
                self.nodes.append(GoverseProcess(name, [str(self.binaries.node), "-config", str(config),
                                                        "-node-id", name], addr, self.log_dir))
            for name, addr, _ in gates:
                config = self._config(name, nodes, gates)
                self.gates.append(GoverseProcess(name, [str(self.binaries.gate), "-config", str(config), "-gate-id",
                                                        name], addr, self.log_dir))
            # all at once: each waits on its own timers (the gate opens its node streams once it sees the cluster
            # ready, at one of its 5 s checks), so started together they are ready about as soon as the node
            await asyncio.gather(*(p.start() for p in self.nodes + self.gates))
            await self._ready()
            await self._gate_registered()
            await asyncio.gather(*(self._proxy(names.client_link(name), self.gates[gate].addr)
                                   for name, gate in self.clients.items()))
        except BaseException:
            await self.close()
            raise
        return self

    def _config(self, server: str, nodes: list[tuple[str, str, str, str]], gates: list[tuple[str, str, str]]) -> Path:
        """One process's config: the cluster, with the etcd endpoints that process dials (its own proxies)."""
        assert self.etcd is not None
        if self.spec.etcd:
            endpoints = [self.proxies[self.names.etcd_link(server, j)].listen for j in range(self.spec.etcd)]
        else:
            endpoints = self.etcd.endpoints
        listed = ", ".join(f'"{e}"' for e in endpoints)
        lines = ["version: 1", "cluster:", f"  shards: {SHARDS}", '  provider: "etcd"',
                 f"  cluster_state_stability_duration: {STABILITY}", "  etcd:",
                 f"    endpoints: [{listed}]", f'    prefix: "/goverse-{self.prefix.rstrip("-")}"', "nodes:"]
        for name, addr, advertise, http in nodes:
            lines += [f'  - id: "{name}"', f'    grpc_addr: "{addr}"', f'    advertise_addr: "{advertise}"',
                      f'    http_addr: "{http}"']
        lines.append("gates:")
        for name, addr, http in gates:
            lines += [f'  - id: "{name}"', f'    grpc_addr: "{addr}"', f'    advertise_addr: "{addr}"',
                      f'    http_addr: "{http}"']
        path = self.config_dir / f"{server}.yml"
        path.write_text("\n".join(lines) + "\n")
        return path

    async def _ready(self) -> None:
        """Until a node logged that the last default room exists (its ChatRoomMgr made them all)."""
        deadline = time.monotonic() + READY_TIMEOUT
        while not any(READY_LINE in n.raw.read_text(errors="replace") for n in self.nodes):
            for n in self.nodes:
                if not n.alive:
                    raise ProcessError(f"{n.name} exited before its rooms were ready: {_tail(n.raw)}")
            if time.monotonic() > deadline:
                raise ProcessError(f"no Goverse node logged {READY_LINE!r} within {READY_TIMEOUT:.0f}s "
                                   f"(see {self.log_dir})")
            await asyncio.sleep(0.1)

    async def _gate_registered(self) -> None:
        """Until every node has every gate's stream (the gate opens it once it sees the cluster ready, within a
        shard-mapping check, 5 s): before that, every push fails ("gate … not connected to this node")."""
        lines = [f"Registered gate connection for {gate.addr}" for gate in self.gates]
        deadline = time.monotonic() + READY_TIMEOUT
        while not all(line in n.raw.read_text(errors="replace") for n in self.nodes for line in lines):
            for gate in self.gates:
                if not gate.alive:
                    raise ProcessError(f"{gate.name} exited before it reached the nodes: {_tail(gate.raw)}")
            if time.monotonic() > deadline:
                raise ProcessError(f"the gate did not reach every node within {READY_TIMEOUT:.0f}s (see {self.log_dir})")
            await asyncio.sleep(0.1)

    async def _proxy(self, name: str, upstream: str) -> None:
        self.proxies[name] = await asyncio.to_thread(self.links.create, self.prefix + name, upstream, "127.0.0.1:0")

    async def close(self) -> None:
        """Stop the gate, then the nodes, then etcd; delete the proxies; write the logs the checker reads."""
        await asyncio.gather(*(p.stop() for p in self.gates + self.nodes), return_exceptions=True)
        if self.etcd is not None:
            await asyncio.to_thread(self.etcd.stop)
            self.etcd = None
        for link in {id(link): link for link in self.proxies.values()}.values():  # a shared proxy once
            try:
                await asyncio.to_thread(link.delete)
            except Exception:  # noqa: BLE001 - the server may already be gone
                pass
        self.proxies.clear()
        for proc in self.gates + self.nodes:
            for raw, log in zip(proc.raw_paths, proc.log_paths):
                if raw.exists():
                    await asyncio.to_thread(goverse_logs.translate_file, raw, log)

    # -- addressing, and the fault injector's view (as chaos.topology.Topology) ----------------------------
    def addr_of(self, link_name: str) -> str:
        return self.proxies[link_name].listen

    def client_addr(self, client: str) -> str:
        return self.addr_of(self.names.client_link(client))

    def get(self, link_name: str) -> Any:
        return self.proxies[link_name]

    def process(self, name: str) -> GoverseProcess | EtcdMemberProcess:
        for proc in [*self.nodes, *self.gates, *self.etcd_members]:
            if proc.name == name:
                return proc
        raise KeyError(f"no process named {name!r}")

    async def terminate(self, name: str) -> None:
        proc = self.process(name)
        await (proc.stop() if isinstance(proc, GoverseProcess) else proc.shutdown())

    def log_files(self) -> dict[str, Path]:
        return {log_file_key(path): path for proc in self.nodes + self.gates for path in proc.log_paths}

    async def scrape_metrics(self) -> dict[str, dict[str, float]]:
        return {}


def _accepts(addr: str) -> bool:
    host, _, port = addr.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


def _tail(path: Path, chars: int = 800) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _env() -> dict[str, str]:
    """gRPC-Go honours the proxy variables too: loopback traffic must never go through one."""
    return {k: v for k, v in os.environ.items()
            if k not in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "grpc_proxy")}
