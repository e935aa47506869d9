"""The cluster bench's failover measurement: SIGKILL the room's owner, time the failover and the failback,
and split each into its parts from the processes' logs (see :class:`Parts`)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from system import log
from system.client import ChatClient, SendFailed
from system.contract import ts_seconds
from system.room import ROOM_PREFIX
from system.wait import wait_until
from tests.bench.cluster_procs import FAILOVER_ROOM, Cluster, Env, say, start_cluster
from tests.bench.measure import median, stats

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


async def failover_rounds(index: int, ttl: float, rounds: int, interval: float, env: Env) -> Failover:
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



def failover_table(failovers: list[Failover]) -> str:
    rows = ["| TTL asked (granted) s | rounds | failover min / median / max (s) | median ÷ TTL | max ÷ TTL "
            "| failback min / median / max (s) | sends failed |", "|---|---:|---:|---:|---:|---:|---:|"]
    for f in failovers:
        o, b = stats([r.failover for r in f.rounds]), stats([r.failback for r in f.rounds])
        rows.append(f"| {f.ttl:g} ({f.granted:g}) | {len(f.rounds)} | {o[0]:.2f} / {o[1]:.2f} / {o[2]:.2f} "
                    f"| {o[1] / f.ttl:.2f} | {o[2] / f.ttl:.2f} | {b[0]:.2f} / {b[1]:.2f} / {b[2]:.2f} "
                    f"| {len(f.failures)} |")
    rows += ["", "Where the failover time went (medians, s; `Parts` in tests/bench/failover.py):", "",
             "| TTL s | last ack → kill | kill → gate drops node | kill → new owner drops it "
             "| client backoff after | route → stored | stored → ack | client retries |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for f in failovers:
        parts = [r.parts for r in f.rounds if r.parts]
        if parts:
            med = {k: median(getattr(p, k) for p in parts)
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


