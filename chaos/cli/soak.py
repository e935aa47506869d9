"""``pushchat chaos soak SCENARIO --duration 1h``: its flags, its live progress, its table and exit code."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.cli.progress import Progress

if TYPE_CHECKING:
    from chaos.soak.runner import SoakResult

EXIT_PASSED, EXIT_GROWS, EXIT_NOT_JUDGED = 0, 1, 2
EPILOG = """\
exit codes:
    0  nothing grows beyond its allowance
    1  some process's resource grows beyond its allowance (the table says which)
    2  not judged: the soak broke off, its workload stalled, or too few samples after the warm-up
   64  usage error (a bad duration, an unknown scenario)"""


def _duration(text: str) -> float:
    from chaos.soak.runner import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class SoakProgress(Progress):
    """The soak's live line: how far in, the cycle, the sends, the latest sample's memory, the faults on."""

    def line(self) -> str:
        from chaos.soak.runner import SoakStatus, clock

        s = self.status
        assert isinstance(s, SoakStatus)
        c = s.counts
        into = time.monotonic() - s.t0 if s.t0 is not None else 0.0
        cycle = min(s.cycles, int(into // s.period) + 1) if s.t0 is not None and s.period else 0
        faults = "; ".join(s.active_faults) or "none"
        return (f"{self.label} {clock(into)}/{clock(s.duration)} {s.phase:<10} cycle {cycle}/{s.cycles}  "
                f"sends {c.sends_ok} ok/{c.sends_failed} fail  reconnects {c.reconnects}  samples {s.samples}"
                f"{'  ' + s.last if s.last else ''}  faults: {faults}")



def configure(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    soak = sub.add_parser("soak", help="one topology for a long time under a scenario's workload and its faults, "
                                       "again and again: does any server's memory, fds, tasks or state grow?",
                          epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    soak.add_argument("scenario", metavar="SCENARIO", help="a scenario name (see 'pushchat chaos list') or YAML path; "
                                                           "or a soak's folder, to judge it again (--warmup)")
    soak.add_argument("--duration", type=_duration, metavar="D", help="how long: 1h, 30m, 90s, 1h30m or seconds")
    soak.add_argument("--interval", type=_duration, default=60.0, metavar="D",
                      help="how often each server is sampled (default 60s)")
    soak.add_argument("--warmup", type=_duration, metavar="D",
                      help="samples before this are not judged (default: the first half of the soak)")
    soak.add_argument("--cycle", type=_duration, metavar="D",
                      help="repeat the fault schedule every D (default: the scenario's workload duration plus its "
                           "recovery wait); a longer cycle leaves more quiet time to recover between rounds")
    soak.add_argument("--seed", type=int, help="seed of the first cycle's random faults (cycle k: seed + k)")
    soak.add_argument("--out", type=Path, help="output folder (default: runs/<time>-<pid>)")
    soak.add_argument("--toxiproxy-url", default=os.environ.get("TOXIPROXY_URL"),
                      help="use this Toxiproxy server instead of the embedded one (env TOXIPROXY_URL)")
    soak.add_argument("--quiet", action="store_true", help="no progress lines")


def run(args: argparse.Namespace) -> int:
    """Soak, print the table; the exit code says whether anything grows."""
    from chaos.cli.selection import UsageError, named
    from chaos.infra.links import Links
    from chaos.run import default_out
    from chaos.rundir import TOXIPROXY_LOG
    from chaos.soak.runner import SoakStatus, judge_again, run_soak, summary

    if Path(args.scenario).is_dir():
        if not (Path(args.scenario) / "soak.json").is_file():
            raise UsageError(f"{args.scenario}: no soak.json there (a soak's folder, or a scenario)")
        result = judge_again(Path(args.scenario), args.warmup)
        print("\n".join(summary(result)))
        return _exit(result)
    if args.duration is None:
        raise UsageError("say how long: --duration (1h, 30m, 90s...)")
    (scenario,) = named([args.scenario])
    if args.cycle is not None and args.cycle < scenario.workload.duration:
        raise UsageError(f"--cycle {args.cycle:g}s is shorter than {scenario.name}'s workload "
                         f"({scenario.workload.duration:g} s), whose faults each cycle repeats")
    out = args.out or default_out()
    links = Links.external(args.toxiproxy_url) if args.toxiproxy_url else Links.embedded(
        log_file=str(_made(out) / TOXIPROXY_LOG))
    status = SoakStatus(scenario.name)
    try:
        with links, SoakProgress(f"soak {scenario.name}", status, quiet=args.quiet):
            result = asyncio.run(run_soak(scenario, out, links, args.duration, interval=args.interval,
                                          warmup=args.warmup, seed=args.seed, status=status, cycle=args.cycle))
    except Exception as exc:  # the soak broke off: say why; what was sampled stays in the folder
        print(f"\nsoak {scenario.name}: ERROR while {status.phase}: {type(exc).__name__}: {exc} (see {out})",
              file=sys.stderr)
        return EXIT_NOT_JUDGED
    print("\n".join(summary(result)))
    print(f"plot: {out / 'soak.png'}")
    return _exit(result)


def _made(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _exit(result: "SoakResult") -> int:
    if result.stalled:
        return EXIT_NOT_JUDGED
    if result.grows:
        return EXIT_GROWS
    return EXIT_PASSED if result.judged else EXIT_NOT_JUDGED
