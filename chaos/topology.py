"""The running topology: N nodes and M gates as OS processes, every link through its own proxy.

Its processes and proxies are named by ``chaos.naming`` (the fault targets'
vocabulary): processes ``node{i}`` and ``gate{i}``, links ``client-{name}``
and ``gate{i}-node{j}``; with ``store="postgres"`` a PostgreSQL server is a
process too (``store``), and each node reaches it through its own link
``node{i}-store``. With ``network: namespaces`` every process (node, gate,
store, etcd member) runs in a network namespace of its own (``chaos.netns``),
the proxies on the harness's side of the run's bridge. On a shared Toxiproxy server the proxies carry a
per-run prefix so parallel runs (pytest-xdist workers) never collide.
Everything started is stopped by :meth:`Topology.close`, also on error.
A scenario declares its topology as a ``chaos.scenario.model.TopologySpec``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from chaos.infra.etcd import EtcdCluster, EtcdMemberProcess
from chaos.infra.links import Links
from chaos.naming import PartNames
from chaos.infra.netns import Network
from chaos.infra.netplan import link_matches
from chaos.infra.postgres_server import PostgresServer, StoreProcess
from chaos.infra.process import PartsByName, ServerProcess
from chaos.rundir import RunFolder, log_file_key

STORE_DATABASE = "pushchat"
#: Past this many client links, they get Toxiproxy servers of their own, one per CLIENT_LINKS_PER_SERVER: sharing
#: one (Python) proxy process, 2,000 clients redialling after a gate kill delayed the gate-node links' keepalive acks
#: past their 1 s ping timeout, so the restarted gates never kept a link to their node; and one process for 2,000
#: client links ran out of file descriptors in the storm (8,630 dials failed with EMFILE at its limit of 20,000)
#: while the clients' attempts timed out unaccepted (docs/benchmarks.md, "A big room under faults").
CLIENT_LINKS_APART = 200
CLIENT_LINKS_PER_SERVER = 500
NETWORKS = ("host", "namespaces")


@dataclass(frozen=True)
class TopologyPlan:
    """What to start; the runner derives it from a scenario."""

    nodes: int = 1
    gates: int = 1
    clients: dict[str, int] = field(default_factory=dict)  # client name -> gate index
    node_args: tuple[str, ...] = ()
    gate_args: tuple[str, ...] = ()
    store: str = "sqlite"  # sqlite: each node keeps its data in the run folder (data/node{i}), across restarts;
    #                        postgres: one server for the run, each node through its own link; or memory
    etcd: int = 0          # etcd members: nodes and gates find each other there, each through its own links
    lease_ttl: float = 2.0  # with etcd: how long a silent member's key outlives it
    faketime: bool = False  # nodes and gates run under libfaketime, so clock faults can move their clocks
    network: str = "host"   # host: every process on 127.0.0.1; namespaces: each node and gate in a network
    #                         namespace of its own (chaos.infra.netns), the proxies on the harness's side of their bridge

    def __post_init__(self) -> None:
        if self.nodes < 1 or self.gates < 1:
            raise ValueError("a topology needs at least one node and one gate")
        if self.etcd and self.store != "postgres":
            raise ValueError("a cluster on etcd needs the shared store (store: postgres)")
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {', '.join(NETWORKS)}, not {self.network!r}")
        for name, gate in self.clients.items():
            if not 0 <= gate < self.gates:
                raise ValueError(f"client {name!r} is on gate {gate}, but there are {self.gates} gates")

    @property
    def names(self) -> PartNames:
        return PartNames(self.nodes, self.gates, tuple(self.clients.items()), store=self.store == "postgres",
                         etcd=self.etcd)


class Topology(PartsByName):
    """Start, address, disturb and stop one run's servers and links.

    ``terminate``/``launch`` stop and start one part (a fault); :meth:`close` ends the whole run.
    """

    def __init__(self, plan: TopologyPlan, out_dir: Path, links: Any) -> None:
        self.plan = plan
        self.out_dir = Path(out_dir)
        self.folder = RunFolder(out_dir)
        self.log_dir = self.folder.logs
        self.links = links
        self.names = plan.names
        self.prefix = f"pc{os.getpid()}-{uuid.uuid4().hex[:6]}-"
        self.nodes: list[ServerProcess] = []
        self.gates: list[ServerProcess] = []
        self.store: StoreProcess | None = None
        self.etcd: EtcdCluster | None = None
        self.etcd_members: list[EtcdMemberProcess] = []
        self.proxies: dict[str, Any] = {}
        self.client_links: list[Any] = []  # Toxiproxy servers of the client links' own (a load run's thousands)
        # namespaces: every process (node, gate, store, etcd member) in one of its own
        self.network: Network | None = Network(self.names.processes()) if plan.network == "namespaces" else None

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> "Topology":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            if self.network is not None:
                self.network.open()  # here, not in a thread: on the main thread it can catch SIGTERM
            if self.plan.store == "postgres":
                await self._start_store()
            if self.plan.etcd:
                await self._start_etcd()
            names = self.names
            self.nodes = [ServerProcess(names.node(i), "node", [*self.plan.node_args, *self._store_args(i),
                                                                *self._etcd_args(names.node(i)),
                                                                *(["--node-id", names.node(i)] if self.plan.etcd else [])],
                                        self.log_dir, clock_file=self._clock_file(names.node(i)),
                                        **self._placed(names.node(i)))
                          for i in range(self.plan.nodes)]
            await asyncio.gather(*(n.start() for n in self.nodes))
            for g in range(self.plan.gates):
                for n, node in enumerate(self.nodes):
                    await self._proxy(names.gate_link(g, n), node.addr)
            self.gates = []
            for g in range(self.plan.gates):
                if self.plan.etcd:  # nodes register in etcd by their part name: placement is the same every run
                    dial = ",".join(f"{names.node(n)}={self.addr_of(names.gate_link(g, n))}"
                                    for n in range(self.plan.nodes))
                    args = [*self._etcd_args(names.gate(g)), "--dial", dial, *self.plan.gate_args]
                else:
                    upstreams = ",".join(self.addr_of(names.gate_link(g, n)) for n in range(self.plan.nodes))
                    args = ["--nodes", upstreams, *self.plan.gate_args]
                self.gates.append(ServerProcess(names.gate(g), "gate", args, self.log_dir,
                                                clock_file=self._clock_file(names.gate(g)), **self._placed(names.gate(g))))
            await asyncio.gather(*(g.start() for g in self.gates))
            # In one call: a load run has thousands of clients, each behind its own proxy.
            wanted = [(names.client_link(name), self.gates[gate].addr) for name, gate in self.plan.clients.items()]
            if len(wanted) > CLIENT_LINKS_APART and getattr(self.links, "runs_server", False):
                servers = -(-len(wanted) // CLIENT_LINKS_PER_SERVER)
                self.client_links = await asyncio.gather(*(asyncio.to_thread(
                    Links.embedded, self.folder.toxiproxy_log.with_name(f"toxiproxy-clients{k}.log"))
                    for k in range(servers)))
                await asyncio.gather(*(self._proxies(wanted[k::servers], links)
                                       for k, links in enumerate(self.client_links)))
            else:
                await self._proxies(wanted, self.links)
        except BaseException:
            await self.close()
            raise
        return self

    async def _start_store(self) -> None:
        """A PostgreSQL server for this run (logs under the run folder), and a link to it per node."""
        server = PostgresServer(**self._placed(self.names.STORE, factory=False))
        self.store = StoreProcess(server, self.names.STORE)
        await asyncio.to_thread(server.start)
        await asyncio.to_thread(server.create_database, STORE_DATABASE)
        for n in range(self.plan.nodes):
            await self._proxy(self.names.store_link(n), f"{server.host}:{server.port}")

    async def _start_etcd(self) -> None:
        """The run's etcd members, and a link from every node and gate to each."""
        places = [(p["host"], p["prefix"]) for p in (self._placed(self.names.etcd_member(j), factory=False)
                                                   for j in range(self.plan.etcd)) if p]
        self.etcd = EtcdCluster(self.plan.etcd, places=places)
        await asyncio.to_thread(self.etcd.start)
        self.etcd_members = [EtcdMemberProcess(self.etcd, j, self.names.etcd_member(j)) for j in range(self.plan.etcd)]
        for server in self.names.servers():
            for j, endpoint in enumerate(self.etcd.endpoints):
                await self._proxy(self.names.etcd_link(server, j), endpoint)

    def _clock_file(self, server: str) -> Path | None:
        """Where libfaketime reads a server's clock, when the plan runs them under it."""
        if not self.plan.faketime:
            return None
        folder = self.folder.clock
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{server}.faketime"

    def _etcd_args(self, server: str) -> list[str]:
        if not self.plan.etcd:
            return []
        endpoints = ",".join(self.addr_of(self.names.etcd_link(server, j)) for j in range(self.plan.etcd))
        return ["--etcd", endpoints, "--lease-ttl", f"{self.plan.lease_ttl:g}"]

    def _store_args(self, node: int) -> list[str]:
        if self.plan.store == "sqlite":
            return ["--store", "sqlite", "--data-dir", str(self.folder.data / self.names.node(node))]
        if self.plan.store == "postgres":
            link = self.addr_of(self.names.store_link(node))
            return ["--store", f"postgresql://postgres@{link}/{STORE_DATABASE}",
                    "--store-timeout", "2"]
        return ["--store", self.plan.store]

    def _placed(self, part: str, factory: bool = True) -> dict[str, Any]:
        """Where a process runs: its own namespace and address, with ``network: namespaces`` (and, for a node
        or gate, how to reach its loopback there: its fault control)."""
        if self.network is None:
            return {}
        net = self.network
        placed = {"host": net.addr(part), "prefix": tuple(net.exec_argv(part))}
        if factory:
            placed["socket_factory"] = lambda info: net.socket_in(part, info[0], info[1], info[2])
        return placed

    async def _proxy(self, name: str, upstream: str | None) -> None:
        assert upstream
        listen = f"{self.network.host_addr if self.network else '127.0.0.1'}:0"  # reachable from the namespaces
        self.proxies[name] = await asyncio.to_thread(self.links.create, self.prefix + name, upstream, listen)

    async def _proxies(self, wanted: list[tuple[str, str]], links: Any) -> None:
        """Many proxies (name, upstream) at once, on ``links``: one API call however many."""
        if not wanted:
            return
        listen = f"{self.network.host_addr if self.network else '127.0.0.1'}:0"
        made = await asyncio.to_thread(links.create_many, [(self.prefix + n, u, listen) for n, u in wanted])
        self.proxies.update((name, link) for (name, _), link in zip(wanted, made))

    async def close(self) -> None:
        """Stop gates, then nodes, then the store, then delete the proxies; never raises for a dead one."""
        await asyncio.gather(*(p.stop() for p in self.gates + self.nodes), return_exceptions=True)
        if self.store is not None:
            await self._keep_store_log()
            await asyncio.gather(self.store.stop(), return_exceptions=True)
        if self.etcd is not None:
            await self._keep_etcd_logs()
            await asyncio.to_thread(self.etcd.stop)
        for link in list(self.proxies.values()):
            if any(link.links is own for own in self.client_links):
                continue  # they go with their server
            try:
                await asyncio.to_thread(link.delete)
            except Exception:  # noqa: BLE001 - the server may already be gone
                pass
        self.proxies.clear()
        for own in self.client_links:
            await asyncio.to_thread(own.close)
        self.client_links = []
        if self.network is not None:
            await asyncio.to_thread(self.network.close)

    async def __aenter__(self) -> "Topology":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- addressing ----------------------------------------------------------
    def addr_of(self, link_name: str) -> str:
        """The address to dial to go through a link (its proxy's listen address)."""
        return self.proxies[link_name].listen

    def client_addr(self, client: str) -> str:
        return self.addr_of(self.names.client_link(client))

    def client_link(self, client: str) -> Any:
        """The proxy in front of a client's gate: the link its faults act on."""
        return self.get(self.names.client_link(client))

    # -- the fault injector's view: links by name, processes by name ---------
    def get(self, link_name: str) -> Any:
        return self.proxies[link_name]

    def process(self, name: str) -> ServerProcess | StoreProcess | EtcdMemberProcess:
        for proc in [*self.nodes, *self.gates, *([self.store] if self.store else []), *self.etcd_members]:
            if proc.name == name:
                return proc
        raise KeyError(f"no process named {name!r}")

    async def _keep_store_log(self) -> None:
        """PostgreSQL's own log goes with the run (beside, not among, the JSON logs the checker reads)."""
        assert self.store is not None
        server = self.store.server
        if server.root is not None and server.log_path.exists():
            folder = self.folder.store_logs
            folder.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(lambda: (folder / "postgres.log").write_bytes(server.log_path.read_bytes()))

    async def _keep_etcd_logs(self) -> None:
        assert self.etcd is not None
        folder = self.folder.etcd_logs
        folder.mkdir(parents=True, exist_ok=True)
        for m in self.etcd.members:
            if m.log.exists():
                await asyncio.to_thread(lambda m=m: (folder / m.log.name).write_bytes(m.log.read_bytes()))

    async def terminate(self, name: str) -> None:
        """A clean stop (SIGTERM) of one part: a node drains and leaves the cluster; a store keeps its data."""
        proc = self.process(name)
        await (proc.stop() if isinstance(proc, ServerProcess) else proc.shutdown())

    # -- the server kinds' view: fault points and clocks, by process name -------------------
    def server(self, name: str) -> ServerProcess:
        proc = self.process(name)
        if not isinstance(proc, ServerProcess):
            raise KeyError(f"{name!r} is not a node or gate")
        return proc

    async def add_fault_point(self, name: str, spec: Mapping[str, Any]) -> None:
        """``spec["gate"]`` may name a gate process (``gate0``): its advertise address is what a node knows."""
        spec = dict(spec)
        if spec.get("gate", "").startswith("gate") and spec["gate"][4:].isdigit():
            spec["gate"] = self.server(spec["gate"]).addr or spec["gate"]
        await self.server(name).add_fault_point(spec)

    async def remove_fault_point(self, name: str, fault_id: str) -> None:
        await self.server(name).remove_fault_point(fault_id)

    async def set_clock(self, name: str, jump_s: float, rate: float) -> None:
        await self.server(name).set_clock(jump_s, rate)

    # -- the IP-layer kinds' view (chaos.faults.net_kinds): nftables tables in the servers' namespaces ------------
    async def net_drop_link(self, link: str, stream: str, percent: float, table: str) -> dict[str, Any]:
        """Drop ``stream`` of ``link`` (a ``percent`` of its packets) where it is dialled from."""
        assert self.network is not None
        dialler = self.names.ends()[link][0]
        if dialler not in self.names.processes():
            raise ValueError(f"{link}: {dialler} is not in a namespace of the run (clients stay on the harness's side)")
        proxy = self.proxies[link]
        host, _, port = proxy.listen.rpartition(":")
        rules = await self.network.drop(dialler, table, link_matches(host, int(port), stream), percent)
        return {"namespace": self.network.opened.namespace(dialler), "part": dialler, "table": table,
                "link": link, "dials": proxy.listen, "stream": stream, "percent": percent, "rules": rules}

    async def net_isolate(self, server: str, table: str) -> dict[str, Any]:
        assert self.network is not None
        if server not in self.names.processes():
            raise ValueError(f"{server} is not in a namespace of the run (nodes, gates, the store, etcd are)")
        rules = await self.network.isolate(server, table)
        cuts = [{"link": link, "dials": self.proxies[link].listen} for link, (a, b) in self.names.ends().items()
                if server in (a, b) and link in self.proxies]  # each link it was on, whose dialler may notice
        return {"namespace": self.network.opened.namespace(server), "part": server, "table": table, "rules": rules,
                "cuts": cuts}

    async def net_heal(self, loaded: dict[str, Any]) -> int:
        """Remove what a net kind loaded; the packets it dropped."""
        if self.network is None or self.network.plan is None:
            return 0
        return await asyncio.to_thread(self.network.unload, loaded["part"], loaded["table"])

    # -- evidence for the checker --------------------------------------------
    def log_files(self) -> dict[str, Path]:
        """Every incarnation's log: ``node0`` for the first, ``node0#2`` after a restart."""
        return {log_file_key(path): path for proc in self.nodes + self.gates for path in proc.log_paths}

    async def scrape_metrics(self) -> dict[str, dict[str, float]]:
        """Counters of every process alive now, keyed like :meth:`log_files`."""
        out: dict[str, dict[str, float]] = {}
        for proc in self.nodes + self.gates:
            samples = await asyncio.to_thread(proc.scrape_metrics)
            if samples is not None:
                out[proc.log_name] = samples
        return out
