"""Run one scenario end to end: topology + faults + workload → history, logs, metrics → checker.

The phases follow Jepsen practice: workload with faults, heal, wait for
recovery, final poll, then judge. Everything the checker reads is written
to the run's folder first (``history.jsonl``, ``logs/``, ``metrics.json``,
``schedule.json``) so a run can be re-checked later without re-running it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from chaos import checker, html_report, report
from chaos.credentials import Credentials
from chaos.fault import Fault
from chaos.hostile import HostileClient, Victim
from chaos.history import History, read as read_history
from chaos.kinds import KINDS
from chaos.load import Fleet, merge_histories
from chaos.naming import SERVER_PROCESS
from chaos.nemesis import FaultInjector
from chaos.process import log_file_key
from chaos.scenario import GATE_LIMIT_FLAGS, ExpectationOutcome, Scenario, evaluate
from chaos.topology import Topology, TopologyPlan
from chaos.workload import Counts, WorkloadClient, client_logs, read_room
from system import log
from system.grpcopts import Keepalive
from system.wait import wait_until

# Both hops notice a dead link in about 2 s with these (docs: reliability notes).
KEEPALIVE = Keepalive(time_ms=1000, timeout_ms=1000, ping_timeout_ms=1000)
CAUGHT_UP_POLL = 0.1
SERVER_LOG = re.compile(rf"^{SERVER_PROCESS}\.\d+\.log$")  # logs/node0.2.log: node0's second incarnation


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
        return exit_code(self.outcomes, self.results.verdict)


def exit_code(outcomes: list[ExpectationOutcome], verdict: str) -> int:
    """0 when every expectation holds; 2 when one fails and the checker could not decide; else 1."""
    if all(o.passed for o in outcomes):
        return 0
    return 2 if verdict == "unknown" else 1


def with_duration(scenario: Scenario, duration: float | None) -> tuple[Scenario, list[str]]:
    """Shorten or stretch the workload; listed faults that no longer fit are dropped, and said so."""
    if duration is None:
        return scenario, []
    kept = tuple(f for f in scenario.faults if f.end <= duration)
    notes = [f"--duration {duration:g}: dropped {f.describe()} (ends at {f.end:g}s)"
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
                 "--max-message-bytes", str(topo.max_message_bytes), "--rooms", ",".join(topo.rooms), *keep)
    gate_args = ("--client-buffer", str(topo.client_buffer), "--backoff-max", "1.0", *keep)
    limits = [arg for key, value in topo.limits for arg in (GATE_LIMIT_FLAGS[key], f"{value:g}")]
    node_args += tuple(creds.node_args())
    gate_args += (*creds.gate_args(), *limits)
    return TopologyPlan(nodes=topo.nodes, gates=topo.gates, clients={**dict(topo.clients), **dict(topo.hostile),
                                                                       **dict(topo.load_clients)},
                        node_args=node_args, gate_args=gate_args, store=topo.store, etcd=topo.etcd,
                        lease_ttl=topo.lease_ttl, faketime=any(KINDS[k].needs == "faketime" for k in scenario.kinds),
                        network="namespaces" if topo.network == "namespaces" or any(
                            KINDS[k].needs == "namespaces" for k in scenario.kinds) else "host")


async def run_scenario(scenario: Scenario, out: Path, links: Any, *, seed: int | None = None,
                       duration: float | None = None, status: Status | None = None) -> RunResult:
    """Run ``scenario`` once into ``out`` and judge it."""
    begun = time.monotonic()
    seed = scenario.seed if seed is None else seed
    scenario, notes = with_duration(scenario, duration)
    status = status or Status(scenario.name)
    out.mkdir(parents=True, exist_ok=True)
    # The scenario as run, so `pushchat chaos check` judges against these expectations even if the file changes.
    (out / f"{scenario.name}.yaml").write_text(scenario.path.read_text(encoding="utf-8"), encoding="utf-8")
    schedule = scenario.schedule(seed)
    (out / "schedule.json").write_text(json.dumps([f.to_dict() for f in schedule], indent=2) + "\n")
    history = History(out / "history.jsonl")
    history.info("runner", "phase", {"name": "setup", "scenario": scenario.name, "seed": seed, "notes": notes,
                                     "store": scenario.topology.store,
                                     "started_at": round(time.time() - history.now(), 6)})  # wall clock at time 0
    skipped = notes + [f"{f.describe()}: needs pushchat's embedded Toxiproxy (extension), skipped"
                       for f in schedule if f.extension and not links.supports_extensions]

    creds = Credentials.make(out / "security", scenario.topology.auth, scenario.topology.tls)
    topology = Topology(plan_for(scenario, creds), out, links)
    clients: dict[str, WorkloadClient] = {}
    metrics: dict[str, dict[str, float]] = {}
    fleet: Fleet | None = None
    status.phase = "starting servers"
    (out / "logs").mkdir(exist_ok=True)
    with client_logs(out / "logs", scenario.topology.client_names):  # not the terminal: the run's folder
        try:
            await topology.start()
            rooms = list(scenario.topology.rooms)
            clients = {name: WorkloadClient(name, topology.client_addr(name), history, status.counts, KEEPALIVE,
                                            token=creds.token(name), tls=creds.client_tls(),
                                            presence=scenario.workload.presence)
                       for name in scenario.topology.client_names}
            hostile = [hostile_member(name, topology, history, rooms, clients, creds)
                       for name in scenario.topology.hostile_names]
            if scenario.topology.load:  # many clients, in worker processes
                fleet = Fleet(scenario.topology.load, scenario.topology.gates, topology.client_addr, out,
                              history.start, status.counts, KEEPALIVE, creds.token, seed, creds.client_tls())
            status.phase = "joining"
            await asyncio.gather(*(c.start(rooms) for c in clients.values()), *([fleet.start()] if fleet else []))
            await _workload_with_faults(scenario, schedule, topology, clients, history, links, status, hostile,
                                        seed, fleet)
            status.phase, status.active_faults = "recovery", []
            history.info("runner", "phase", {"name": "recovery"})
            # Sends are over (each send_loop awaited its last one), so what the rooms hold is final.
            held = {room: await read_room(topology.gates[0].addr, room, KEEPALIVE, creds.token("chaos-reader"),
                                          creds.client_tls()) for room in rooms}
            last = {room: max((m["seq"] for m in msgs), default=0) for room, msgs in held.items()}
            # Give clients recovery_wait seconds to reconnect and recover on their own before the final poll.
            await asyncio.gather(wait_until(lambda: all(c.caught_up(last) for c in clients.values()),
                                            scenario.recovery_wait, interval=CAUGHT_UP_POLL, fail=False),
                                 *([fleet.caught_up(last, scenario.recovery_wait)] if fleet else []))
            status.phase = "final poll"
            history.info("runner", "phase", {"name": "final_poll"})
            for client in clients.values():
                for room in rooms:
                    await client.final_poll(room, held[room])
            if fleet:
                await fleet.final_poll(held)
            metrics = await topology.scrape_metrics()
            history.info("runner", "phase", {"name": "done"})
        finally:
            status.phase = "stopping"
            await asyncio.gather(*(c.close() for c in clients.values()), *([fleet.close()] if fleet else []),
                                 return_exceptions=True)
            await topology.close()
            history.close()
            if fleet:  # the workers' clients' records join the runner's, by time
                merge_histories(out / "history.jsonl", fleet.history_files())
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    status.phase = "checking"
    took = time.monotonic() - begun
    results, outcomes = judge(out, scenario, run_seconds=took)
    return RunResult(scenario, seed, out, results, outcomes, took, skipped)


def hostile_member(name: str, topology: Topology, history: History, rooms: list[str],
                   clients: dict[str, WorkloadClient], creds: Credentials) -> HostileClient:
    """An attacker through its own proxy; its victims are the honest members connected at each attempt."""
    def victims() -> list[Victim]:
        return [Victim(c.name, c.client.client_id) for c in clients.values() if c.client.connected]

    return HostileClient(name, topology.client_addr(name), history, rooms, victims, token=creds.token(name),
                         expired=lambda user: creds.token(user, ttl=-60), forged=creds.forged_token,
                         tls=creds.client_tls(),
                         fault_controls=lambda: [f"127.0.0.1:{server.fault_port}"
                                                 for server in (*topology.nodes, *topology.gates) if server.fault_port])


async def _workload_with_faults(scenario: Scenario, schedule: list[Fault], topology: Topology,
                                clients: dict[str, WorkloadClient], history: History, links: Any,
                                status: Status, hostile: Sequence[HostileClient] = (), seed: int = 0,
                                fleet: Fleet | None = None) -> None:
    controls = {**clients, **(fleet.controls() if fleet else {})}
    injector = FaultInjector(topology, topology, controls, history, links.supports_extensions,
                             names=scenario.topology.names(), seed=seed)
    work = scenario.workload
    senders = [clients[name] for name in (work.senders or scenario.topology.client_names)]
    status.phase = "workload"
    history.info("runner", "phase", {"name": "workload"})
    t0 = time.monotonic()
    watcher = asyncio.create_task(_watch_faults(injector, status))
    faults = asyncio.create_task(injector.run(schedule, t0))
    try:
        await asyncio.gather(*(c.send_loop(list(scenario.topology.rooms), work.rate, t0 + work.duration,
                                           work.text_bytes) for c in senders),
                             *(h.run(t0 + work.duration) for h in hostile),
                             *([fleet.send(t0 + work.duration, work.text_bytes)] if fleet else []))
        # Listed faults end within the workload; a fault still running has overrun: heal it now.
        await asyncio.wait({faults}, timeout=max(0.0, t0 + work.duration - time.monotonic()) + 1.0)
    finally:
        status.phase = "heal"
        history.info("runner", "phase", {"name": "heal"})
        faults.cancel()  # run() heals whatever is still active when cancelled
        await asyncio.gather(faults, return_exceptions=True)
        watcher.cancel()


async def _watch_faults(injector: FaultInjector, status: Status) -> None:
    while True:
        status.active_faults = [f.describe() for f in injector.active]
        await asyncio.sleep(0.2)  # refresh rate of the progress line


def server_logs(out: Path) -> dict[str, list[dict[str, Any]]]:
    """The node and gate logs of a run folder, by incarnation (``node0#2``); client logs are not theirs."""
    return {log_file_key(path): log.read(str(path)) for path in sorted((out / "logs").glob("*.log"))
            if SERVER_LOG.match(path.name)}


def judge(out: Path, scenario: Scenario, run_seconds: float | None = None
          ) -> tuple[checker.Results, list[ExpectationOutcome]]:
    """Check a finished run folder and write results.json, the latency plot and report.html into it.

    ``run_seconds``: how long the run took; a re-check keeps the figure the run wrote."""
    history = read_history(out / "history.jsonl")
    metrics_path = out / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    results = checker.check(history, server_logs(out), metrics)
    outcomes = evaluate(scenario.expect, results)
    results_path = out / "results.json"
    if run_seconds is None and results_path.exists():
        try:
            run_seconds = json.loads(results_path.read_text()).get("run_seconds")
        except (ValueError, AttributeError):
            run_seconds = None
    doc = {"scenario": scenario.name, "description": scenario.description,
           "passed": all(o.passed for o in outcomes), "run_seconds": run_seconds,
           "expectations": [dataclasses.asdict(o) for o in outcomes], "results": results.to_dict()}
    results_path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    report.plot_latency(results, None, out / "latency.png", title=scenario.name)
    html_report.write_run(out)
    return results, outcomes


def default_out(root: Path | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return (root or Path("runs")) / f"{stamp}-{os.getpid()}"


