"""``pushchat toxiproxy`` on a taken API port: one line on the terminal, the event in the log, exit 1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port held the way a running gRPC server holds it (SO_REUSEPORT, listening)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def toxiproxy(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GRPC_VERBOSITY", "GRPC_TRACE")}
    return subprocess.run([sys.executable, "-m", "chaos.cli", "toxiproxy", *args], capture_output=True, text=True,
                          timeout=30, env=env, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("log_file", [False, True])
def test_a_taken_api_port_is_refused_in_one_line(taken_port: int, log_file: bool, tmp_path: Path) -> None:
    path = tmp_path / "toxiproxy.log"
    result = toxiproxy("--port", str(taken_port), *(["--log-file", str(path)] if log_file else []))
    assert result.returncode == 1 and result.stdout == ""
    error = f"listen tcp 127.0.0.1:{taken_port}: bind: address already in use"  # the real server's wording
    assert result.stderr.splitlines() == [f"pushchat toxiproxy: cannot start the API: {error}"]
    if log_file:
        [event] = [json.loads(line) for line in path.read_text().splitlines()]
        assert event["event"] == "api_failed_to_start" and event["level"] == "ERROR" and event["error"] == error
