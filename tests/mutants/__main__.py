"""``python -m tests.mutants [--quick] [--only NAME ...] [--jobs N] [--out DIR] [--timeout S] [--markdown]``.

Plants each mutant (``tests/mutants/planted/``, listed by
``tests/mutants/registry.py``) in turn, runs the scenarios that should catch
it, and prints the table: mutant, the scenarios that caught it, the checker
rules (or expectations) that fired, caught yes or no. Exit code 0 when every
mutant run was caught, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tests.mutants.registry import BY_NAME, MUTANTS
from tests.mutants.runner import run_all, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutants", description=__doc__.split("\n\n")[1])
    parser.add_argument("--only", action="append", choices=list(BY_NAME), metavar="NAME",
                        help="only this mutant (repeatable)")
    parser.add_argument("--quick", action="store_true", help="only the suite's quick subset")
    parser.add_argument("--jobs", type=int, default=2, help="scenario runs at a time (default 2)")
    parser.add_argument("--out", type=Path, default=Path("runs") / f"mutants-{time.strftime('%Y%m%d-%H%M%S')}",
                        help="where the runs go (default runs/mutants-<time>)")
    parser.add_argument("--duration", type=float, help="override each scenario's workload duration (s)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds one scenario run may take (default 300; big-room-presence needs about 900)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args(argv)
    chosen = [BY_NAME[n] for n in args.only] if args.only else [m for m in MUTANTS if m.quick or not args.quick]
    runs = sum(len(m.scenarios) for m in chosen)
    print(f"{len(chosen)} mutants, {runs} scenario runs, {args.jobs} at a time -> {args.out}", file=sys.stderr)
    began = time.monotonic()
    outcomes = run_all(chosen, args.out, jobs=args.jobs, duration=args.duration, timeout=args.timeout)
    print(table(chosen, outcomes, markdown=args.markdown))
    caught = {o.mutant for o in outcomes if o.caught}
    print(f"\n{len(caught)}/{len(chosen)} mutants caught in {time.monotonic() - began:.0f} s")
    return 0 if len(caught) == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
