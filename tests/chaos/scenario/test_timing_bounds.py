"""Scenario expectations may not bound what timing decides: the validator refuses them, naming the file, the
field and what to write instead, and lets through the '== 0' / '>= 1' checks and floors on times."""

from __future__ import annotations

import re

import pytest

from chaos.checker import EXPECTABLE
from chaos.scenario.model import Expectation
from chaos.scenario.files import DEFAULT_FOLDER, ScenarioError, read_scenario, read_scenarios
from chaos.scenario.timing_bounds import TIMING_COUNTS, TIMING_TIMES
from tests.chaos.scenario_files import GOOD, write


def expecting(tmp_path, *lines: str):
    return read_scenario(write(tmp_path, GOOD + "".join(f"  {line}\n" for line in lines)))


@pytest.mark.parametrize("line, field, instead", [
    ('reconnects: ">= 260"', "reconnects", "write reconnects_missing: 0"),
    ("sends_ok: 1500", "sends_ok", "sends_failed: 0"),
    ('push_drops: "< 5"', "push_drops", "push_log_mismatches: 0"),
    ('hostile_attempts: ">= 20"', "hostile_attempts", "hostile_accepted: 0"),
    ("injected_aborts: [1, 2]", "injected_aborts", "injected_log_mismatches: 0"),
    ('reconnects_due: "!= 0"', "reconnects_due", "reconnects_missing: 0"),
    ('latency_p95: "< 2.0"', "latency_p95", "a floor an injected delay guarantees"),
    ('failover_max: "<= 6"', "failover_max", "failovers: '>= 1'"),
    ("latency_max: 0.3", "latency_max", "per message"),
])
def test_a_bound_that_timing_decides_is_refused_with_what_to_write_instead(tmp_path, line, field, instead):
    with pytest.raises(ScenarioError) as info:
        expecting(tmp_path, line)
    (file, where, message), = info.value.problems
    assert (file, where) == (str(tmp_path / "x.yaml"), f"expect.{field}")
    assert str(info.value).startswith(f"{tmp_path / 'x.yaml'}: expect.{field}: '{field} ")
    assert instead in message
    assert ("counts what timing and load decide" in message) == (field in TIMING_COUNTS)


def test_every_bound_in_a_file_is_reported_at_once(tmp_path):
    with pytest.raises(ScenarioError) as info:
        expecting(tmp_path, 'reconnects: ">= 2"', 'sends_ok: "> 30"', 'latency_p99: "<= 1"')
    assert [p[1] for p in info.value.problems] == ["expect.reconnects", "expect.sends_ok", "expect.latency_p99"]


def test_never_and_at_least_once_are_allowed_and_so_are_floors_on_times(tmp_path):
    s = expecting(tmp_path, 'reconnects_due: ">= 1"', 'reconnects_missing: "== 0"', "push_drops: 0",
                  'delivered_by_poll: "> 0"', 'latency_max: ">= 0.2"', 'failover_max: "> 0"',
                  'sends_ok: "> 0.0"', 'faults_applied: "== 2"', 'push_share: ">= 0.9"')
    assert {e.name: (e.op, e.value) for e in s.expect}.items() >= {
        "reconnects_due": (">=", 1), "reconnects_missing": ("==", 0), "push_drops": ("==", 0),
        "delivered_by_poll": (">", 0), "latency_max": (">=", 0.2), "faults_applied": ("==", 2)}.items()


def test_the_lists_name_results_a_scenario_can_expect_and_none_twice():
    assert set(TIMING_COUNTS) <= set(EXPECTABLE) and set(TIMING_TIMES) <= set(EXPECTABLE)
    assert not set(TIMING_COUNTS) & set(TIMING_TIMES)
    assert {"reconnects", "sends_ok", "push_drops", "hostile_attempts", "latency_p95"} <= {*TIMING_COUNTS,
                                                                                           *TIMING_TIMES}


def test_no_shipped_scenario_counts_reconnects_but_those_cut_off_are_judged_per_member():
    shipped = read_scenarios()
    assert not [(s.name, e.name) for s in shipped for e in s.expect if e.name == "reconnects" and e.value != 1]
    def cuts_a_client(f) -> bool:
        target = str(f.target)
        return (f.kind in ("kill", "restart") and re.fullmatch(r"gate \d+", target) is not None
                or f.kind in ("disable", "blackhole", "reset_peer") and target.startswith("client "))

    cutting = {s.name for s in shipped if any(cuts_a_client(f) for f in s.faults)}
    assert {"load-with-faults", "gate-kill-restart", "client-stream-drop"} <= cutting
    judged = {s.name for s in shipped if Expectation("reconnects_missing", "==", 0) in s.expect}
    assert cutting <= judged, cutting - judged


def test_the_readme_documents_every_field_the_rule_covers():
    readme = (DEFAULT_FOLDER / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### What timing decides"):]
    named = set(re.findall(r"`([a-z_0-9]+)`", section[:section.index("\n## ", 1) if "\n## " in section else None]))
    assert set(TIMING_COUNTS) | set(TIMING_TIMES) <= named
