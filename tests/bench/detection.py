"""``python -m tests.bench.detection``: how long a gate takes to notice a link cut in the kernel, per fault kind
and gate keepalive setting.

Runs the network scenarios (``network: namespaces``, root and nftables)
with the gate's keepalive flags set per row (given after the run's own,
so they win; the nodes keep the run's 1000/1000/1000 ms), and reads each
run's judgement: ``detection_max`` (the longest from a cut to the gate's
``node_stream_down``, ``chaos/checker/rules/detection.py``) and the cuts
noticed of those made. ``net_blackhole`` has no shipped scenario: its row
runs half-open-gate-link with a blackhole of node 0 in place of the
one-way drop (both gates' links to it cut). Prints one Markdown table, the
one in docs/benchmarks.md; run on demand (a minute per row and run),
never as a test.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import tempfile
from pathlib import Path
from typing import Sequence

from chaos import outcome
from chaos.faults.fault import make_fault
from chaos.infra import machine
from chaos.infra.links import Links
from chaos.run import KEEPALIVE, RunResult, run_scenario
from chaos.scenario.files import find
from chaos.scenario.model import Scenario

OFF = "off"
#: What "off" means: gRPC's "never" between pings (INT_MAX ms), which also leaves TCP_USER_TIMEOUT unset, and a
#: minute for a ping's ack (a long interval alone is not off: see docs/benchmarks.md).
OFF_FLAGS = ("--keepalive-ms", "2147483647", "--keepalive-timeout-ms", "60000", "--ping-timeout-ms", "60000")
DEFAULT_KEEPALIVES = ("500/500", "1000/1000", "2000/1000", OFF)
#: (row label, scenario, whether to sweep every keepalive setting or the run's default only)
CASES = (("`net_drop_one_way` node → gate", "half-open-gate-link", True),
         ("`net_blackhole` of node 0, 2 gate links", "blackhole", True),
         ("`net_partition`, 2 gate links", "asymmetric-partition", False),
         ("`net_partition`, 3 gate links", "partition-majority-ip", False))


def keepalive_flags(setting: str) -> tuple[str, ...]:
    """``"1000/500"`` (interval / ack timeout, ms) or ``"off"`` → the gate's flags."""
    if setting == OFF:
        return OFF_FLAGS
    interval, _, timeout = setting.partition("/")
    if not (interval.isdigit() and timeout.isdigit()):
        raise argparse.ArgumentTypeError(f"keepalive {setting!r}: want INTERVAL/TIMEOUT in ms (1000/1000) or off")
    return ("--keepalive-ms", interval, "--keepalive-timeout-ms", timeout)


def scenario_for(name: str) -> Scenario:
    """A shipped scenario, or ``blackhole``: half-open-gate-link with node 0 blackholed instead."""
    if name != "blackhole":
        return find(name)
    base = find("half-open-gate-link")
    cut = base.faults[0]
    return dataclasses.replace(base, name="half-open-gate-link+blackhole",
                               faults=(make_fault("net_blackhole", "node 0", cut.start, cut.duration),))


def row(label: str, scenario: str, setting: str, results: Sequence[RunResult]) -> str:
    default = f"{KEEPALIVE.time_ms}/{KEEPALIVE.timeout_ms}"
    shown = {OFF: "off (2^31-1 / 60 000, ping timeout 60 000)", default: f"{default} (the run's default)"}
    times = ", ".join(f"{r.results.detection_max:.2f}" if r.results.detection_max is not None else "never"
                      for r in results)
    noticed = sum(r.results.cuts_noticed for r in results)
    cuts = noticed + sum(r.results.cuts_unnoticed for r in results)
    return f"| {label} ({scenario}) | {shown.get(setting, setting)} | {times} | {noticed} of {cuts} |"


async def bench(keepalives: Sequence[str], runs: int, out: Path, links: Links) -> list[str]:
    rows = ["| fault kind (scenario) | gate keepalive (interval / ack timeout, ms) | detection, s (runs) | noticed |",
            "|---|---|---|---|"]
    default = f"{KEEPALIVE.time_ms}/{KEEPALIVE.timeout_ms}"
    for label, name, sweep in CASES:
        scenario = scenario_for(name)
        for setting in (keepalives if sweep else (default,)):
            done = [await run_scenario(scenario, out / f"{name}-{setting.replace('/', '-')}-{i}", links,
                                       gate_args=keepalive_flags(setting)) for i in range(runs)]
            rows.append(row(label, scenario.name if name != "blackhole" else "half-open-gate-link, blackhole",
                            setting, done))
            print(rows[-1], flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.detection", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="runs per row (default 2)")
    parser.add_argument("--keepalive", nargs="+", default=list(DEFAULT_KEEPALIVES), metavar="I/T|off",
                        help=f"gate keepalive settings to sweep (default: {' '.join(DEFAULT_KEEPALIVES)})")
    parser.add_argument("--out", type=Path, help="keep the runs' folders here (default: a temporary folder)")
    args = parser.parse_args(argv)
    for setting in args.keepalive:
        keepalive_flags(setting)  # a bad one is refused before anything runs
    why = machine.why_not_here(scenario_for("blackhole"))
    if why is not None:
        parser.exit(outcome.NOT_HERE, f"python -m tests.bench.detection: {why}\n")
    with tempfile.TemporaryDirectory(prefix="pushchat-detection-") as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        with Links.embedded(log_file=str(out / "toxiproxy.log")) as links:
            rows = asyncio.run(bench(args.keepalive, args.runs, out, links))
    print("\n" + "\n".join(rows))


if __name__ == "__main__":
    main()
