"""The suite's quick subset of the mutation table: each planted bug must be caught by the checker.

Each test plants one mutant (a child ``chaos run`` of ``baseline``, shortened,
with ``PUSHCHAT_MUTANT`` set) and fails if the scenario still met its
expectations, or if the mutant was not planted in the runner, the node and
the gate. The full table: ``python -m tests.mutants``.
"""

from __future__ import annotations

import pytest

from tests.mutants.registry import BY_NAME, CONTROLS, MUTANTS
from tests.mutants.runner import run_one

QUICK = [m.name for m in MUTANTS if m.quick]
SHORT = 2.5  # seconds of workload: every quick mutant bites within it


def test_the_quick_subset_covers_several_promises():
    assert len(QUICK) >= 4 and len({BY_NAME[n].promise for n in QUICK}) == len(QUICK)
    assert all(BY_NAME[n].scenarios[0] == "baseline" for n in QUICK)


def test_there_are_at_least_fifteen_mutants_and_each_names_the_scenarios_that_catch_it():
    assert len(MUTANTS) >= 15 and len({m.name for m in MUTANTS}) == len(MUTANTS)
    from chaos.scenario.files import read_scenarios
    shipped = {s.name for s in read_scenarios()}
    assert all(m.scenarios and set(m.scenarios) <= shipped for m in MUTANTS)


def test_the_switch_is_not_reachable_from_the_installed_package():
    """Only tests/ knows PUSHCHAT_MUTANT: no module of the system or the harness reads it."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    readers = [str(p.relative_to(root)) for folder in ("system", "chaos") for p in (root / folder).rglob("*.py")
               if "PUSHCHAT_MUTANT" in p.read_text(encoding="utf-8")]
    assert readers == []


@pytest.mark.chaos
@pytest.mark.parametrize("name", QUICK)
def test_a_planted_bug_is_caught(tmp_path, name: str) -> None:
    outcome = run_one(name, "baseline", tmp_path / name, duration=SHORT)
    assert outcome.planted_in >= 3, f"{name} was planted in {outcome.planted_in} processes (runner, node, gate)"
    assert not outcome.error, outcome.error
    assert outcome.caught, f"{name} was not caught by baseline: {(tmp_path / name / 'run.log').read_text()[-3000:]}"
    assert outcome.rules, f"{name} failed an expectation but no rule found a violation"


@pytest.mark.chaos
@pytest.mark.parametrize("name", [c.name for c in CONTROLS if c.scenarios[0] == "baseline"])
def test_a_harmless_control_is_not_caught(tmp_path, name: str) -> None:
    """The same run with a planted change that breaks no promise meets its expectations: "caught" means something.
    ``push_to_sender_mode`` echoes every message to its sender, as that mode should: the echo rule follows it."""
    outcome = run_one(name, "baseline", tmp_path / name, duration=SHORT)
    assert outcome.planted_in >= 3 and not outcome.error
    assert not outcome.caught and outcome.rules == [], outcome.why
