"""One node or gate as an OS process that a fault can kill, pause and restart.

Servers run as separate processes so SIGKILL and SIGSTOP are real. Each
start is an *incarnation* with its own log file (``node0.1.log``,
``node0.2.log``…), so the checker can compare a process's logged push
failures with the counters of the same incarnation. A restart binds the
same port again, so the proxies in front of it need no change.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from system.metrics import parse_flat

START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


def incarnation_key(name: str, incarnation: int) -> str:
    """The checker's name for one incarnation's log and metrics: ``node0``, then ``node0#2``…"""
    return name if incarnation <= 1 else f"{name}#{incarnation}"


def log_file_key(path: Path) -> str:
    """``logs/node0.2.log`` → ``node0#2``: the key of the incarnation that wrote it."""
    name, incarnation, _ = path.name.rsplit(".", 2)
    return incarnation_key(name, int(incarnation))


class ProcessError(RuntimeError):
    """A server process failed to start or answer; the message says which and why."""


class ServerProcess:
    """A ``pushchat node|gate`` process: start, announce, kill, pause, restart, scrape."""

    def __init__(self, name: str, command: str, args: list[str], log_dir: Path) -> None:
        self.name = name
        self.command = command
        self.args = list(args)
        self.log_dir = log_dir
        self.incarnation = 0
        self.proc: asyncio.subprocess.Process | None = None
        self.addr: str | None = None
        self.metrics_port: int | None = None
        self.paused = False
        self.log_paths: list[Path] = []

    @property
    def port(self) -> int:
        assert self.addr, f"{self.name} has not started"
        return int(self.addr.rsplit(":", 1)[1])

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def log_name(self) -> str:
        """The checker's key for the current incarnation's log."""
        return incarnation_key(self.name, self.incarnation)

    async def start(self) -> None:
        """Start an incarnation; on a restart, bind the port of the first one."""
        self.incarnation += 1
        log_path = self.log_dir / f"{self.name}.{self.incarnation}.log"
        self.log_paths.append(log_path)
        listen = f"127.0.0.1:{self.port if self.addr else 0}"
        argv = [sys.executable, "-m", "chaos.cli", self.command, "--listen", listen,
                "--log-file", str(log_path), "--metrics-port", "0", "--exit-with-parent", *self.args]
        stderr = open(self.log_dir / f"{self.name}.{self.incarnation}.stderr", "wb")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=stderr, stdin=asyncio.subprocess.DEVNULL,
                env=_env_without_proxies())  # no pre-exec hook: vfork, no gRPC fork handlers
        finally:
            stderr.close()
        announce = await self._read_announce(argv)
        self.addr = announce["addr"]
        self.metrics_port = announce.get("metrics_port")
        self.paused = False

    async def _read_announce(self, argv: list[str]) -> dict[str, Any]:
        assert self.proc and self.proc.stdout
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = await asyncio.wait_for(self.proc.stdout.readline(), deadline - time.monotonic())
            except asyncio.TimeoutError:
                break
            if not line:
                await self.proc.wait()
                raise ProcessError(f"{self.name} exited with {self.proc.returncode} before listening "
                                   f"(see {self.log_dir}/{self.name}.{self.incarnation}.stderr): {' '.join(argv)}")
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and doc.get("event") == "listening":
                return doc
        await self.kill()
        raise ProcessError(f"{self.name} did not announce its port within {START_TIMEOUT:.0f}s")

    async def kill(self) -> None:
        """SIGKILL: no goodbye, no flushing; its in-memory state is gone."""
        if self.alive:
            assert self.proc
            self.proc.kill()
            await self.proc.wait()
        self.paused = False

    async def pause(self) -> None:
        if self.alive and not self.paused:
            assert self.proc
            self.proc.send_signal(signal.SIGSTOP)
            self.paused = True

    async def resume(self) -> None:
        if self.alive and self.paused:
            assert self.proc
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    async def restart(self) -> None:
        await self.kill()
        await self.start()

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after a deadline."""
        if not self.alive:
            return
        assert self.proc
        await self.resume()
        self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)
        except asyncio.TimeoutError:
            await self.kill()

    def scrape_metrics(self, timeout: float = 5.0) -> dict[str, float] | None:
        """Blocking scrape of /metrics; None when the process is not alive to answer."""
        if not self.alive or self.paused or not self.metrics_port:
            return None
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback only)
            return parse_flat(resp.read().decode("utf-8"))


def _env_without_proxies() -> dict[str, str]:
    """gRPC honours http_proxy; loopback traffic must never go through one."""
    env = dict(os.environ)
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "grpc_proxy"):
        env.pop(key, None)
    return env
