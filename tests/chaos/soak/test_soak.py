"""``pushchat chaos soak``: a planted leak is caught, naming the process and the resource; an honest soak passes.

The two 2-minute soaks run at once (two processes, each its own topology and Toxiproxy), so the
suite pays for one. The leak is a test-only mutant (``tests/mutants/leaks.py``): a gate that keeps
every ended Register stream's registration, switched on by ``PUSHCHAT_MUTANT`` as the mutation
table does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mutants.runner import ROOT, SITE

SOAK = ["--duration", "2m", "--interval", "5s", "--warmup", "30s", "--quiet"]
SCENARIO = "client-stream-drop"  # a client's stream reset and another's link cut, every 9 s


def _start(out: Path, mutant: str | None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PUSHCHAT_MUTANT", "PUSHCHAT_MUTANT_LOG")}
    if mutant:
        env.update(PUSHCHAT_MUTANT=mutant, PUSHCHAT_MUTANT_LOG=str(out.parent / f"{out.name}.planted"),
                   PYTHONPATH=os.pathsep.join([str(SITE), str(ROOT), *filter(None, [env.get("PYTHONPATH")])]))
    argv = [sys.executable, "-m", "chaos.cli", "chaos", "soak", SCENARIO, *SOAK, "--out", str(out)]
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.chaos
@pytest.mark.timeout(420)
def test_a_planted_leak_is_caught_and_an_honest_soak_passes(tmp_path: Path) -> None:
    leaky, honest = _start(tmp_path / "leaky", "gate_keeps_sessions"), _start(tmp_path / "honest", None)
    leaky_out, _ = leaky.communicate(timeout=400)
    honest_out, _ = honest.communicate(timeout=400)

    planted = (tmp_path / "leaky.planted").read_text().splitlines()
    assert len(planted) >= 3, f"planted in {len(planted)} processes (runner, node, gate)"
    assert leaky.returncode == 1, leaky_out
    doc = json.loads((tmp_path / "leaky" / "soak.json").read_text())
    assert "gate0 sessions" in doc["grows"], leaky_out
    assert "GROWS: gate0 sessions" in leaky_out          # said by name, under the table
    assert not any(g.startswith("node") for g in doc["grows"]), leaky_out  # the gate's leak, not a node's
    assert (tmp_path / "leaky" / "soak.png").stat().st_size > 0

    assert honest.returncode == 0, honest_out
    doc = json.loads((tmp_path / "honest" / "soak.json").read_text())
    assert doc["passed"] and doc["cycles"] >= 10
    judged = {(t["process"], t["resource"]) for t in doc["trends"] if t["verdict"] == "ok"}
    assert {("gate0", "sessions"), ("gate0", "rss_bytes"), ("node0", "rooms"), ("node0", "store_bytes")} <= judged
