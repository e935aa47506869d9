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
import json
import threading
import time
from pathlib import Path
from typing import Any, Mapping, NoReturn

from chaos.scenario import OPS, Expectation

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
    """One running scenario: its loop thread, topology, clients, sends and fault injector."""

    def __init__(self, scenario: Any, out: Path, seed: int | None, duration: float | None, faults: bool,
                 toxiproxy_url: str | None) -> None:
        from chaos.run import with_duration

        self.scenario, self.notes = with_duration(scenario, duration)
        self.seed = scenario.seed if seed is None else seed
        self.out, self.faults, self.toxiproxy_url = out, faults, toxiproxy_url
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="pushchat-ctk", daemon=True)
        self.thread.start()
        self.exits = contextlib.ExitStack()
        self.tasks: list[asyncio.Task[Any]] = []
        self.ids = itertools.count(FIRST_INJECTED_ID)
        self.topology: Any = None
        self.history: Any = None
        self.clients: dict[str, Any] = {}

    def call(self, coro: Any, timeout: float = STEP_TIMEOUT) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def start(self) -> dict[str, Any]:
        from chaos.history import History
        from chaos.links import Links
        from chaos.nemesis import FaultInjector
        from chaos.run import KEEPALIVE, plan_for
        from chaos.topology import Topology
        from chaos.workload import Counts, WorkloadClient, client_logs

        sc, out = self.scenario, self.out
        out.mkdir(parents=True, exist_ok=True)
        (out / "logs").mkdir(exist_ok=True)
        (out / f"{sc.name}.yaml").write_text(sc.path.read_text(encoding="utf-8"), encoding="utf-8")
        self.links = self.exits.enter_context(Links.external(self.toxiproxy_url) if self.toxiproxy_url else
                                              Links.embedded(log_file=str(out / "toxiproxy.log")))
        self.exits.enter_context(client_logs(out / "logs", sc.topology.client_names))
        self.history = History(out / "history.jsonl")
        self.history.info("runner", "phase", {"name": "setup", "scenario": sc.name, "seed": self.seed,
                                              "notes": self.notes, "store": sc.topology.store,
                                              "started_at": round(time.time() - self.history.now(), 6)})
        self.topology = Topology(plan_for(sc), out, self.links)
        await self.topology.start()
        counts = Counts()
        self.clients = {name: WorkloadClient(name, self.topology.client_addr(name), self.history, counts, KEEPALIVE)
                        for name in sc.topology.client_names}
        rooms = list(sc.topology.rooms)
        await asyncio.gather(*(c.start(rooms) for c in self.clients.values()))
        self.injector = FaultInjector(self.topology, self.topology, self.clients, self.history,
                                      self.links.supports_extensions, names=sc.topology.names())
        self.history.info("runner", "phase", {"name": "workload"})
        self.t0 = time.monotonic()
        work = sc.workload
        senders = [self.clients[n] for n in (work.senders or sc.topology.client_names)]
        self.sends = asyncio.gather(*(c.send_loop(rooms, work.rate, self.t0 + work.duration, work.text_bytes)
                                      for c in senders))
        schedule = sc.schedule(self.seed) if self.faults else []
        (out / "schedule.json").write_text(json.dumps([f.to_dict() for f in schedule], indent=2) + "\n")
        if schedule:
            self.tasks.append(asyncio.create_task(self.injector.run(schedule, self.t0)))
        return {"out": str(out), "scenario": sc.name, "seed": self.seed, "clients": sc.topology.client_names,
                "rooms": rooms, "send_window": work.duration}

    async def inject(self, kind: str, target: str, duration: float, params: Mapping[str, Any] | None) -> list[str]:
        from chaos.fault import FaultError, make_fault

        try:
            fault = make_fault(kind, target, max(0.0, time.monotonic() - self.t0), duration, params,
                               id=next(self.ids))
            names = fault.names(self.scenario.topology.names())
        except (FaultError, KeyError, ValueError) as exc:
            _fail(f"cannot inject {kind} on {target!r}: {exc}")
        if not await self.injector.start(fault):
            _fail(f"{fault.describe()} was skipped or failed (see history.jsonl)")

        async def heal_later() -> None:
            await asyncio.sleep(duration)  # the fault's own duration: it is healed then
            await self.injector.heal(fault)

        self.tasks.append(asyncio.create_task(heal_later()))
        return names

    async def stop(self) -> None:
        from chaos.run import CAUGHT_UP_POLL, KEEPALIVE
        from chaos.workload import read_room
        from system.wait import wait_until

        sc, history = self.scenario, self.history
        metrics: dict[str, Any] = {}
        try:
            await self.sends
            history.info("runner", "phase", {"name": "heal"})
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.injector.heal_all()
            history.info("runner", "phase", {"name": "recovery"})
            rooms = list(sc.topology.rooms)
            held = {room: await read_room(self.topology.gates[0].addr, room, KEEPALIVE) for room in rooms}
            last = {room: max((m["seq"] for m in msgs), default=0) for room, msgs in held.items()}
            await wait_until(lambda: all(c.caught_up(last) for c in self.clients.values()), sc.recovery_wait,
                             interval=CAUGHT_UP_POLL, fail=False)
            history.info("runner", "phase", {"name": "final_poll"})
            for client in self.clients.values():
                for room in rooms:
                    await client.final_poll(room, held[room])
            metrics = await self.topology.scrape_metrics()
            history.info("runner", "phase", {"name": "done"})
        finally:
            await self.abort()
            (self.out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")

    async def abort(self) -> None:
        """Stop whatever was started: clients, then the topology's processes and proxies."""
        await asyncio.gather(*(c.close() for c in self.clients.values()), return_exceptions=True)
        if self.topology is not None:
            await self.topology.close()
        if self.history is not None:
            self.history.close()

    def close(self) -> None:
        try:
            self.exits.close()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()


_session: Session | None = None
_judged: dict[str, Any] | None = None     # results.json of the last stopped run
_lock = threading.Lock()


def _out(configuration: Mapping[str, Any] | None, scenario: str) -> Path:
    base = (configuration or {}).get("pushchat_out")
    root = Path(base) if base else Path("runs")
    return root / f"ctk-{scenario}-{time.strftime('%Y%m%d-%H%M%S')}"


# ---- actions --------------------------------------------------------------------------------------------------

def start(scenario: str, seed: int | None = None, duration: float | None = None, faults: bool = False,
          out: str | None = None, configuration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Start a scenario's topology and its clients' sends (for ``duration`` s, default the scenario's own).

    ``scenario``: a name from scenarios/ or a YAML path. ``faults``: also apply the scenario's own fault
    schedule. The run folder is ``out``, else under the configuration's ``pushchat_out`` (default runs/).
    The configuration's ``toxiproxy_url`` uses that server instead of an embedded one."""
    global _session, _judged
    from chaos.scenario_file import ScenarioError, find

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
    from chaos.run import judge

    with _lock:
        session = _session
        if session is None:
            return _summary(_judged)
        try:
            session.call(session.stop(), timeout=STEP_TIMEOUT + session.scenario.workload.duration)
        finally:
            _session = None
            session.close()
        judge(session.out, session.scenario)
        _judged = json.loads((session.out / "results.json").read_text())
        return _summary(_judged)


def _summary(doc: Mapping[str, Any] | None) -> dict[str, Any]:
    if doc is None:
        return {}
    results = doc["results"]
    from chaos.checker import EXPECTABLE

    return {"scenario": doc.get("scenario"), "passed": doc.get("passed"),
            **{name: results.get(name) for name in EXPECTABLE}}


# ---- probes ---------------------------------------------------------------------------------------------------

def _results() -> Mapping[str, Any]:
    if _judged is None:
        _fail("no judged pushchat run: the probes read the run that chaos.ctk.stop ended")
    return _judged  # type: ignore[return-value]


def verdict() -> str:
    """The checker's verdict of the last stopped run: valid, invalid or unknown."""
    return str(_results()["results"]["verdict"])


def result(name: str) -> Any:
    """One number of the last stopped run's results.json (any name a scenario may ``expect``: lost, ...)."""
    results = _results()["results"]
    if name not in results or isinstance(results[name], (list, dict)):
        from chaos.checker import EXPECTABLE

        _fail(f"no result {name!r}; one of: {', '.join(EXPECTABLE)}")
    return results[name]


def expectations_met() -> bool:
    """Whether the last stopped run met every expectation of its scenario file."""
    return bool(_results()["passed"])


# ---- tolerance ------------------------------------------------------------------------------------------------

def holds(value: Any = None, op: str = "==", wanted: Any = 0) -> bool:
    """A tolerance probe: ``value op wanted`` as a scenario's ``expect`` reads it (op in, ==, <, >=, ...)."""
    if op != "in" and op not in OPS:
        _fail(f"unknown comparison {op!r}; one of: in, {', '.join(OPS)}")
    return Expectation("value", op, wanted).holds(value)
