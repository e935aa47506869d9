"""Scenarios in scenarios/, run for real on our Toxiproxy server with its extensions: processes, proxies,
faults, checker.

Every shipped scenario also runs against ``pushchat toxiproxy --standard``
(tests/chaos/test_external_toxiproxy.py). The two servers differ only in the
extension toxics, so here run the scenarios with a fault made of one (a
``stall``: on the standard server it becomes a 1 KB/s ``bandwidth``); a
scenario without one sends both servers the same calls, and runs once, there.
Each is one test, so pytest-xdist spreads them over the workers; each
worker has its own embedded Toxiproxy server (the ``chaos`` fixture).
"""

from __future__ import annotations

import json

import pytest

from chaos.faults.kinds import KINDS
from chaos.infra.links import EXTENSIONS
from chaos.scenario.model import Scenario
from chaos.scenario.files import by_default, read_scenarios


def uses_extensions(scenario: Scenario) -> bool:
    return any(KINDS[k].toxic in EXTENSIONS for k in scenario.kinds)


# the load group has its quick version in test_load.py
SCENARIOS = [s.name for s in by_default(read_scenarios()) if uses_extensions(s)]


def test_the_extension_runs_here_cover_every_shipped_use_of_an_extension() -> None:
    """At least one scenario exercises the extensions; every other one runs once, on the standard server."""
    assert SCENARIOS and "stalled-gate-link" in SCENARIOS and "baseline" not in SCENARIOS


@pytest.mark.chaos
@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_meets_its_expectations(chaos, name: str) -> None:
    result = chaos.run(name)
    assert result.passed, result.explain()
    for artefact in ("history.jsonl", "results.json", "metrics.json", "schedule.json", "latency.png"):
        assert (result.out / artefact).exists(), f"{artefact} missing from {result.out}"
    assert list((result.out / "logs").glob("node0.*.log")), "node logs missing"


RANDOM = """
name: tiny-random
description: a short seeded random schedule, for comparing two runs
seed: 7
topology: {nodes: 1, gates: 1, clients: [alice, bob], rooms: [General]}
workload: {duration: 3.0, rate: 10}
recovery_wait: 2.0
random_faults:
  count: 3
  kinds: [latency, disable, reset_peer]
  targets: [all links]
  min_duration: 0.3
  max_duration: 0.8
expect: {lost: "== 0"}
"""


def _applied(out) -> list[tuple]:
    ops = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    return [(o["value"]["fault"], tuple(o["value"]["names"]), o["value"]["phase"])
            for o in ops if o["f"] == "fault"]


@pytest.mark.chaos
def test_same_seed_same_fault_schedule_across_runs(chaos) -> None:
    first, second = chaos.run_yaml(RANDOM), chaos.run_yaml(RANDOM)
    assert (first.out / "schedule.json").read_text() == (second.out / "schedule.json").read_text()
    assert _applied(first.out) == _applied(second.out)
    assert len([a for a in _applied(first.out) if a[2] == "start"]) == 3
    assert first.passed and second.passed, first.explain() + "\n" + second.explain()
