"""``pushchat chaos list|run|check``: run scenarios with live progress and a summary table.

``run`` and ``check`` share their reports and their exit codes (:data:`EXIT_CODES`,
also in README.md): a usage error has its own code, so that a typo on the
command line never reads as "expectations not met" or "could not judge".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence, TextIO

from chaos import report
from chaos.cli import EXIT_USAGE
from chaos.scenario import Scenario
from chaos.scenario_file import DEFAULT_FOLDER, ScenarioError, UnknownScenario, find, load, load_all

if TYPE_CHECKING:  # chaos.run imports gRPC; `pushchat chaos list` should not pay for it
    from chaos.run import Status

PROGRESS_EVERY_TTY = 0.5
PROGRESS_EVERY_PIPE = 3.0

EXIT_MET, EXIT_NOT_MET, EXIT_NOT_JUDGED, EXIT_BAD_SCENARIO, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_CODES: dict[int, str] = {
    EXIT_MET: "every scenario met its expectations",
    EXIT_NOT_MET: "some scenario did not meet its expectations",
    EXIT_NOT_JUDGED: "none failed, but some could not be judged (verdict unknown, or the run broke off)",
    EXIT_BAD_SCENARIO: "a scenario file is bad (every problem is listed with its file and field)",
    EXIT_USAGE: "usage error: no command, an unknown command or option, no scenario named, a name or path "
                "that matches no scenario file, a folder that holds no run",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}
EPILOG = "exit codes (run and check):\n" + "\n".join(
    textwrap.fill(what, 78, initial_indent=f"  {code:>3}  ", subsequent_indent=" " * 7)
    for code, what in EXIT_CODES.items())


class UsageError(Exception):
    """The command line asks for something that is not there; exit EXIT_USAGE."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog, parser.formatter_class = EPILOG, argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("list", help="list scenarios with a one-line description")
    run = sub.add_parser("run", help="run scenarios and judge them", epilog=EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                     help="scenario names (see 'pushchat chaos list') or paths of your own YAML files")
    run.add_argument("--all", action="store_true", help=f"run every scenario in {DEFAULT_FOLDER}")
    run.add_argument("--seed", type=int, help="seed for random fault schedules (default: each scenario's own)")
    run.add_argument("--out", type=Path, help="output folder (default: runs/<time>-<pid>)")
    run.add_argument("--toxiproxy-url", default=os.environ.get("TOXIPROXY_URL"),
                     help="use this Toxiproxy server instead of the embedded one (env TOXIPROXY_URL)")
    run.add_argument("--duration", type=float, help="override each scenario's workload duration (s)")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    check = sub.add_parser("check", help="re-judge a finished run: one scenario's folder, or a folder of them",
                           epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("folder", type=Path,
                       help="a scenario's output folder (holds history.jsonl), or the output folder of a run of "
                            "several scenarios (one sub-folder each)")
    check.add_argument("--scenario", help="scenario (name or YAML path) whose expectations to evaluate "
                                          "(default: the copy the run saved, or the name in results.json)")


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "list":
            return _list(sys.stdout)
        if args.action == "check":
            return _check(args)
        return _run(args)
    except (UsageError, UnknownScenario) as exc:
        print(f"pushchat chaos {args.action}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ScenarioError as exc:
        lines = str(exc).splitlines()
        head = lines[0] if len(lines) == 1 else f"{len(lines)} problems in scenario files:\n  " + "\n  ".join(lines)
        print(f"pushchat chaos: {head}", file=sys.stderr)
        return EXIT_BAD_SCENARIO


def exit_code(codes: Sequence[int]) -> int:
    """One code for several scenarios: not met wins over not judged, which wins over met."""
    return EXIT_NOT_MET if EXIT_NOT_MET in codes else max(codes, default=EXIT_MET)


def _list(out: TextIO) -> int:
    scenarios = load_all()
    out.write(report.table(["scenario", "description"], [[s.name, s.description] for s in scenarios], left=2) + "\n")
    return 0


def _selected(args: argparse.Namespace) -> list[Scenario]:
    if args.all and args.scenarios:
        raise UsageError("name scenarios or give --all, not both")
    if args.all:
        return load_all()
    if not args.scenarios:
        raise UsageError("name at least one scenario (see 'pushchat chaos list') or a YAML file, or give --all")
    twice = [name for name, n in Counter(args.scenarios).items() if n > 1]
    if twice:
        raise UsageError(f"{', '.join(twice)}: named twice (each scenario gets one output folder)")
    scenarios, unknown, problems = [], [], []
    for name in args.scenarios:  # report every bad name and file, not only the first
        try:
            scenarios.append(find(name))
        except UnknownScenario as exc:
            unknown.append(str(exc))
        except ScenarioError as exc:
            problems += exc.problems
    if unknown:
        raise UsageError("\n".join(unknown))
    if problems:
        raise ScenarioError.of(problems)
    return scenarios


def _run(args: argparse.Namespace) -> int:
    from chaos.links import Links
    from chaos.run import Status, default_out, run_scenario

    scenarios = _selected(args)
    root = args.out or default_out()
    rows, codes, errors = [], [], []
    links = Links.external(args.toxiproxy_url) if args.toxiproxy_url else Links.embedded(
        log_file=str(_ensure(root) / "toxiproxy.log"))
    with links:
        if not links.supports_extensions:
            print(f"Toxiproxy at {args.toxiproxy_url}: standard API only; a stall is a 1 KB/s bandwidth toxic "
                  "there, and a fault that needs an extension is skipped.", file=sys.stderr)
        for i, scenario in enumerate(scenarios, start=1):
            out = root / scenario.name if len(scenarios) > 1 or args.out is None else root
            status = Status(scenario.name)
            label = f"[{i}/{len(scenarios)}] {scenario.name}"
            try:
                with Progress(label, status, quiet=args.quiet):
                    result = asyncio.run(run_scenario(scenario, out, links, seed=args.seed,
                                                      duration=args.duration, status=status))
            except Exception as exc:  # the run could not finish: say why, judge nothing, go on
                print(f"\n{label}: ERROR while {status.phase}: {type(exc).__name__}: {exc} (logs in {out})")
                errors.append(scenario.name)
                codes.append(EXIT_NOT_JUDGED)
                continue
            rows.append(_report(label, scenario.name, result.results, result.outcomes, result.duration, out,
                                result.skipped))
            codes.append(result.exit_code)
    _summary(rows, root, errors)
    return exit_code(codes)


def _report(label: str, name: str, results: Any, outcomes: Sequence[Any], duration: float, out: Path,
            notes: Sequence[str] = ()) -> report.SummaryRow:
    """One scenario's block: verdict line, expectations, latency, and the detail when something is off."""
    row = report.SummaryRow(name, results, outcomes, duration)
    print(f"\n{label}: {'met its expectations' if row.passed else 'FAILED its expectations'} "
          f"(verdict {report.field(results, 'verdict')}, {duration:.1f}s) -> {out}")
    for note in notes:
        print(f"  note: {note}")
    print(report.expectations_table(outcomes))
    print(report.latency_line(results))
    if not row.passed or report.field(results, "verdict") != "valid":
        print(report.results_detail(results))
    return row


def _summary(rows: Sequence[report.SummaryRow], root: Path, errors: Sequence[str] = ()) -> None:
    print(f"\nSummary ({report.SUMMARY_LEGEND})")
    print(report.summary_table(rows))
    if errors:
        print(f"Not judged (the run failed; exit code {EXIT_NOT_JUDGED}): {', '.join(errors)}")
    print(f"\nOutput: {root}  (per scenario: history.jsonl, results.json, metrics.json, logs/, latency.png)")


def _check(args: argparse.Namespace) -> int:
    from chaos.run import exit_code as scenario_exit_code, judge

    folder: Path = args.folder
    folders = [folder] if (folder / "history.jsonl").is_file() else sorted(
        p.parent for p in folder.glob("*/history.jsonl") if p.is_file())
    if not folders:
        raise UsageError(f"{folder} holds no run: no history.jsonl in it, nor in any folder inside it")
    if args.scenario is not None and len(folders) > 1:
        raise UsageError(f"--scenario judges one scenario's folder; {folder} holds {len(folders)}")
    rows, codes = [], []
    for i, sub in enumerate(folders, start=1):
        scenario = _scenario_of(sub, args.scenario)
        results, outcomes = judge(sub, scenario)
        duration = float(_saved(sub).get("run_seconds") or 0.0)
        row = _report(f"[{i}/{len(folders)}] {scenario.name}", scenario.name, results, outcomes, duration, sub)
        rows.append(row)
        codes.append(scenario_exit_code(outcomes, results.verdict))
    _summary(rows, folder)
    return exit_code(codes)


def _saved(folder: Path) -> dict[str, Any]:
    """The run's results.json, or {} (a run that broke off before judging has none)."""
    try:
        doc = json.loads((folder / "results.json").read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _scenario_of(folder: Path, given: str | None) -> Scenario:
    """--scenario if given; else the copy of the scenario file the run saved; else the name in results.json."""
    if given is not None:
        return find(given)
    copies = sorted(folder.glob("*.yaml"))
    if len(copies) == 1:
        return load(copies[0])
    name = _saved(folder).get("scenario")
    if not isinstance(name, str):
        raise UsageError(f"{folder}: say --scenario NAME (no scenario file copy or results.json to tell it)")
    return find(name)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


class Progress:
    """A live status line: redrawn in place on a terminal, a line every few seconds in a pipe."""

    def __init__(self, label: str, status: "Status", quiet: bool = False, stream: TextIO | None = None) -> None:
        self.label, self.status, self.quiet = label, status, quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def line(self) -> str:
        s = self.status
        c = s.counts
        elapsed = time.monotonic() - s.started
        faults = "; ".join(s.active_faults) or "none"
        return (f"{self.label} {elapsed:5.1f}s {s.phase:<16} sends {c.sends_ok} ok/{c.sends_failed} fail/"
                f"{c.sends_indefinite} indef  pushes {c.pushes}  polls {c.polls} (showed {c.shown_by_poll})  "
                f"reconnects {c.reconnects}  faults: {faults}")

    def _loop(self) -> None:
        every = PROGRESS_EVERY_TTY if self.tty else PROGRESS_EVERY_PIPE
        while not self._stop.wait(every):
            self._draw()

    def _draw(self) -> None:
        text = self.line()
        if self.tty:
            width = os.get_terminal_size(self.stream.fileno()).columns
            self.stream.write("\r\x1b[2K" + text[: width - 1])
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def __enter__(self) -> "Progress":
        if not self.quiet:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if not self.quiet:
            self._thread.join()
            self._draw()
            if self.tty:
                self.stream.write("\n")
