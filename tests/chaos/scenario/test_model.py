"""The scenario model: its fault schedule follows the seed, its expectations judge results."""

from __future__ import annotations

import textwrap

from chaos.checker import Results
from chaos.scenario.model import evaluate
from chaos.scenario.files import read_scenario
from tests.chaos.scenario_files import GOOD, write


def test_random_faults_follow_the_seed(tmp_path):
    s = read_scenario(write(tmp_path, GOOD + textwrap.dedent("""\
        random_faults:
          count: 3
          kinds: [reset_peer, pause]
          targets: [all client links, all gates]
          min_duration: 0.5
          max_duration: 1.0
        """)))
    assert s.schedule() == s.schedule(seed=3)
    assert s.schedule(seed=4) != s.schedule(seed=3)
    ids = [f.id for f in s.schedule()]
    assert sorted(ids) == list(range(5))


def test_expectations_compare_numbers_words_and_choices(tmp_path):
    s = read_scenario(write(tmp_path, GOOD.replace('lost: "== 0"', 'lost: "== 0"\n  push_failures: "> 0"\n'
                                          '  latency_p99: ">= 1.5"\n  verdict: [invalid, unknown]\n  duplicates: 2')))
    results = Results(verdict="invalid", lost=0, push_failures=3, latency_p99=None, duplicates=2)
    outcomes = {o.name: o for o in evaluate(s.expect, results)}
    assert [o.name for o in outcomes.values()] == ["lost", "push_failures", "latency_p99", "verdict", "duplicates",
                                                   "lost_by_server"]  # implied: the default store is durable
    assert outcomes["lost"].passed and outcomes["push_failures"].passed and outcomes["duplicates"].passed
    assert outcomes["verdict"].passed and outcomes["verdict"].wanted == "invalid or unknown"
    assert not outcomes["latency_p99"].passed and outcomes["latency_p99"].actual is None
    failing = evaluate(s.expect, {**results.to_dict(), "lost": 2, "verdict": "valid", "latency_p99": 2.0})
    assert [o.name for o in failing if not o.passed] == ["lost", "verdict"]
    assert next(o for o in failing if o.name == "lost").wanted == "== 0"
