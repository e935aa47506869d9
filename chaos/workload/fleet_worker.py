"""A load worker: one process driving many chaos clients for the runner (``python -m chaos.workload.fleet_worker``).

Hundreds of clients in the runner's own process would make it the
bottleneck that a load run measures; ``chaos.workload.fleet.Fleet`` spreads them
over a few of these instead. Each client is still a
:class:`chaos.workload.client.WorkloadClient` (its own ChatClient, channel and
Register stream, its own proxy), and each records its history, into this
worker's own file on the runner's clock, which the runner merges.

The protocol is one JSON object a line: commands on stdin
(``{"id": N, "op": ..., ...}``), one answer each on stdout
(``{"id": N, "ok": true, ...}`` or ``{"id": N, "error": "..."}``), and,
unasked, ``{"counts": {...}}`` for the progress line.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from chaos.history import History
from chaos.workload.client import Counts, WorkloadClient, client_logs
from chaos.workload.presence_recorder import FinalLists
from system.grpcopts import Keepalive
from system.tls import ClientTls
from system.wait import wait_until

CONNECTING_AT_ONCE = 10  # clients opening their Register stream together: a worker's start is not a SYN flood
COUNTS_EVERY = 0.5       # s between two counts lines
CAUGHT_UP_POLL = 0.1
FINAL_POLL_TIMEOUT = 30.0  # s for the final polls: a client that cannot reach its gate leaves no record (unknown)
POLLING_AT_ONCE = 50
ORPHAN_CLOSE = 5.0         # s to close the clients when the runner went away


class Worker:
    """The clients of one worker process and the commands the runner gives them."""

    def __init__(self, write: Callable[[dict[str, Any]], None]) -> None:
        self.write = write
        self.counts = Counts()
        self.clients: dict[str, WorkloadClient] = {}
        self.rooms: dict[str, list[str]] = {}
        self.history: History | None = None
        self.exits = contextlib.ExitStack()
        self.rng = random.Random(0)

    async def op_start(self, clients: list[list[Any]], history: str, origin: float, keepalive: list[int],
                       logs: str, seed: int = 0, tls_ca: str | None = None, presence: bool = False
                       ) -> dict[str, Any]:
        """Connect every client and join its rooms (a few at a time); the history's time 0 is the runner's.
        ``tls_ca``: the PEM CA to trust when the gates serve TLS; ``presence``: record each client's final
        member list."""
        self.history = History(history, line_flush=False)  # flushed with each counts line
        self.history.start = origin  # one clock (CLOCK_MONOTONIC is system-wide): the files merge by time
        self.exits.enter_context(client_logs(Path(logs), [c[0] for c in clients]))
        ka = Keepalive(*keepalive)
        tls = ClientTls(tls_ca.encode()) if tls_ca else None
        lists = FinalLists() if presence else None
        for name, addr, rooms, token in clients:
            self.clients[name] = WorkloadClient(name, addr, self.history, self.counts, ka, token=token, tls=tls,
                                                final_lists=lists)
            self.rooms[name] = rooms
        gate = asyncio.Semaphore(CONNECTING_AT_ONCE)
        self.rng = random.Random(seed)

        async def start(client: WorkloadClient) -> None:
            async with gate:  # a link still coming up is tried again by start() itself
                await client.start(self.rooms[client.name], must_join=False)
            self.counts.started += 1  # the runner's sign that the start goes on

        await asyncio.gather(*(start(c) for c in self.clients.values()))
        return {}

    async def op_send(self, until: float, rate: float, text_bytes: int) -> dict[str, Any]:
        """Each client sends ``rate``/s until ``until`` (monotonic), from its own random phase."""
        async def one(client: WorkloadClient, phase: float) -> None:
            await asyncio.sleep(max(0.0, min(phase, until - time.monotonic())))
            await client.send_loop(self.rooms[client.name], rate, until, text_bytes)

        await asyncio.gather(*(one(c, self.rng.uniform(0, 1 / rate)) for c in self.clients.values()))
        return {}

    async def op_caught_up(self, last: dict[str, int], timeout: float) -> dict[str, Any]:
        """Wait up to ``timeout`` s for every client to show its rooms up to ``last``; say whether they did."""
        def done() -> bool:
            return all(c.caught_up({r: last.get(r, 0) for r in self.rooms[c.name]}) for c in self.clients.values())

        return {"value": bool(await wait_until(done, timeout, interval=CAUGHT_UP_POLL, fail=False))}

    async def op_final_poll(self, held: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        """Each client's final poll, within FINAL_POLL_TIMEOUT for them all."""
        gate = asyncio.Semaphore(POLLING_AT_ONCE)
        deadline = time.monotonic() + FINAL_POLL_TIMEOUT

        async def one(client: WorkloadClient) -> None:
            async with gate:
                for room in self.rooms[client.name]:
                    try:
                        async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                            await client.final_poll(room, held.get(room, []))
                    except asyncio.TimeoutError:
                        pass

        await asyncio.gather(*(one(c) for c in self.clients.values()))
        return {}

    async def op_stop_reading(self, name: str) -> dict[str, Any]:
        self.clients[name].stop_reading()
        return {}

    async def op_resume_reading(self, name: str) -> dict[str, Any]:
        self.clients[name].resume_reading()
        return {}

    async def op_close(self) -> dict[str, Any]:
        await asyncio.gather(*(c.close() for c in self.clients.values()), return_exceptions=True)
        if self.history is not None:
            self.history.close()
        self.exits.close()
        self.report_counts()
        return {}

    def report_counts(self) -> None:
        if self.history is not None:
            self.history.flush()
        self.write({"counts": dataclasses.asdict(self.counts)})

    async def handle(self, command: dict[str, Any]) -> None:
        ident, op = command.pop("id", None), command.pop("op", "")
        method: Callable[..., Awaitable[dict[str, Any]]] | None = getattr(self, f"op_{op}", None)
        try:
            if method is None:
                raise ValueError(f"unknown command {op!r}")
            answer = {"id": ident, "ok": True, **await method(**command)}
        except Exception as exc:  # the runner decides what a failed command means
            answer = {"id": ident, "error": f"{type(exc).__name__}: {exc}"}
        self.write(answer)


async def serve() -> None:
    """Read commands until stdin closes or ``close`` was answered."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)  # a final poll's command carries every room's messages
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def write(doc: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(doc, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    worker = Worker(write)
    tasks: set[asyncio.Task[None]] = set()

    async def counts() -> None:
        while True:
            await asyncio.sleep(COUNTS_EVERY)
            worker.report_counts()

    ticker = asyncio.create_task(counts())
    try:
        while line := await reader.readline():
            command = json.loads(line)
            closing = command.get("op") == "close"
            task = asyncio.create_task(worker.handle(command))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if closing:
                await task
                return
        # stdin closed without a close: the runner is gone; drop everything, never outlive it
        for task in list(tasks):
            task.cancel()
        async with asyncio.timeout(ORPHAN_CLOSE):
            await asyncio.gather(*tasks, worker.op_close(), return_exceptions=True)
    finally:
        ticker.cancel()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(ticker, *tasks, return_exceptions=True)


if __name__ == "__main__":
    try:
        asyncio.run(serve())
    except asyncio.TimeoutError:  # an orphan whose clients would not close: exit all the same
        os._exit(1)
