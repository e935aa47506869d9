"""Every scenario in scenarios/, run for real: processes, proxies, faults, checker.

Each is one test, so pytest-xdist spreads them over the workers; each
worker has its own embedded Toxiproxy server (the ``chaos`` fixture).
"""

from __future__ import annotations

import json

import pytest

from chaos.scenario_file import by_default, load_all

SCENARIOS = [s.name for s in by_default(load_all())]  # the load group has its quick version in test_load.py


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
