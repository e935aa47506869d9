"""``pushchat chaos list|run|check|campaign``: run scenarios with live progress and a summary table.

``run``, ``check`` and ``campaign`` share their reports and their exit codes
(:data:`chaos.outcome.MEANINGS`, also in README.md): a usage error has its own code, so
that a typo on the command line never reads as "expectations not met" or
"could not judge". ``campaign`` runs scenarios × seeds in parallel
(``chaos.campaign``) and writes campaign.json, JUnit XML and an HTML report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Sequence, TextIO

from chaos import outcome
from chaos.checker.systems import SYSTEMS
from chaos.reports import tables as report
from chaos.cli.progress import CampaignProgress, Progress
from chaos.cli.selection import UsageError, in_named_group, named
from chaos.scenario.model import Scenario
from chaos.scenario.files import (DEFAULT_FOLDER, ON_DEMAND_GROUPS, ScenarioError, UnknownScenario, by_default, find,
                                 read_scenario, read_scenarios)

EPILOG = "exit codes (run, check and campaign):\n" + "\n".join(
    textwrap.fill(what, 78, initial_indent=f"  {code:>3}  ", subsequent_indent=" " * 7)
    for code, what in outcome.MEANINGS.items())


class NotHere(Exception):
    """A scenario asked for by name or group cannot run on this machine; exit outcome.NOT_HERE."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog, parser.formatter_class = EPILOG, argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("list", help="list scenarios with their groups and a one-line description")
    run = sub.add_parser("run", help="run scenarios and judge them", epilog=EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                     help="scenario names (see 'pushchat chaos list') or paths of your own YAML files")
    run.add_argument("--all", action="store_true", help=f"run every scenario in {DEFAULT_FOLDER} that this machine can "
                     f"(the others are listed as not run, saying why) but those of the groups "
                     f"{', '.join(ON_DEMAND_GROUPS)} (run those with --group)")
    run.add_argument("--group", help="run every scenario whose 'group:' names GROUP (see 'pushchat chaos list')")
    run.add_argument("--seed", type=int, help="seed for random fault schedules (default: each scenario's own)")
    run.add_argument("--out", type=Path, help="output folder (default: runs/<time>-<pid>)")
    run.add_argument("--toxiproxy-url", default=os.environ.get("TOXIPROXY_URL"),
                     help="use this Toxiproxy server instead of the embedded one (env TOXIPROXY_URL)")
    run.add_argument("--duration", type=float, help="override each scenario's workload duration (s)")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.add_argument("--system", choices=SYSTEMS, help="the system under test (default: each scenario's 'system:', "
                     "pushchat when it names none)")
    run.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML: one testcase per scenario")
    run.add_argument("--ctk-journal", type=Path, metavar="FILE",
                     help="also write the run as a Chaos Toolkit journal (one scenario only)")
    check = sub.add_parser("check", help="re-judge a finished run: one scenario's folder, or a folder of them",
                           epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("folder", type=Path,
                       help="a scenario's output folder (holds history.jsonl), or the output folder of a run of "
                            "several scenarios (one sub-folder each)")
    check.add_argument("--scenario", help="scenario (name or YAML path) whose expectations to evaluate "
                                          "(default: the copy the run saved, or the name in results.json)")
    from chaos.cli import compare as cli_compare  # noqa: PLC0415 - it builds on this module

    cli_compare.add_parser(sub)
    campaign = sub.add_parser(
        "campaign", help="run scenarios x seeds in parallel: a matrix, totals, campaign.json, JUnit XML, HTML",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    campaign.add_argument("--scenarios", default="all", metavar="all|NAMES",
                          help="'all' (default), or scenario names and YAML paths, comma-separated")
    campaign.add_argument("--group", help="every scenario whose 'group:' names GROUP (instead of --scenarios)")
    campaign.add_argument("--seeds", default="1", metavar="SEEDS",
                          help="a count (20: seeds 1-20), a range (1-20) or a list (1,4,9-11); default 1")
    campaign.add_argument("--repeat", type=int, default=1, metavar="N", help="run each scenario and seed N times")
    campaign.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                          help="runs at once, each a process with its own Toxiproxy (default: the CPU count, "
                               f"{os.cpu_count()})")
    campaign.add_argument("--out", type=Path, help="output folder (default: runs/campaign-<time>-<pid>)")
    campaign.add_argument("--toxiproxy-url", default=os.environ.get("TOXIPROXY_URL"),
                          help="every run uses this Toxiproxy server (proxy names are per run) instead of its own "
                               "embedded one (env TOXIPROXY_URL)")
    campaign.add_argument("--duration", type=float, help="override each scenario's workload duration (s)")
    campaign.add_argument("--system", choices=SYSTEMS, help="the system under test (default: each scenario's)")
    campaign.add_argument("--junit", type=Path, metavar="FILE", help="JUnit XML file (default: OUT/junit.xml)")
    campaign.add_argument("--cell-timeout", type=float, metavar="S",
                          help="stop a run that takes longer than S seconds and count it not judged")
    campaign.add_argument("--keep", choices=("all", "failed"), default="all",
                          help="'failed': a run that met its expectations keeps only results.json, report.html and "
                               "run.log (default: every run keeps its whole folder)")
    campaign.add_argument("--quiet", action="store_true", help="no progress line")
    from chaos.cli import soak as cli_soak
    cli_soak.configure(sub)


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "list":
            return _list(sys.stdout)
        if args.action == "check":
            return _check(args)
        if args.action == "campaign":
            return _campaign(args)
        if args.action == "compare":
            from chaos.cli import compare as cli_compare

            return cli_compare.run(args)
        if args.action == "soak":
            from chaos.cli import soak as cli_soak

            return cli_soak.run(args)
        return _run(args)
    except (UsageError, UnknownScenario) as exc:
        print(f"pushchat chaos {args.action}: {exc}", file=sys.stderr)
        return outcome.USAGE
    except NotHere as exc:
        print(f"pushchat chaos {args.action}: cannot run {exc}", file=sys.stderr)
        return outcome.NOT_HERE
    except ScenarioError as exc:
        lines = str(exc).splitlines()
        head = lines[0] if len(lines) == 1 else f"{len(lines)} problems in scenario files:\n  " + "\n  ".join(lines)
        print(f"pushchat chaos: {head}", file=sys.stderr)
        return outcome.BAD_SCENARIO


def _list(out: TextIO) -> int:
    scenarios = read_scenarios()
    out.write(report.table(["scenario", "group", "description"],
                           [[s.name, ",".join(s.groups), s.description] for s in scenarios], left=3,
                           width=report.terminal_width(), wrap=2) + "\n")
    return 0


def _selected(args: argparse.Namespace) -> list[Scenario]:
    given = [what for what, there in (("scenario names", args.scenarios), ("--all", args.all),
                                      ("--group", args.group)) if there]
    if len(given) > 1:
        raise UsageError(f"{' and '.join(given)}: give one of them, not both")
    if args.all:
        return _against(by_default(read_scenarios()), getattr(args, "system", None))
    if args.group:
        return _against(in_named_group(args.group), getattr(args, "system", None))
    if not args.scenarios:
        raise UsageError("name at least one scenario (see 'pushchat chaos list') or a YAML file, or give --all "
                         "or --group")
    return _against(named(args.scenarios), getattr(args, "system", None))


def _against(scenarios: list[Scenario], system: str | None) -> list[Scenario]:
    """Each scenario against ``system`` (None: its own); every one the system cannot run, said at once."""
    chosen, refused = [], []
    for scenario in scenarios:
        try:
            chosen.append(scenario.for_system(system))
        except ValueError as exc:
            refused.append(str(exc))
    if refused:
        raise UsageError("\n".join(refused))
    return chosen


def _here(scenarios: list[Scenario], everything: bool) -> tuple[list[Scenario], list[tuple[Scenario, str]]]:
    """(what to run, what this machine cannot run and why). ``--all`` means all this machine can run: the rest
    are listed as not run and leave the exit code alone (a newcomer without root is not told the suite failed),
    while a scenario asked for by name or group that cannot run here refuses the whole command (outcome.NOT_HERE),
    before anything starts: it never falls back to running without what it tests."""
    from chaos.infra import machine

    runnable, not_here = machine.split(scenarios)
    if not_here and not everything:
        raise NotHere(machine.refusal(not_here))
    return runnable, not_here


def _not_run(not_here: Sequence[tuple[Scenario, str]]) -> str:
    """The summary's lines for scenarios this machine cannot run (empty when there are none)."""
    if not not_here:
        return ""
    from chaos.infra import machine

    return (f"Not run on this machine ({report.count(len(not_here), 'scenario')}; exit code unaffected): "
            f"{machine.refusal(not_here)}\n")


def _run(args: argparse.Namespace) -> int:
    from chaos.infra.links import Links
    from chaos.run import Status, default_out, run_scenario
    from chaos.rundir import TOXIPROXY_LOG

    scenarios, not_here = _here(_selected(args), everything=args.all)
    if args.ctk_journal is not None and len(scenarios) > 1:
        raise UsageError(f"--ctk-journal writes one experiment's journal; {len(scenarios)} scenarios are named")
    root = args.out or default_out()
    rows, codes, errors, cases = [], [], [], []
    links = Links.external(args.toxiproxy_url) if args.toxiproxy_url else Links.embedded(
        log_file=str(_ensure(root) / TOXIPROXY_LOG))
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
                why = f"ERROR while {status.phase}: {type(exc).__name__}: {exc}"
                print(f"\n{label}: {why} (logs in {out})")
                errors.append(scenario.name)
                codes.append(outcome.NOT_JUDGED)
                cases.append(_case(scenario.name, time.monotonic() - status.started, "not judged", out, error=why))
                if args.ctk_journal is not None:
                    _write_journal(args.ctk_journal, out, scenario, error=why)
                continue
            rows.append(_report(label, scenario.name, result.results, result.outcomes, result.duration, out,
                                result.skipped))
            codes.append(result.exit_code)
            cases.append(_case(scenario.name, result.duration, outcome.word(result.exit_code), out,
                               result.outcomes, result.results))
            if args.ctk_journal is not None:
                _write_journal(args.ctk_journal, out, scenario)
    if not_here:
        from chaos.reports import junit

        cases += [junit.Case(s.name, "pushchat.chaos", 0.0, junit.NOT_RUN, [], [], [], error=why, folder="")
                  for s, why in not_here]
    _summary(rows, root, errors, [p for p in (Path(c.folder) / "report.html" for c in cases) if p.is_file()],
             not_here)
    if args.junit is not None:
        from chaos.reports import junit

        print(f"JUnit XML: {junit.write(args.junit, 'pushchat chaos run', cases)}")
    if args.ctk_journal is not None:
        print(f"Chaos Toolkit journal: {args.ctk_journal}")
    return outcome.combined(codes)


def _case(name: str, seconds: float, outcome: str, out: Path, outcomes: Sequence[Any] = (), results: Any = None,
          error: str | None = None) -> Any:
    from chaos.reports import junit

    return junit.Case(name, "pushchat.chaos", seconds, outcome, list(outcomes),
                      list(report.field(results, "violations", []) or []) if results is not None else [],
                      list(report.field(results, "incomplete", []) or []) if results is not None else [],
                      error=error, folder=str(out))


def _write_journal(path: Path, out: Path, scenario: Scenario, error: str | None = None) -> None:
    from chaos.reports import ctk_journal

    ctk_journal.write(path, ctk_journal.from_run(out, scenario, error=error))


def _report(label: str, name: str, results: Any, outcomes: Sequence[Any], duration: float, out: Path,
            notes: Sequence[str] = ()) -> report.SummaryRow:
    """Print one scenario's block (chaos/reports/tables.py, ``run_block``); its row of the summary."""
    row = report.SummaryRow(name, results, outcomes, duration)
    print(report.run_block(label, row, out, notes))
    return row


def _summary(rows: Sequence[report.SummaryRow], root: Path, errors: Sequence[str] = (),
             pages: Sequence[Path] = (), not_here: Sequence[tuple[Scenario, str]] = ()) -> None:
    """The summary table, then where the output is: the HTML report (the most readable) last, to open."""
    print("\nSummary")
    print(report.summary_table(rows, width=report.terminal_width()))
    print(report.legend(report.SUMMARY_LEGEND_LINES))
    if errors:
        print(f"Not judged (the run failed; exit code {outcome.NOT_JUDGED}): {', '.join(errors)}")
    print(_not_run(not_here), end="")
    print(f"\nOutput: {root}  (per scenario: report.html, history.jsonl, results.json, metrics.json, logs/, "
          "latency.png)")
    if len(pages) == 1:
        print(f"HTML report: {pages[0]}  (open it in a browser)")
    elif pages:
        print(f"HTML reports: {len(pages)}, one per scenario: {root}/SCENARIO/report.html  (open one in a browser)")


def _check(args: argparse.Namespace) -> int:
    from chaos.run import check_folder
    from chaos.rundir import HISTORY, RunFolder

    folder: Path = args.folder
    folders = [folder] if RunFolder(folder).history.is_file() else sorted(
        p.parent for p in folder.glob(f"*/{HISTORY}") if p.is_file())
    if not folders:
        if not folder.is_dir():
            raise UsageError(f"{folder}: no such folder" if not folder.exists() else
                             f"{folder} is a file; give a run's folder (it holds history.jsonl)")
        raise UsageError(f"{folder} holds no run: no history.jsonl in it, nor in any folder inside it")
    if args.scenario is not None and len(folders) > 1:
        raise UsageError(f"--scenario judges one scenario's folder; {folder} holds {len(folders)}")
    rows, codes = [], []
    for i, sub in enumerate(folders, start=1):
        scenario = _scenario_of(sub, args.scenario)
        judged = RunFolder(sub).read_judgement()
        if judged is not None:  # the expectations of the system the run was against (--system)
            scenario = scenario.for_system(judged.results.system)
        results, outcomes = check_folder(sub, scenario)  # it keeps the run's own run_seconds
        duration = float(judged.run_seconds or 0.0) if judged is not None else 0.0
        row = _report(f"[{i}/{len(folders)}] {scenario.name}", scenario.name, results, outcomes, duration, sub)
        rows.append(row)
        codes.append(outcome.of_run(outcomes, results.verdict))
    _summary(rows, folder, pages=[p for p in (sub / "report.html" for sub in folders) if p.is_file()])
    return outcome.combined(codes)


def _scenario_of(folder: Path, given: str | None) -> Scenario:
    """--scenario if given; else the copy of the scenario file the run saved; else the name in results.json."""
    if given is not None:
        return find(given)
    from chaos.rundir import RunFolder

    copies = RunFolder(folder).scenario_copies()
    if len(copies) == 1:
        return read_scenario(copies[0])
    judged = RunFolder(folder).read_judgement()
    name = judged.scenario if judged is not None else None
    if not name:
        raise UsageError(f"{folder}: say --scenario NAME (no scenario file copy or results.json to tell it)")
    return find(name)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _campaign(args: argparse.Namespace) -> int:
    from chaos import campaign
    from chaos.reports import html_report
    from chaos.reports import junit
    from chaos.run import default_out

    if args.group and args.scenarios != "all":
        raise UsageError("--scenarios and --group: give one of them, not both")
    everything = not args.group and args.scenarios.strip() == "all"
    scenarios = in_named_group(args.group) if args.group else (
        by_default(read_scenarios()) if everything else named([n.strip() for n in args.scenarios.split(",")
                                                                   if n.strip()]))
    if not scenarios:
        raise UsageError("--scenarios names no scenario")
    _against(scenarios, getattr(args, "system", None))  # refused before anything starts
    scenarios, not_here = _here(scenarios, everything)
    try:
        seeds = campaign.parse_seeds(args.seeds)
    except campaign.SeedsError as exc:
        raise UsageError(str(exc)) from None
    if args.repeat < 1 or args.jobs < 1:
        raise UsageError(f"--{'repeat' if args.repeat < 1 else 'jobs'} must be at least 1")
    if args.out is None:
        stamp = default_out()
        root = stamp.with_name(f"campaign-{stamp.name}")
    else:
        root = args.out
    options = campaign.Options(_ensure(root), args.duration, args.toxiproxy_url, args.cell_timeout, args.keep,
                               getattr(args, "system", None))
    cells = campaign.plan(scenarios, seeds, args.repeat)
    jobs = min(args.jobs, len(cells))
    print(_not_run(not_here), end="")
    print(campaign_plan(len(scenarios), len(seeds), args.repeat, len(cells), jobs, root), flush=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    tally = campaign.Tally(len(cells))
    with CampaignProgress(tally, quiet=args.quiet) as progress:
        results = campaign.run(cells, options, jobs, on_done=progress.cell_done, tally=tally)
    doc = campaign.document(results, options, jobs=jobs, seeds=seeds, repeat=args.repeat,
                            wall_seconds=time.monotonic() - tally.started, started=started)
    (root / "campaign.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    junit_path = junit.write(args.junit or root / "junit.xml", "pushchat chaos campaign", [
        junit.Case(r.cell.test_name, f"pushchat.chaos.{r.cell.scenario}", r.duration, r.outcome, r.expectations, r.violations,
                   r.incomplete, r.error, str(r.folder), r.rerun if r.exit_code != outcome.MET else "")
        for r in results])
    page = html_report.write_campaign(root, doc)
    _campaign_summary(doc, results, root, junit_path, page)
    return doc["exit_code"]


def campaign_plan(scenarios: int, seeds: int, repeat: int, runs: int, jobs: int, root: Path) -> str:
    """The campaign's first line: ``Campaign: 1 scenario x 3 seeds = 3 runs, 2 at a time -> ROOT``."""
    times = f" x {report.count(repeat, 'repeat')}" if repeat > 1 else ""
    return (f"Campaign: {report.count(scenarios, 'scenario')} x {report.count(seeds, 'seed')}{times} = "
            f"{report.count(runs, 'run')}, {jobs} at a time -> {root}")


def _campaign_summary(doc: dict[str, Any], results: Sequence[Any], root: Path, junit_path: Path,
                      page: Path) -> None:
    from chaos import campaign

    width = report.terminal_width()
    print("\nMatrix")
    print(report.campaign_matrix(doc, width))
    print(report.legend(report.CAMPAIGN_LEGEND_LINES))
    print("\nPer scenario")
    print(report.campaign_scenarios_table(doc, width))
    print(report.legend(report.CAMPAIGN_SCENARIOS_LEGEND_LINES))
    print("\nCampaign totals")
    print(report.campaign_totals(doc))
    print("\nSlowest runs")
    print(report.campaign_slowest(doc))
    failed = campaign.failures(results)
    if failed:
        print(f"\n{report.count(len(failed), 'run')} did not meet expectations or could not be judged; each kept "
              "its folder. Re-run one alone (same seed, same schedule):")
        for r in failed:
            why = r.error or "; ".join(f"{e['name']} {e['wanted']} (actual {e['actual']})"
                                       for e in r.expectations if not e.get("passed"))
            print(f"  {r.cell.label}: {r.outcome}: {why}\n    folder: {r.folder}\n    {r.rerun}")
    print(f"\nOutput: {root}  (campaign.json, report.html; per run: SCENARIO/seed-N/ with report.html)")
    print(f"JUnit XML: {junit_path}\nHTML report: {page}")
