"""``python -m chaos.cluster_bench``: room failover against the lease TTL, and steady state on etcd vs static.

Every part is a real process on 127.0.0.1: etcd (one member), PostgreSQL,
3 ``pushchat node`` and 2 ``pushchat gate`` processes; the clients run in
this process. Two measurements:

- **failover**, per lease TTL: a client sends to General one message at a
  time (every ``--interval`` s) through gate0; each round SIGKILLs the room's
  owner and measures, as the client sees it, the time from the last
  acknowledgement the old owner gave to the first one another node gave
  (the checker's definition, client side). The killed node is then started
  again; rendezvous placement gives it the room back, so the room moves a
  second time (the *failback*, measured the same way), and the next round
  starts once both gates have the node back and sends flow through it.
  The nodes', gates' and the client's logs split each failover into its
  parts (see :class:`Parts`).
- **steady state**, static (``--nodes``/``--peers``) against etcd
  (``--etcd``), same processes otherwise: N senders, each sending one
  message at a time as fast as acknowledged, to a few rooms, for D seconds;
  acknowledgements per second, send latency (p50, p99), and push latency
  (send call start → the push reaching a member on each gate), with the CPU
  each process used.

Run on demand, never as a test: progress on stderr, tables on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from system import log, placement
from system.contract import ts_seconds
from system.client import ChatClient, Observer, SendFailed
from system.pb import chat_pb2
from system.room import ROOM_PREFIX
from system.wait import wait_until

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


# -- processes and their CPU -----------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pid: int, tree: bool = False) -> float:
    """User + system CPU of ``pid`` (and, with ``tree``, of its descendants), reaped children included."""
    pids = [pid]
    if tree:
        parents: dict[int, list[int]] = defaultdict(list)
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and (fields := _stat(int(entry.name))):
                parents[int(fields[1])].append(int(entry.name))
        i = 0
        while i < len(pids):
            pids += parents.get(pids[i], [])
            i += 1
    total = 0.0
    for p in pids:
        fields = _stat(p)
        if fields:  # fields[11:15]: utime stime cutime cstime (after pid and comm)
            total += sum(int(x) for x in fields[11:15]) / _TICK
    return total


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
        out = {p.name: cpu_seconds(p.proc.pid) for p in [*self.nodes, *self.gates] if p.alive}
        out.update({name: cpu_seconds(pid, tree) for name, (pid, tree) in self.extra_pids.items()})
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
    from chaos.infra.postgres import free_port
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


def stats(values: Sequence[float]) -> tuple[float, float, float]:
    """min, median, max."""
    return min(values), statistics.median(values), max(values)


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


# -- failover ---------------------------------------------------------------------------------------------

@dataclass
class Ack:
    cmid: str
    seq: int
    sent: float     # wall clock (time.time()): comparable with the servers' log lines
    acked: float
    by: str = ""    # the node that answered it, from the nodes' logs


@dataclass
class Parts:
    """Where one failover's time went (seconds, from the logs' wall clocks).

    - ``before_kill``: the old owner's last acknowledgement → the SIGKILL (the send period, at most);
    - ``lease``: SIGKILL → gate0 drops the node (etcd expired the lease, the watch told the gate);
    - ``owner_saw``: SIGKILL → the new owner drops the node from its own view (it refuses until then);
    - ``backoff``: gate0 dropped the node → the client's next attempt (its retry backoff still running;
      0 when the attempt was already waiting at the gate for the route to change);
    - ``serve``: that attempt → the new owner's first store (route, claim and load the room, write);
    - ``reply``: that store → the acknowledgement at the client.
    """

    before_kill: float
    lease: float
    owner_saw: float
    backoff: float
    serve: float
    reply: float
    retries: int


@dataclass
class Back:
    """Where a failback's time went: the restarted node registers in etcd before it listens, and gate0 dials
    it as soon as it registers; probes refused meanwhile back off (gRPC's and the gate's own backoff)."""

    listening: float    # registered → its first gate stream (it serves from then on)
    gate_up: float      # registered → gate0's stream to it is up (gate0 routes the room to it from then on)
    refused: int        # gate0's probes that found it not listening yet


@dataclass
class Round:
    ttl: float
    victim: str
    new_owner: str
    failover: float
    failback: float
    parts: Parts | None
    back: Back | None = None


class Sender:
    """One client sending to one room, one message at a time, every ``interval`` s; each ack kept."""

    def __init__(self, client: ChatClient, room: str, interval: float, tag: str) -> None:
        self.client, self.room, self.interval, self.tag = client, room, interval, tag
        self.acks: list[Ack] = []
        self.failures: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._stop = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"sender {self.tag}")

    async def stop(self) -> None:
        self._stop = True
        if self._task:
            await self._task

    async def _run(self) -> None:
        i = 0
        while not self._stop:
            i += 1
            cmid = f"{self.tag}-{i}"
            began, wall = time.monotonic(), time.time()
            try:
                reply = await self.client.send(self.room, f"{self.tag} {i}", client_msg_id=cmid)
            except SendFailed as exc:
                self.failures.append(f"{cmid}: {exc.details()}")
                continue
            self.acks.append(Ack(cmid, reply.seq, wall, time.time()))
            await asyncio.sleep(max(0.0, began + self.interval - time.monotonic()))  # the send rate itself

    def acked_since(self, wall: float) -> int:
        return sum(1 for a in self.acks if a.acked > wall)


def _read(path: Path) -> list[dict[str, Any]]:
    """A log's lines with ``ts`` as unix seconds, the clock the acks are timed by."""
    return [dict(line, ts=ts_seconds(line.get("ts")) or 0.0) for line in log.read(str(path))]


def stored_lines(cluster: Cluster, room: str) -> list[dict[str, Any]]:
    """Every ``message_stored`` line of ``room`` from every node incarnation, with ``node`` added."""
    out = []
    for node in cluster.nodes:
        for path in node.log_paths:
            if path.exists():
                out += [dict(line, node=node.name) for line in _read(path)
                        if line.get("event") == "message_stored" and line.get("room") == room]
    return out


def attribute(acks: list[Ack], stored: list[dict[str, Any]]) -> None:
    """Who answered each ack: the node whose ``message_stored`` line for its id came last before it."""
    by_cmid: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for line in stored:
        by_cmid[str(line.get("client_msg_id"))].append((float(line["ts"]), line["node"]))
    for ack in acks:
        before = [(ts, node) for ts, node in by_cmid.get(ack.cmid, []) if ts <= ack.acked + 0.001]
        ack.by = max(before)[1] if before else "?"


def first_line(lines: Iterable[dict[str, Any]], after: float, **match: Any) -> dict[str, Any] | None:
    found = [ln for ln in lines if ln.get("ts", 0) > after and all(ln.get(k) == v for k, v in match.items())]
    return min(found, key=lambda ln: ln["ts"]) if found else None


def lines_of(proc: Any) -> list[dict[str, Any]]:
    return [line for path in proc.log_paths if path.exists() for line in _read(path)]


def measure_round(cluster: Cluster, acks: list[Ack], stored: list[dict[str, Any]], client_log: Path,
                  ttl: float, victim: Any, killed: float, restarted: float) -> Round:
    """One round's failover and failback, and the failover's parts, from the acks and the logs."""
    victim_name = victim.name
    new = next((a for a in acks if a.acked > killed and a.by not in (victim_name, "?")), None)
    if new is None:
        raise RuntimeError(f"no node answered after {victim_name} was killed")
    old = max((a for a in acks if a.by == victim_name and a.acked < new.acked), key=lambda a: a.acked)
    back = next((a for a in acks if a.acked > restarted and a.by == victim_name), None)
    if back is None:
        raise RuntimeError(f"{victim_name} never answered again after its restart")
    interim = max((a for a in acks if a.by != victim_name and a.acked < back.acked), key=lambda a: a.acked)
    parts = None
    gate = lines_of(cluster.gates[0])
    left = first_line(gate, killed, event="node_left", node=victim.addr)
    new_owner = next(n for n in cluster.nodes if n.name == new.by)
    seen = next((ln for ln in lines_of(new_owner) if ln.get("ts", 0) > killed
                 and ln.get("event") == "membership_changed" and victim.addr not in ln.get("members", [victim.addr])),
                None)
    stored_at = next(float(ln["ts"]) for ln in stored if ln["client_msg_id"] == new.cmid and ln["node"] == new.by)
    retries = [ln for ln in (_read(client_log) if client_log.exists() else [])
               if ln.get("event") == "call_retry" and killed < ln.get("ts", 0) < new.acked]
    if left and seen:
        last = max(retries, key=lambda ln: ln["ts"]) if retries else None
        attempt = last["ts"] + float(last.get("wait", 0.0)) if last else left["ts"]
        parts = Parts(before_kill=killed - old.acked, lease=left["ts"] - killed, owner_saw=seen["ts"] - killed,
                      backoff=max(0.0, attempt - left["ts"]), serve=stored_at - max(attempt, left["ts"]),
                      reply=new.acked - stored_at, retries=len(retries))
    came = [ln for ln in lines_of(victim) if ln.get("ts", 0) > restarted]
    registered = first_line(came, restarted, event="membership_registered")
    serving = first_line(came, restarted, event="gate_registered")
    up = registered and first_line(gate, registered["ts"], event="node_stream_up", node=victim.addr)
    back_parts = None
    if registered and serving and up:
        refused = sum(1 for ln in gate if ln.get("event") == "node_stream_down" and ln.get("node") == victim.addr
                      and registered["ts"] < ln.get("ts", 0) < up["ts"])
        back_parts = Back(serving["ts"] - registered["ts"], up["ts"] - registered["ts"], refused)
    return Round(ttl, victim_name, new.by, new.acked - old.acked, back.acked - interim.acked, parts, back_parts)


@dataclass
class Failover:
    """One TTL's rounds, what etcd granted, and every send of its client."""

    ttl: float
    granted: float
    rounds: list[Round]
    acks: list[Ack]
    failures: list[str]


async def failover_rounds(index: int, ttl: float, rounds: int, interval: float, env: "Env") -> Failover:
    """``rounds`` SIGKILLs of General's owner in one cluster (the ``index``-th) on etcd with lease TTL ``ttl``."""
    name = f"failover{index}-ttl{ttl:g}"
    logs = env.logs / name
    dsn = await asyncio.to_thread(env.postgres.create_database, name.replace("-", "_").replace(".", "_"))
    say(f"failover, TTL {ttl:g} s: starting 3 nodes and 2 gates on etcd…")
    cluster = await start_cluster("etcd", dsn, logs, etcd=env.etcd.endpoints, ttl=ttl, prefix=f"/{name}")
    client_log = logs / "sender.log"  # its call_retry lines: how long it backed off
    handler, logger = log.FilePerUser({"sender": client_log}), logging.getLogger("pushchat")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    client = ChatClient(cluster.gates[0].addr, "sender", outage_wait=max(30.0, 10 * ttl))
    sender = Sender(client, FAILOVER_ROOM, interval, f"ttl{ttl:g}")
    marks: list[tuple[Any, float, float]] = []  # (victim, killed, restarted)
    try:
        await client.join(FAILOVER_ROOM)
        sender.start()
        for r in range(rounds):
            settled = time.time()
            await wait_until(lambda: sender.acked_since(settled) >= 10, 30.0, "10 acknowledged sends")
            # The kill lands anywhere in the send period, not right after an acknowledgement.
            await asyncio.sleep(random.uniform(0, interval))
            victim = cluster.owner(ROOM_PREFIX + FAILOVER_ROOM)
            killed = time.time()
            await victim.kill()
            await wait_until(lambda: sender.acked_since(killed) >= 3, 30.0 + 5 * ttl, "sends acknowledged again")
            restarted = time.time()
            await victim.start()
            await wait_until(lambda: any(ln.get("event") == "message_stored" and ln.get("room") == FAILOVER_ROOM
                                         for ln in _read(victim.log_paths[-1])),
                             30.0, f"{victim.name} to serve {FAILOVER_ROOM} again", interval=0.05)
            await cluster.gates_see_all_nodes(30.0)
            marks.append((victim, killed, restarted))
            say(f"  round {r + 1}/{rounds}: killed {victim.name}, restarted, it serves {FAILOVER_ROOM} again")
        last = time.time()
        await wait_until(lambda: sender.acked_since(last) >= 5, 30.0, "5 more acknowledged sends")
    finally:
        await sender.stop()
        await client.close()
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()
        await cluster.stop()
    stored = stored_lines(cluster, FAILOVER_ROOM)
    attribute(sender.acks, stored)
    out = [measure_round(cluster, sender.acks, stored, client_log, ttl, *mark) for mark in marks]
    granted = [ln.get("ttl") for n in cluster.nodes for ln in lines_of(n) if ln.get("event") == "membership_registered"]
    for rnd in out:
        say(f"  {rnd.victim} → {rnd.new_owner}: failover {rnd.failover:.2f} s, failback {rnd.failback:.2f} s")
    return Failover(ttl, float(max(granted)) if granted else float("nan"), out, sender.acks, sender.failures)


# -- steady state ----------------------------------------------------------------------------------------

class Pushes(Observer):
    """A member's pushes: arrival time of each message id."""

    def __init__(self, arrivals: dict[str, list[float]]) -> None:
        self.arrivals = arrivals

    def on_push(self, room: str, message: chat_pb2.ChatMessage) -> None:
        self.arrivals[message.client_msg_id].append(time.monotonic())


@dataclass
class Steady:
    mode: str
    run: int
    acks_per_s: float
    send_p50: float
    send_p99: float
    push_p50: float
    push_p99: float
    pushes_missing: int     # pushes of messages sent in the window that no member got
    pushes_dropped: int     # push_dropped lines in the gates' logs, the whole run
    failed: int
    placement: str          # rooms per node
    cpu: dict[str, float]   # process -> share of one core over the window
    acks: int


def spread_rooms(cluster: Cluster, count: int) -> list[str]:
    """``count`` of :data:`STEADY_ROOMS` spread as evenly over the nodes as placement allows (in both modes)."""
    def spread(rooms: tuple[str, ...]) -> tuple[int, int]:
        per = [sum(cluster.owner(ROOM_PREFIX + r) is n for r in rooms) for n in cluster.nodes]
        return min(per), -max(per)
    return list(max(itertools.combinations(STEADY_ROOMS, count), key=spread))


async def steady_state(mode: str, run: int, senders: int, rooms: int, duration: float, warmup: float,
                       env: "Env") -> Steady:
    dsn = await asyncio.to_thread(env.postgres.create_database, f"steady_{mode}_{run}")
    say(f"steady state, {mode} (run {run}): starting 3 nodes and 2 gates…")
    cluster = await start_cluster(mode, dsn, env.logs / f"steady-{mode}-{run}", etcd=env.etcd.endpoints,
                                  prefix=f"/steady-{mode}-{run}", node_args=["--rooms", ",".join(STEADY_ROOMS)],
                                  gate_args=["--client-buffer", str(CLIENT_BUFFER)])
    cluster.extra_pids["postgres"] = (env.postgres.proc.pid, True)
    if mode == "etcd":
        cluster.extra_pids["etcd"] = (env.etcd.members[0].proc.pid, False)
    names = spread_rooms(cluster, rooms)
    where = defaultdict(int)
    for room in names:
        where[cluster.owner(ROOM_PREFIX + room).name] += 1
    arrivals: dict[str, list[float]] = defaultdict(list)
    listeners = [ChatClient(g.addr, f"member{i}", observers=[Pushes(arrivals)])
                 for i, g in enumerate(cluster.gates)]
    clients = [ChatClient(cluster.gates[i % len(cluster.gates)].addr, f"sender{i}") for i in range(senders)]
    started: dict[str, float] = {}
    sends: list[tuple[float, float]] = []  # (start, ack), monotonic
    failed = 0
    try:
        for member in listeners:
            await member.connect()
            for room in names:
                await member.join(room)

        async def send_loop(i: int, until: float) -> None:
            nonlocal failed
            n = 0
            while time.monotonic() < until:
                n += 1
                cmid = f"s{i}-{n}"
                began = started[cmid] = time.monotonic()
                try:
                    await clients[i].send(names[i % len(names)], f"sender{i} {n}", cmid)
                except SendFailed:
                    failed += 1
                    continue
                sends.append((began, time.monotonic()))

        say(f"  {senders} senders over {', '.join(names)} for {warmup:g} + {duration:g} s…")
        t0 = time.monotonic()
        window = (t0 + warmup, t0 + warmup + duration)
        cpu0: dict[str, float] = {}

        async def mark_window() -> None:
            await asyncio.sleep(warmup)  # the window opens warmup s after the start, by definition
            cpu0.update(cluster.cpu())
        marking = asyncio.create_task(mark_window())
        await asyncio.gather(*(send_loop(i, window[1]) for i in range(senders)))
        await marking
        cpu1, elapsed = cluster.cpu(), time.monotonic() - window[0]
        in_window = {cmid: t for cmid, t in started.items() if window[0] <= t < window[1]}
        expected = len(listeners)
        await wait_until(lambda: all(len(arrivals.get(c, ())) >= expected for c in in_window), 10.0, fail=False)
    finally:
        for c in [*clients, *listeners]:
            await c.close()
        await cluster.stop()
    dropped = sum(1 for g in cluster.gates for ln in lines_of(g) if ln.get("event") == "push_dropped")
    acked = [(s, a) for s, a in sends if window[0] <= s < window[1]]
    send_ms = [(a - s) * 1000 for s, a in acked]
    push_ms = [(t - in_window[c]) * 1000 for c in in_window for t in arrivals.get(c, ())]
    missing = sum(max(0, expected - len(arrivals.get(c, ()))) for c in in_window)
    cpu = {name: (cpu1[name] - cpu0.get(name, 0.0)) / elapsed for name in cpu1}
    result = Steady(mode, run, len(acked) / duration, percentile(send_ms, 50), percentile(send_ms, 99),
                    percentile(push_ms, 50), percentile(push_ms, 99), missing, dropped, failed,
                    " ".join(f"{where[n.name]}" for n in cluster.nodes), cpu, len(acked))
    say(f"  {result.acks_per_s:.0f} acks/s, send p50 {result.send_p50:.1f} ms, push p50 {result.push_p50:.1f} ms")
    return result


def steady_table(results: list[Steady], senders: int, rooms: int, duration: float) -> str:
    rows = [f"{senders} senders (one message at a time each) over {rooms} rooms, {duration:g} s window; "
            "push = send call start → the push on a member's stream (one member per gate, in every room; "
            f"gates with --client-buffer {CLIENT_BUFFER})", "",
            "| mode | run | rooms on node0 node1 node2 | acks/s | send p50 (ms) | send p99 (ms) | push p50 (ms) "
            "| push p99 (ms) | pushes missing (dropped by gates) | sends failed |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        rows.append(f"| {r.mode} | {r.run} | {r.placement} | {r.acks_per_s:,.0f} | {r.send_p50:.1f} "
                    f"| {r.send_p99:.1f} | {r.push_p50:.1f} | {r.push_p99:.1f} | {r.pushes_missing} "
                    f"({r.pushes_dropped}) | {r.failed} |")
    rows += ["", "CPU over the window, in cores (1.00 = one core busy), and CPU per acknowledged message:", "",
             "| mode | run | clients (this process) | gates | nodes | busiest node | postgres | etcd | total "
             "| CPU ms per ack |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        gates = sum(v for k, v in r.cpu.items() if k.startswith("gate"))
        nodes = [v for k, v in r.cpu.items() if k.startswith("node")]
        total = sum(r.cpu.values())
        per_ack = total * duration / r.acks * 1000 if r.acks else float("nan")
        rows.append(f"| {r.mode} | {r.run} | {r.cpu.get(CLIENTS, 0):.2f} | {gates:.2f} | {sum(nodes):.2f} "
                    f"| {max(nodes, default=0):.2f} | {r.cpu.get('postgres', 0):.2f} | {r.cpu.get('etcd', 0):.2f} "
                    f"| {total:.2f} | {per_ack:.1f} |")
    return "\n".join(rows)


# -- the run ---------------------------------------------------------------------------------------------

@dataclass
class Env:
    logs: Path
    etcd: Any       # chaos.infra.etcd.EtcdCluster
    postgres: Any   # chaos.infra.postgres.PostgresServer


@dataclass
class Report:
    failovers: list[Failover]
    steady: list[Steady]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


async def measure(args: argparse.Namespace, logs: Path) -> Report:
    """Start etcd and PostgreSQL, measure what ``args`` ask for, stop them; every process logs under ``logs``."""
    from chaos.infra.etcd import EtcdCluster
    from chaos.infra.postgres import PostgresServer

    load = os.getloadavg()
    etcd, postgres = EtcdCluster(1, election_ms=args.etcd_election_ms), PostgresServer()
    say("starting etcd and PostgreSQL…")
    try:
        await asyncio.gather(asyncio.to_thread(etcd.start), asyncio.to_thread(postgres.start))
        env = Env(logs, etcd, postgres)
        failovers = [await failover_rounds(i, ttl, args.rounds, args.interval, env)
                     for i, ttl in enumerate(args.ttls, 1)]
        steady = [await steady_state(mode, run, args.senders, args.rooms, args.duration, args.warmup, env)
                  for run in range(1, args.repeat + 1) for mode in ("static", "etcd")] if args.duration > 0 else []
    finally:
        await asyncio.gather(asyncio.to_thread(etcd.stop), asyncio.to_thread(postgres.stop), return_exceptions=True)
    return Report(failovers, steady, load, os.getloadavg())


def failover_table(failovers: list[Failover]) -> str:
    rows = ["| TTL asked (granted) s | rounds | failover min / median / max (s) | median ÷ TTL | max ÷ TTL "
            "| failback min / median / max (s) | sends failed |", "|---|---:|---:|---:|---:|---:|---:|"]
    for f in failovers:
        o, b = stats([r.failover for r in f.rounds]), stats([r.failback for r in f.rounds])
        rows.append(f"| {f.ttl:g} ({f.granted:g}) | {len(f.rounds)} | {o[0]:.2f} / {o[1]:.2f} / {o[2]:.2f} "
                    f"| {o[1] / f.ttl:.2f} | {o[2] / f.ttl:.2f} | {b[0]:.2f} / {b[1]:.2f} / {b[2]:.2f} "
                    f"| {len(f.failures)} |")
    rows += ["", "Where the failover time went (medians, s; `Parts` in chaos/cluster_bench.py):", "",
             "| TTL s | last ack → kill | kill → gate drops node | kill → new owner drops it "
             "| client backoff after | route → stored | stored → ack | client retries |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for f in failovers:
        parts = [r.parts for r in f.rounds if r.parts]
        if parts:
            med = {k: statistics.median(getattr(p, k) for p in parts)
                   for k in ("before_kill", "lease", "owner_saw", "backoff", "serve", "reply", "retries")}
            rows.append(f"| {f.ttl:g} | {med['before_kill']:.3f} | {med['lease']:.2f} | {med['owner_saw']:.2f} "
                        f"| {med['backoff']:.2f} | {med['serve']:.3f} | {med['reply']:.3f} | {med['retries']:g} |")
    rows += ["", "Each round (failback: the killed node, restarted, registers in etcd, then listens; gate0 dials "
             "it from the registration on):", "",
             "| TTL s | victim → new owner | failover s | kill → gate drops node s | client backoff after s "
             "| failback s | registered → listening s | registered → gate0 stream up s | probes refused |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for f in failovers:
        for r in f.rounds:
            lease = f"{r.parts.lease:.2f}" if r.parts else "?"
            backoff = f"{r.parts.backoff:.2f}" if r.parts else "?"
            back = (f"{r.back.listening:.2f} | {r.back.gate_up:.2f} | {r.back.refused}" if r.back else "? | ? | ?")
            rows.append(f"| {f.ttl:g} | {r.victim} → {r.new_owner} | {r.failover:.2f} | {lease} | {backoff} "
                        f"| {r.failback:.2f} | {back} |")
    return "\n".join(rows)


def render(report: Report, args: argparse.Namespace) -> str:
    out: list[str] = []
    if report.failovers:
        out += [f"## Failover after SIGKILL of the room's owner (a send every {args.interval * 1000:g} ms)", "",
                failover_table(report.failovers), ""]
    if report.steady:
        out += ["## Steady state: static against etcd", "",
                steady_table(report.steady, args.senders, args.rooms, args.duration), ""]
    b, a = report.load_before, report.load_after
    out.append(f"Load average (1, 5, 15 min): {b[0]:.2f} {b[1]:.2f} {b[2]:.2f} at the start, "
               f"{a[0]:.2f} {a[1]:.2f} {a[2]:.2f} at the end; {os.cpu_count()} CPUs.")
    return "\n".join(out)


async def run(args: argparse.Namespace) -> int:
    keep = getattr(args, "logs", None) is not None
    logs = args.logs if keep else Path(tempfile.mkdtemp(prefix="pushchat-cluster-bench-"))
    logs.mkdir(parents=True, exist_ok=True)
    try:
        report = await measure(args, logs)
    finally:
        if keep:
            say(f"logs: {logs}")
        else:
            shutil.rmtree(logs, ignore_errors=True)
    print(render(report, args), flush=True)
    return 0


def _ttls(text: str) -> list[float]:
    try:
        ttls = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: want seconds, comma-separated (1,2,4)") from None
    if any(t < 1 for t in ttls):
        raise argparse.ArgumentTypeError("a lease TTL is at least 1 s (etcd counts whole seconds)")
    return ttls


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m chaos.cluster_bench", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Room failover after a node's SIGKILL against the lease TTL, and steady-state sends on etcd "
                    "against static membership: etcd, PostgreSQL, 3 nodes and 2 gates as real processes.")
    p.add_argument("--ttls", type=_ttls, default="1,2,4", help="lease TTLs to measure failover for (s); "
                   "'' skips the failover part")
    p.add_argument("--rounds", type=int, default=5, help="kills per TTL")
    p.add_argument("--interval", type=float, default=0.05, help="the failover sender's send period (s)")
    p.add_argument("--etcd-election-ms", type=int, default=ETCD_ELECTION_MS,
                   help="etcd's election timeout: its shortest lease is 1.5 of it, in whole seconds (etcd's own "
                   "default, 1000, makes a 1 s TTL a 2 s lease)")
    p.add_argument("--duration", type=float, default=10.0, help="steady-state window per mode (s); 0 skips it")
    p.add_argument("--warmup", type=float, default=2.0, help="steady-state sending before the window opens (s)")
    p.add_argument("--senders", type=int, default=16, help="steady-state concurrent senders")
    p.add_argument("--repeat", type=int, default=2, help="steady-state runs per mode, static and etcd alternating")
    p.add_argument("--rooms", type=int, default=3, help="steady-state rooms the senders spread over (at most "
                   f"{len(STEADY_ROOMS)}; placed as evenly over the 3 nodes as they go)")
    p.add_argument("--logs", type=Path, default=argparse.SUPPRESS,
                   help="keep every process's log here (default: a temporary folder, removed)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.rounds < 1 or args.senders < 1 or args.repeat < 1 or args.interval <= 0:
        parser().error("--rounds, --senders and --repeat must be at least 1, --interval above 0")
    if not 1 <= args.rooms <= len(STEADY_ROOMS):
        parser().error(f"--rooms must be 1 to {len(STEADY_ROOMS)}")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
