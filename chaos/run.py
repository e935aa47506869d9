"""Run one scenario end to end: topology + faults + workload → history, logs, metrics → checker.

The phases follow Jepsen practice: workload with faults, heal, wait for
recovery, final poll, then judge. They exist once, as the steps of a
:class:`Run`, which every front end drives (the CLI, a campaign, the pytest
plugin, the Chaos Toolkit steps). Everything the checker reads is written
to the run's folder first (``chaos.rundir`` names its files) so a run can
be re-checked later without re-running it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos import checker, outcome

from chaos.reports import html_report

from chaos.reports import tables as report
from chaos.infra.credentials import Credentials
from chaos.faults.fault import Fault
from chaos.workload.hostile import HostileClient, Victim
from chaos.scenario.goverse import GOVERSE, shared_links
from chaos.goverse_topology import GoverseTopology, binaries
from chaos.workload.goverse import GoverseClient, acknowledged
from chaos.history import History, records
from chaos.faults.kinds import KINDS
from chaos.infra.machine import needs_namespaces
from chaos.workload.fleet import Fleet, merge_histories
from chaos.faults.nemesis import FaultInjector
from chaos.rundir import Judgement, RunFolder
from chaos.scenario.model import GATE_LIMIT_FLAGS, ExpectationOutcome, Scenario, evaluate
from chaos.topology import Topology, TopologyPlan
from chaos.infra.server_reader import read_room
from chaos.infra.stored_members import record as record_stored_members
from chaos.workload.client import Counts, WorkloadClient, client_logs
from chaos.workload.variations import TYPING_PART, type_without_sending
from system.grpcopts import Keepalive
from system.wait import wait_until

# Both hops notice a dead link in about 2 s with these (docs: reliability notes).
KEEPALIVE = Keepalive(time_ms=1000, timeout_ms=1000, ping_timeout_ms=1000)
CAUGHT_UP_POLL = 0.1
# The harness's read of what the rooms hold comes as the recovery starts, while a node may be answering a
# reconnect storm in seconds: each attempt waits this long (a read given up at 5 s was queued again, and in two
# 2,000-member runs the read failed with DEADLINE_EXCEEDED and the run was not judged), within READ_DEADLINE.
READ_CALL_TIMEOUT = 15.0
READ_DEADLINE = 60.0


@dataclass
class Status:
    """What the progress line shows; the run updates it as it goes."""

    scenario: str
    phase: str = "starting"
    started: float = dataclasses.field(default_factory=time.monotonic)
    counts: Counts = dataclasses.field(default_factory=Counts)
    active_faults: list[str] = dataclasses.field(default_factory=list)


@dataclass
class RunResult:
    scenario: Scenario
    seed: int
    out: Path
    results: checker.Results
    outcomes: list[ExpectationOutcome]
    duration: float
    skipped: list[str]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        return outcome.of_run(self.outcomes, self.results.verdict)


def with_duration(scenario: Scenario, duration: float | None) -> tuple[Scenario, list[str]]:
    """Shorten or stretch the workload; listed faults that no longer fit are dropped, and said so."""
    if duration is None:
        return scenario, []
    kept = tuple(f for f in scenario.faults if f.end <= duration)
    notes = [f"--duration {duration:g}: dropped {f.describe()}"
             for f in scenario.faults if f not in kept]
    return dataclasses.replace(scenario, workload=dataclasses.replace(scenario.workload, duration=duration),
                               faults=kept), notes


def plan_for(scenario: Scenario, creds: Credentials | None = None) -> TopologyPlan:
    """What to start for ``scenario``: its nodes host its rooms, the only ones its workload uses; with its
    credentials (tokens, TLS) when it asks for them."""
    topo = scenario.topology
    creds = creds or Credentials(Path("."))
    keep = ["--keepalive-ms", str(KEEPALIVE.time_ms), "--keepalive-timeout-ms", str(KEEPALIVE.timeout_ms),
            "--ping-timeout-ms", str(KEEPALIVE.ping_timeout_ms)]
    node_args = ("--gate-buffer", str(topo.gate_buffer), "--history-limit", str(topo.history_limit),
                 "--max-message-bytes", str(topo.max_message_bytes), "--rooms", ",".join(topo.rooms),
                 "--page-size", str(topo.page_size), *keep)
    node_args += ("--push-to-sender",) if topo.push_to_sender else ()
    gate_args = ("--client-buffer", str(topo.client_buffer), "--backoff-max", "1.0", *keep)
    limits = [arg for key, value in topo.limits for arg in (GATE_LIMIT_FLAGS[key], f"{value:g}")]
    node_args += tuple(creds.node_args())
    gate_args += (*creds.gate_args(), *limits)
    return TopologyPlan(nodes=topo.nodes, gates=topo.gates, clients={**dict(topo.clients), **dict(topo.hostile),
                                                                       **dict(topo.load_clients)},
                        node_args=node_args, gate_args=gate_args, store=topo.store, etcd=topo.etcd,
                        lease_ttl=topo.lease_ttl, faketime=any(KINDS[k].needs == "faketime" for k in scenario.kinds),
                        network="namespaces" if needs_namespaces(scenario) else "host")


class Run:
    """One scenario run into one folder, phase by phase; the only copy of the phases.

    ``pushchat chaos run``, a campaign's cells and the pytest plugin drive it through :func:`run_scenario`;
    the Chaos Toolkit steps (``chaos.ctk``) drive the same phases one step at a time, acting in between:
    :meth:`start` (setup, servers, clients joined), :meth:`begin_workload` (sends, attacks, the fault
    schedule), :meth:`inject` (a fault now), :meth:`end_workload` (wait, then heal), :meth:`finish`
    (recovery, final poll, metrics), :meth:`close` (stop what start started) and :meth:`judge`.
    """

    def __init__(self, scenario: Scenario, out: Path, links: Any, *, seed: int | None = None,
                 duration: float | None = None, status: Status | None = None, faults: bool = True,
                 gate_args: tuple[str, ...] = ()) -> None:
        self.began = time.monotonic()
        self.gate_args = gate_args  # after the scenario's: a flag given here wins (a bench's keepalive setting)
        self.seed = scenario.seed if seed is None else seed
        self.scenario, self.notes = with_duration(scenario, duration)
        self.out, self.folder, self.links = Path(out), RunFolder(out), links
        self.status = status or Status(self.scenario.name)
        self.schedule: list[Fault] = self.scenario.schedule(self.seed) if faults else []
        self.skipped: list[str] = list(self.notes)
        self.creds = Credentials(self.folder.security)
        self.history: History | None = None
        self.topology: Topology | GoverseTopology | None = None
        self.clients: dict[str, WorkloadClient | GoverseClient] = {}
        self.hostile: list[HostileClient] = []
        self.fleet: Fleet | None = None
        self.injector: FaultInjector | None = None
        self.t0 = 0.0                  # monotonic time the workload began; fault times count from it
        self._exits = contextlib.ExitStack()
        self._work: asyncio.Future[Any] | None = None
        self._schedule: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[Any]] = []  # the fault schedule, the progress watcher, injected heals
        self._closed = False

    @property
    def rooms(self) -> list[str]:
        return list(self.scenario.topology.rooms)

    async def start(self) -> None:
        """Setup: the folder (the scenario as run, the schedule, the history's setup record, credentials),
        then the servers, then every client (honest, hostile, the load fleet), joined to the rooms."""
        sc, folder, status = self.scenario, self.folder, self.status
        folder.make()
        folder.write_scenario_copy(sc.name, sc.path)  # `chaos check` judges by these expectations later
        folder.write_schedule(self.schedule)
        self.history = history = History(folder.history)
        goverse = sc.system == GOVERSE
        history.info("runner", "phase", {"name": "setup", "scenario": sc.name, "seed": self.seed, "notes": self.notes,
                                         "store": "memory" if goverse else sc.topology.store, "system": sc.system,
                                         **({} if goverse else {"history_limit": sc.topology.history_limit}),
                                         "started_at": round(time.time() - history.now(), 6)})  # wall clock at 0
        self.skipped += [f"{f.describe()}: needs pushchat's embedded Toxiproxy (extension), skipped"
                         for f in self.schedule if f.extension and not self.links.supports_extensions]
        self.creds = creds = Credentials.make(folder.security, sc.topology.auth, sc.topology.tls)
        if goverse and (shared := shared_links(sc, self.seed)):  # this seed's random faults, too
            raise ValueError("; ".join(why for _, why in shared))
        plan = plan_for(sc, creds)
        plan = dataclasses.replace(plan, gate_args=(*plan.gate_args, *self.gate_args)) if self.gate_args else plan
        self.topology = topology = GoverseTopology(sc.topology, self.out, self.links, binaries()) if goverse \
            else Topology(plan, self.out, self.links)
        status.phase = "starting servers"
        self._exits.enter_context(client_logs(folder.logs, sc.topology.client_names))  # not the terminal
        await topology.start()
        self.clients = {name: GoverseClient(name, topology.client_addr(name), history, status.counts) if goverse
                        else WorkloadClient(name, topology.client_addr(name), history, status.counts, KEEPALIVE,
                                            token=creds.token(name), tls=creds.client_tls(),
                                            presence=sc.workload.presence,
                                            stale_reads=name in sc.workload.stale_readers)
                        for name in sc.topology.client_names}
        self.hostile = [hostile_member(name, topology, history, self.rooms, self.clients, creds)
                        for name in sc.topology.hostile_names]
        if sc.topology.load:  # many clients, in worker processes
            self.fleet = Fleet(sc.topology.load, sc.topology.gates, topology.client_addr, self.out, history.start,
                               status.counts, KEEPALIVE, creds.token, self.seed, creds.client_tls())
        status.phase = "joining"
        fleet = self.fleet
        await asyncio.gather(*(c.start(self.rooms) for c in self.clients.values()), *([fleet.start()] if fleet else []))
        self.injector = FaultInjector(topology, topology, {**self.clients, **(fleet.controls() if fleet else {})},
                                      history, self.links.supports_extensions, names=sc.topology.names(),
                                      seed=self.seed)

    async def begin_workload(self) -> None:
        """The clients send, the hostile members attack, the load fleet sends, the schedule's faults come."""
        assert self.history is not None and self.injector is not None, "start() first"
        work, fleet = self.scenario.workload, self.fleet
        senders = [self.clients[name] for name in (work.senders or self.scenario.topology.client_names)]
        self.status.phase = "workload"
        self.history.info("runner", "phase", {"name": "workload"})
        self.t0 = time.monotonic()
        until = self.t0 + work.duration
        self._schedule = asyncio.create_task(self.injector.run(self.schedule, self.t0))
        self._tasks += [asyncio.create_task(_watch_faults(self.injector, self.status, self.t0)), self._schedule]
        self._work = asyncio.gather(*(c.send_loop(self.rooms, work.rate, until, work.text_bytes) for c in senders),
                                    *(h.run(until) for h in self.hostile),
                                    *(type_without_sending(self.clients[n].client, self.history, n, self.rooms,
                                                           self.t0 + work.duration * TYPING_PART) for n in work.typists),
                                    *([fleet.send(until, work.text_bytes)] if fleet else []))

    async def inject(self, fault: Fault) -> bool:
        """Apply ``fault`` now, beside the schedule; healed after its duration, or at the heal phase if sooner.
        False if it was skipped or failed (the history says why)."""
        assert self.injector is not None, "start() first"
        if not await self.injector.start(fault):
            return False

        async def heal_later(injector: FaultInjector) -> None:
            await asyncio.sleep(fault.duration)  # the fault's own duration: it is healed then
            await injector.heal(fault)

        self._tasks.append(asyncio.create_task(heal_later(self.injector)))
        return True

    async def end_workload(self) -> None:
        """Wait for the sends and attacks to end (listed faults end within them), then heal every fault."""
        assert self._work is not None and self._schedule is not None and self.history is not None
        assert self.injector is not None
        try:
            await self._work
            # A listed fault still running has overrun the workload: heal it now.
            await asyncio.wait({self._schedule}, timeout=max(0.0, self.t0 + self.scenario.workload.duration
                                                       - time.monotonic()) + 1.0)
        finally:
            self.status.phase = "heal"
            self.history.info("runner", "phase", {"name": "heal"})
            await self._cancel_tasks()  # the schedule heals whatever it still has on when cancelled
            await self.injector.heal_all()  # ... and this, what was injected

    async def workload(self) -> None:
        await self.begin_workload()
        await self.end_workload()

    async def finish(self) -> None:
        """Recovery (the clients catch up on their own), the final poll, the servers' metrics."""
        assert self.history is not None and self.topology is not None
        sc, status, history, creds, fleet = self.scenario, self.status, self.history, self.creds, self.fleet
        status.phase, status.active_faults = "recovery", []
        history.info("runner", "phase", {"name": "recovery"})
        if sc.system == GOVERSE:
            return await self._finish_goverse()
        # Sends are over (each send_loop awaited its last one), so what the rooms hold is final.
        # Read by the harness's own reader, not the client library under test (chaos.infra.server_reader).
        held = {room: await read_room(self.topology.gates[0].addr, room, KEEPALIVE, creds.token("chaos-reader"),
                                      creds.client_tls(), deadline=READ_DEADLINE, call_timeout=READ_CALL_TIMEOUT)
                for room in self.rooms}
        last = {room: max((m["seq"] for m in msgs), default=0) for room, msgs in held.items()}
        # Give clients recovery_wait seconds to reconnect and recover on their own before the final poll.
        await asyncio.gather(wait_until(lambda: all(c.caught_up(last) for c in self.clients.values()),
                                        sc.recovery_wait, interval=CAUGHT_UP_POLL, fail=False),
                             *([fleet.caught_up(last, sc.recovery_wait)] if fleet else []))
        status.phase = "final poll"
        history.info("runner", "phase", {"name": "final_poll"})
        for client in self.clients.values():
            for room in self.rooms:
                await client.final_poll(room, held[room])
        if fleet:
            await fleet.final_poll(held)
        await record_stored_members(self.topology, history, self.rooms)
        metrics = await self.topology.scrape_metrics()
        history.info("runner", "phase", {"name": "done"})
        self.folder.write_metrics(metrics)

    async def _finish_goverse(self) -> None:
        """Goverse's rooms cannot be read: the clients get recovery_wait to be pushed every acknowledged message,
        and there is no final poll (the rules that need one say n/a); nothing to scrape."""
        assert self.history is not None
        acked = acknowledged(self.clients.values())  # type: ignore[arg-type]
        await wait_until(lambda: all(c.caught_up(acked) for c in self.clients.values()),  # type: ignore[arg-type]
                         self.scenario.recovery_wait, interval=CAUGHT_UP_POLL, fail=False)
        self.status.phase = "final poll"
        self.history.info("runner", "phase", {"name": "final_poll"})
        self.history.info("runner", "phase", {"name": "done"})
        self.folder.write_metrics({})

    async def close(self) -> None:
        """Stop whatever was started, whichever phase broke off: the sends and faults, the clients, the fleet,
        the servers; then close the history (the fleet's records merged in) and the clients' logs. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.status.phase = "stopping"
        fleet = self.fleet
        try:
            await self._cancel_tasks()
            if self._work is not None and not self._work.done():
                self._work.cancel()
                await asyncio.gather(self._work, return_exceptions=True)
            await asyncio.gather(*(c.close() for c in self.clients.values()), *([fleet.close()] if fleet else []),
                                 return_exceptions=True)
            if self.topology is not None:
                await self.topology.close()
        finally:
            if self.history is not None:
                self.history.close()
                if fleet:  # the workers' clients' records join the runner's, by time
                    merge_histories(self.folder.history, fleet.history_files())
            self._exits.close()

    async def _cancel_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def judge(self) -> RunResult:
        """Check the finished folder (results.json, the plot, report.html): what the run came to."""
        self.status.phase = "checking"
        took = time.monotonic() - self.began
        results, outcomes = check_folder(self.out, self.scenario, run_seconds=took)
        return RunResult(self.scenario, self.seed, self.out, results, outcomes, took, self.skipped)


async def run_scenario(scenario: Scenario, out: Path, links: Any, *, seed: int | None = None,
                       duration: float | None = None, status: Status | None = None,
                       gate_args: tuple[str, ...] = ()) -> RunResult:
    """Run ``scenario`` once into ``out`` and judge it: every phase of a :class:`Run`, in order."""
    run = Run(scenario, out, links, seed=seed, duration=duration, status=status, gate_args=gate_args)
    try:
        await run.start()
        await run.workload()
        await run.finish()
    finally:
        await run.close()
    return run.judge()


def hostile_member(name: str, topology: Topology, history: History, rooms: list[str],
                   clients: dict[str, WorkloadClient], creds: Credentials) -> HostileClient:
    """An attacker through its own proxy; its victims are the honest members connected at each attempt."""
    def victims() -> list[Victim]:
        return [Victim(c.name, c.client.client_id) for c in clients.values() if c.client.connected]

    # Fault controls on our loopback only: one in a namespace is on that namespace's (the same port here is not it).
    return HostileClient(name, topology.client_addr(name), history, rooms, victims, token=creds.token(name),
                         expired=lambda user: creds.token(user, ttl=-60), forged=creds.forged_token,
                         tls=creds.client_tls(),
                         fault_controls=lambda: [f"127.0.0.1:{server.fault_port}"
                                                 for server in (*topology.nodes, *topology.gates)
                                                 if server.fault_port and server.socket_factory is None])


async def _watch_faults(injector: FaultInjector, status: Status, t0: float) -> None:
    """The progress line's faults, on its clock (seconds since the scenario started, as its elapsed time)."""
    while True:
        status.active_faults = [f.describe(origin=t0 - status.started) for f in injector.active]
        await asyncio.sleep(0.2)  # refresh rate of the progress line


def check_folder(out: Path, scenario: Scenario, run_seconds: float | None = None
          ) -> tuple[checker.Results, list[ExpectationOutcome]]:
    """Check a finished run folder and write results.json, the latency plot and report.html into it.

    ``run_seconds``: how long the run took; a re-check keeps the figure the run wrote."""
    folder = RunFolder(out)
    results = checker.check(records(folder.history), folder.read_server_logs(), folder.read_metrics())  # streamed
    outcomes = evaluate(scenario.expect, results)
    if run_seconds is None and (before := folder.read_judgement()) is not None:
        run_seconds = before.run_seconds
    judged = Judgement(scenario.name, results, outcomes, passed=all(o.passed for o in outcomes),
                       description=scenario.description, run_seconds=run_seconds)
    folder.write_judgement(judged)
    report.plot_latency(results, None, folder.latency_plot, title=scenario.name)
    html_report.write_run(out, judged)
    return results, outcomes


def default_out(root: Path | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return (root or Path("runs")) / f"{stamp}-{os.getpid()}"


