"""``pushchat chaos list|run|check``: run scenarios with live progress and a summary table.

Exit codes: 0 every scenario met its expectations; 1 some did not; 2 some
could not be judged (verdict unknown); 3 a scenario file or option is bad.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from chaos import report
from chaos.scenario import DEFAULT_FOLDER, Scenario, ScenarioError, find, load_all

if TYPE_CHECKING:  # chaos.run imports gRPC; `pushchat chaos list` should not pay for it
    from chaos.run import Status

PROGRESS_EVERY_TTY = 0.5
PROGRESS_EVERY_PIPE = 3.0


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("list", help="list scenarios with a one-line description")
    run = sub.add_parser("run", help="run scenarios and judge them")
    run.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="scenario names or YAML paths")
    run.add_argument("--all", action="store_true", help=f"run every scenario in {DEFAULT_FOLDER}")
    run.add_argument("--seed", type=int, help="seed for random fault schedules (default: each scenario's own)")
    run.add_argument("--out", type=Path, help="output folder (default: runs/<time>-<pid>)")
    run.add_argument("--toxiproxy-url", default=os.environ.get("TOXIPROXY_URL"),
                     help="use this Toxiproxy server instead of the embedded one (env TOXIPROXY_URL)")
    run.add_argument("--duration", type=float, help="override each scenario's workload duration (s)")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    check = sub.add_parser("check", help="re-judge a finished scenario folder (exit 0/1/2: valid/invalid/unknown)")
    check.add_argument("folder", type=Path, help="a scenario's output folder (holds history.jsonl)")
    check.add_argument("--scenario", help="scenario whose expectations to evaluate (default: from results.json)")


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "list":
            return _list(sys.stdout)
        if args.action == "check":
            return _check(args)
        return _run(args)
    except ScenarioError as exc:
        print(f"pushchat chaos: {exc}", file=sys.stderr)
        return 3


def _list(out: TextIO) -> int:
    scenarios = load_all()
    out.write(report.table(["scenario", "description"], [[s.name, s.description] for s in scenarios], left=2) + "\n")
    return 0


def _selected(args: argparse.Namespace) -> list[Scenario]:
    if args.all:
        return load_all()
    if not args.scenarios:
        raise SystemExit("pushchat chaos run: name at least one scenario, or --all (see 'pushchat chaos list')")
    return [find(name) for name in args.scenarios]


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
            print(f"Toxiproxy at {args.toxiproxy_url}: standard API only; extension faults will be skipped.",
                  file=sys.stderr)
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
                codes.append(2)
                continue
            print(f"\n{label}: {'met its expectations' if result.passed else 'FAILED its expectations'} "
                  f"(verdict {result.results.verdict}, {result.duration:.1f}s) -> {out}")
            for note in result.skipped:
                print(f"  note: {note}")
            print(report.expectations_table(result.outcomes))
            print(report.latency_line(result.results))
            if not result.passed or result.results.verdict != "valid":
                print(report.results_detail(result.results))
            rows.append(report.SummaryRow(scenario.name, result.results, result.outcomes, result.duration))
            codes.append(result.exit_code)
    print("\nSummary (sends ok/fail/indef; pushes shown by push/failed on node/dropped on gate)")
    print(report.summary_table(rows))
    if errors:
        print(f"Not judged (the run failed; exit code 2): {', '.join(errors)}")
    print(f"\nOutput: {root}  (per scenario: history.jsonl, results.json, metrics.json, logs/, latency.png)")
    return max(codes, default=0) if 1 not in codes else 1


def _check(args: argparse.Namespace) -> int:
    import json

    from chaos.run import judge

    folder: Path = args.folder
    if not (folder / "history.jsonl").exists():
        raise SystemExit(f"pushchat chaos check: {folder} holds no history.jsonl")
    name = args.scenario
    if name is None and (folder / "results.json").exists():
        name = json.loads((folder / "results.json").read_text()).get("scenario")
    if name is None:
        raise SystemExit("pushchat chaos check: say --scenario NAME (no results.json to read it from)")
    results, outcomes = judge(folder, find(name))
    print(report.expectations_table(outcomes))
    print(report.results_detail(results))
    print(f"verdict: {results.verdict}")
    return results.exit_code


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
