"""The nemesis: applies a schedule of faults to a running topology and heals them (Jepsen's word).

The I/O edge of the fault model. It reaches links, processes and clients
only through the Protocols of ``chaos.faults.kinds`` (a kind says how it acts on
a part; ``processes`` serves the server kinds too), so tests drive it with fakes; every step is recorded in the
history as a ``fault`` info record of the ``nemesis`` process.

A heal step that fails (a Toxiproxy API call that timed out on a starved machine, a restart that failed) is
tried again, each attempt recorded (phase ``heal_retry``), until it succeeds (the schedule waits for it): a
stall left on for the rest of an hour's soak is not a fault the schedule asked for. Only a refusal (an HTTP 4xx: the thing is not there to
undo) is not retried, and once the run is ending (its schedule cancelled, :meth:`FaultInjector.heal_all`) a
failing step gets :data:`PATIENCE_AT_END` more seconds; what still fails then is in the ``heal`` record's
``errors``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, Iterable, Mapping, Protocol, Sequence, TypeVar

from chaos.faults.fault import Fault
from chaos.faults.kinds import KINDS, ClientControl, LinksControl, Processes, Undo
from chaos.naming import PartNames

T = TypeVar("T")

#: Seconds before a failed heal step is tried again, doubling up to the second.
RETRY_FIRST, RETRY_MOST = 0.5, 5.0
#: Seconds a failing heal step is still retried once the run is ending.
PATIENCE_AT_END = 30.0


def _retryable(exc: Exception) -> bool:
    """Anything but a refusal: an HTTP 4xx says the thing to undo is not there (or never will be)."""
    status = getattr(exc, "status", None)
    return not (isinstance(status, int) and 400 <= status < 500)


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
        self._give_up_at: float | None = None  # set once the run is ending: failing heals stop being retried then
        self.heal_retries = 0   # failed heal attempts that were tried again
        self.heals_failed = 0   # heal steps that never succeeded

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
            self.ending()
            await _to_the_end(_after(applying, self._undo_all(fault, names, undo)), self.ending)
            raise
        failed = next((o for o in outcomes if isinstance(o, Exception)), None)
        if failed is not None:  # a fault that cannot be applied must not end the run
            errors = await _to_the_end(self._undo_all(fault, names, undo), self.ending)
            self._record(fault, "error", names, error=f"{type(failed).__name__}: {failed}", undo_errors=errors)
            return False
        for o in outcomes:
            if isinstance(o, BaseException):
                raise o
        self._active[fault.id] = (fault, undo)
        self._record(fault, "start", names)
        return True

    def ending(self) -> None:
        """The run is ending: a failing heal step gets :data:`PATIENCE_AT_END` more seconds, not forever."""
        if self._give_up_at is None:
            self._give_up_at = time.monotonic() + PATIENCE_AT_END

    async def _undo_all(self, fault: Fault, names: Sequence[str], undo: list[list[Undo]]) -> list[str]:
        """Each part's steps undone in reverse, the parts at once."""
        return [e for errors in await asyncio.gather(*(self._undo(fault, name, steps)
                                                       for name, steps in zip(names, undo))) for e in errors]

    async def _undo(self, fault: Fault, name: str, steps: list[Undo]) -> list[str]:
        errors = []
        for step in reversed(steps):
            delay, attempt = RETRY_FIRST, 1
            while True:
                try:
                    await step()
                    break
                except Exception as exc:  # keep healing: this step again (module docstring), then the rest
                    error = f"{type(exc).__name__}: {exc}"
                    if not _retryable(exc) or (self._give_up_at is not None and time.monotonic() >= self._give_up_at):
                        errors.append(error)
                        self.heals_failed += 1
                        break
                    self.heal_retries += 1
                    self._record(fault, "heal_retry", [name], error=error, attempt=attempt, retry_in=delay)
                    await asyncio.sleep(delay)  # backoff before the next attempt
                    delay, attempt = min(delay * 2, RETRY_MOST), attempt + 1
        return errors

    async def heal(self, fault: Fault) -> None:
        """Undo what ``start`` did; a fault that is not active (skipped, failed) is a no-op."""
        entry = self._active.pop(fault.id, None)
        if entry is None:
            return
        names = fault.names(self.names)
        # a half-healed fault would outlive the run: cancelled meanwhile, it is still healed (with patience)
        errors = await _to_the_end(self._undo_all(fault, names, entry[1]), self.ending)
        self._record(fault, "heal", names, **({"errors": errors} if errors else {}))

    async def heal_all(self) -> None:
        """The run's end: heal whatever is still active (a failing step gets :data:`PATIENCE_AT_END` seconds)."""
        self.ending()
        try:
            for fault in reversed(self.active):
                await self.heal(fault)
        finally:
            self._give_up_at = None

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


async def _to_the_end(work: Awaitable[T], on_cancel: Callable[[], None] = lambda: None) -> T:
    """Await ``work`` to its end even if cancelled meanwhile (then call ``on_cancel``, wait, re-raise)."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        on_cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise
