"""Benchmark (not a test): what a gate holds, how fan-out scales with room size, many rooms on 2 nodes.

    python -m tests.bench.capacity gate   [--streams 1000,5000,10000] [--workers 4] [--per-channel 1] [--bare]
    python -m tests.bench.capacity fanout [--sizes 100,1000,10000] [--workers 4]
    python -m tests.bench.capacity rooms  [--rooms 1000] [--members 10] [--nodes 1,2]

Real ``pushchat node`` and ``gate`` processes (logs at WARNING), and the
members' ``Register`` streams spread over several measuring processes
(``--workers``, each ``python -m tests.bench.capacity --member-worker``), so
that one Python process reading every stream is no longer the ceiling, as it
is in ``python -m tests.bench.push``. Arrival times are taken on
CLOCK_MONOTONIC, which every process on the machine shares.

- ``gate``: idle streams held by one gate: its RSS growth per stream and its
  CPU while idle, with the default keepalive (a fresh gate for each count).
  ``--bare``: the same against the least a grpc.aio server can hold for a
  stream (the gate's server options, a handler that sends the first message
  and waits on one future): the floor under the gate's figure.
- ``fanout``: one room of N members on one gate; messages sent one at a time
  (latency: send call start to arrival on each member stream, p50/p99, and to
  each message's last arrival, p50), then a burst sent 16 at a time
  (deliveries/s: first send to last arrival; the server's CPU over the burst
  per delivery); the same against the bare grpc.aio baseline of
  ``tests.bench.push``, in the same run (``--systems pushchat`` leaves it out; ``goverse``: Goverse's Go gate).
- ``rooms``: R rooms of M members over 2 gates, on 1 node and then on 2
  nodes: a burst of sends over every room (deliveries/s, latency p50/p99).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from typing import Any

import grpc


from system import auth, metrics
from system.grpcopts import Keepalive
from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc
from system.wait import wait_until
from tests.bench.measure import child_env, cpu_seconds, percentile, rss_kib
from tests.bench.push import STREAMS_PER_CHANNEL, call_request, pushed_messages, start
from tests.bench.capacity_bare import serve_bare
from chaos.infra.goverse_cluster import start_goverse

SEND_CONCURRENCY = 16
OPEN_AT_ONCE = 50  # streams a worker opens together
OPEN_ATTEMPTS = 5  # a member's Register + Join, when cut off with one of RETRIED
RETRIED = (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
LENIENT_PINGS = ("--keepalive-timeout-ms", "30000", "--ping-timeout-ms", "30000")  # a starved process is not cut


# --- a measuring process ----------------------------------------------------------------------------

class MemberWorker:
    """Member streams of one measuring process; arrival times by (room, seq)."""

    def __init__(self) -> None:
        self.channels: list[grpc.aio.Channel] = []
        self.calls: list[Any] = []
        self.readers: list[asyncio.Task[None]] = []
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.total = 0
        self.changed = asyncio.Event()

    async def op_open(self, server: str, members: list[list[Any]], join: bool,
                      per_channel: int = STREAMS_PER_CHANNEL, keepalive: bool = False) -> dict[str, Any]:
        """Open a stream for each ``[index, room]``, ``per_channel`` to a connection; join it to its room when
        ``join``. ``keepalive``: ping as a ChatClient does (``Keepalive()``; the bare baseline server answers
        that with GOAWAY too_many_pings)."""
        stubs: list[gate_pb2_grpc.GateServiceStub] = []
        pings = Keepalive().channel_options() if keepalive else [("grpc.max_receive_message_length", 16 << 20)]
        for i in range(0, len(members), per_channel):
            channel = grpc.aio.insecure_channel(server, options=pings + [("grpc.use_local_subchannel_pool", 1)])
            self.channels.append(channel)
            stubs.append(gate_pb2_grpc.GateServiceStub(channel))
        gate = asyncio.Semaphore(OPEN_AT_ONCE)
        started = time.monotonic()

        retried = 0

        async def one(k: int, index: int, room: str) -> None:
            nonlocal retried
            stub = stubs[k // per_channel]
            session = ((auth.SESSION_HEADER, f"cap-{index}"),)
            for attempt in range(OPEN_ATTEMPTS):  # a stream cut off while thousands open on a loaded machine
                async with gate:
                    call = stub.Register(gate_pb2.Empty(), metadata=session, wait_for_ready=True)
                    registered = gate_pb2.RegisterResponse()
                    try:
                        (await call.read()).Unpack(registered)
                        if join:
                            await stub.CallObject(call_request(room, "Join", chat_pb2.ChatRoom_JoinRequest(
                                user_name=f"member{index}", client_id=registered.client_id)), metadata=session)
                        break
                    except grpc.aio.AioRpcError as exc:
                        call.cancel()
                        if exc.code() not in RETRIED or attempt + 1 == OPEN_ATTEMPTS:
                            raise
                        retried += 1
            self.calls.append(call)
            self.readers.append(asyncio.create_task(self._read(call)))

        await asyncio.gather(*(one(k, index, room) for k, (index, room) in enumerate(members)))
        if retried:
            print(f"capacity_bench: {retried} streams opened again (cut off while opening)", file=sys.stderr)
        return {"opened": len(members), "seconds": time.monotonic() - started}

    async def _read(self, call: Any) -> None:
        try:
            async for now, room, seq in pushed_messages(call, time.monotonic):
                self.arrivals[f"{room}|{seq}"].append(now)
                self.total += 1
                self.changed.set()
        except (grpc.aio.AioRpcError, asyncio.CancelledError):
            pass

    async def op_wait(self, total: int, timeout: float) -> dict[str, Any]:
        """Wait until ``total`` deliveries arrived in all (or ``timeout``); say how many did."""
        deadline = time.monotonic() + timeout
        while self.total < total and time.monotonic() < deadline:
            self.changed.clear()
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    await self.changed.wait()
            except asyncio.TimeoutError:
                break
        return {"total": self.total}

    async def op_take(self) -> dict[str, Any]:
        """The arrivals so far (then forgotten)."""
        taken, self.arrivals = self.arrivals, defaultdict(list)
        return {"arrivals": taken}

    async def op_close(self) -> dict[str, Any]:
        for call in self.calls:
            call.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in self.channels), return_exceptions=True)
        return {}


async def serve_worker() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    worker = MemberWorker()
    while line := await reader.readline():
        command = json.loads(line)
        op = command.pop("op")
        answer = await getattr(worker, f"op_{op}")(**command)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
        if op == "close":
            return


class Workers:
    """The controller's end of the measuring processes."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.procs: list[asyncio.subprocess.Process] = []
        self.turns: list[asyncio.Lock] = []  # one request at a time per worker: its pipe has one reader

    async def __aenter__(self) -> "Workers":
        for _ in range(self.count):
            self.procs.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.bench.capacity", "--member-worker", stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, limit=2**26, env=child_env()))
            self.turns.append(asyncio.Lock())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.all("close")
        await asyncio.gather(*(p.wait() for p in self.procs))

    async def call(self, k: int, op: str, **args: Any) -> dict[str, Any]:
        proc = self.procs[k]
        assert proc.stdin is not None and proc.stdout is not None
        async with self.turns[k]:
            proc.stdin.write((json.dumps({"op": op, **args}) + "\n").encode())
            await proc.stdin.drain()
            return json.loads(await proc.stdout.readline())

    async def all(self, op: str, per_worker: list[dict[str, Any]] | None = None, **args: Any) -> list[dict]:
        return await asyncio.gather(*(self.call(k, op, **{**args, **(per_worker[k] if per_worker else {})})
                                      for k in range(self.count)))

    async def open(self, servers: list[str], members: list[tuple[int, str]], join: bool,
                   per_channel: int = STREAMS_PER_CHANNEL, keepalive: bool = False) -> float:
        """Member ``i`` on server ``i % len(servers)``, worker ``i % count``; returns streams opened per second."""
        started = time.monotonic()
        jobs = []
        for k in range(self.count):
            for s, server in enumerate(servers):
                mine = [[i, room] for i, room in members if i % self.count == k and i % len(servers) == s]
                if mine:
                    jobs.append(self.call(k, "open", server=server, members=mine, join=join, per_channel=per_channel,
                                           keepalive=keepalive))
        await asyncio.gather(*jobs)
        return len(members) / (time.monotonic() - started)

    async def arrivals(self) -> dict[str, list[float]]:
        merged: dict[str, list[float]] = defaultdict(list)
        for answer in await self.all("take"):
            for key, times in answer["arrivals"].items():
                merged[key] += times
        return merged

    async def wait_total(self, expected: list[int], timeout: float) -> int:
        answers = await self.all("wait", [{"total": n, "timeout": timeout} for n in expected])
        return sum(a["total"] for a in answers)


# --- the servers ------------------------------------------------------------------------------------

async def gate_ready(metrics_port: int, nodes: int, timeout: float = 30.0) -> None:
    """Wait until the gate's streams to all ``nodes`` are up (its ``pushchat_connected_nodes`` gauge)."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"

    async def up() -> bool:
        text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
        return metrics.parse(text).get("pushchat_connected_nodes") == nodes

    await wait_until(up, timeout, "the gate's node streams to come up", interval=0.05)


class Cluster:
    """Nodes and gates as OS processes (the gates dial every node), and the bare baseline server."""

    def __init__(self, tmp: str) -> None:
        self.tmp, self.procs, self.stack = tmp, [], contextlib.ExitStack()

    async def start(self, nodes: int, gates: int, rooms: list[str]) -> tuple[list[str], list[dict]]:
        node_addrs = []
        for n in range(nodes):
            proc, ann = await start("chaos.cli", "node", "--listen", "127.0.0.1:0", "--rooms", ",".join(rooms),
                                    "--store", "memory", "--gate-buffer", "100000", "--max-members-per-room", "0",
                                    *LENIENT_PINGS,
                                    "--log-file", f"{self.tmp}/node{n}-{len(self.procs)}.log", "--log-level",
                                    "WARNING")
            self.procs.append(proc)
            node_addrs.append(ann["addr"])
        gate_anns = []
        for g in range(gates):
            proc, ann = await start("chaos.cli", "gate", "--listen", "127.0.0.1:0", "--nodes", ",".join(node_addrs),
                                    "--client-buffer", "1024", "--max-clients", "0",
                                    "--max-streams-per-connection", "0", "--call-rate", "0",
                                    "--max-rooms-per-client", "0", *LENIENT_PINGS,
                                    "--log-file", f"{self.tmp}/gate{g}-{len(self.procs)}.log",
                                    "--log-level", "WARNING", "--metrics-port", "0")
            self.procs.append(proc)
            ann["pid"] = proc.pid
            gate_anns.append(ann)
        for ann in gate_anns:
            await gate_ready(ann["metrics_port"], nodes=nodes)
        return [a["addr"] for a in gate_anns], gate_anns

    async def bare(self) -> dict[str, Any]:
        proc, ann = await start("tests.bench.capacity", "--serve-bare")
        self.procs.append(proc)
        ann["pid"] = proc.pid
        return ann

    async def baseline(self) -> tuple[str, int]:
        proc, ann = await start("tests.bench.push", "--serve-baseline", "--client-buffer", "1024")
        self.procs.append(proc)
        return str(ann["addr"]), proc.pid

    async def stop(self) -> None:
        await asyncio.to_thread(self.stack.close)
        for proc in self.procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        await asyncio.gather(*(p.wait() for p in self.procs))
        self.procs = []


# --- the measurements --------------------------------------------------------------------------------

async def _sender(server: str) -> tuple[grpc.aio.Channel, Any]:
    channel = grpc.aio.insecure_channel(server)
    return channel, gate_pb2_grpc.GateServiceStub(channel)


async def _send(stub: Any, room: str, cmid: str) -> tuple[str, float]:
    started = time.monotonic()
    reply = await stub.CallObject(call_request(room, "SendMessage", chat_pb2.ChatRoom_SendChatMessageRequest(
        user_name="sender", message="x" * 100, client_msg_id=cmid)))
    ack = chat_pb2.Client_SendChatMessageResponse()
    reply.response.Unpack(ack)
    return str(ack.seq), started


async def bench_gate(counts: list[int], workers: int, idle: float, per_channel: int, bare: bool = False
                     ) -> list[str]:
    rows = ["| server | streams | per connection | open rate (streams/s) | RSS before (MiB) | after (MiB) "
            "| KiB per stream | CPU at idle (% of a core) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for n in counts:
        with tempfile.TemporaryDirectory(prefix="pushchat-cap-") as tmp:
            cluster = Cluster(tmp)
            try:
                ann = await cluster.bare() if bare else (await cluster.start(1, 1, ["Idle"]))[1][0]
                pid = ann["pid"]
                before = rss_kib(pid)
                async with Workers(workers) as ws:
                    rate = await ws.open([ann["addr"]], [(i, "Idle") for i in range(n)], join=False,
                                        per_channel=per_channel, keepalive=True)
                    await asyncio.sleep(2.0)  # the gate settles after the opening burst
                    after = rss_kib(pid)
                    cpu0, t0 = cpu_seconds([pid]), time.monotonic()
                    await asyncio.sleep(idle)  # the measurement window: idle streams, keepalive only
                    cpu = (cpu_seconds([pid]) - cpu0) / (time.monotonic() - t0)
            finally:
                await cluster.stop()
        rows.append(f"| {'bare grpc.aio' if bare else 'gate'} | {n:,} | {per_channel} | {rate:,.0f} | "
                    f"{before / 1024:.1f} | {after / 1024:.1f} | {(after - before) / n:.1f} | {cpu * 100:.1f} |")
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


async def _measure_room(ws: Workers, stub: Any, system: str, room: str, members: int, latency_msgs: int,
                        burst: int, pid: int) -> str:
    per_worker = [len(range(k, members, ws.count)) for k in range(ws.count)]
    expected = [0] * ws.count
    latencies: list[float] = []
    lasts: list[float] = []  # per message sent alone: send call start to its last arrival
    for i in range(latency_msgs):
        seq, started = await _send(stub, room, f"{system}-{members}-{i}")
        expected = [e + p for e, p in zip(expected, per_worker)]
        await ws.wait_total(expected, 10.0)
        for key, times in (await ws.arrivals()).items():
            latencies += [t - started for t in times]
            lasts += [max(times) - started] if times else []
    first, cpu0 = time.monotonic(), cpu_seconds([pid])
    gate = asyncio.Semaphore(SEND_CONCURRENCY)
    failed: list[str] = []

    async def limited(i: int) -> None:
        async with gate:
            try:
                await _send(stub, room, f"{system}-{members}-b{i}")
            except grpc.aio.AioRpcError as exc:  # counted: its deliveries show as missing
                failed.append(f"{exc.code().name}: {exc.details()}")

    await asyncio.gather(*(limited(i) for i in range(burst)))
    if failed:
        print(f"{system}, {members} members: {len(failed)} sends failed, e.g. {failed[0]}", file=sys.stderr)
    expected = [e + p * (burst - len(failed)) for e, p in zip(expected, per_worker)]
    await ws.wait_total(expected, 60.0)
    cpu = cpu_seconds([pid]) - cpu0  # the server's CPU over the burst, read once its last delivery arrived
    arrivals = await ws.arrivals()
    delivered = sum(len(t) for t in arrivals.values())
    last = max((max(t) for t in arrivals.values() if t), default=first)
    missing = members * (latency_msgs + burst) - len(latencies) - delivered
    return (f"| {system} | {members:,} | {percentile(latencies, 50) * 1e3:.1f} | {percentile(latencies, 99) * 1e3:.1f} | "
            f"{percentile(lasts, 50) * 1e3:.1f} | {delivered / max(last - first, 1e-9):,.0f} | "
            f"{cpu * 1e6 / max(delivered, 1):.1f} | {missing} |")


async def bench_fanout(sizes: list[int], workers: int, latency_msgs: int, burst: int,
                       systems: tuple[str, ...] = ("pushchat", "baseline")) -> list[str]:
    rows = ["| system | members | push latency p50 (ms) | p99 (ms) | last arrival p50 (ms) | fan-out deliveries/s "
            "| server CPU per delivery (µs) | missing |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for n in sizes:
        for system in systems:
            with tempfile.TemporaryDirectory(prefix="pushchat-cap-") as tmp:
                cluster = Cluster(tmp)
                try:
                    room = f"Fan{n}"
                    if system == "pushchat":
                        addrs, anns = await cluster.start(1, 1, [room])
                        addr, pid = addrs[0], anns[0]["pid"]
                    elif system == "goverse":  # Go: its gate's CPU is measured, its chat sample's room used
                        room, parts = "General", await start_goverse(cluster.stack, tmp)
                        addr, pid = parts.gate, parts.gate_pid
                    else:
                        (addr, pid), room = await cluster.baseline(), "Baseline"
                    async with Workers(workers) as ws:
                        await ws.open([addr], [(i, room) for i in range(n)], join=system != "baseline")
                        channel, stub = await _sender(addr)
                        try:
                            rows.append(await _measure_room(ws, stub, system, room, n, latency_msgs, burst, pid))
                        finally:
                            await channel.close()
                finally:
                    await cluster.stop()
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


async def bench_rooms(rooms: int, members: int, node_counts: list[int], workers: int, per_room: int) -> list[str]:
    rows = ["| nodes | gates | rooms x members | sends | deliveries/s | latency p50 (ms) | p99 (ms) | missing |",
            "|---:|---:|---|---:|---:|---:|---:|---:|"]
    names = [f"r{r}" for r in range(rooms)]
    for nodes in node_counts:
        with tempfile.TemporaryDirectory(prefix="pushchat-cap-") as tmp:
            cluster = Cluster(tmp)
            try:
                addrs, _ = await cluster.start(nodes, 2, names)
                membership = [(i, names[i % rooms]) for i in range(rooms * members)]
                async with Workers(workers) as ws:
                    await ws.open(addrs, membership, join=True, keepalive=True)
                    per_worker = [sum(1 for i, _ in membership if i % workers == k) * per_room
                                  for k in range(workers)]
                    channels = [await _sender(a) for a in addrs]
                    try:
                        gate = asyncio.Semaphore(SEND_CONCURRENCY * 2)
                        sent: dict[str, float] = {}

                        async def one(j: int) -> None:
                            room = names[j % rooms]
                            async with gate:
                                seq, started = await _send(channels[j % len(channels)][1], room, f"m{j}")
                            sent[f"{room}|{seq}"] = started

                        first = time.monotonic()
                        await asyncio.gather(*(one(j) for j in range(rooms * per_room)))
                        await ws.wait_total(per_worker, 120.0)
                        arrivals = await ws.arrivals()
                    finally:
                        for channel, _ in channels:
                            await channel.close()
                delivered = sum(len(t) for t in arrivals.values())
                last = max((max(t) for t in arrivals.values() if t), default=first)
                latencies = [t - sent[k] for k, times in arrivals.items() if k in sent for t in times]
                rows.append(f"| {nodes} | 2 | {rooms:,} x {members} | {len(sent):,} | "
                            f"{delivered / max(last - first, 1e-9):,.0f} | {percentile(latencies, 50) * 1e3:.0f} | "
                            f"{percentile(latencies, 99) * 1e3:.0f} | {rooms * members * per_room - delivered} |")
            finally:
                await cluster.stop()
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.capacity", description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=("gate", "fanout", "rooms"))
    parser.add_argument("--workers", type=int, default=4, help="measuring processes (default 4)")
    parser.add_argument("--streams", default="1000,5000,10000", help="gate: idle streams held, per run")
    parser.add_argument("--per-channel", type=int, default=STREAMS_PER_CHANNEL,
                        help=f"gate: streams per client connection (default {STREAMS_PER_CHANNEL}; a ChatClient has 1)")
    parser.add_argument("--bare", action="store_true", help="gate: measure a bare grpc.aio server instead (the floor)")
    parser.add_argument("--idle", type=float, default=10.0, help="gate: seconds of idle CPU measured")
    parser.add_argument("--sizes", default="100,1000,10000", help="fanout: room sizes")
    parser.add_argument("--latency-messages", type=int, default=20, help="fanout: messages sent one at a time")
    parser.add_argument("--burst", type=int, default=50, help="fanout: messages sent 16 at a time")
    parser.add_argument("--systems", default="pushchat,baseline", help="fanout: pushchat, baseline and/or goverse")
    parser.add_argument("--rooms", type=int, default=1000, help="rooms: how many rooms")
    parser.add_argument("--members", type=int, default=10, help="rooms: members per room")
    parser.add_argument("--per-room", type=int, default=2, help="rooms: messages sent to each room")
    parser.add_argument("--nodes", default="1,2", help="rooms: node counts to compare")
    parser.add_argument("--member-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.member_worker:
        asyncio.run(serve_worker())
        return 0
    if args.serve_bare:
        asyncio.run(serve_bare())
        return 0
    if args.what is None:
        parser.error("say what to measure: gate, fanout or rooms")
    ints = lambda text: [int(x) for x in text.split(",")]  # noqa: E731
    if args.what == "gate":
        rows = asyncio.run(bench_gate(ints(args.streams), args.workers, args.idle, args.per_channel, args.bare))
    elif args.what == "fanout":
        rows = asyncio.run(bench_fanout(ints(args.sizes), args.workers, args.latency_messages, args.burst,
                                        tuple(args.systems.split(","))))
    else:
        rows = asyncio.run(bench_rooms(args.rooms, args.members, ints(args.nodes), args.workers, args.per_room))
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
