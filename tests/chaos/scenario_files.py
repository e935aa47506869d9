"""A good scenario file to start from, and writing one into a test's folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

GOOD = """\
name: x
description: A test scenario.
seed: 3
topology:
  nodes: 2
  gates: 2
  clients: {alice: 0, bob: 1, carol: 0}
  rooms: [General]
workload:
  duration: 6.0
  rate: 10
recovery_wait: 2.0
faults:
  - {kind: latency, target: client bob, start: 1.0, duration: 2.0, latency_ms: 100}
  - {kind: kill, target: node 1, start: 2.0, duration: 1.0}
expect:
  lost: "== 0"
"""


def write(tmp_path: Path, text: str, name: str = "x") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path
