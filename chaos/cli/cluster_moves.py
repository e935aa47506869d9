"""What ``pushchat cluster`` prints when a room moves: which room, from which node, to which, and how long it waited.

A room lives on the node that rendezvous placement picks among the nodes
registered in etcd (:func:`system.placement.owner`, as every gate computes
it). It moves when that set changes: a killed node's registration goes when
its lease runs out, a stopped node revokes it, a new node adds one. The
cluster window watches the set as the gates do, places every room the store
holds before and after, and prints a line per room that changed node. How
long: from when the window saw the old node's process end to when its
registration went, the time sends to its rooms had to wait.

:func:`moves` and :func:`move_line` are the logic, apart from the watching.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

from system import placement
from system.contract import ROOM_PREFIX
from system.membership import Membership


def moves(rooms: Iterable[str], before: Sequence[str], after: Sequence[str]) -> list[tuple[str, str, str]]:
    """(room, old node, new node) for each room whose owner differs between the two node sets (neither empty)."""
    if not before or not after:
        return []
    out = []
    for room in rooms:
        old, new = placement.owner(ROOM_PREFIX + room, before), placement.owner(ROOM_PREFIX + room, after)
        if old != new:
            out.append((room, old, new))
    return out


def move_line(room: str, old: str, new: str, waited: float | None, left: bool) -> str:
    """``* General moved from node1 to node2, 3.1 s after node1 exited (its lease ran out)``: one short line."""
    if not left:
        return f"* {room} moved from {old} to {new}, which joined"
    since = f", {waited:.1f} s after {old} exited" if waited is not None else ""
    return f"* {room} moved from {old} to {new}{since} (its lease ran out)"


def exit_line(name: str, pid: int, code: int | None, ttl: float) -> str:
    how = (f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 and -code in
           signal.valid_signals() else f"exit code {code}")
    return f"* {name} (pid {pid}) exited ({how}); its rooms move when its lease runs out, within {ttl:g} s"


class MoveWatch:
    """Watch the registered nodes and say each room's move through ``say`` (one line each).

    ``nodes``: name -> (address, process) for the nodes started here; ``rooms``: the rooms to place (the
    store's names), asked at each change."""

    def __init__(self, endpoints: Sequence[str], nodes: Mapping[str, tuple[str, asyncio.subprocess.Process]],
                 rooms: Callable[[], Awaitable[list[str]]], say: Callable[[str], None], *, ttl: float) -> None:
        self.membership = Membership(endpoints, name="cluster-window", role=None, watch="nodes")
        self.names = {addr: name for name, (addr, _) in nodes.items()}
        self.nodes = nodes
        self.rooms, self.say, self.ttl = rooms, say, ttl
        self.exited: dict[str, float] = {}   # address -> when its process ended (monotonic)
        self.placed: list[str] = []          # the node keys rooms are placed over, as of the last change
        self._tasks: set[asyncio.Task[None]] = set()
        self._changes: asyncio.Queue[list[str]] = asyncio.Queue()

    async def start(self) -> None:
        self.membership.listeners.append(lambda members: self._changes.put_nowait(sorted(members)))
        await self.membership.start()
        self.placed = sorted(self.membership.members())
        for name, (addr, proc) in self.nodes.items():
            self._spawn(self._watch_exit(name, addr, proc))
        self._spawn(self._follow())

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.membership.stop(revoke=False)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch_exit(self, name: str, addr: str, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        self.exited[addr] = time.monotonic()
        self.say(exit_line(name, proc.pid, code, self.ttl))

    async def _follow(self) -> None:
        while True:
            after = await self._changes.get()
            before, self.placed = self.placed, after
            try:
                rooms = await self.rooms()
            except Exception as exc:  # the store away: say so, and place the next change
                self.say(f"* the nodes changed ({', '.join(self._name(k) for k in after)}), but the rooms could "
                         f"not be listed: {exc}")
                continue
            for room, old, new in moves(rooms, before, after):
                left = old not in after
                at = self.exited.get(self.membership.value_of(old) or old)
                waited = time.monotonic() - at if left and at is not None else None
                self.say(move_line(room, self._name(old), self._name(new), waited, left))

    def _name(self, key: str) -> str:
        """A node key (its registered name) as the banner listed it: ``node1``, or its address if not ours."""
        addr = self.membership.value_of(key) or key
        return self.names.get(addr, addr)
