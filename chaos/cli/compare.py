"""``pushchat chaos compare``: run scenarios against several systems and print one table (``chaos.compare``)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from chaos.checker.systems import SYSTEMS


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cmp = sub.add_parser("compare", help="run scenarios against several systems (pushchat, goverse): one table of "
                                         "what each lost, also as compare.html")
    cmp.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                     help="scenario names or YAML paths (default: every scenario run by default)")
    cmp.add_argument("--systems", default=",".join(SYSTEMS), metavar="A,B",
                     help=f"the systems, comma-separated (default: {','.join(SYSTEMS)})")
    cmp.add_argument("--group", help="every scenario whose 'group:' names GROUP (instead of names)")
    cmp.add_argument("--jobs", type=int, default=1, metavar="N", help="runs at once, each a worker process (default 1)")
    cmp.add_argument("--duration", type=float, help="override each scenario's workload duration (s)")
    cmp.add_argument("--seed", type=int, help="seed for random fault schedules (default: each scenario's own)")
    cmp.add_argument("--out", type=Path, help="output folder (default: runs/compare-<time>-<pid>)")
    cmp.add_argument("--quiet", action="store_true", help="no progress line")


def run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    """Run every (scenario, system) that can run, print the table; 0 when each met its system's expectations."""
    from chaos import campaign, compare  # here: building the parser must not import gRPC
    from chaos.cli.selection import UsageError, in_named_group, named
    from chaos.cli.progress import CampaignProgress
    from chaos.reports import tables as report
    from chaos.run import default_out
    from chaos.scenario.files import by_default, read_scenarios

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown or not systems:
        raise UsageError(f"--systems: {', '.join(unknown) or 'none given'}: known systems are {', '.join(SYSTEMS)}")
    if args.scenarios and args.group:
        raise UsageError("scenario names and --group: give one of them, not both")
    scenarios = in_named_group(args.group) if args.group else named(args.scenarios) if args.scenarios else by_default(
        read_scenarios())
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    stamp = default_out()
    root = args.out or stamp.with_name(f"compare-{stamp.name}")
    root.mkdir(parents=True, exist_ok=True)
    cells, rows = compare.plan(scenarios, systems, args.seed)
    print(f"{len(scenarios)} scenarios x {len(systems)} systems: {len(cells)} runs, {args.jobs} at a time, "
          f"into {root}", flush=True)
    options = campaign.Options(root, args.duration)
    tally = campaign.Tally(len(cells))
    with CampaignProgress(tally, quiet=args.quiet) as progress:
        results = campaign.run(cells, options, args.jobs, on_done=progress.cell_done, tally=tally) if cells else []
    compare.read(rows, root, cells, {r.cell: r.error for r in results})
    command = shlex.join(["pushchat", "chaos", "compare", *(argv if argv is not None else sys.argv[3:])])
    print()
    print(compare.text(rows, report.terminal_width()))
    page = compare.write_html(root, rows, command)
    print(f"\nHTML: {page}  (each row links to its run's report.html)")
    return campaign.exit_code(results)
