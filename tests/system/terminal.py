"""A model of a terminal (:class:`Screen`: the few controls the client and readline write) and the
real ``pushchat client`` on a pseudo-terminal (:class:`Tty`), for the CLI client's tests."""

from __future__ import annotations

import asyncio
import codecs
import fcntl
import os
import pty
import re
import struct
import termios

from system.console import PROMPT
from system.wait import wait_until
from tests.system.cli_process import PUSHCHAT

CSI = re.compile(r"(?:\x1b\[|\x9b)([?>=]?)([0-9;]*)([@A-Za-z])")  # 7-bit, or the C1 control CSI (U+009B)
OSC = re.compile(r"(?:\x1b\]|\x9d)([0-9]*);?([^\x07\x1b\x9c]*)(?:\x07|\x1b\\|\x9c)")  # ends with BEL, ST or C1 ST
OTHER_ESCAPE = re.compile(r"\x1b(?:[=>78]|[()][0-9A-Za-z])")
UNFINISHED = re.compile(r"(?:\x1b(?:\[[?>=]?[0-9;]*|[()]|\][^\x07\x1b\x9c]*\x1b?)?|\x9b[?>=]?[0-9;]*|"
                        r"\x9d[^\x07\x1b\x9c]*\x1b?)\Z")  # the start of one, cut off by the read


class Screen:
    """A terminal ``cols`` wide with unbounded scrollback: every row ever left on it stays in ``rows``."""

    def __init__(self, cols: int = 80) -> None:
        self.cols = cols
        self.grid: list[list[str]] = [[]]
        self.row = 0
        self.col = 0  # == cols: at the right margin, the next character wraps (as xterm does)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._unfinished = ""  # a control sequence the last read ended inside of: the next one finishes it
        self.title: str | None = None  # the window title, once a program set it (OSC 0 or 2)
        self.clears = 0                # times the whole screen (or the scrollback) was cleared (CSI 2J, 3J)

    # a Console writes here as to a terminal: a newline is CR LF, as the tty driver makes it (ONLCR)
    def write(self, data: str) -> None:
        self.feed(data.replace("\n", "\r\n"))

    def flush(self) -> None:
        pass

    def feed_bytes(self, data: bytes) -> None:
        self.feed(self._decoder.decode(data))

    def feed(self, data: str) -> None:
        data, self._unfinished = self._unfinished + data, ""
        i = 0
        while i < len(data):
            ch = data[i]
            if ch in "\x1b\x9b\x9d":
                if m := CSI.match(data, i):
                    self._control(m.group(1), int(m.group(2) or 0) if ";" not in m.group(2) else 0, m.group(3))
                    i = m.end()
                    continue
                if m := OSC.match(data, i):
                    if m.group(1) in ("0", "2"):
                        self.title = m.group(2)
                    i = m.end()
                    continue
                if m := OTHER_ESCAPE.match(data, i):
                    i = m.end()
                    continue
                if UNFINISHED.match(data, i):
                    self._unfinished = data[i:]
                    return
            elif ch == "\r":
                self.col = 0
            elif ch == "\n":
                self._down(1)
            elif ch == "\b":
                self.col = max(0, min(self.col, self.cols - 1) - 1)
            elif ch >= " ":
                self._put(ch)
            i += 1

    def _put(self, ch: str) -> None:
        if self.col >= self.cols:
            self._down(1)
            self.col = 0
        line = self.grid[self.row]
        line.extend(" " * (self.col + 1 - len(line)))
        line[self.col] = ch
        self.col += 1

    def _down(self, n: int) -> None:
        self.row += n
        while len(self.grid) <= self.row:
            self.grid.append([])

    def _control(self, private: str, n: int, final: str) -> None:
        if private:
            return  # modes (bracketed paste, keypad): nothing to draw
        line = self.grid[self.row]
        col = min(self.col, self.cols - 1)
        if final == "A":
            self.row = max(0, self.row - max(n, 1))
        elif final == "B":
            self._down(max(n, 1))
        elif final == "C":
            self.col = min(self.cols - 1, col + max(n, 1))
        elif final == "D":
            self.col = max(0, col - max(n, 1))
        elif final == "K":
            del line[self.col if n == 0 else 0:]
        elif final == "J" and n == 0:
            del line[self.col:]
            del self.grid[self.row + 1:]
        elif final == "J" and n in (2, 3):
            self.clears += 1
        elif final == "P":
            del line[col:col + max(n, 1)]
        elif final == "@":
            line[col:col] = [" "] * max(n, 1)

    @property
    def rows(self) -> list[str]:
        return ["".join(r).rstrip() for r in self.grid]

    @property
    def text(self) -> str:
        return "\n".join(self.rows)

    def cursor(self) -> tuple[int, int]:
        return self.row, self.col


class Tty:
    """``pushchat client`` on a pseudo-terminal ``cols`` wide: keys in, a :class:`Screen` out."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int, cols: int) -> None:
        self.proc, self.master = proc, master
        self.screen = Screen(cols)
        self.tail = b""        # the last 120 bytes the client wrote: what a failed wait shows
        self.closed_by: str | None = None  # why the screen stopped being read
        asyncio.get_running_loop().add_reader(master, self._read)

    @classmethod
    async def start(cls, *args: str, cols: int = 160) -> "Tty":
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
        env = {**os.environ, "TERM": "xterm", "INPUTRC": "/dev/null"}
        env.pop("COLUMNS", None)
        proc = await asyncio.create_subprocess_exec(*PUSHCHAT, *args, stdin=slave, stdout=slave, stderr=slave,
                                                    env=env, start_new_session=True)
        os.close(slave)
        return cls(proc, master, cols)

    def _read(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except OSError as exc:  # the client exited: the pty is closed
            data, self.closed_by = b"", repr(exc)
        if not data:
            self.closed_by = self.closed_by or "end of output"
            asyncio.get_running_loop().remove_reader(self.master)
            return
        self.tail = (self.tail + data)[-120:]
        self.screen.feed_bytes(data)

    def keys(self, text: str) -> None:
        os.write(self.master, text.encode())

    async def shows(self, pattern: str, timeout: float = 10.0) -> str:
        """Wait for a row matching ``pattern``; return it."""
        return await wait_until(lambda: next((r for r in self.screen.rows if re.search(pattern, r)), None),
                                timeout, lambda: f"{pattern!r} on the screen:\n{self.screen.text}\n{self.state()}")

    async def prompt(self, typed: str = "", timeout: float = 10.0) -> None:
        """Wait until the last row is the prompt with ``typed`` and the cursor after it."""
        want = (PROMPT + typed).rstrip()
        await wait_until(lambda: self.screen.rows[-1] == want and self.screen.col == len(PROMPT + typed), timeout,
                         lambda: f"the prompt {want!r} at the bottom:\n{self.screen.text}\n{self.state()}")

    def state(self) -> str:
        """What a failed wait needs to be understood: is the client alive, in which terminal mode, what it wrote last."""
        alive = "running" if self.proc.returncode is None else f"exited with {self.proc.returncode}"
        try:
            mode = "line mode (no readline)" if termios.tcgetattr(self.master)[3] & termios.ICANON else "raw (readline)"
        except termios.error as exc:
            mode = f"unknown ({exc})"
        read = f"; not read since: {self.closed_by}" if self.closed_by else ""
        return f"[client {alive}; terminal {mode}; cursor {self.screen.cursor()}{read}; last bytes {self.tail!r}]"

    async def join(self, room: str, then: str = "") -> None:
        """``/join ROOM``; wait for its ``* joined ROOM`` line (``then``: the pattern of the rest) and the prompt."""
        self.keys(f"/join {room}\r")
        await self.shows(rf"^\* joined {room}{then}")
        await self.prompt()

    async def finish(self, timeout: float = 10.0) -> int:
        if self.proc.returncode is None:
            self.keys("/quit\r")
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        finally:
            asyncio.get_running_loop().remove_reader(self.master)
            os.close(self.master)
