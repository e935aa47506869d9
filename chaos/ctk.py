"""Chaos Toolkit steps that run a pushchat scenario: ``"provider": {"type": "python", "module": "chaos.ctk"}``.

Teams that write Chaos Toolkit experiments can start one of our scenarios'
topologies (real node and gate processes, every link behind a Toxiproxy
proxy, clients sending), inject our faults into it, stop it, and use the
checker's verdict and counters as a steady-state hypothesis. The example is
``scenarios/ctk-baseline.json``; README "Campaigns and CI" shows how to run it.

Actions: :func:`start`, :func:`inject`, :func:`stop`. Probes: :func:`verdict`,
:func:`result`, :func:`expectations_met`. Tolerance: :func:`holds`.

Chaos Toolkit calls one plain function at a time, with pauses between them,
while the servers, the clients and their sends must go on meanwhile; so a
run lives in a background thread with its own event loop (:class:`Session`)
and each step hands it a coroutine. The run folder is the one
``pushchat chaos run`` writes (history, logs, results.json, report.html), so
``pushchat chaos check`` re-judges it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, NoReturn

from chaos.scenario.model import OPS, Expectation

if TYPE_CHECKING:
    from chaos.rundir import Judgement

__all__ = ["start", "inject", "stop", "verdict", "result", "expectations_met", "holds"]

STEP_TIMEOUT = 120.0          # seconds a step may wait for the run's loop
FIRST_INJECTED_ID = 1000      # fault ids of injected faults: apart from a scenario's own


class CtkError(RuntimeError):
    """A step that cannot be done (no run started, a bad fault); Chaos Toolkit marks the activity failed."""


def _fail(message: str) -> NoReturn:
    try:
        from chaoslib.exceptions import ActivityFailed
    except ImportError:  # the steps work without Chaos Toolkit too (tests, scripts)
        raise CtkError(message) from None
    raise ActivityFailed(message)


class Session:
    """One running scenario: a :class:`chaos.run.Run` (the phases ``pushchat chaos run`` goes through, so the
    scenario's credentials, TLS, hostile members and load fleet come with it) on its own loop thread."""

    def __init__(self, scenario: Any, out: Path, seed: int | None, duration: float | None, faults: bool,
                 toxiproxy_url: str | None) -> None:
        self.scenario, self.out, self.toxiproxy_url = scenario, out, toxiproxy_url
        self.seed, self.duration, self.faults = seed, duration, faults
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="pushchat-ctk", daemon=True)
        self.thread.start()
        self.exits = contextlib.ExitStack()
        self.ids = itertools.count(FIRST_INJECTED_ID)
        self.run: Any = None

    def call(self, coro: Any, timeout: float = STEP_TIMEOUT) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def start(self) -> dict[str, Any]:
        from chaos.infra.links import Links
        from chaos.rundir import RunFolder
        from chaos.run import Run

        links = self.exits.enter_context(Links.external(self.toxiproxy_url) if self.toxiproxy_url else
                                         Links.embedded(log_file=str(RunFolder(self.out).make().toxiproxy_log)))
        self.run = run = Run(self.scenario, self.out, links, seed=self.seed, duration=self.duration,
                             faults=self.faults)
        await run.start()
        await run.begin_workload()
        sc = run.scenario
        return {"out": str(self.out), "scenario": sc.name, "seed": run.seed, "clients": sc.topology.client_names,
                "rooms": run.rooms, "send_window": sc.workload.duration,
                "gates": [gate.addr for gate in run.topology.gates]}

    async def inject(self, kind: str, target: str, duration: float, params: Mapping[str, Any] | None) -> list[str]:
        from chaos.faults.fault import FaultError, make_fault

        try:
            fault = make_fault(kind, target, max(0.0, time.monotonic() - self.run.t0), duration, params,
                               id=next(self.ids))
            names = fault.names(self.scenario.topology.names())
        except (FaultError, KeyError, ValueError) as exc:
            _fail(f"cannot inject {kind} on {target!r}: {exc}")
        if not await self.run.inject(fault):
            _fail(f"{fault.describe()} was skipped or failed (see history.jsonl)")
        return names

    async def stop(self) -> None:
        """The run's own last phases: the sends end, every fault is healed, recovery, final poll, stop."""
        try:
            await self.run.end_workload()
            await self.run.finish()
        finally:
            await self.run.close()

    async def abort(self) -> None:
        """Stop whatever was started: clients, then the topology's processes and proxies."""
        if self.run is not None:
            await self.run.close()

    def close(self) -> None:
        try:
            self.exits.close()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()


_session: Session | None = None
_judged: Judgement | None = None     # results.json of the last stopped run
_lock = threading.Lock()


def _out(configuration: Mapping[str, Any] | None, scenario: str) -> Path:
    base = (configuration or {}).get("pushchat_out")
    root = Path(base) if base else Path("runs")
    return root / f"ctk-{scenario}-{time.strftime('%Y%m%d-%H%M%S')}"


# ---- actions --------------------------------------------------------------------------------------------------

def start(scenario: str, seed: int | None = None, duration: float | None = None, faults: bool = False,
          out: str | None = None, configuration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Start a scenario's topology and its clients' sends (for ``duration`` s, default the scenario's own),
    as ``pushchat chaos run`` does: with its tokens and TLS, hostile members and load fleet, if it has them.

    ``scenario``: a name from scenarios/ or a YAML path. ``faults``: also apply the scenario's own fault
    schedule. The run folder is ``out``, else under the configuration's ``pushchat_out`` (default runs/).
    The configuration's ``toxiproxy_url`` uses that server instead of an embedded one. Returns the run folder
    (``out``), seed, clients, rooms, the send window and each gate's address (``gates``, for probes of your own;
    with ``tls`` it speaks TLS under the run's CA, ``security/ca.pem`` in the folder)."""
    global _session, _judged
    from chaos.scenario.files import ScenarioError, find

    with _lock:
        if _session is not None:
            _fail("a pushchat run is already started; stop it first")
        try:
            sc = find(scenario)
        except ScenarioError as exc:
            _fail(str(exc))
        folder = Path(out) if out else _out(configuration, sc.name)
        session = Session(sc, folder, None if seed is None else int(seed),
                          None if duration is None else float(duration), bool(faults),
                          (configuration or {}).get("toxiproxy_url"))
        _judged = None
        try:
            started = session.call(session.start())
        except BaseException:
            with contextlib.suppress(Exception):
                session.call(session.abort())
            session.close()
            raise
        _session = session
        return started


def inject(kind: str, target: str, duration: float, params: Mapping[str, Any] | None = None) -> list[str]:
    """Apply a fault now (a kind of ``pushchat chaos`` scenarios: latency, reset_peer, kill, ...) on a target
    (``client bob``, ``gate 0 -> node 0``, ``node 0``); it is healed after ``duration`` seconds. Returns the
    proxies, processes or clients it hit."""
    session = _session
    if session is None:
        _fail("no pushchat run is started: call chaos.ctk.start first")
    return session.call(session.inject(kind, target, float(duration), params))


def stop() -> dict[str, Any]:
    """Let the sends finish, heal every fault, let clients recover, poll, stop every process, judge.

    Returns the run's summary (verdict, lost, duplicates, ...). Safe to call again (a rollback): with no
    run going it returns the last summary."""
    global _session, _judged
    from chaos.rundir import RunFolder

    with _lock:
        session = _session
        if session is None:
            return _summary(_judged)
        try:
            session.call(session.stop(), timeout=STEP_TIMEOUT + session.run.scenario.workload.duration)
        finally:
            _session = None
            session.close()
        session.run.judge()
        _judged = RunFolder(session.out).read_judgement()
        if _judged is None:
            _fail(f"the run in {session.out} was judged, but its results.json cannot be read")
        return _summary(_judged)


def _summary(judged: Judgement | None) -> dict[str, Any]:
    if judged is None:
        return {}
    from chaos.checker import EXPECTABLE

    return {"scenario": judged.scenario, "passed": judged.passed,
            **{name: getattr(judged.results, name) for name in EXPECTABLE}}


# ---- probes ---------------------------------------------------------------------------------------------------

def _results() -> Judgement:
    if _judged is None:
        _fail("no judged pushchat run: the probes read the run that chaos.ctk.stop ended")
    return _judged


def verdict() -> str:
    """The checker's verdict of the last stopped run: valid, invalid or unknown."""
    return str(_results().results.verdict)


def result(name: str) -> Any:
    """One number of the last stopped run's results.json (any name a scenario may ``expect``: lost, ...)."""
    from chaos.checker import EXPECTABLE

    results = _results().results
    if name not in EXPECTABLE:
        _fail(f"no result {name!r}; one of: {', '.join(EXPECTABLE)}")
    return getattr(results, name)


def expectations_met() -> bool:
    """Whether the last stopped run met every expectation of its scenario file."""
    return _results().passed


# ---- tolerance ------------------------------------------------------------------------------------------------

def holds(value: Any = None, op: str = "==", wanted: Any = 0) -> bool:
    """A tolerance probe: ``value op wanted`` as a scenario's ``expect`` reads it (op in, ==, <, >=, ...)."""
    if op != "in" and op not in OPS:
        _fail(f"unknown comparison {op!r}; one of: in, {', '.join(OPS)}")
    return Expectation("value", op, wanted).holds(value)
