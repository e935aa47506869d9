"""What a soak samples of each server: its process (from ``/proc``), its own gauges (from its metrics) and its store.

One :class:`~chaos.soak.samples.Sample` per live server per sampling round, written as a line of the
run folder's ``soak.jsonl`` (``chaos.rundir``, ``chaos.soak.samples``). ``/proc`` gives what any process
has (resident memory, open file descriptors); the server's ``/metrics`` what only it knows (asyncio tasks, the gate's
sessions and client streams, the node's rooms); the run folder the size of a node's sqlite
store. A resource a process cannot tell (a paused one answers no scrape, a gate has no rooms)
is left out of its sample, never guessed. The embedded Toxiproxy, which every link goes through, is
sampled from ``/proc`` too, with the sockets it holds in CLOSE-WAIT (its peer closed them, it has not).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from chaos.soak.samples import Sample

#: resource -> (metric name, which process kinds serve it)
GAUGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "tasks": ("pushchat_asyncio_tasks", ("node", "gate")),
    "sessions": ("pushchat_gate_sessions", ("gate",)),
    "streams": ("pushchat_connected_clients", ("gate",)),
    "tracked": ("pushchat_gate_tracked", ("gate",)),
    "gate_streams": ("pushchat_connected_gates", ("node",)),
    "rooms": ("pushchat_rooms_hosted", ("node",)),
}
def proc_status(pid: int) -> dict[str, float]:
    """Resident memory and open file descriptors of ``pid`` from ``/proc``; empty if it is gone."""
    out: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    out["rss_bytes"] = float(line.split()[1]) * 1024  # kB
                    break
        out["fds"] = float(len(os.listdir(f"/proc/{pid}/fd")))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return out


def close_wait(pid: int) -> float | None:
    """How many of ``pid``'s TCP sockets are in CLOSE-WAIT (state 08 of ``/proc/PID/net/tcp``); None if it is gone."""
    try:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:  # closed meanwhile
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        held = 0
        for table in ("tcp", "tcp6"):
            with open(f"/proc/{pid}/net/{table}", encoding="ascii") as f:
                next(f)
                held += sum(1 for line in f if (fields := line.split())[3] == "08" and fields[9] in inodes)
        return float(held)
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def sample_process(name: str, pid: int, t: float, sends_ok: int) -> Sample | None:
    """A helper process of the harness (the embedded Toxiproxy): what ``/proc`` says, with its CLOSE-WAIT sockets."""
    values = proc_status(pid)
    if (held := close_wait(pid)) is not None:
        values["close_wait"] = held
    return Sample(round(t, 3), name, 1, pid, sends_ok, values) if values else None


def folder_bytes(path: Path) -> float | None:
    """The bytes of every file under ``path`` (a node's sqlite store: database, WAL, lock); None if absent."""
    if not path.is_dir():
        return None
    total = 0
    for entry in path.rglob("*"):
        try:
            if entry.is_file():
                total += entry.stat().st_size
        except FileNotFoundError:  # a WAL checkpointed away meanwhile
            continue
    return float(total)


def gauges(kind: str, metrics: Mapping[str, float] | None) -> dict[str, float]:
    """The soak's resources among a scrape of a ``kind`` (node, gate) server's metrics."""
    if not metrics:
        return {}
    return {res: float(metrics[name]) for res, (name, kinds) in GAUGES.items() if kind in kinds and name in metrics}


async def sample_servers(servers: Iterable[Any], t: float, sends_ok: int, store_dirs: Mapping[str, Path]
                         ) -> list[Sample]:
    """One round: every live server (``chaos.infra.process.ServerProcess``) of the topology, scraped in parallel."""
    async def one(server: Any) -> Sample | None:
        if not server.alive or server.proc is None:
            return None
        pid = server.proc.pid
        values = proc_status(pid)
        try:
            scraped = await asyncio.to_thread(server.scrape_metrics, 5.0)
        except OSError:  # it is dying, or frozen by a fault: what /proc said is still true
            scraped = None
        values.update(gauges(server.command, scraped))
        if server.name in store_dirs and (size := await asyncio.to_thread(folder_bytes, store_dirs[server.name])) \
                is not None:
            values["store_bytes"] = size
        return Sample(round(t, 3), server.name, server.incarnation, pid, sends_ok, values) if values else None

    found = await asyncio.gather(*(one(s) for s in servers))
    return [s for s in found if s is not None]
