"""The live progress lines of ``pushchat chaos run`` and ``campaign``: redrawn in place on a terminal, a
line every few seconds (or per finished run) in a pipe, so a CI log reads as a list."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # chaos.run imports gRPC; `pushchat chaos list` should not pay for it
    from chaos.run import Status

PROGRESS_EVERY_TTY = 0.5
PROGRESS_EVERY_PIPE = 3.0


class Progress:
    """A live status line: redrawn in place on a terminal, a line every few seconds in a pipe."""

    def __init__(self, label: str, status: "Status", quiet: bool = False, stream: TextIO | None = None) -> None:
        self.label, self.status, self.quiet = label, status, quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def line(self) -> str:
        s = self.status
        c = s.counts
        elapsed = time.monotonic() - s.started
        faults = "; ".join(s.active_faults) or "none"
        return (f"{self.label} {elapsed:5.1f}s {s.phase:<16} sends {c.sends_ok} ok/{c.sends_failed} fail/"
                f"{c.sends_indefinite} indef  pushes {c.pushes}  polls {c.polls} (showed {c.shown_by_poll})  "
                f"reconnects {c.reconnects}  faults: {faults}")

    def _loop(self) -> None:
        every = PROGRESS_EVERY_TTY if self.tty else PROGRESS_EVERY_PIPE
        while not self._stop.wait(every):
            self._draw()

    def _draw(self) -> None:
        text = self.line()
        if self.tty:
            width = os.get_terminal_size(self.stream.fileno()).columns
            self.stream.write("\r\x1b[2K" + text[: width - 1])
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def __enter__(self) -> "Progress":
        if not self.quiet:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if not self.quiet:
            self._thread.join()
            self._draw()
            if self.tty:
                self.stream.write("\n")


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class CampaignProgress:
    """One live line for a campaign: done/total, failures so far, ETA; redrawn in place on a terminal.

    In a pipe (a CI log) each finished run prints its own line instead, so the log reads as a list."""

    def __init__(self, tally: Any, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.tally, self.quiet = tally, quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def line(self) -> str:
        t = self.tally
        elapsed = time.monotonic() - t.started
        text = (f"campaign {t.done}/{t.total} done, {t.running} running, {t.failed} failed"
                + (f", {t.not_judged} not judged" if t.not_judged else "")
                + f"  elapsed {_clock(elapsed)}  ETA {_clock(t.eta())}")
        return f"{text}  last: {t.last}" if t.last else text

    def cell_done(self, result: Any, tally: Any) -> None:
        if self.quiet:
            return
        if not self.tty:
            with self._lock:
                self.stream.write(f"{self.line()} ({result.duration:.1f}s)\n")
                self.stream.flush()
        else:
            self._draw()

    def _loop(self) -> None:
        while not self._stop.wait(PROGRESS_EVERY_TTY):
            self._draw()

    def _draw(self) -> None:
        with self._lock:
            width = os.get_terminal_size(self.stream.fileno()).columns
            self.stream.write("\r\x1b[2K" + self.line()[: width - 1])
            self.stream.flush()

    def __enter__(self) -> "CampaignProgress":
        if not self.quiet and self.tty:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if not self.quiet and self.tty:
            self._thread.join()
            self._draw()
            self.stream.write("\n")
