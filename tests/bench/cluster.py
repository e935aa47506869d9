"""``python -m tests.bench.cluster``: room failover against the lease TTL, and steady state on etcd vs static.

Every part is a real process on 127.0.0.1: etcd (one member), PostgreSQL,
3 ``pushchat node`` and 2 ``pushchat gate`` processes; the clients run in
this process. Two measurements:

- **failover**, per lease TTL: a client sends to General one message at a
  time (every ``--interval`` s) through gate0; each round SIGKILLs the room's
  owner and measures, as the client sees it, the time from the last
  acknowledgement the old owner gave to the first one another node gave
  (the checker's definition, client side). The killed node is then started
  again; rendezvous placement gives it the room back, so the room moves a
  second time (the *failback*, measured the same way), and the next round
  starts once both gates have the node back and sends flow through it.
  The nodes', gates' and the client's logs split each failover into its
  parts (see :class:`Parts`).
- **steady state**, static (``--nodes``/``--peers``) against etcd
  (``--etcd``), same processes otherwise: N senders, each sending one
  message at a time as fast as acknowledged, to a few rooms, for D seconds;
  acknowledgements per second, send latency (p50, p99), and push latency
  (send call start → the push reaching a member on each gate), with the CPU
  each process used.

Run on demand, never as a test: progress on stderr, tables on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.bench.cluster_procs import ETCD_ELECTION_MS, STEADY_ROOMS, Env, say
from tests.bench.failover import Failover, failover_rounds, failover_table
from tests.bench.steady import Steady, steady_state, steady_table


@dataclass
class Report:
    failovers: list[Failover]
    steady: list[Steady]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


async def measure(args: argparse.Namespace, logs: Path) -> Report:
    """Start etcd and PostgreSQL, measure what ``args`` ask for, stop them; every process logs under ``logs``."""
    from chaos.infra.etcd import EtcdCluster
    from chaos.infra.postgres_server import PostgresServer

    load = os.getloadavg()
    etcd, postgres = EtcdCluster(1, election_ms=args.etcd_election_ms), PostgresServer()
    say("starting etcd and PostgreSQL…")
    try:
        await asyncio.gather(asyncio.to_thread(etcd.start), asyncio.to_thread(postgres.start))
        env = Env(logs, etcd, postgres)
        failovers = [await failover_rounds(i, ttl, args.rounds, args.interval, env)
                     for i, ttl in enumerate(args.ttls, 1)]
        steady = [await steady_state(mode, run, args.senders, args.rooms, args.duration, args.warmup, env)
                  for run in range(1, args.repeat + 1) for mode in ("static", "etcd")] if args.duration > 0 else []
    finally:
        await asyncio.gather(asyncio.to_thread(etcd.stop), asyncio.to_thread(postgres.stop), return_exceptions=True)
    return Report(failovers, steady, load, os.getloadavg())


def render(report: Report, args: argparse.Namespace) -> str:
    out: list[str] = []
    if report.failovers:
        out += [f"## Failover after SIGKILL of the room's owner (a send every {args.interval * 1000:g} ms)", "",
                failover_table(report.failovers), ""]
    if report.steady:
        out += ["## Steady state: static against etcd", "",
                steady_table(report.steady, args.senders, args.rooms, args.duration), ""]
    b, a = report.load_before, report.load_after
    out.append(f"Load average (1, 5, 15 min): {b[0]:.2f} {b[1]:.2f} {b[2]:.2f} at the start, "
               f"{a[0]:.2f} {a[1]:.2f} {a[2]:.2f} at the end; {os.cpu_count()} CPUs.")
    return "\n".join(out)


async def run(args: argparse.Namespace) -> int:
    keep = getattr(args, "logs", None) is not None
    logs = args.logs if keep else Path(tempfile.mkdtemp(prefix="pushchat-cluster-bench-"))
    logs.mkdir(parents=True, exist_ok=True)
    try:
        report = await measure(args, logs)
    finally:
        if keep:
            say(f"logs: {logs}")
        else:
            shutil.rmtree(logs, ignore_errors=True)
    print(render(report, args), flush=True)
    return 0


def _ttls(text: str) -> list[float]:
    try:
        ttls = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: want seconds, comma-separated (1,2,4)") from None
    if any(t < 1 for t in ttls):
        raise argparse.ArgumentTypeError("a lease TTL is at least 1 s (etcd counts whole seconds)")
    return ttls


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tests.bench.cluster", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Room failover after a node's SIGKILL against the lease TTL, and steady-state sends on etcd "
                    "against static membership: etcd, PostgreSQL, 3 nodes and 2 gates as real processes.")
    p.add_argument("--ttls", type=_ttls, default="1,2,4", help="lease TTLs to measure failover for (s); "
                   "'' skips the failover part")
    p.add_argument("--rounds", type=int, default=5, help="kills per TTL")
    p.add_argument("--interval", type=float, default=0.05, help="the failover sender's send period (s)")
    p.add_argument("--etcd-election-ms", type=int, default=ETCD_ELECTION_MS,
                   help="etcd's election timeout: its shortest lease is 1.5 of it, in whole seconds (etcd's own "
                   "default, 1000, makes a 1 s TTL a 2 s lease)")
    p.add_argument("--duration", type=float, default=10.0, help="steady-state window per mode (s); 0 skips it")
    p.add_argument("--warmup", type=float, default=2.0, help="steady-state sending before the window opens (s)")
    p.add_argument("--senders", type=int, default=16, help="steady-state concurrent senders")
    p.add_argument("--repeat", type=int, default=2, help="steady-state runs per mode, static and etcd alternating")
    p.add_argument("--rooms", type=int, default=3, help="steady-state rooms the senders spread over (at most "
                   f"{len(STEADY_ROOMS)}; placed as evenly over the 3 nodes as they go)")
    p.add_argument("--logs", type=Path, default=argparse.SUPPRESS,
                   help="keep every process's log here (default: a temporary folder, removed)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.rounds < 1 or args.senders < 1 or args.repeat < 1 or args.interval <= 0:
        parser().error("--rounds, --senders and --repeat must be at least 1, --interval above 0")
    if not 1 <= args.rooms <= len(STEADY_ROOMS):
        parser().error(f"--rooms must be 1 to {len(STEADY_ROOMS)}")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
