"""``--toxiproxy-url``: the harness against another Toxiproxy-compatible server.

A second ``pushchat toxiproxy --standard`` stands in for a real Toxiproxy:
it offers only the standard API, so a run against it proves the harness
needs nothing else: every shipped scenario meets its expectations there,
with no fault skipped (a stall is made of standard toxics), and an
extension fault with no stand-in is skipped, and said so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Iterator

import pytest

from chaos.faults.kinds import KINDS, register, toxic
from chaos.infra.links import Links
from chaos.pytest_plugin import Chaos
from chaos.scenario.files import by_default, read_scenarios

# Every shipped scenario but the load group (minutes each; tests/chaos/workload/test_fleet.py), stalled-gate-link,
# which has a test of its own below, and the network group, whose faults are nftables rules, not toxics (root only;
# tests/chaos/test_net_scenarios.py runs half-open-gate-link, whose promise rests on them).
SCENARIOS = [s.name for s in by_default(read_scenarios()) if s.name != "stalled-gate-link" and "network" not in s.groups]


@pytest.fixture(scope="module")
def standard_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Links]:
    log_file = tmp_path_factory.mktemp("standard-toxiproxy") / "server.log"
    with Links.embedded(log_file=log_file, args=["--standard"]) as server:
        server.log_file = log_file  # type: ignore[attr-defined]
        yield server


@pytest.mark.chaos
def test_cli_run_against_another_server_gives_the_same_verdict(chaos, standard_server, tmp_path) -> None:
    embedded = chaos.run("client-stream-drop")
    out = tmp_path / "external"
    proc = subprocess.run(
        [sys.executable, "-m", "chaos.cli", "chaos", "run", "client-stream-drop", "--quiet",
         "--toxiproxy-url", standard_server.url, "--out", str(out)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    external = json.loads((out / "results.json").read_text())
    assert external["results"]["verdict"] == embedded.results.verdict == "valid"
    assert "standard API only" in proc.stderr
    assert standard_server.proxies() == {}, "the run left proxies behind on the shared server"


@pytest.mark.chaos
@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_meets_its_expectations_against_a_standard_toxiproxy(standard_server, tmp_path,
                                                                            name: str) -> None:
    result = Chaos(Links.external(standard_server.url), tmp_path).run(name)
    assert result.passed, result.explain()
    assert result.results.faults_skipped == 0 and result.run.skipped == [], result.run.skipped
    for artefact in ("history.jsonl", "results.json", "metrics.json", "schedule.json", "latency.png"):
        assert (result.out / artefact).exists(), f"{artefact} missing from {result.out}"
    assert list((result.out / "logs").glob("node0.*.log")), "node logs missing"


@pytest.mark.chaos
def test_a_stall_is_made_of_standard_toxics_and_fills_the_buffers(standard_server, tmp_path) -> None:
    result = Chaos(Links.external(standard_server.url), tmp_path).run("stalled-gate-link")
    assert result.passed, result.explain()
    assert result.results.push_failures > 0 and result.results.faults_applied == 1
    prefix = next(o["value"]["names"] for o in map(json.loads, (result.out / "history.jsonl").read_text().splitlines())
                  if o["f"] == "fault" and o["value"]["phase"] == "start")
    added = [line for line in map(json.loads, standard_server.log_file.read_text().splitlines())
             if line.get("event") == "toxic_added" and line["proxy"].endswith(prefix[0])]
    assert [(a["type"], a["stream"], a["attributes"]) for a in added][-1] == ("bandwidth", "downstream", {"rate": 1})


@pytest.mark.chaos
def test_extension_faults_without_a_stand_in_are_skipped_with_a_reason(standard_server, tmp_path) -> None:
    register(toxic("rst", "reset", lambda p: {}))  # an extension toxic that standard toxics cannot stand in for
    try:
        result = Chaos(Links.external(standard_server.url), tmp_path).run_yaml("""
            name: rst-and-latency
            description: one extension fault, one standard fault
            topology: {clients: [alice, bob], rooms: [General]}
            workload: {duration: 3.0, rate: 10, senders: [alice]}
            recovery_wait: 2.0
            faults:
              - {kind: rst, target: client bob, start: 0.5, duration: 1.0}
              - {kind: latency, target: client bob, start: 1.0, duration: 1.0, latency_ms: 100}
            expect: {lost: "== 0", faults_applied: "== 1", faults_skipped: "== 1"}
        """)
    finally:
        del KINDS["rst"]
    assert result.passed, result.explain()
    assert any("rst" in note and "extension" in note for note in result.run.skipped), result.run.skipped
    ops = [json.loads(line) for line in (result.out / "history.jsonl").read_text().splitlines()]
    skipped = [o["value"] for o in ops if o["f"] == "fault" and o["value"]["phase"] == "skipped"]
    assert [s["fault"] for s in skipped] == ["rst"]
    assert "extension" in skipped[0]["reason"]
