"""``python -m tests.fuzz [--examples N] [--target NAME]``: every fuzz target, long, and a table of outcomes.

Exit code 0 when every property held for every example; 1 with the shrunk
failing input of the first target that broke one.
"""

from __future__ import annotations

import argparse
import sys
import time

from tests.fuzz.run import fuzz
from tests.fuzz.targets import BY_NAME, TARGETS, Servers, Tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--examples", type=int, default=1000, help="inputs per target (default 1000)")
    parser.add_argument("--target", action="append", choices=list(BY_NAME), help="only this target (repeatable)")
    parser.add_argument("--check-every", type=int, default=10,
                        help="check the servers still serve and keep their data after every Nth input (default 10)")
    args = parser.parse_args(argv)
    targets = [BY_NAME[n] for n in args.target] if args.target else TARGETS
    servers = Servers().start()
    tally = Tally()
    rows = []
    failed = None
    try:
        for target in targets:
            print(f"fuzzing {target.name}: {target.what} ...", file=sys.stderr, flush=True)
            began = time.monotonic()
            try:
                ran = fuzz(target, servers, args.examples, tally, check_every=args.check_every)
            except AssertionError as exc:
                failed = (target.name, exc)
                break
            rows.append((target.name, ran, time.monotonic() - began, tally.counts[target.name]))
    finally:
        servers.stop()
    print("| target | examples | seconds | outcomes |")
    print("|---|---:|---:|---|")
    for name, ran, took, counts in rows:
        outcomes = ", ".join(f"{k} {v}" for k, v in counts.most_common())
        print(f"| {name} | {ran} | {took:.0f} | {outcomes} |")
    if failed:
        print(f"\nFAILED {failed[0]}: {failed[1]}", file=sys.stderr)
        return 1
    print(f"\nevery property held: {sum(r[1] for r in rows)} inputs, no crash, the servers kept serving and lost "
          "nothing", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
