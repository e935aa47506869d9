"""Push latency and fan-out throughput, next to a bare grpc.aio server-streaming baseline.

``python -m tests.bench.push`` starts a real node and gate (``pushchat`` OS
processes), opens N member streams on the one gate, all in one room, and
has one more client send. It measures, per room size:

- latency: messages sent one at a time; each delivery's time from the
  send call's start to its arrival on a member stream (p50, p99);
- fan-out: a burst of messages sent 16 at a time; deliveries per second
  from the first send to the last arrival.

The baseline is a bare grpc.aio server (``--serve-baseline``, also its own
process) that speaks the same ``GateService`` and puts each sent message
straight on every open stream's queue: no node hop, no rooms. Both are
measured in the same run by the same client code, on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2

from system import auth, metrics
from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc
from system.wait import wait_until
from tests.bench.measure import child_env, percentile

STREAMS_PER_CHANNEL = 100
SEND_CONCURRENCY = 16


# --- the baseline server ---------------------------------------------------------------------------

class Baseline(gate_pb2_grpc.GateServiceServicer):
    """Register: a stream fed by a bounded queue; CallObject: put the message on every queue."""

    def __init__(self, buffer: int) -> None:
        self.buffer = buffer
        self.queues: set[asyncio.Queue[any_pb2.Any]] = set()
        self.seq = 0

    async def Register(self, request, context):  # type: ignore[no-untyped-def]
        queue: asyncio.Queue[any_pb2.Any] = asyncio.Queue(self.buffer)
        self.queues.add(queue)
        try:
            first = any_pb2.Any()
            first.Pack(gate_pb2.RegisterResponse(client_id=f"baseline/{id(queue)}"))
            yield first
            while True:
                yield await queue.get()
        finally:
            self.queues.discard(queue)

    async def CallObject(self, request, context):  # type: ignore[no-untyped-def]
        sent = chat_pb2.ChatRoom_SendChatMessageRequest()
        request.request.Unpack(sent)
        self.seq += 1
        msg = chat_pb2.ChatMessage(user_name=sent.user_name, message=sent.message, seq=self.seq,
                                   timestamp=time.time_ns() // 1000, room_name="Baseline",
                                   client_msg_id=sent.client_msg_id)
        packed = any_pb2.Any()
        packed.Pack(chat_pb2.Client_NewMessageNotification(message=msg))
        for queue in list(self.queues):
            if not queue.full():
                queue.put_nowait(packed)
        reply = any_pb2.Any()
        reply.Pack(chat_pb2.Client_SendChatMessageResponse(seq=self.seq, timestamp=msg.timestamp))
        return gate_pb2.CallObjectResponse(response=reply)


async def serve_baseline(buffer: int) -> None:
    server = grpc.aio.server()
    gate_pb2_grpc.add_GateServiceServicer_to_server(Baseline(buffer), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(json.dumps({"event": "listening", "service": "baseline", "addr": f"127.0.0.1:{port}",
                      "pid": os.getpid()}), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(0.5)


# --- the measuring client -------------------------------------------------------------------------

async def pushed_messages(call: grpc.aio.UnaryStreamCall, clock: Callable[[], float]
                          ) -> AsyncIterator[tuple[float, str, int]]:
    """(arrival ``clock()``, room, seq) of each chat message a Register stream brings; presence pushes
    (another member joined) are not what a bench measures and are skipped. One notification is reused:
    the measuring side is often a bench's ceiling."""
    note = chat_pb2.Client_NewMessageNotification()
    while (item := await call.read()) is not grpc.aio.EOF:
        now = clock()
        if item.Unpack(note):
            yield now, note.message.room_name, note.message.seq


class Members:
    """N Register streams on one server, joined to one room; records each delivery's arrival time."""

    def __init__(self, server: str, count: int, room: str, join: bool) -> None:
        self.server, self.count, self.room, self.join = server, count, room, join
        self.arrivals: dict[int, list[float]] = defaultdict(list)
        self.complete: dict[int, asyncio.Event] = defaultdict(asyncio.Event)
        self.channels: list[grpc.aio.Channel] = []
        self.calls: list[grpc.aio.UnaryStreamCall] = []
        self.readers: list[asyncio.Task[None]] = []

    async def open(self) -> None:
        for i in range(self.count):
            if i % STREAMS_PER_CHANNEL == 0:
                self.channels.append(grpc.aio.insecure_channel(self.server, options=[
                    ("grpc.use_local_subchannel_pool", 1), ("grpc.max_receive_message_length", 16 << 20)]))
            stub = gate_pb2_grpc.GateServiceStub(self.channels[-1])
            session = ((auth.SESSION_HEADER, f"bench-member{i}"),)  # a client of its own, on a shared connection
            call = stub.Register(gate_pb2.Empty(), metadata=session)
            registered = gate_pb2.RegisterResponse()
            (await call.read()).Unpack(registered)
            if self.join:
                await stub.CallObject(call_request(self.room, "Join", chat_pb2.ChatRoom_JoinRequest(
                    user_name=f"member{i}", client_id=registered.client_id)), metadata=session)
            self.calls.append(call)
            self.readers.append(asyncio.create_task(self._read(call)))

    async def _read(self, call: grpc.aio.UnaryStreamCall) -> None:
        try:
            async for now, _, seq in pushed_messages(call, time.perf_counter):
                times = self.arrivals[seq]
                times.append(now)
                if len(times) == self.count:
                    self.complete[seq].set()
        except (grpc.aio.AioRpcError, asyncio.CancelledError):
            pass

    async def wait(self, seq: int, timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                await self.complete[seq].wait()
        except asyncio.TimeoutError:
            pass

    async def close(self) -> None:
        for call in self.calls:
            call.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        for channel in self.channels:
            await channel.close()


def call_request(room: str, method: str, request) -> gate_pb2.CallObjectRequest:  # type: ignore[no-untyped-def]
    packed = any_pb2.Any()
    packed.Pack(request)
    return gate_pb2.CallObjectRequest(type="ChatRoom", id=f"ChatRoom-{room}", method=method, request=packed)


@dataclass
class Row:
    system: str
    members: int
    p50_ms: float
    p99_ms: float
    deliveries_per_s: float
    missing: int


async def measure(system: str, server: str, members: int, room: str, latency_msgs: int, burst: int) -> Row:
    group = Members(server, members, room, join=system == "pushchat")
    await group.open()
    channel = grpc.aio.insecure_channel(server)
    stub = gate_pb2_grpc.GateServiceStub(channel)
    text = "x" * 100

    async def send(i: int) -> tuple[int, float]:
        started = time.perf_counter()
        reply = await stub.CallObject(call_request(room, "SendMessage", chat_pb2.ChatRoom_SendChatMessageRequest(
            user_name="sender", message=text, client_msg_id=f"{system}-{members}-{i}")))
        ack = chat_pb2.Client_SendChatMessageResponse()
        reply.response.Unpack(ack)
        return ack.seq, started

    try:
        latencies: list[float] = []
        missing = 0
        for i in range(latency_msgs):
            seq, started = await send(i)
            await group.wait(seq, 5.0)
            latencies += [t - started for t in group.arrivals[seq]]
            missing += members - len(group.arrivals[seq])
        first = time.perf_counter()
        gate = asyncio.Semaphore(SEND_CONCURRENCY)

        async def limited(i: int) -> int:
            async with gate:
                return (await send(latency_msgs + i))[0]

        seqs = await asyncio.gather(*(limited(i) for i in range(burst)))
        await asyncio.gather(*(group.wait(s, 15.0) for s in seqs))
        delivered = sum(len(group.arrivals[s]) for s in seqs)
        last = max((max(group.arrivals[s]) for s in seqs if group.arrivals[s]), default=first)
        missing += members * burst - delivered
        return Row(system, members, percentile(latencies, 50) * 1e3, percentile(latencies, 99) * 1e3,
                   delivered / max(last - first, 1e-9), missing)
    finally:
        await group.close()
        await channel.close()


async def start(*args: str) -> tuple[asyncio.subprocess.Process, dict]:  # type: ignore[type-arg]
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.DEVNULL, env=child_env())
    assert proc.stdout is not None
    async with asyncio.timeout(30.0):
        line = await proc.stdout.readline()
    if not line:
        raise RuntimeError(f"{' '.join(args)} exited before announcing")
    return proc, json.loads(line)


async def run(sizes: list[int], latency_msgs: int, burst: int, buffer: int) -> list[Row]:
    rooms = ",".join(f"Bench{n}" for n in sizes)
    with tempfile.TemporaryDirectory(prefix="pushchat-bench-") as tmp:
        procs = []
        try:
            node, node_ann = await start("chaos.cli", "node", "--listen", "127.0.0.1:0", "--rooms", rooms,
                                         "--log-file", f"{tmp}/node.log", "--log-level", "WARNING")
            procs.append(node)
            gate, gate_ann = await start("chaos.cli", "gate", "--listen", "127.0.0.1:0", "--nodes", node_ann["addr"],
                                         "--client-buffer", str(buffer), "--log-file", f"{tmp}/gate.log",
                                         # many members per connection, and a sender far faster than a person
                                         "--max-streams-per-connection", "0", "--call-rate", "0",
                                         "--log-level", "WARNING", "--metrics-port", "0")
            procs.append(gate)
            base, base_ann = await start("tests.bench.push", "--serve-baseline", "--client-buffer", str(buffer))
            procs.append(base)
            await gate_ready(gate_ann["metrics_port"])
            rows = []
            for n in sizes:
                for system, addr in (("pushchat", gate_ann["addr"]), ("baseline", base_ann["addr"])):
                    print(f"measuring {system} with {n} members ...", file=sys.stderr, flush=True)
                    rows.append(await measure(system, addr, n, f"Bench{n}", latency_msgs, burst))
            return rows
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                await proc.wait()


async def gate_ready(metrics_port: int, timeout: float = 20.0) -> None:
    """Wait until the gate's node stream is up (its ``pushchat_connected_nodes`` gauge)."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"

    async def up() -> bool:
        text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
        return metrics.parse(text).get("pushchat_connected_nodes") == 1

    await wait_until(up, timeout, "the gate's node stream to come up", interval=0.05)


def table(rows: list[Row]) -> str:
    lines = ["| system | members | push latency p50 (ms) | p99 (ms) | fan-out deliveries/s | missing |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r.system} | {r.members} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.deliveries_per_s:,.0f} | {r.missing} |"
              for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.push", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000", help="room sizes (members on one gate)")
    parser.add_argument("--latency-messages", type=int, default=50, help="messages sent one at a time, per size")
    parser.add_argument("--burst", type=int, default=100, help="messages sent 16 at a time, per size")
    parser.add_argument("--client-buffer", type=int, default=1024,
                        help="per-client queue on the gate and the baseline (the gate's default of 10 drops bursts)")
    parser.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_baseline:
        asyncio.run(serve_baseline(args.client_buffer))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = asyncio.run(run(sizes, args.latency_messages, args.burst, args.client_buffer))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
