"""The nemesis: applies a schedule of faults to a running topology and heals them (Jepsen's word).

The I/O edge of the fault model. It reaches links, processes and clients
only through the Protocols of ``chaos.faults.kinds`` (a kind says how it acts on
a part; ``processes`` serves the server kinds too), so tests drive it with fakes; every step is recorded in the
history as a ``fault`` info record of the ``nemesis`` process.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, Iterable, Mapping, Protocol, Sequence, TypeVar

from chaos.faults.fault import Fault
from chaos.faults.kinds import KINDS, ClientControl, LinksControl, Processes, Undo
from chaos.naming import PartNames

T = TypeVar("T")


class HistoryWriter(Protocol):
    def info(self, process: str, f: str, value: Mapping[str, Any] | None = None) -> Any: ...


class FaultInjector:
    """Applies faults and heals them, recording each step as a ``fault`` info record.

    ``start`` remembers how to undo exactly what it did; ``heal`` undoes it.
    Extension kinds are skipped, with a recorded reason, unless
    ``supports_extensions`` (the embedded server is in use).
    """

    def __init__(self, links: LinksControl, processes: Processes, clients: Mapping[str, ClientControl],
                 history: HistoryWriter, supports_extensions: bool, *, names: PartNames,
                 process: str = "nemesis", seed: int = 0) -> None:
        self.links, self.processes, self.clients = links, processes, clients
        self.history, self.supports_extensions = history, supports_extensions
        self.names, self.process = names, process
        self.seed = seed  # server faults roll their numbers from it
        self._active: dict[int, tuple[Fault, list[list[Undo]]]] = {}  # id -> (fault, each part's undo steps)

    @property
    def active(self) -> list[Fault]:
        return [fault for fault, _ in self._active.values()]

    def _record(self, fault: Fault, phase: str, names: Iterable[str], **extra: Any) -> None:
        self.history.info(self.process, "fault", {
            "fault": fault.kind, "target": str(fault.target), "phase": phase, "params": dict(fault.params),
            "id": fault.id, "names": list(names), **extra})

    async def start(self, fault: Fault) -> bool:
        """Apply ``fault``; False if it was skipped or failed (both recorded)."""
        if fault.id in self._active:
            raise ValueError(f"fault id {fault.id} is already active")
        names = fault.names(self.names)
        if fault.extension and not self.supports_extensions:
            self._record(fault, "skipped", names, reason=(
                f"{fault.kind} is an extension toxic of pushchat's embedded Toxiproxy server; "
                "a real Toxiproxy lacks it"))
            return False
        # Every part at once, as it hits three clients (a load run's `all client links` is 500 proxies); each
        # part's own steps in order. Cancelled meanwhile, the steps in flight finish and are all undone.
        undo: list[list[Undo]] = [[] for _ in names]
        applying = asyncio.gather(*(KINDS[fault.kind].apply(self, name, fault, steps)
                                    for name, steps in zip(names, undo)), return_exceptions=True)
        try:
            outcomes = await asyncio.shield(applying)
        except asyncio.CancelledError:
            await _to_the_end(_after(applying, self._undo_all(undo)))
            raise
        failed = next((o for o in outcomes if isinstance(o, Exception)), None)
        if failed is not None:  # a fault that cannot be applied must not end the run
            errors = await _to_the_end(self._undo_all(undo))
            self._record(fault, "error", names, error=f"{type(failed).__name__}: {failed}", undo_errors=errors)
            return False
        for o in outcomes:
            if isinstance(o, BaseException):
                raise o
        self._active[fault.id] = (fault, undo)
        self._record(fault, "start", names)
        return True

    async def _undo_all(self, undo: list[list[Undo]]) -> list[str]:
        """Each part's steps undone in reverse, the parts at once."""
        return [e for errors in await asyncio.gather(*(self._undo(steps) for steps in undo)) for e in errors]

    @staticmethod
    async def _undo(steps: list[Undo]) -> list[str]:
        errors = []
        for step in reversed(steps):
            try:
                await step()
            except Exception as exc:  # keep healing the rest
                errors.append(f"{type(exc).__name__}: {exc}")
        return errors

    async def heal(self, fault: Fault) -> None:
        """Undo what ``start`` did; a fault that is not active (skipped, failed) is a no-op."""
        entry = self._active.pop(fault.id, None)
        if entry is None:
            return
        errors = await _to_the_end(self._undo_all(entry[1]))  # a half-healed fault would outlive the run
        self._record(fault, "heal", fault.names(self.names), **({"errors": errors} if errors else {}))

    async def heal_all(self) -> None:
        for fault in reversed(self.active):
            await self.heal(fault)

    async def run(self, schedule: Sequence[Fault], t0: float,
                  clock: Callable[[], float] = time.monotonic) -> None:
        """Start and heal each fault at ``t0 + start`` / ``t0 + end`` (``t0`` on ``clock``).

        Heals come before starts at the same instant. Whatever is still
        active when this returns or is cancelled is healed.
        """
        events = sorted([(f.start, 1, i, f) for i, f in enumerate(schedule)]
                        + [(f.end, 0, i, f) for i, f in enumerate(schedule)], key=lambda e: e[:3])
        try:
            for at, is_start, _, fault in events:
                delay = t0 + at - clock()
                if delay > 0:
                    await asyncio.sleep(delay)  # the schedule itself: wait for this fault's time
                await (self.start(fault) if is_start else self.heal(fault))
        finally:
            await self.heal_all()


async def _after(first: Awaitable[Any], then: Awaitable[T]) -> T:
    await first
    return await then


async def _to_the_end(work: Awaitable[T]) -> T:
    """Await ``work`` to its end even if cancelled meanwhile (then re-raise the cancellation)."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.gather(task, return_exceptions=True)
        raise
