"""The cluster bench's steady state: N senders as fast as acknowledged, static membership against etcd;
acknowledgements per second, send and push latency, and each process's CPU."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from dataclasses import dataclass

from system.client import ChatClient, Observer, SendFailed
from system.pb import chat_pb2
from system.room import ROOM_PREFIX
from system.wait import wait_until
from tests.bench.cluster_procs import CLIENT_BUFFER, CLIENTS, STEADY_ROOMS, Cluster, Env, say, start_cluster
from tests.bench.failover import lines_of
from tests.bench.measure import percentile

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
                       env: Env) -> Steady:
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


