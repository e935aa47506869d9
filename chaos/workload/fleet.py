"""The load clients of a run (``topology.load``): spread over worker processes, driven, merged back.

``Fleet`` starts ``LoadSpec.workers`` processes (``chaos.workload.fleet_worker``),
deals the clients out to them round-robin, and gives them the run's
phases as commands: connect and join, send, wait to be caught up, final
poll, close. The fault injector reaches a load client through
:meth:`Fleet.controls` as it reaches a named one. Each worker writes its
clients' history into ``history-load{K}.jsonl`` on the runner's clock;
:func:`merge_histories` folds them into ``history.jsonl`` by time, so the
checker reads one history as for three clients.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import os
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from chaos.rundir import RunFolder
from chaos.scenario.model import LoadSpec
from chaos.workload.client import Counts
from system.grpcopts import Keepalive
from system.tls import ClientTls

START_STALL = 120.0  # s the workers' start may go on without one more client started before the run gives up


class LoadError(RuntimeError):
    """A worker failed a command or died: names the worker and what it said."""


class _Worker:
    """The runner's end of one worker process."""

    def __init__(self, index: int, proc: asyncio.subprocess.Process, on_counts: Callable[[int, dict], None]) -> None:
        self.index, self.proc = index, proc
        self._ids = itertools.count()
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._on_counts = on_counts
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            while line := await self.proc.stdout.readline():
                doc = json.loads(line)
                if "counts" in doc:
                    self._on_counts(self.index, doc["counts"])
                elif (future := self._waiting.pop(doc.get("id"), None)) is not None and not future.done():
                    future.set_result(doc)
        finally:
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(LoadError(f"load worker {self.index} exited (see logs/load-worker"
                                                   f"{self.index}.err)"))

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"id": ident, "op": op, **args}, separators=(",", ":")) + "\n").encode())
        await self.proc.stdin.drain()
        answer = await future
        if "error" in answer:
            raise LoadError(f"load worker {self.index}: {op}: {answer['error']}")
        return answer

    async def stop(self) -> None:
        try:
            async with asyncio.timeout(30):
                await self.call("close")
        except (LoadError, asyncio.TimeoutError, ConnectionError):
            pass
        if self.proc.returncode is None:
            try:
                async with asyncio.timeout(5):
                    await self.proc.wait()
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


class _Control:
    """A load client as the fault injector sees it (``chaos.faults.kinds.ClientControl``)."""

    def __init__(self, worker: _Worker, name: str) -> None:
        self.worker, self.name = worker, name

    async def stop_reading(self) -> None:
        await self.worker.call("stop_reading", name=self.name)

    async def resume_reading(self) -> None:
        await self.worker.call("resume_reading", name=self.name)


class Fleet:
    """The load clients of one run and the workers that drive them."""

    def __init__(self, spec: LoadSpec, gates: int, addr_of: Callable[[str], str], out: Path, origin: float,
                 counts: Counts, keepalive: Keepalive, token_of: Callable[[str], str | None] = lambda _: None,
                 seed: int = 0, tls: ClientTls | None = None) -> None:
        self.spec, self.out, self.origin, self.counts, self.keepalive, self.seed = (
            spec, out, origin, counts, keepalive, seed)
        self.tls_ca = tls.ca.decode() if tls is not None else None  # PEM: text
        clients = spec.clients_on(gates)
        self.workers_n = min(spec.workers, len(clients))
        #: worker index -> [name, address, rooms, token] of each of its clients
        self.assignment: list[list[list[Any]]] = [[] for _ in range(self.workers_n)]
        for i, (name, _) in enumerate(clients):
            self.assignment[i % self.workers_n].append([name, addr_of(name), [spec.room_of(i)], token_of(name)])
        self.workers: list[_Worker] = []
        self._reported: dict[int, dict[str, int]] = {}

    @property
    def names(self) -> list[str]:
        return [c[0] for clients in self.assignment for c in clients]

    def history_files(self) -> list[Path]:
        return [RunFolder(self.out).load_history(k) for k in range(self.workers_n)]

    def controls(self) -> dict[str, _Control]:
        return {c[0]: _Control(self.workers[k], c[0]) for k, clients in enumerate(self.assignment) for c in clients}

    def _on_counts(self, index: int, counts: dict[str, int]) -> None:
        """Add what a worker counted since its last report to the run's live counts."""
        before = self._reported.get(index, {})
        for f in fields(Counts):
            delta = int(counts.get(f.name, 0)) - int(before.get(f.name, 0))
            setattr(self.counts, f.name, getattr(self.counts, f.name) + delta)
        self._reported[index] = counts

    async def start(self) -> None:
        """Start the workers; each connects its clients and joins their rooms."""
        folder = RunFolder(self.out)
        logs = folder.logs
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for k in range(self.workers_n):
            with open(folder.load_worker_err(k), "wb") as err:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "chaos.workload.fleet_worker", stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE, stderr=err, env=env, limit=2**24)
            self.workers.append(_Worker(k, proc, self._on_counts))
        ka = [self.keepalive.time_ms, self.keepalive.timeout_ms, self.keepalive.ping_timeout_ms]
        starts = asyncio.ensure_future(asyncio.gather(*(
            w.call("start", clients=self.assignment[w.index], history=str(self.history_files()[w.index]),
                   origin=self.origin, keepalive=ka, logs=str(logs), seed=self.seed * 1000 + w.index,
                   tls_ca=self.tls_ca, presence=self.spec.presence)
            for w in self.workers)))
        await self._while_starting(starts)

    async def _while_starting(self, starts: "asyncio.Future[Any]") -> None:
        """Wait for ``starts`` while clients keep starting; give up after START_STALL s in which none did.

        A fixed deadline was wrong both ways: 2,000 members joining one room on a busy machine take minutes
        (each join brings a growing list, page by page), and a start that hangs should not take as long."""
        seen, since = -1, time.monotonic()
        while not starts.done():
            await asyncio.wait({starts}, timeout=1.0)
            if self.counts.started != seen:
                seen, since = self.counts.started, time.monotonic()
            elif time.monotonic() - since > START_STALL and not starts.done():
                starts.cancel()
                await asyncio.gather(starts, return_exceptions=True)
                raise LoadError(f"load clients' start stalled: none started for {START_STALL:g}s "
                                f"({seen} of {len(self.names)} started)")
        starts.result()

    async def send(self, until: float, text_bytes: int) -> None:
        """Every load client sends until ``until`` (monotonic): ``spec.rate`` messages/s among them all."""
        per_client = self.spec.rate / self.spec.clients
        await asyncio.gather(*(w.call("send", until=until, rate=per_client, text_bytes=text_bytes)
                               for w in self.workers))

    async def caught_up(self, last: Mapping[str, int], timeout: float) -> bool:
        """Wait up to ``timeout`` s for every load client to show its rooms up to ``last``."""
        answers = await asyncio.gather(*(w.call("caught_up", last=dict(last), timeout=timeout)
                                         for w in self.workers))
        return all(a["value"] for a in answers)

    async def final_poll(self, held: Mapping[str, list[dict[str, Any]]]) -> None:
        await asyncio.gather(*(w.call("final_poll", held={r: held.get(r, []) for c in self.assignment[w.index]
                                                           for r in c[2]})
                               for w in self.workers))

    async def close(self) -> None:
        await asyncio.gather(*(w.stop() for w in self.workers), return_exceptions=True)


def _records(path: Path) -> Iterator[tuple[float, str]]:
    """(time, line) of each complete record of a history file (a cut-off last line is left out)."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.endswith("\n"):
                yield json.loads(line)["time"], line


def merge_histories(main: Path, others: list[Path]) -> int:
    """Fold ``others`` into ``main`` by time (each file is in time order), renumbering ``index``; the others go.

    Returns the number of records written."""
    sources = [_records(p) for p in [main, *others] if p.exists()]
    merged = main.with_suffix(".merging")
    n = 0
    with open(merged, "w", encoding="utf-8") as out:
        for _, line in heapq.merge(*sources, key=lambda item: item[0]):
            out.write(f'{{"index":{n}{line[line.index(","):]}')  # History writes "index" first
            n += 1
    merged.replace(main)
    for p in others:
        p.unlink(missing_ok=True)
    return n
