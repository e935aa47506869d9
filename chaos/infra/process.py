"""One node or gate as an OS process that a fault can kill, pause and restart, and break from inside.

Servers run as separate processes so SIGKILL and SIGSTOP are real. Each
start is an *incarnation* with its own log file (``node0.1.log``,
``node0.2.log``…), so the checker can compare a process's logged push
failures with the counters of the same incarnation. A restart binds the
same port again, so the proxies in front of it need no change.

Each process runs with its fault points on (``--fault-control`` on a
loopback port; in a network namespace, reached by a ``socket_factory``
that makes sockets in it): the faults set there are kept here and set again in a
new incarnation, and while the process is paused they wait. With a
``clock_file`` it runs under libfaketime, whose offset and rate this file
holds (``FAKETIME_TIMESTAMP_FILE``, read on every clock call).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Mapping

import aiohttp

from chaos.rundir import incarnation_key, log_file_name
from system.metrics import parse_flat

START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


class ProcessError(RuntimeError):
    """A server process failed to start or answer; the message says which and why."""


class Signalled:
    """An OS process the harness acts on by signal: SIGKILL, SIGSTOP, SIGCONT (our servers and Goverse's)."""

    proc: asyncio.subprocess.Process | None
    paused: bool

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

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

    async def start(self) -> None:
        raise NotImplementedError

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
            async with asyncio.timeout(STOP_TIMEOUT):
                await self.proc.wait()
        except asyncio.TimeoutError:
            await self.kill()


class PartsByName:
    """What the fault model asks of a running topology for a process by part name (``node0``, ``gate1``,
    ``etcd0``, ``store``), passed on to that part: one copy for our topology and Goverse's."""

    def process(self, name: str) -> Any:
        raise NotImplementedError

    async def kill(self, name: str) -> None:
        await self.process(name).kill()

    async def launch(self, name: str) -> None:
        """Start a stopped part again, on its address (and data)."""
        await self.process(name).start()

    async def restart(self, name: str) -> None:
        await self.process(name).restart()

    async def pause(self, name: str) -> None:
        await self.process(name).pause()

    async def resume(self, name: str) -> None:
        await self.process(name).resume()


class ServerProcess(Signalled):
    """A ``pushchat node|gate`` process: start, announce, kill, pause, restart, scrape."""

    def __init__(self, name: str, command: str, args: list[str], log_dir: Path, *,
                 clock_file: Path | None = None, host: str = "127.0.0.1", prefix: tuple[str, ...] = (),
                 socket_factory: Callable[[tuple[Any, ...]], socket.socket] | None = None) -> None:
        self.name = name
        self.command = command
        self.args = list(args)
        self.log_dir = log_dir
        self.incarnation = 0
        self.proc: asyncio.subprocess.Process | None = None
        self.addr: str | None = None
        self.metrics_port: int | None = None
        self.fault_port: int | None = None
        self.paused = False
        self.log_paths: list[Path] = []
        self.fault_specs: dict[str, dict[str, Any]] = {}  # what should be set in its fault points
        self._set: set[str] = set()                       # what is set in this incarnation's
        self.clock_file = clock_file
        self.host = host      # where it listens (and serves metrics): its own namespace's address, when it has one
        self.prefix = prefix  # what runs it (``ip netns exec NS``), if anything
        self.socket_factory = socket_factory  # sockets that reach its loopback (its namespace's), if not ours
        self.clock = (0.0, 1.0)        # (jump s, rate) of its wall clock against real time
        self._clock_origin = 0.0       # real time this incarnation (and so libfaketime in it) started

    @property
    def port(self) -> int:
        assert self.addr, f"{self.name} has not started"
        return int(self.addr.rsplit(":", 1)[1])

    @property
    def log_name(self) -> str:
        """The checker's key for the current incarnation's log."""
        return incarnation_key(self.name, self.incarnation)

    async def start(self) -> None:
        """Start an incarnation; on a restart, bind the port of the first one."""
        self.incarnation += 1
        log_path = self.log_dir / log_file_name(self.name, self.incarnation)
        self.log_paths.append(log_path)
        listen = f"{self.host}:{self.port if self.addr else 0}"
        argv = [*self.prefix, sys.executable, "-m", "chaos.cli", self.command, "--listen", listen,
                "--log-file", str(log_path), "--metrics-port", "0", "--metrics-host", self.host, "--exit-with-parent",
                "--fault-control", "127.0.0.1:0", *self.args]
        env = _env_without_proxies()
        if self.clock_file is not None:
            env.update(faketime_env(self.clock_file))
            self._clock_origin = time.time()
            self._write_clock()
        stderr = open(self.log_dir / f"{self.name}.{self.incarnation}.stderr", "wb")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=stderr, stdin=asyncio.subprocess.DEVNULL,
                env=env)  # no pre-exec hook: vfork, no gRPC fork handlers
        finally:
            stderr.close()
        announce = await self._read_announce(argv)
        self.addr = announce["addr"]
        self.metrics_port = announce.get("metrics_port")
        self.fault_port = announce.get("fault_control_port")
        self.paused = False
        self._set = set()
        await self._sync_faults()

    async def _read_announce(self, argv: list[str]) -> dict[str, Any]:
        assert self.proc and self.proc.stdout
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    line = await self.proc.stdout.readline()
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

    async def resume(self) -> None:
        await super().resume()
        await self._sync_faults()

    # -- from inside: fault points and the clock ---------------------------------------------
    async def add_fault_point(self, spec: Mapping[str, Any]) -> None:
        """Set a fault in its fault points (now, or when it can answer: after a resume or restart)."""
        self.fault_specs[str(spec["id"])] = dict(spec)
        await self._sync_faults()

    async def remove_fault_point(self, fault_id: str) -> None:
        self.fault_specs.pop(fault_id, None)
        await self._sync_faults()

    async def _sync_faults(self) -> None:
        """Make the live incarnation's faults those of :attr:`fault_specs` (a paused one cannot answer)."""
        if not self.alive or self.paused or not self.fault_port or (not self._set and not self.fault_specs):
            return
        base = f"http://127.0.0.1:{self.fault_port}/faults"
        timeout = aiohttp.ClientTimeout(total=5.0)
        connector = aiohttp.TCPConnector(socket_factory=self.socket_factory) if self.socket_factory else None
        async with aiohttp.ClientSession(timeout=timeout, trust_env=False, connector=connector) as http:
            for fault_id in sorted(self._set - set(self.fault_specs)):
                async with http.delete(f"{base}/{fault_id}") as r:
                    if r.status not in (204, 404):
                        raise ProcessError(f"{self.name}: clearing fault {fault_id}: {r.status} {await r.text()}")
                self._set.discard(fault_id)
            for fault_id, spec in self.fault_specs.items():
                if fault_id in self._set:
                    continue
                async with http.post(base, json=spec) as r:
                    if r.status != 201:
                        raise ProcessError(f"{self.name}: setting fault {fault_id}: {(await r.json())['error']}")
                self._set.add(fault_id)

    async def set_clock(self, jump_s: float, rate: float) -> None:
        """From now on its wall clock reads real time + ``jump_s``, running at ``rate`` times real speed."""
        if self.clock_file is None:
            raise ProcessError(f"{self.name} was not started under libfaketime: its clock cannot be moved")
        self.clock = (float(jump_s), float(rate))
        self._write_clock(at=time.time())

    def _write_clock(self, at: float | None = None) -> None:
        """libfaketime's spec: its rate runs from the process's start, so the offset takes back what a
        new rate would add for the time already gone (a skew starts where the clock stands)."""
        assert self.clock_file is not None
        jump, rate = self.clock
        elapsed = 0.0 if at is None else at - self._clock_origin
        offset = jump - elapsed * (rate - 1.0)
        text = f"{offset:+.6f}" + (f" x{rate:g}" if rate != 1.0 else "")
        tmp = self.clock_file.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.clock_file)  # read on every clock call: never half written

    def scrape_metrics(self, timeout: float = 5.0) -> dict[str, float] | None:
        """Blocking scrape of /metrics; None when the process is not alive to answer."""
        if not self.alive or self.paused or not self.metrics_port:
            return None
        url = f"http://{self.host}:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback only)
            return parse_flat(resp.read().decode("utf-8"))


def faketime_env(clock_file: Path) -> dict[str, str]:
    """The environment that runs a process under libfaketime (the ``libfaketime`` wheel's library), its fake
    time read from ``clock_file``; the monotonic clock stays real, so timers and timeouts are unaffected."""
    try:
        import libfaketime
    except ImportError:
        raise ProcessError("clock faults need libfaketime: pip install libfaketime") from None
    _, env = libfaketime.get_reload_information()
    return {**env, "FAKETIME_TIMESTAMP_FILE": str(clock_file), "DONT_FAKE_MONOTONIC": "1", "FAKETIME_NO_CACHE": "1"}


def _env_without_proxies() -> dict[str, str]:
    """gRPC honours http_proxy; loopback traffic must never go through one."""
    env = dict(os.environ)
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "grpc_proxy"):
        env.pop(key, None)
    return env
