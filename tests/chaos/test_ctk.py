"""Chaos Toolkit interop, with their own code: their CLI, their Toxiproxy driver, their validator.

1. Their driver (chaostoolkit-toxiproxy) against ``pushchat toxiproxy``: an
   experiment creates a proxy, adds latency and timeout toxics with pauses,
   probes, and rolls back; the journal says completed, not deviated.
2. Our steps (``chaos.ctk``) in their experiment: scenarios/ctk-baseline.json
   runs the baseline scenario with a reset of bob's link, and holds the
   checker's verdict and counters as its steady state.
3. Our journal in their format: ``pushchat chaos run --ctk-journal`` of a
   failing scenario, read back against chaoslib's own journal and validator.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from junitparser import Failure, JUnitXml

from chaos import ctk

from chaos import outcome
from chaos.cli import main as cli

from chaos.history import read as read_history
from chaos.scenario.files import DEFAULT_FOLDER, read_scenarios
from tests.chaos.test_campaign import FORGETS

chaoslib_experiment = pytest.importorskip("chaoslib.experiment",
                                          reason="chaostoolkit is not installed (pip install -e '.[test]')")
pytest.importorskip("chaostoxi", reason="chaostoolkit-toxiproxy is not installed (pip install -e '.[test]')")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = DEFAULT_FOLDER / "ctk-baseline.json"


def ctk_run(experiment: Path, folder: Path, env: dict[str, str] | None = None,
            timeout: float = 180) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``chaos run`` (their CLI) with no version check against the network; its journal."""
    journal = folder / "journal.json"
    done = subprocess.run([sys.executable, "-m", "chaostoolkit", "--no-version-check", "--log-file",
                           str(folder / "chaostoolkit.log"), "run", "--journal-path", str(journal), str(experiment)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    assert journal.is_file(), done.stdout + done.stderr
    return done, json.loads(journal.read_text())


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def echo() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def toxiproxy(tmp_path: Path) -> Iterator[str]:
    """``pushchat toxiproxy`` on a free port, as a user starts it; its API address."""
    proc = subprocess.Popen([sys.executable, "-m", "chaos.cli", "toxiproxy", "--host", "127.0.0.1", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=open(tmp_path / "toxiproxy.err", "w"), text=True,
                            cwd=ROOT, stdin=subprocess.DEVNULL)
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            doc = json.loads(line) if line.startswith("{") else {}
            if doc.get("event") == "listening":
                yield str(doc["addr"])
                break
        else:
            pytest.fail(f"pushchat toxiproxy did not start: {(tmp_path / 'toxiproxy.err').read_text()}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _action(name: str, module: str, func: str, pause: float = 0.0, **arguments: Any) -> dict[str, Any]:
    step: dict[str, Any] = {"type": "action", "name": name,
                            "provider": {"type": "python", "module": module, "func": func, "arguments": arguments}}
    if pause:
        step["pauses"] = {"after": pause}
    return step


def test_their_toxiproxy_driver_drives_our_toxiproxy_server(toxiproxy: str, echo: int, tmp_path: Path) -> None:
    host, port = toxiproxy.rsplit(":", 1)
    api = f"http://{toxiproxy}"
    toxics = "chaostoxi.toxic.actions"
    proxies = "chaostoxi.proxy.actions"
    experiment = {
        "version": "1.0.0", "title": "pushchat toxiproxy speaks Toxiproxy to chaostoolkit-toxiproxy",
        "description": "Create a proxy, add latency and timeout toxics, probe, roll back.",
        "configuration": {"toxiproxy_host": host, "toxiproxy_port": int(port)},
        "steady-state-hypothesis": {"title": "the API answers", "probes": [
            {"type": "probe", "name": "version", "tolerance": 200,
             "provider": {"type": "http", "url": f"{api}/version", "timeout": 5}}]},
        "method": [
            _action("create the proxy", proxies, "create_proxy", proxy_name="echo", upstream_host="127.0.0.1",
                    upstream_port=echo, listen_host="127.0.0.1", listen_port=0),
            _action("add latency", toxics, "create_latency_toxic", 0.3, for_proxy="echo", toxic_name="slow",
                    latency=200, jitter=10),
            _action("add a timeout", toxics, "create_timeout_toxic", 0.3, for_proxy="echo", toxic_name="cut",
                    timeout=100),
            {"type": "probe", "name": "the proxy exists", "provider": {
                "type": "python", "module": "chaostoxi.proxy.probes", "func": "proxy_exist",
                "arguments": {"proxy_name": "echo"}}},
            {"type": "probe", "name": "its toxics", "provider": {
                "type": "python", "module": "chaostoxi.proxy.probes", "func": "get_proxy_attribute",
                "arguments": {"proxy_name": "echo", "attribute": "toxics"}}},
            _action("remove the timeout", toxics, "delete_toxic", for_proxy="echo", toxic_name="cut"),
            _action("disable the proxy", proxies, "disable_proxy", 0.2, proxy_name="echo"),
            {"type": "probe", "name": "disabled", "provider": {
                "type": "python", "module": "chaostoxi.proxy.probes", "func": "get_proxy_attribute",
                "arguments": {"proxy_name": "echo", "attribute": "enabled"}}},
        ],
        "rollbacks": [_action("delete the proxy", proxies, "delete_proxy", proxy_name="echo"),
                      _action("reset", proxies, "reset")],
    }
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(experiment))
    done, journal = ctk_run(path, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert journal["status"] == "completed" and journal["deviated"] is False
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    assert journal["steady_states"]["after"]["steady_state_met"] is True
    assert [r["status"] for r in journal["run"]] == ["succeeded"] * len(experiment["method"])
    outputs = {r["activity"]["name"]: r["output"] for r in journal["run"]}
    assert outputs["the proxy exists"] is True and outputs["disabled"] is False
    assert {(t["name"], t["type"], t["stream"]) for t in outputs["its toxics"]} == {
        ("slow", "latency", "downstream"), ("cut", "timeout", "downstream")}
    assert {t["name"]: t["attributes"] for t in outputs["its toxics"]}["slow"] == {"latency": 200, "jitter": 10}
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded", "succeeded"]
    assert requests.get(f"{api}/proxies", timeout=5).json() == {}  # rolled back on our server


@pytest.mark.chaos
def test_the_shipped_experiment_runs_a_scenario_as_its_steady_state(tmp_path: Path) -> None:
    done, journal = ctk_run(EXAMPLE, tmp_path, env={"PUSHCHAT_CTK_OUT": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stdout + done.stderr + (tmp_path / "chaostoolkit.log").read_text()[-3000:]
    assert journal["status"] == "completed" and journal["deviated"] is False
    after = journal["steady_states"]["after"]
    assert after["steady_state_met"] is True
    probes = {p["activity"]["name"]: p["output"] for p in after["probes"]}
    assert probes["the checker's verdict"] == "valid"
    assert probes["acknowledged messages never shown to a member"] == 0 and probes["messages shown twice"] == 0
    assert probes["acknowledged sends"] > 0 and probes["bob reconnected"] >= 1
    started, injected, stopped = journal["run"]
    assert injected["output"] == ["client-bob"] and stopped["output"]["verdict"] == "valid"
    [folder] = (tmp_path / "runs").iterdir()
    assert folder == Path(started["output"]["out"])
    for name in ("history.jsonl", "results.json", "report.html", "logs/gate0.1.log"):
        assert (folder / name).is_file(), name
    faults = [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines() if '"fault"' in line]
    assert [(f["value"]["fault"], f["value"]["phase"]) for f in faults] == [("reset_peer", "start"),
                                                                              ("reset_peer", "heal")]
    # the run folder is an ordinary one: `pushchat chaos check` re-judges it against baseline's own expectations
    met = stopped["output"]["passed"]
    assert cli.main(["chaos", "check", str(folder)]) == (outcome.MET if met else outcome.NOT_MET)


def _speaks_tls(addr: str, ca: Path) -> bool:
    """Whether ``addr`` completes a TLS handshake whose certificate the run's CA signed."""
    host, port = addr.rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(ca))
    context.set_alpn_protocols(["h2"])
    try:
        with socket.create_connection((host, int(port)), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname=host):
            return True
    except (ssl.SSLError, OSError):
        return False


@pytest.mark.chaos
def test_a_ctk_run_of_a_hostile_scenario_over_tls_with_tokens_applies_all_three(tmp_path: Path) -> None:
    """The steps run the scenario as `pushchat chaos run` does: its gates speak TLS with the run's own CA,
    its members carry tokens (so the token attacks are tried, and refused as unauthenticated), and its
    hostile member attacks; with its own faults, its expectations (hostile_attempts >= 20, ...) hold."""
    started = ctk.start("hostile-client", faults=True, out=str(tmp_path / "run"))
    try:
        folder = Path(started["out"])
        tls = [_speaks_tls(gate, folder / "security" / "ca.pem") for gate in started.get("gates", [])]
    finally:
        summary = ctk.stop()
    refused = {(op.value["attack"], op.value["code"]) for op in read_history(folder / "history.jsonl")
               if op.f == "attack" and op.type == "fail"}
    assert summary["hostile_attempts"] > 0 and summary["hostile_accepted"] == 0, summary
    assert ("expired_token", "UNAUTHENTICATED") in refused and ("forged_token", "UNAUTHENTICATED") in refused
    assert tls == [True]
    assert summary["verdict"] == "valid" and summary["passed"] is True, summary


def test_the_scenario_loader_ignores_the_experiment_beside_the_scenarios() -> None:
    assert EXAMPLE.is_file()
    assert "ctk-baseline" not in {s.name for s in read_scenarios()}
    chaoslib_experiment.ensure_experiment_is_valid(json.loads(EXAMPLE.read_text()))


@pytest.mark.chaos
def test_run_writes_a_chaos_toolkit_journal_and_junit_xml_of_a_failed_scenario(tmp_path: Path) -> None:
    from chaoslib.run import initialize_run_journal

    scenario = tmp_path / "forgets.yaml"
    scenario.write_text(FORGETS)
    journal_path, junit_path = tmp_path / "journal.json", tmp_path / "junit.xml"
    done = subprocess.run([sys.executable, "-m", "chaos.cli", "chaos", "run", str(scenario), "--duration", "2",
                           "--quiet", "--out", str(tmp_path / "run"), "--ctk-journal", str(journal_path),
                           "--junit", str(junit_path)], capture_output=True, text=True, timeout=180, cwd=ROOT,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == outcome.NOT_MET, done.stdout + done.stderr

    journal = json.loads(journal_path.read_text())
    theirs = initialize_run_journal({"title": "t", "description": "d", "method": []})
    assert set(theirs) | {"end", "duration"} <= set(journal)
    chaoslib_experiment.ensure_experiment_is_valid(journal["experiment"])  # their validator: modules, signatures
    assert journal["status"] == "completed" and journal["deviated"] is True
    assert journal["experiment"]["title"] == "pushchat scenario forgets"
    after = journal["steady_states"]["after"]
    assert after["steady_state_met"] is False
    assert [(p["activity"]["name"], p["tolerance_met"]) for p in after["probes"]] == [
        ("verdict == invalid", True), ("lost == 0", False)]
    assert [(r["activity"]["name"], r["status"], r["output"]["names"]) for r in journal["run"]] == [
        ("stop_reading on client bob", "succeeded", ["bob"]), ("push_drop on client bob", "succeeded", ["gate0"]),
        ("kill on node 0", "succeeded", ["node0"])]
    for entry in journal["run"] + after["probes"]:
        assert {"activity", "output", "status", "start", "end", "duration"} <= set(entry)
    assert journal["run"][0]["start"] < journal["run"][1]["start"] < journal["end"]

    [suite] = list(JUnitXml.fromfile(str(junit_path)))
    [case] = list(suite)
    assert (case.name, case.classname) == ("forgets", "pushchat.chaos")
    [failure] = case.result
    assert isinstance(failure, Failure) and "lost == 0 (actual" in failure.message
    assert "expectation" in failure.text and "[lost] bob never showed" in failure.text


def test_ctk_journal_takes_one_scenario(capsys) -> None:
    assert cli.main(["chaos", "run", "baseline", "stalled-client", "--ctk-journal", "j.json"]) == outcome.USAGE
    assert "--ctk-journal writes one experiment's journal; 2 scenarios are named" in capsys.readouterr().err
