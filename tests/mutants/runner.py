"""Run scenarios against planted bugs and tell which were caught, by which checker rule.

Each (mutant, scenario) is one ``python -m chaos.cli chaos run SCENARIO`` in a
child process whose environment plants the mutant (``PUSHCHAT_MUTANT``, and
``tests/mutants/site`` on ``PYTHONPATH``); its nodes and gates inherit it. A
mutant is caught when a scenario fails its expectations; what caught it is
read back from the run's ``results.json``: the rules whose violations were
found, and the expectations that failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from tests.mutants.base import Mutant

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(__file__).resolve().parent / "site"


@dataclass
class Outcome:
    mutant: str
    scenario: str
    caught: bool
    rules: list[str] = field(default_factory=list)         # rules that found violations
    expectations: list[str] = field(default_factory=list)  # expectations that failed (verdict aside)
    planted_in: int = 0                                    # processes that planted the mutant
    seconds: float = 0.0
    error: str = ""                                        # the run could not be judged

    @property
    def why(self) -> str:
        said = self.rules + [f"expect {e}" for e in self.expectations]
        return ", ".join(said) or self.error or "-"


def _rule_of_kind() -> dict[str, str]:
    from chaos.checker.rules import RULES
    return {kind: r.name for r in RULES for kind in r.kinds}


def run_one(mutant: str, scenario: str, out: Path, duration: float | None = None, timeout: float = 300.0) -> Outcome:
    """Run ``scenario`` with ``mutant`` planted into ``out``; read back whether and how it was caught."""
    out.mkdir(parents=True, exist_ok=True)
    planted = out / "planted.log"
    planted.unlink(missing_ok=True)
    env = {**os.environ, "PUSHCHAT_MUTANT": mutant, "PUSHCHAT_MUTANT_LOG": str(planted),
           "PYTHONPATH": os.pathsep.join([str(SITE), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    argv = [sys.executable, "-m", "chaos.cli", "chaos", "run", scenario, "--out", str(out / "run"), "--quiet"]
    if duration is not None:
        argv += ["--duration", str(duration)]
    try:
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Outcome(mutant, scenario, False, error=f"no results: the run took more than {timeout:.0f} s (--timeout)")
    (out / "run.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    n = len(planted.read_text().splitlines()) if planted.exists() else 0
    results = out / "run" / "results.json"
    if not results.exists():
        return Outcome(mutant, scenario, False, planted_in=n, error=f"no results (exit {proc.returncode})")
    doc = json.loads(results.read_text())
    res = doc["results"]
    kinds = _rule_of_kind()
    rules = sorted({kinds.get(v["kind"], v["kind"]) for v in res["violations"]})
    failed = [e["name"] for e in doc["expectations"] if not e["passed"] and e["name"] != "verdict"]
    return Outcome(mutant, scenario, not doc["passed"], rules, failed, n, float(doc.get("run_seconds") or 0.0),
                   "" if res["verdict"] != "unknown" else "verdict unknown: " + "; ".join(res["incomplete"])[:80])


def run_all(mutants: Sequence[Mutant], out: Path, jobs: int = 2, duration: float | None = None,
            progress: bool = True, timeout: float = 300.0) -> list[Outcome]:
    """Every mutant against each of its scenarios, ``jobs`` runs at a time, each within ``timeout`` seconds."""
    cells = [(m.name, s) for m in mutants for s in m.scenarios]

    def one(cell: tuple[str, str]) -> Outcome:
        outcome = run_one(cell[0], cell[1], out / cell[0] / cell[1], duration, timeout)
        if progress:
            print(f"  {cell[0]} x {cell[1]}: {'caught' if outcome.caught else 'NOT caught'} ({outcome.why})",
                  file=sys.stderr, flush=True)
        return outcome

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, cells))


def table(mutants: Iterable[Mutant], outcomes: Sequence[Outcome], markdown: bool = False) -> str:
    """One row per mutant: what it plants, the scenarios that caught it, the rules that fired, caught yes/no."""
    rows = []
    for m in mutants:
        mine = [o for o in outcomes if o.mutant == m.name]
        caught = [o for o in mine if o.caught]
        fired = sorted({why for o in caught for why in (o.rules + [f"expect {e}" for e in o.expectations])})
        rows.append((m.name, m.promise, ", ".join(o.scenario for o in caught) or "-", ", ".join(fired) or
                     "; ".join(f"{o.scenario}: {o.why}" for o in mine), "yes" if caught else "NO"))
    head = ("mutant", "bug class", "caught by scenarios", "rules that fired", "caught")
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(f"`{c}`" if i == 0 else c for i, c in enumerate(r)) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), fmt.format(*("-" * w for w in widths)), *(fmt.format(*r) for r in rows)])
