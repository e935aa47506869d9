"""A campaign: every selected scenario × seed (× repeat), run in parallel, judged, and totalled.

Jepsen's practice: one run proves little, a matrix of seeds shows what
holds. The cells run in ``--jobs`` spawned worker processes; each worker
imports the harness once and starts its own embedded Toxiproxy once (or
uses the shared ``--toxiproxy-url``, where the topology prefixes every
proxy name per run), then runs cell after cell exactly as ``pushchat chaos
run SCENARIO --seed S --out DIR`` would, so a failed cell re-runs alone
with that very command and the same fault schedule. The parent only
schedules, and reads each cell's ``results.json`` when it is done.
"""

from __future__ import annotations

import os
import re
import shlex
import time
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from chaos import outcome
from chaos.rundir import REPORT, RESULTS, RUN_LOG, RunFolder
from chaos.scenario.model import Scenario
from chaos.scenario.files import DEFAULT_FOLDER

# The numbers a campaign adds up over its runs (results.json scalars), in the order they are shown.
TOTALS: tuple[str, ...] = (
    "sends_ok", "sends_failed", "sends_indefinite", "lost", "duplicates", "reordered", "phantom", "lost_by_server",
    "conflicting_seq", "history_resets", "push_failures", "push_failures_counted", "push_drops",
    "push_drops_counted", "push_log_mismatches", "sends_failed_by_push", "delivered_by_push", "delivered_by_poll",
    "reconnects", "failovers", "faults_applied", "faults_skipped", "violation_count")
# What a matrix cell shows next to its verdict when it is not 0.
MARKED: tuple[tuple[str, str], ...] = (("lost", "lost"), ("lost_by_server", "lost-by-server"),
                                       ("duplicates", "dup"), ("conflicting_seq", "conflicts"))
SLOWEST = 5
KEPT_WHEN_MET = (RESULTS, REPORT, RUN_LOG)  # what --keep failed leaves of a cell that met
_SEEDS = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


class SeedsError(ValueError):
    """A ``--seeds`` value that names no seeds."""


def parse_seeds(text: str) -> list[int]:
    """``20`` (a count: seeds 1-20), ``3-7`` (a range), or a comma list of seeds and ranges (``1,4,9-11``)."""
    parts = [p for p in text.split(",")]
    if len(parts) == 1 and (m := _SEEDS.match(parts[0])) and m[2] is None:
        count = int(m[1])
        if count < 1:
            raise SeedsError(f"--seeds {text}: a count must be at least 1")
        return list(range(1, count + 1))
    seeds: list[int] = []
    for part in parts:
        m = _SEEDS.match(part)
        if m is None:
            raise SeedsError(f"--seeds {text}: cannot read {part.strip()!r}; write a count (20), a range (1-20) "
                             "or a list (1,4,9-11)")
        low, high = int(m[1]), int(m[2] or m[1])
        if high < low:
            raise SeedsError(f"--seeds {text}: {part.strip()} runs backwards")
        seeds += [s for s in range(low, high + 1) if s not in seeds]
    return seeds


@dataclass(frozen=True)
class Cell:
    """One run of the matrix: a scenario with a seed, the ``repeat``-th time (from 1)."""

    scenario: str
    path: Path
    seed: int
    repeat: int = 1
    repeats: int = 1
    system: str | None = None   # the system under test (None: the campaign's --system, else the scenario's)

    @property
    def label(self) -> str:
        return (f"{self.scenario}{f' on {self.system}' if self.system else ''} seed {self.seed}"
                + (f" #{self.repeat}" if self.repeats > 1 else ""))

    @property
    def column(self) -> str:
        return f"seed {self.seed}" + (f" #{self.repeat}" if self.repeats > 1 else "")

    @property
    def test_name(self) -> str:
        """How JUnit XML names it: ``baseline[seed=3]``, ``baseline[seed=3,repeat=2]``."""
        return (f"{self.scenario}[{f'system={self.system},' if self.system else ''}seed={self.seed}"
                + (f",repeat={self.repeat}" if self.repeats > 1 else "") + "]")

    @property
    def folder(self) -> str:
        """The cell's run folder, relative to the campaign's."""
        return (f"{self.scenario}/{f'{self.system}/' if self.system else ''}seed-{self.seed}"
                + (f"-r{self.repeat}" if self.repeats > 1 else ""))


def plan(scenarios: Sequence[Scenario], seeds: Sequence[int], repeat: int = 1) -> list[Cell]:
    """The matrix in run order: by seed first, so that a campaign cut short has covered every scenario."""
    return [Cell(s.name, s.path, seed, r, repeat) for r in range(1, repeat + 1) for seed in seeds for s in scenarios]


@dataclass(frozen=True)
class Options:
    """What every cell's run shares."""

    out: Path
    duration: float | None = None
    toxiproxy_url: str | None = None
    timeout: float | None = None   # seconds a cell may take before it is stopped and counted not judged
    keep: str = "all"              # "failed": a cell that met its expectations keeps only KEPT_WHEN_MET
    system: str | None = None      # the system under test (None: each scenario's own)


def _scenario_arg(cell: Cell) -> str:
    """A shipped scenario by name (the re-run command stays short), anyone else's by path."""
    try:
        shipped = cell.path.resolve().parent == Path(DEFAULT_FOLDER).resolve()
    except OSError:
        shipped = False
    return cell.scenario if shipped else str(cell.path)


def run_args(cell: Cell, options: Options, out: Path) -> list[str]:
    """The ``pushchat chaos run`` arguments that run exactly this cell into ``out``."""
    args = ["chaos", "run", _scenario_arg(cell), "--seed", str(cell.seed), "--out", str(out)]
    if options.duration is not None:
        args += ["--duration", f"{options.duration:g}"]
    if options.toxiproxy_url:
        args += ["--toxiproxy-url", options.toxiproxy_url]
    if cell.system or options.system:
        args += ["--system", cell.system or options.system]
    return args


def rerun_command(cell: Cell, options: Options) -> str:
    """What a person types to re-run this cell alone (into a folder beside the cell's own)."""
    return shlex.join(["pushchat", *run_args(cell, options, options.out / f"{cell.folder}-rerun")])


@dataclass
class CellResult:
    cell: Cell
    folder: Path
    exit_code: int
    duration: float
    verdict: str | None = None
    passed: bool | None = None         # None: not judged (the run broke off, or it was stopped)
    summary: dict[str, Any] = field(default_factory=dict)
    expectations: list[dict[str, Any]] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    error: str | None = None
    rerun: str = ""
    run_seconds: float | None = None    # the run itself, as results.json says (duration adds judging it)

    @property
    def outcome(self) -> str:
        """met, failed or not judged: the cell's share of the campaign's exit code."""
        return outcome.word(self.exit_code)

    def marks(self) -> str:
        """The non-zero counts a matrix cell shows: 'lost 3 dup 1'."""
        return " ".join(f"{label} {self.summary.get(name)}" for name, label in MARKED if self.summary.get(name))

    def matrix_text(self) -> str:
        if self.passed is None:
            return "ERROR" if self.verdict is None else f"? {self.verdict}"
        text = self.verdict or "?"
        if not self.passed:
            text = f"FAIL {text}"
        marks = self.marks()
        return f"{text} {marks}" if marks else text

    def to_dict(self, root: Path) -> dict[str, Any]:
        return {"scenario": self.cell.scenario, "seed": self.cell.seed, "repeat": self.cell.repeat,
                "folder": _relative(self.folder, root), "outcome": self.outcome, "exit_code": self.exit_code,
                "verdict": self.verdict, "passed": self.passed, "duration": round(self.duration, 3),
                "run_seconds": self.run_seconds,
                "summary": self.summary, "expectations": self.expectations, "violations": self.violations,
                "incomplete": self.incomplete, "error": self.error, "rerun": self.rerun}


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def read_cell(cell: Cell, folder: Path, exit_code: int, duration: float, options: Options,
              error: str | None = None) -> CellResult:
    """A finished cell, from the ``results.json`` its run wrote (none: the run broke off)."""
    import dataclasses

    from chaos.checker import EXPECTABLE

    run = RunFolder(folder)
    judged = run.read_judgement()
    result = CellResult(cell, folder, exit_code, duration, error=error, rerun=rerun_command(cell, options))
    if judged is None or outcome.judged(exit_code) != exit_code:
        result.exit_code = outcome.NOT_JUDGED
        result.error = error or f"the run ended without results (see {run.run_log})"
        return result
    results = judged.results
    result.verdict = results.verdict
    result.summary = {name: getattr(results, name) for name in EXPECTABLE}
    result.expectations = [dataclasses.asdict(o) for o in judged.expectations]
    result.violations = [dataclasses.asdict(v) for v in results.violations]
    result.incomplete = list(results.incomplete)
    result.passed = judged.passed
    result.run_seconds = judged.run_seconds
    return result


# ---- the worker processes ---------------------------------------------------------------------------------------
# Each worker is a spawned process that imports the harness once and starts its own embedded Toxiproxy once
# (or talks to the shared one); it then runs cell after cell, exactly as `pushchat chaos run` would.

_links: Any = None


def _worker_start(options: Options) -> None:
    """A worker's first step: its output goes to a log file, never to the person's terminal; then it imports
    the harness and starts its Toxiproxy, so that no cell's time includes them."""
    folder = options.out / "workers"
    folder.mkdir(parents=True, exist_ok=True)
    log = os.open(folder / f"worker-{os.getpid()}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    import matplotlib.figure  # noqa: F401  (the latency plot's import, paid once per worker)

    import chaos.run  # noqa: F401

    _worker_links(options)


def _worker_links(options: Options) -> Any:
    global _links
    if _links is None:
        from chaos.infra.links import Links

        _links = Links.external(options.toxiproxy_url) if options.toxiproxy_url else Links.embedded(
            log_file=str(options.out / "workers" / f"toxiproxy-{os.getpid()}.log"))
    return _links


class CellTimeout(Exception):
    """The cell ran past --cell-timeout and was stopped (its servers stopped, nothing judged)."""


async def _within(run: Any, timeout: float | None) -> Any:
    """Await ``run``, cancelled after ``timeout`` seconds (CellTimeout); a TimeoutError of its own passes."""
    if timeout is None:
        return await run
    import asyncio

    scope = asyncio.timeout(timeout)
    try:
        async with scope:
            return await run
    except TimeoutError:
        if scope.expired():
            raise CellTimeout() from None
        raise


def run_cell(cell: Cell, options: Options) -> tuple[int, float, str | None]:
    """Run one cell in this process (a worker): its exit code, wall seconds, and why it broke off, if it did.

    The run's report, as ``pushchat chaos run`` prints it, goes to ``run.log`` in its folder."""
    import asyncio
    import io

    from chaos.reports.tables import SummaryRow, run_block
    from chaos.run import run_scenario
    from chaos.scenario.files import read_scenario

    folder = options.out / cell.folder
    folder.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    text = io.StringIO()
    code, error = outcome.NOT_JUDGED, None
    try:
        scenario = read_scenario(cell.path).for_system(cell.system or options.system)
        links = _worker_links(options)
        result = asyncio.run(_within(run_scenario(scenario, folder, links, seed=cell.seed,
                                                  duration=options.duration), options.timeout))
        row = SummaryRow(scenario.name, result.results, result.outcomes, result.duration)
        text.write(run_block(f"[1/1] {scenario.name}", row, folder, result.skipped) + "\n")
        code = result.exit_code
    except CellTimeout:
        error = f"stopped after {options.timeout:g}s (--cell-timeout)"
    except (Exception, asyncio.CancelledError) as exc:  # the run could not finish: judge nothing, say why, go on
        error = f"{type(exc).__name__}: {exc}"
    if error is not None:
        text.write(f"ERROR: {error}\n")
    text.write(f"\nre-run: {rerun_command(cell, options)}\n")
    RunFolder(folder).run_log.write_text(text.getvalue(), encoding="utf-8")
    return code, time.monotonic() - began, error


@dataclass
class Tally:
    """Progress so far, for the live line."""

    total: int
    done: int = 0
    failed: int = 0
    not_judged: int = 0
    running: int = 0
    started: float = field(default_factory=time.monotonic)
    last: str = ""

    def eta(self, now: float | None = None) -> float | None:
        """Seconds left, at the pace so far (cells finished per second of wall time)."""
        if not self.done:
            return None
        elapsed = (now or time.monotonic()) - self.started
        return elapsed / self.done * (self.total - self.done)


def run(cells: Sequence[Cell], options: Options, jobs: int,
        on_done: Callable[[CellResult, Tally], None] | None = None, tally: Tally | None = None) -> list[CellResult]:
    """Run every cell, ``jobs`` worker processes at a time; results in the order of ``cells``."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    tally = tally or Tally(len(cells))
    jobs = max(1, jobs)
    results: dict[Cell, CellResult] = {}
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited event loop or gRPC state
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_worker_start,
                             initargs=(options,)) as pool:
        futures = {}
        for cell in cells:
            futures[pool.submit(run_cell, cell, options)] = cell
        tally.running = min(len(cells), jobs)
        try:
            finished = list(_collect(futures, options, jobs, tally, on_done, results))
        except KeyboardInterrupt:  # Ctrl-C: the running cells stop (their workers got it too); none starts
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        assert len(finished) == len(cells)
    return [results[c] for c in cells]


def _collect(futures: dict[Any, Cell], options: Options, jobs: int, tally: Tally,
             on_done: Callable[[CellResult, Tally], None] | None,
             results: dict[Cell, CellResult]) -> Iterator[CellResult]:
    """Each cell's result as its run ends, counted in ``tally``."""
    from concurrent.futures.process import BrokenProcessPool

    for future in as_completed(futures):
        cell = futures[future]
        try:
            code, took, error = future.result()
        except BrokenProcessPool as exc:
            code, took, error = outcome.NOT_JUDGED, 0.0, f"its worker process died: {exc}"
        result = read_cell(cell, options.out / cell.folder, code, took, options, error)
        if options.keep == "failed" and result.exit_code == outcome.MET:
            prune(result.folder)
        results[cell] = result
        tally.done += 1
        tally.running = min(tally.total - tally.done, jobs)
        tally.failed += result.exit_code == outcome.NOT_MET
        tally.not_judged += result.exit_code == outcome.NOT_JUDGED
        tally.last = f"{cell.label}: {result.matrix_text()}"
        if on_done is not None:
            on_done(result, tally)
        yield result


def prune(folder: Path) -> None:
    """Keep a met cell's page and numbers, drop its history, logs and data (``--keep failed``)."""
    import shutil

    for path in folder.iterdir():
        if path.name in KEPT_WHEN_MET:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def exit_code(results: Iterable[CellResult]) -> int:
    """The campaign's code: its cells' codes combined (chaos/outcome.py)."""
    return outcome.combined(r.exit_code for r in results)


def add_up(results: Iterable[CellResult]) -> dict[str, Any]:
    """Runs, how they ended, and the sum of every TOTALS number over them."""
    results = list(results)
    sums = {name: sum(int(r.summary.get(name) or 0) for r in results) for name in TOTALS}
    durations = [r.duration for r in results]
    return {"runs": len(results), "met": sum(r.outcome == "met" for r in results),
            "failed": sum(r.outcome == "failed" for r in results),
            "not_judged": sum(r.outcome == "not judged" for r in results),
            "valid": sum(r.verdict == "valid" for r in results), "invalid": sum(r.verdict == "invalid" for r in results),
            "unknown": sum(r.verdict == "unknown" for r in results),
            "run_seconds": round(sum(durations), 3), "longest_run": round(max(durations, default=0.0), 3),
            **sums}


def columns(results: Sequence[CellResult]) -> list[str]:
    seen: list[str] = []
    for r in results:
        if r.cell.column not in seen:
            seen.append(r.cell.column)
    return seen


def matrix(results: Sequence[CellResult]) -> tuple[list[str], dict[str, dict[str, CellResult]]]:
    """The columns (seed, repeat) and, per scenario in first-run order, its cell in each column."""
    rows: dict[str, dict[str, CellResult]] = {}
    for r in results:
        rows.setdefault(r.cell.scenario, {})[r.cell.column] = r
    return columns(results), rows


def document(results: Sequence[CellResult], options: Options, *, jobs: int, seeds: Sequence[int], repeat: int,
             wall_seconds: float, started: str) -> dict[str, Any]:
    """All of ``campaign.json``: settings, every cell, per-scenario and campaign totals, the slowest runs."""
    cols, rows = matrix(results)
    return {
        "started": started, "wall_seconds": round(wall_seconds, 3), "jobs": jobs, "seeds": list(seeds),
        "repeat": repeat, "duration": options.duration, "toxiproxy_url": options.toxiproxy_url,
        "exit_code": exit_code(results),
        "columns": cols,
        "matrix": {name: {col: r.matrix_text() for col, r in cells.items()} for name, cells in rows.items()},
        "scenarios": {name: add_up(cells.values()) for name, cells in rows.items()},
        "totals": add_up(results),
        "slowest": [{"scenario": r.cell.scenario, "seed": r.cell.seed, "repeat": r.cell.repeat,
                     "duration": round(r.duration, 3), "folder": _relative(r.folder, options.out)}
                    for r in slowest(results)],
        "cells": [r.to_dict(options.out) for r in results],
    }


def slowest(results: Iterable[CellResult], count: int = SLOWEST) -> list[CellResult]:
    return sorted(results, key=lambda r: r.duration, reverse=True)[:count]


def failures(results: Iterable[CellResult]) -> list[CellResult]:
    return [r for r in results if r.exit_code != outcome.MET]
