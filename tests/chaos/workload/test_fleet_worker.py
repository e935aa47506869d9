"""The load worker process: its line protocol, spoken by a real process over pipes."""

from __future__ import annotations

import json
import subprocess
import sys


def test_a_bad_command_gets_a_one_line_error_and_the_worker_keeps_serving() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "chaos.workload.fleet_worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        commands = [{"id": 1, "op": "explode"}, {"id": 2, "op": "caught_up", "last": {}, "timeout": 0.1},
                    {"id": 3, "op": "close"}]
        out, _ = proc.communicate("".join(json.dumps(c) + "\n" for c in commands), timeout=30)
    finally:
        proc.kill()
    answers = {doc["id"]: doc for doc in map(json.loads, out.splitlines()) if "id" in doc}
    assert answers[1] == {"id": 1, "error": "ValueError: unknown command 'explode'"}
    assert answers[2] == {"id": 2, "ok": True, "value": True}  # no clients: all of them caught up
    assert answers[3] == {"id": 3, "ok": True}
    assert proc.returncode == 0
