"""What "acknowledged means durable" costs: ``python -m tests.bench.store``.

Two measurements, each on real OS processes (a node and a gate, the
measuring clients in this process):

- **sends**: for each store (``memory``, ``sqlite`` with group commit,
  ``sqlite-nogroup`` with one sync per send, ``postgres``) and each number
  of concurrent senders, that many :class:`system.client.ChatClient` users
  (connected, not joined: no fan-out) send 100-byte messages to one room
  (``--rooms``: spread over several) in a loop, each waiting for its
  acknowledgement. Sends acknowledged per
  second, and each send's latency (call → acknowledgement, p50 and p99),
  over a measuring window after a warm-up; every process's CPU over the
  window, and the store's own counters (writes per commit, time in
  transactions and in COMMIT) to say what limits the figure.
- **restart**: a store filled with N messages in one room (written through
  the store API directly), a node started on it with a history limit that
  keeps them all, SIGKILLed, and started again: time from the process
  start to its "listening" line and to its first acknowledged send, made
  to the node directly (through a gate, its reconnect backoff would add up
  to 2 s).

The node runs ``pushchat node``'s own code (its flags, ``NodeServer``,
``service.run``) through this module's ``serve-node`` entry point, which adds
two things a benchmark needs and a user does not: ``--group-commit off`` (each
send a store write and a commit of its own: with SQLite, one sync per send,
to show what grouping buys) and SIGUSR1, which prints the store's counters
as one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chaos.infra.process import ServerProcess
from system.wait import wait_until
from tests.bench.measure import CpuMeter, median, percentile
from tests.bench.store_node import ROOM, TEXT, BenchNode, Postgres, fill, node_args, serve_node

KINDS = ("memory", "sqlite", "sqlite-nogroup", "postgres")
RESTART_KINDS = ("sqlite", "postgres")
TARGET = 0.5  # the target: sqlite keeps this share of memory's throughput with many senders


# --- measurements -----------------------------------------------------------------------------------

@dataclasses.dataclass
class SendRow:
    store: str
    senders: int
    sends: int = 0              # acknowledged in the window
    per_second: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    failed: int = 0
    cpu: dict[str, float] = dataclasses.field(default_factory=dict)   # % of one core, by process
    store_stats: dict[str, float] = dataclasses.field(default_factory=dict)  # deltas over the window
    totals: dict[str, float] = dataclasses.field(default_factory=dict)  # deltas over the run, taken while idle
    acked: int = 0              # sends acknowledged in the whole run (warm-up too)
    window: float = 0.0
    load: float = 0.0           # the machine's 1-minute load average after the window
    skipped: str = ""

    @property
    def per_commit(self) -> float | None:
        """The store's group commit: room writes per transaction (one sync each), over the run."""
        commits = self.totals.get("commits")
        return self.totals["writes"] / commits if commits else None

    @property
    def sends_per_write(self) -> float | None:
        """The room's grouping: sends per store write, over the run."""
        writes = self.totals.get("room_writes")
        return self.acked / writes if writes else None

    @property
    def limit(self) -> str:
        """What held this figure back, read off the measurements."""
        if self.skipped or not self.window:
            return ""
        cores = 100 * (os.cpu_count() or 1)
        ours = sum(share for name, share in self.cpu.items() if name != "machine")
        machine = max(self.cpu.get("machine", ours), ours)
        busy = [f"{name} {share:.0f}%" for name, share in self.cpu.items() if name != "machine" and share >= 85]
        thread = 100 * self.store_stats.get("write_seconds", 0.0) / self.window
        if machine >= 0.9 * cores:
            others = f", other work {machine - ours:.0f}%" if machine - ours >= 15 else ""
            return f"CPU: the {cores // 100} cores busy (these processes {ours:.0f}%{others})"
        if busy:
            return "CPU of " + ", ".join(busy)
        if thread >= 85:
            return f"the store thread ({thread:.0f}% busy)"
        if self.senders == 1:
            return "one send at a time: its round trip"
        writes = self.store_stats.get("room_writes", 0)
        if writes and self.store != "memory":
            cycle = 1000 * self.window / writes
            txn, commits = self.store_stats.get("write_seconds"), self.store_stats.get("commits")
            inside = f" (a transaction: {1000 * txn / commits:.1f} ms)" if txn and commits else ""
            return f"one write at a time per room: one every {cycle:.1f} ms{inside}"
        return f"waiting, not CPU (the machine {machine:.0f}% busy)"


@dataclasses.dataclass
class RestartRow:
    store: str
    messages: int
    rounds: list[tuple[float, float]] = dataclasses.field(default_factory=list)  # (to listening, to first ack) s
    skipped: str = ""

    def median(self, i: int) -> float:
        return median(r[i] for r in self.rounds)

    def span(self, i: int) -> tuple[float, float]:
        return min(r[i] for r in self.rounds), max(r[i] for r in self.rounds)


def progress(text: str) -> None:
    print(f"store_bench: {text}", file=sys.stderr, flush=True)


def room_names(count: int) -> list[str]:
    """The first ``count`` of the node's default rooms, and more when they are too few."""
    from system.room import DEFAULT_ROOMS

    return list(DEFAULT_ROOMS[:count]) + [f"Bench{i}" for i in range(len(DEFAULT_ROOMS), count)]


async def place(kind: str, name: str, row: SendRow | RestartRow, pg: Postgres, work: Path
                ) -> tuple[str, Path] | None:
    """Where a node of ``kind`` keeps its rooms (the shared server's DSN for postgres, else the folder
    ``work/name``) and the folder for its logs (``work/logs-name``); None, the row marked skipped, when
    PostgreSQL is unavailable."""
    where = await asyncio.to_thread(pg.dsn) if kind == "postgres" else str(work / name)
    if where is None:
        row.skipped = pg.unavailable or "no PostgreSQL"
        return None
    logs = work / f"logs-{name}"
    logs.mkdir()
    return where, logs


async def measure_sends(kind: str, senders: int, opts: argparse.Namespace, pg: Postgres, work: Path) -> SendRow:
    from system.client import ChatClient, SendFailed
    from system.room import DEFAULT_ROOMS

    row = SendRow(kind, senders)
    if not (placed := await place(kind, f"{kind}-{senders}", row, pg, work)):
        return row
    where, logs = placed
    rooms = room_names(opts.rooms)
    extra = ["--rooms", ",".join(rooms)] if len(rooms) > len(DEFAULT_ROOMS) else []
    node = BenchNode(node_args(kind, where) + extra + ["--log-level", opts.node_log_level], logs)
    gate = ServerProcess("gate", "gate", [], logs)
    clients: list[ChatClient] = []
    try:
        await node.start()
        # senders as fast as the store lets them: no per-client call rate limit (docs/security.md)
        gate.args = ["--nodes", node.addr or "", "--log-level", opts.node_log_level, "--call-rate", "0"]
        await gate.start()
        await wait_until(lambda: (gate.scrape_metrics() or {}).get("pushchat_connected_nodes") == 1, 10.0,
                         "the gate's stream to the node")
        clients = [ChatClient(gate.addr or "", f"sender{i}") for i in range(senders)]
        await asyncio.gather(*(c.connect() for c in clients))
        me = os.getpid()
        meter = CpuMeter({"node": lambda: [node.proc.pid], "gate": lambda: [gate.proc.pid],  # type: ignore[union-attr]
                          "bench": lambda: [me], **({"postgres": pg.pids} if kind == "postgres" else {})})
        done: list[tuple[float, float, str, int]] = []
        failures: list[str] = []
        first = await node.stats()
        window_start = time.perf_counter() + opts.warmup
        window_end = window_start + opts.duration

        async def send_loop(client: ChatClient, room: str) -> None:
            while (started := time.perf_counter()) < window_end:
                try:
                    ack = await client.send(room, TEXT)
                except SendFailed as exc:
                    failures.append(str(exc.details()))
                    continue
                done.append((started, time.perf_counter(), room, ack.seq))

        async def window() -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
            await asyncio.sleep(window_start - time.perf_counter())  # the warm-up: a duration, not a sync
            before = await node.stats()
            meter.start()
            await asyncio.sleep(window_end - time.perf_counter())
            cpu = meter.stop()
            after = await node.stats()
            return cpu, before, after

        where_to = f"{len(rooms)} rooms" if len(rooms) > 1 else "one room"
        progress(f"{kind}, {senders} sender{'s' if senders > 1 else ''} in {where_to}: {opts.warmup:g} s warm-up, "
                 f"{opts.duration:g} s measured")
        measured, *_ = await asyncio.gather(window(), *(send_loop(c, rooms[i % len(rooms)])
                                                        for i, c in enumerate(clients)))
        last = await node.stats()  # every send answered: the counters agree with each other
        row.cpu, before, after = measured
        row.window = opts.duration
        row.load = os.getloadavg()[0]
        row.store_stats = _delta(before, after)
        row.totals = _delta(first, last)
        row.acked = len(done)
        row.sends = sum(1 for _, end, _, _ in done if window_start <= end < window_end)
        row.per_second = row.sends / opts.duration
        latencies = sorted(end - start for start, end, _, _ in done if window_start <= start < window_end)
        row.p50_ms, row.p99_ms = 1000 * percentile(latencies, 50), 1000 * percentile(latencies, 99)
        row.failed = len(failures)
        if not failures:  # a send that failed may have been stored: then the numbering has its seq
            check_numbering(kind, done)
        else:
            progress(f"{kind}: {len(failures)} sends failed, e.g. {failures[0]}")
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        await gate.stop()
        await node.stop()
    return row


def _delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in after if k in before and isinstance(after[k], (int, float))}


def check_numbering(kind: str, done: list[tuple[float, float, str, int]]) -> None:
    """Each room's acknowledged sends are numbered 1..n, each seq once: nothing acknowledged twice or skipped."""
    by_room: dict[str, list[int]] = {}
    for _, _, room, seq in done:
        by_room.setdefault(room, []).append(seq)
    for room, seqs in by_room.items():
        if sorted(seqs) != list(range(1, len(seqs) + 1)):
            raise RuntimeError(f"{kind}: {room}'s {len(seqs)} acknowledged sends are not numbered 1..{len(seqs)}")


async def first_ack(addr: str, seq_wanted: int, timeout: float = 10.0) -> None:
    """One send to the node itself, acknowledged; check it continues the stored numbering."""
    import grpc
    from google.protobuf import any_pb2

    from system.pb import chat_pb2, goverse_pb2, goverse_pb2_grpc

    packed = any_pb2.Any()
    packed.Pack(chat_pb2.ChatRoom_SendChatMessageRequest(user_name="restarter", message=TEXT,
                                                         client_msg_id=uuid.uuid4().hex))
    async with grpc.aio.insecure_channel(addr) as channel:
        reply = await goverse_pb2_grpc.GoverseStub(channel).CallObject(
            goverse_pb2.CallObjectRequest(type="ChatRoom", id=f"ChatRoom-{ROOM}", method="SendMessage",
                                          request=packed), timeout=timeout, wait_for_ready=True)
    ack = chat_pb2.Client_SendChatMessageResponse()
    reply.response.Unpack(ack)
    if ack.seq != seq_wanted:
        raise RuntimeError(f"the restarted node numbered a send {ack.seq}, not {seq_wanted}: "
                           "it did not load what was stored")


async def measure_restart(kind: str, messages: int, opts: argparse.Namespace, pg: Postgres, work: Path) -> RestartRow:
    from system.room import RoomConfig

    row = RestartRow(kind, messages)
    if not (placed := await place(kind, f"restart-{kind}-{messages}", row, pg, work)):
        return row
    where, logs = placed
    progress(f"restart, {kind}, {messages} messages: filling")
    await fill(kind, where, messages)
    limit = max(messages, RoomConfig.history_limit)
    node = BenchNode(node_args(kind, where) + ["--history-limit", str(limit), "--log-level", opts.node_log_level],
                     logs)
    try:
        await node.start()
        assert node.addr is not None
        await first_ack(node.addr, messages + 1)
        progress(f"restart, {kind}, {messages} messages: {opts.restart_rounds} kill-and-start rounds")
        for i in range(opts.restart_rounds):
            await node.kill()
            await node.start()
            await first_ack(node.addr, messages + i + 2)
            acked = time.perf_counter()
            row.rounds.append((node.announced - node.spawned, acked - node.spawned))
    finally:
        await node.stop()
    return row


# --- the report ------------------------------------------------------------------------------------

def send_table(rows: list[SendRow]) -> str:
    head = ("| store | senders | sends/s | p50 ms | p99 ms | failed | writes/commit | sends/write "
            "| CPU % node / gate / bench / pg / machine | limited by |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        if r.skipped:
            lines.append(f"| {r.store} | {r.senders} | not run: {r.skipped} | | | | | | | |")
            continue
        cpu = " / ".join(f"{r.cpu[k]:.0f}" if k in r.cpu else "-"
                         for k in ("node", "gate", "bench", "postgres", "machine"))
        pc = f"{r.per_commit:.1f}" if r.per_commit is not None else "-"
        pw = f"{r.sends_per_write:.1f}" if r.sends_per_write is not None else "-"
        lines.append(f"| {r.store} | {r.senders} | {r.per_second:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
                     f"{r.failed} | {pc} | {pw} | {cpu} | {r.limit} |")
    return "\n".join(lines)


def ratio_lines(rows: list[SendRow]) -> list[str]:
    out = []
    by = {(r.store, r.senders): r for r in rows if not r.skipped}
    for senders in sorted({r.senders for r in rows}):
        memory = by.get(("memory", senders))
        if memory is None or not memory.per_second:
            continue
        for kind in ("sqlite", "sqlite-nogroup", "postgres"):
            other = by.get((kind, senders))
            if other is not None:
                share = other.per_second / memory.per_second
                mark = (" (target >= 50 %: " + ("met" if share >= TARGET else "NOT met") + ")"
                        if kind == "sqlite" and senders > 1 else "")
                out.append(f"{kind} / memory throughput, {senders} sender{'s' if senders > 1 else ''}: "
                           f"{100 * share:.0f} %{mark}")
    return out


def restart_table(rows: list[RestartRow]) -> str:
    lines = ["| store | stored messages | start → listening, s (median; min-max) | start → first ack, s |",
             "|---|---:|---|---|"]
    for r in rows:
        if r.skipped:
            lines.append(f"| {r.store} | {r.messages:,} | not run: {r.skipped} | |")
            continue
        (a0, a1), (b0, b1) = r.span(0), r.span(1)
        lines.append(f"| {r.store} | {r.messages:,} | {r.median(0):.2f} ({a0:.2f}-{a1:.2f}) | "
                     f"{r.median(1):.2f} ({b0:.2f}-{b1:.2f}) |")
    return "\n".join(lines)


def _number(kind: Callable[[str], Any], least: float) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{text} is below {least:g}")
        return value
    return parse


def _csv(item: Callable[[str], Any], allowed: Sequence[Any] | None = None) -> Callable[[str], list[Any]]:
    def parse(text: str) -> list[Any]:
        items = [item(x.strip()) for x in text.split(",") if x.strip()]
        bad = [x for x in items if allowed is not None and x not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {bad[0]!r}: want some of {', '.join(map(str, allowed or ()))}")
        return items
    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tests.bench.store",
        description="Send throughput and latency per room store, and a node's restart time after SIGKILL, "
                    "on real node and gate processes. Progress on stderr, tables on stdout.")
    p.add_argument("--duration", type=_number(float, 0.1), default=10.0,
                   help="seconds measured per store and sender count")
    p.add_argument("--warmup", type=_number(float, 0), default=2.0, help="seconds of sending before each measurement")
    p.add_argument("--senders", type=_csv(_number(int, 1)), default=[1, 16],
                   help="concurrent senders, comma-separated (empty: measure no sends)")
    p.add_argument("--stores", type=_csv(str, KINDS), default=list(KINDS), help="stores to measure sends on")
    p.add_argument("--rooms", type=_number(int, 1), default=1,
                   help="rooms the senders spread over, round robin (1: all in General; the SQLite store groups "
                        "commits across rooms, each room groups its own sends)")
    p.add_argument("--restart-messages", type=_csv(_number(int, 0)), default=[0, 10_000, 100_000],
                   help="stored messages to restart on, comma-separated (empty: no restart measurement)")
    p.add_argument("--restart-stores", type=_csv(str, RESTART_KINDS), default=list(RESTART_KINDS))
    p.add_argument("--restart-rounds", type=_number(int, 1), default=3, help="kill-and-start rounds per restart figure")
    p.add_argument("--node-log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="the node's and gate's log level (INFO, their default, logs one line per send)")
    p.add_argument("--json", metavar="PATH", help="also write every figure to this JSON file")
    return p


async def run(opts: argparse.Namespace) -> tuple[list[SendRow], list[RestartRow]]:
    pg = Postgres()
    work = Path(tempfile.mkdtemp(prefix="pushchat-store-bench-"))
    sends: list[SendRow] = []
    restarts: list[RestartRow] = []
    try:
        for senders in opts.senders:
            for kind in opts.stores:
                sends.append(await measure_sends(kind, senders, opts, pg, work))
        for kind in opts.restart_stores:
            for messages in opts.restart_messages:
                restarts.append(await measure_restart(kind, messages, opts, pg, work))
    finally:
        await asyncio.to_thread(pg.stop)
        shutil.rmtree(work, ignore_errors=True)
    return sends, restarts


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve-node"]:
        return serve_node(argv[1:])
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # before grpc is imported, here and in the servers
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
    opts = parser().parse_args(argv)
    from chaos.infra.process import ProcessError
    try:
        sends, restarts = asyncio.run(run(opts))
    except (ProcessError, RuntimeError, TimeoutError, OSError) as exc:
        print(f"store_bench: failed: {exc}", file=sys.stderr)
        return 1
    if sends:
        where_to = f"{opts.rooms} rooms" if opts.rooms > 1 else "one room"
        print(f"Sends, acknowledged once durable (100-byte messages, {where_to}):\n")
        print(send_table(sends))
        for line in ratio_lines(sends):
            print(line)
    if restarts:
        print("\nRestart after SIGKILL: the node loads every room (its messages up to --history-limit, its last "
              "--dedup-window client message ids, its members) before it listens:\n")
        print(restart_table(restarts))
    if opts.json:
        Path(opts.json).write_text(json.dumps({
            "sends": [dict(dataclasses.asdict(r), per_commit=r.per_commit, sends_per_write=r.sends_per_write,
                           limit=r.limit) for r in sends],
            "restarts": [dataclasses.asdict(r) for r in restarts]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
