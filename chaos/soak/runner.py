"""``pushchat chaos soak``: one long-lived topology under a steady workload and a repeating fault schedule,
its servers' resources sampled all along, and a verdict on whether any of them grows.

A soak is a :class:`chaos.run.Run` stretched: the same phases (start, workload with faults, heal,
recovery, final poll, close), one topology for the whole duration, the scenario's workload
running throughout. Its fault schedule is the scenario's, repeated every *cycle* (the
scenario's workload duration plus its recovery wait, so each round of faults is followed by
as quiet a spell as the scenario allows for recovery); a scenario with random faults draws
cycle ``k``'s from seed ``seed + k``. Every ``interval`` seconds :mod:`chaos.infra.resources` samples
each server into ``soak.jsonl``; at the end :mod:`chaos.soak.trend` fits each process's each
resource after the warm-up and :mod:`chaos.reports.soak` writes the table, ``soak.json`` and
the plot. The soak does not judge its history with the checker (``pushchat chaos check FOLDER`` does:
it streams an hour's millions of records); it keeps it in the folder.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import grpc

from chaos.soak import samples as sampled
from chaos.infra import resources
from chaos.reports import soak as soak_report
from chaos.faults.fault import Fault
from chaos.rundir import RunFolder
from chaos.run import Run, Status
from chaos.scenario.model import Scenario
from chaos.soak.trend import Trend, fit_all

DEFAULT_INTERVAL = 60.0
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([hms]?)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}


def parse_duration(text: str) -> float:
    """``1h``, ``2m``, ``90s``, ``1h30m`` or plain seconds (``45``, ``2.5``) → seconds; ValueError otherwise."""
    text = text.strip().lower()
    parts = list(_DURATION.finditer(text))
    whole = bool(text) and "".join(m.group(0) for m in parts) == text
    if not whole or (len(parts) > 1 and not all(m.group(2) for m in parts)):
        raise ValueError(f"not a duration: {text!r} (say 1h, 30m, 90s, 1h30m or seconds)")
    seconds = sum(float(m.group(1)) * _UNIT[m.group(2)] for m in parts)
    if seconds <= 0:
        raise ValueError(f"a duration must be more than 0 s, not {text!r}")
    return seconds


def default_warmup(duration: float) -> float:
    """Half the soak: a leak grows all along, while a room's history, a cache or a pool fills to its bound and
    levels off (a node's rooms hold 10,000 messages each: 17 minutes of seeded-random-chaos); the second half
    tells them apart."""
    return duration / 2


def repeated_schedule(scenario: Scenario, seed: int, duration: float, cycle: float | None = None
                      ) -> tuple[list[Fault], float, int]:
    """The scenario's faults, again every ``cycle`` seconds (default: its workload plus its recovery wait) until
    ``duration``; a fault that would end after it is left out. A cycle shorter than the workload is refused
    (ValueError): its faults would overlap the next cycle's.

    Returns (faults renumbered in order, the cycle's length, the number of cycles begun)."""
    period = scenario.workload.duration + scenario.recovery_wait if cycle is None else cycle
    if period < scenario.workload.duration:
        raise ValueError(f"a cycle of {period:g} s is shorter than {scenario.name}'s workload "
                         f"({scenario.workload.duration:g} s), whose faults each cycle repeats")
    faults: list[Fault] = []
    n = 0
    while n * period < duration:
        for f in scenario.schedule(seed + n):
            start = round(n * period + f.start, 6)
            if start + f.duration <= duration:
                faults.append(dataclasses.replace(f, start=start, id=len(faults)))
        n += 1
    return faults, period, n


@dataclass
class SoakStatus(Status):
    """What the soak's progress line shows, beside a run's."""

    duration: float = 0.0
    period: float = 0.0
    cycles: int = 0
    t0: float | None = None       # monotonic time the workload began
    samples: int = 0
    last: str = ""                # the latest round, in brief


def clock(seconds: float) -> str:
    """``1:02:03``: a soak's time, as its progress line and title say it."""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@dataclass
class SoakResult:
    scenario: str
    out: Path
    trends: list[Trend]
    samples: int
    cycles: int
    duration: float
    notes: list[str]

    @property
    def grows(self) -> list[Trend]:
        return [t for t in self.trends if t.grows]

    @property
    def passed(self) -> bool:
        return self.judged and not self.grows

    stalled: int = 0              # sampling intervals after the warm-up in which no send was acknowledged
    sends_per_interval: tuple[int, int, int] = (0, 0, 0)   # min, median, max after the warm-up

    @property
    def judged(self) -> bool:
        """Some trend could be fitted (a soak shorter than its warm-up plus a few intervals fits none), under a
        workload that went on: an interval with no acknowledged send means the topology was not serving."""
        return any(t.verdict != "too few samples" for t in self.trends) and not self.stalled


class Soak:
    """One soak into one folder: a stretched :class:`Run`, sampled every ``interval`` seconds."""

    def __init__(self, scenario: Scenario, out: Path, links: Any, duration: float, *, interval: float =
                 DEFAULT_INTERVAL, warmup: float | None = None, seed: int | None = None,
                 status: SoakStatus | None = None, cycle: float | None = None) -> None:
        self.duration, self.interval = duration, interval
        self.warmup = default_warmup(duration) if warmup is None else warmup
        self.status = status or SoakStatus(scenario.name)
        self.run = Run(scenario, out, links, seed=seed, duration=duration, status=self.status)
        self.run.schedule, period, cycles = repeated_schedule(scenario, self.run.seed, duration, cycle)
        self.status.duration, self.status.period, self.status.cycles = duration, period, cycles
        self.folder = RunFolder(out)
        self.notes = [f"the schedule of {scenario.name} (seed {self.run.seed}"
                      f"{' + cycle' if scenario.random_faults else ''}) every {period:g} s: {cycles} cycles, "
                      f"{len(self.run.schedule)} faults; sampled every {interval:g} s, judged after "
                      f"{self.warmup:g} s of warm-up"]

    async def soak(self) -> SoakResult:
        run, sampler = self.run, None
        self.folder.make()
        self.folder.soak_samples.unlink(missing_ok=True)
        try:
            await run.start()
            await run.begin_workload()
            self.status.t0 = run.t0
            sampler = asyncio.create_task(self._sample_every())
            await run.end_workload()
            await self._stop(sampler)
            await self._round()  # the last: after the heal, before the recovery's polls
            try:
                await run.finish()
            except Exception as exc:  # the samples are the soak's result: a failed final poll is told, not fatal
                why = exc.details() if isinstance(exc, grpc.aio.AioRpcError) else str(exc)
                self.notes.append(f"the recovery and final poll failed: {type(exc).__name__}: {why}")
        finally:
            if sampler is not None:
                await self._stop(sampler)
            await run.close()
            injector = run.injector
            if injector is not None and (injector.heal_retries or injector.heals_failed):
                self.notes.append(f"{injector.heal_retries} failed heal attempts were tried again, "
                                  f"{injector.heals_failed} heal steps never succeeded (the history's "
                                  "heal_retry and heal records)")
        return self.judge()

    async def _stop(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def _sample_every(self) -> None:
        n = 0
        while True:
            await self._round()
            n += 1
            await asyncio.sleep(max(0.0, self.run.t0 + n * self.interval - time.monotonic()))

    async def _round(self) -> None:
        topology = self.run.topology
        assert topology is not None
        stores = {node.name: self.folder.data / node.name for node in topology.nodes} \
            if topology.plan.store == "sqlite" else {}
        t, sends_ok = time.monotonic() - self.run.t0, self.status.counts.sends_ok
        taken = await resources.sample_servers([*topology.nodes, *topology.gates], t, sends_ok, stores)
        proxy = getattr(self.run.links, "process", None)  # the embedded Toxiproxy (None: an external one)
        if proxy is not None and (sample := await asyncio.to_thread(resources.sample_process, "toxiproxy", proxy.pid,
                                                                    t, sends_ok)) is not None:
            taken.append(sample)
        sampled.write(self.folder.soak_samples, taken)
        self.status.samples += 1
        self.status.last = "  ".join(_brief(s) for s in taken)

    def judge(self) -> SoakResult:
        """Fit and judge what was sampled; write soak.json and the plot."""
        return judge(self.folder, self.run.scenario.name, self.duration, self.interval, self.warmup,
                     self.status.cycles, self.notes + self.run.skipped)


def judge(folder: RunFolder, scenario: str, duration: float, interval: float, warmup: float, cycles: int,
          notes: Sequence[str]) -> SoakResult:
    """Fit and judge a soak folder's samples; write its soak.json and its plot."""
    samples = list(sampled.read(folder.soak_samples)) if folder.soak_samples.exists() else []
    trends = fit_all(samples, warmup)
    acked = sends_per_interval(samples, warmup, interval)
    stalled = sum(1 for n in acked if n == 0)
    spread = (min(acked), int(statistics.median(acked)), max(acked)) if acked else (0, 0, 0)
    soak_report.write_judgement(folder.soak_judgement, scenario, duration, interval, warmup, trends, cycles, notes,
                                {"stalled_intervals": stalled, "sends_per_interval": list(spread)})
    if samples:
        soak_report.plot(samples, folder.soak_plot, title=f"soak: {scenario}, {clock(duration)}", warmup=warmup)
    return SoakResult(scenario, folder.path, trends, len({s.t for s in samples}), cycles, duration, list(notes),
                      stalled, spread)


def judge_again(out: Path, warmup: float | None = None) -> SoakResult:
    """Judge a finished soak's folder again (another ``warmup``, newer allowances), as ``chaos check`` a run."""
    folder = RunFolder(out)
    before = json.loads(folder.soak_judgement.read_text(encoding="utf-8"))
    duration, interval = float(before["duration"]), float(before["interval"])
    warmup = default_warmup(duration) if warmup is None else warmup
    notes = [n for n in before.get("notes", []) if not n.startswith("judged again")]
    notes.append(f"judged again after {warmup:g} s of warm-up")
    return judge(folder, before["scenario"], duration, interval, warmup, int(before["cycles"]), notes)


def sends_per_interval(samples: Sequence[sampled.Sample], warmup: float, interval: float) -> list[int]:
    """Sends acknowledged between two sampling rounds after the warm-up (the run-wide count each sample holds);
    the short last interval (after the workload ended) is left out."""
    rounds = sorted({(s.t, s.sends_ok) for s in samples if s.t >= warmup})
    return [b - a for (t1, a), (t2, b) in zip(rounds, rounds[1:]) if t2 - t1 >= interval / 2]


def _brief(sample: sampled.Sample) -> str:
    rss = sample.values.get("rss_bytes")
    return f"{sample.process} {rss / (1 << 20):.0f}MiB" if rss is not None else sample.process


async def run_soak(scenario: Scenario, out: Path, links: Any, duration: float, *, interval: float = DEFAULT_INTERVAL,
                   warmup: float | None = None, seed: int | None = None, status: SoakStatus | None = None,
                   cycle: float | None = None) -> SoakResult:
    return await Soak(scenario, out, links, duration, interval=interval, warmup=warmup, seed=seed,
                      status=status, cycle=cycle).soak()


def summary(result: SoakResult) -> Sequence[str]:
    """The report's lines: what was soaked, the table, and which process and resource grew."""
    lines = [f"soak of {result.scenario}: {clock(result.duration)}, {result.cycles} cycles, {result.samples} "
             f"sampling rounds -> {result.out}", *(f"  note: {n}" for n in result.notes), "",
             soak_report.table(result.trends), "",
             "acknowledged sends per sampling interval after the warm-up: min {}, median {}, max {}".format(
                 *result.sends_per_interval)]
    if result.stalled:  # what grew or shrank then is the outage's shape, not a leak
        lines.append(f"NOT JUDGED: the workload stalled: {result.stalled} sampling intervals with no acknowledged "
                     "send (see the history, the nemesis's records and the Toxiproxy log: a fault not healed, "
                     "a starved harness?); the trends above are of that outage, not a verdict")
    elif result.grows:
        lines += [f"GROWS: {t.process} {t.resource}: {soak_report.amount(t.per_hour, t.resource)}/h "
                  f"(allowed {soak_report.amount(t.allowed_per_hour, t.resource)}/h), rose "
                  f"{soak_report.amount(t.rise, t.resource)} over the judged {t.points} samples "
                  f"(noise floor {soak_report.amount(t.noise, t.resource)})" for t in result.grows]
    elif not result.judged:
        lines.append("NOT JUDGED: too few samples after the warm-up (a longer soak, a shorter --interval or "
                     "--warmup)")
    elif result.judged:
        lines.append("nothing grows beyond its allowance")
    return lines
