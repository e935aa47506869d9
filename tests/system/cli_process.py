"""``pushchat`` commands as OS processes, run the way a user runs them, for the newcomer tests."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import IO

from system.wait import wait_until

PUSHCHAT = [sys.executable, "-m", "chaos.cli"]
LINE = re.compile(r"^\[\d\d:\d\d:\d\d\] (\S+): (.*)$")  # a chat line as the client prints it
GRPC_CORE_LINE = r"(?m)^[DIWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+:\d+\]"  # gRPC core's own log format


def env() -> dict[str, str]:
    """The tests' environment without a developer's own gRPC log settings."""
    return {k: v for k, v in os.environ.items() if k not in ("GRPC_VERBOSITY", "GRPC_TRACE")}


@dataclass
class Result:
    code: int
    stdout: list[str]
    stderr: list[str]


async def run(*args: str, timeout: float = 30.0) -> Result:
    """Run a command that should end by itself (e.g. refuse to start) and return what it printed."""
    proc = await asyncio.create_subprocess_exec(*PUSHCHAT, *args, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                env=env())
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        raise AssertionError(f"pushchat {' '.join(args)} still running after {timeout}s; it printed "
                             f"{out.decode()!r} {err.decode()!r}") from None
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode().splitlines(), err.decode().splitlines())


class Running:
    """A command in the background: its stdout lines and its stderr, collected as they come."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.PIPE,
                                     text=True, env=env())
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._readers = [threading.Thread(target=self._collect, args=(stream, into), daemon=True)
                         for stream, into in ((self.proc.stdout, self.lines), (self.proc.stderr, self.errors))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _collect(stream: IO[str], into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    async def line(self, pattern: str = "", timeout: float = 20.0) -> str:
        """The first stdout line matching ``pattern``; fails at once if the command ended without one."""

        def found() -> str | None:
            match = next((x for x in list(self.lines) if re.search(pattern, x)), None)
            ended = self.proc.poll() is not None and not self._readers[0].is_alive()
            assert match is not None or not ended, \
                f"{self.proc.args} exited with {self.proc.poll()}: stdout {self.lines}, stderr {self.errors}"
            return match

        return await wait_until(found, timeout, f"a line matching {pattern!r} from {self.proc.args}")

    def stop(self) -> int:
        """SIGTERM, then the exit code once both streams are read to their end."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=20)
        for reader in self._readers:
            reader.join(timeout=20)
        return code


@contextmanager
def running(*args: str, verbose: bool = False) -> Iterator[Running]:
    """A command in the background, killed at the end if still running."""
    cmd = Running([*PUSHCHAT, *(["--verbose"] if verbose else []), *args])
    try:
        yield cmd
    finally:
        if cmd.proc.poll() is None:
            cmd.proc.kill()
        cmd.stop()


class Proc:
    """A child process whose stdout lines are collected as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, *args: str, stdin: bool = False) -> "Proc":
        proc = await asyncio.create_subprocess_exec(
            *PUSHCHAT, *args, stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode().rstrip("\n"))

    async def announce(self) -> dict:  # type: ignore[type-arg]
        await wait_until(lambda: self.lines, 20.0, "the announce line")
        return json.loads(self.lines[0])

    def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")

    async def expect(self, pattern: str, timeout: float = 10.0) -> str:
        return await wait_until(lambda: next((x for x in self.lines if re.search(pattern, x)), None), timeout,
                                f"{pattern!r} in {self.lines}")

    def chat(self) -> list[tuple[str, str]]:
        return [m.groups() for m in map(LINE.match, self.lines) if m]  # type: ignore[misc]

    async def finish(self, sig: int | None = signal.SIGTERM, timeout: float = 10.0) -> int:
        if sig is not None and self.proc.returncode is None:
            self.proc.send_signal(sig)
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        await self.reader
        return code


@asynccontextmanager
async def piped_client(server: str, user: str, *args: str, room: str = "General") -> AsyncIterator[Proc]:
    """``pushchat client`` with its input piped, as a script runs it: connected and in ``room`` when the block
    starts, ended (SIGTERM if still running) when it ends; its lines stay readable after."""
    client = await Proc.start("client", "--server", server, "--user", user, *args, stdin=True)
    try:
        await client.expect(r"^\* connected to ", 20.0)
        client.type(f"/join {room}")
        await client.expect(rf"^\* joined {room}")
        yield client
    finally:
        await client.finish()
