"""The live progress lines of ``pushchat chaos run`` and ``campaign``: redrawn in place on a terminal, a
line every few seconds (or per finished run) in a pipe, so a CI log reads as a list."""

from __future__ import annotations

import abc
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # chaos.run imports gRPC; `pushchat chaos list` should not pay for it
    from chaos.run import Status

PROGRESS_EVERY_TTY = 0.5
PROGRESS_EVERY_PIPE = 3.0


class LiveLine(abc.ABC):
    """A status line redrawn in place on a terminal; in a pipe, written as a line of its own every
    ``pipe_every`` seconds (None: only when :meth:`draw` is called), so a CI log reads as a list."""

    pipe_every: float | None = PROGRESS_EVERY_PIPE

    def __init__(self, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @abc.abstractmethod
    def line(self) -> str:
        """The line as it stands now."""

    def _live(self) -> bool:
        return not self.quiet and (self.tty or self.pipe_every is not None)

    def _loop(self) -> None:
        every = PROGRESS_EVERY_TTY if self.tty else self.pipe_every
        while not self._stop.wait(every):
            self.draw()

    def draw(self, pipe_suffix: str = "") -> None:
        """Redraw the line in place on a terminal; in a pipe, write it (with ``pipe_suffix``) as a new line."""
        with self._lock:
            if self.tty:
                width = os.get_terminal_size(self.stream.fileno()).columns
                self.stream.write("\r\x1b[2K" + self.line()[: width - 1])
            else:
                self.stream.write(self.line() + pipe_suffix + "\n")
            self.stream.flush()

    def __enter__(self) -> "LiveLine":
        if self._live():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._live():
            self._thread.join()
            self.draw()
            if self.tty:
                self.stream.write("\n")


class Progress(LiveLine):
    """A run's live line: elapsed time, phase, sends, pushes, polls, reconnects and the faults in force."""

    def __init__(self, label: str, status: "Status", quiet: bool = False, stream: TextIO | None = None) -> None:
        super().__init__(quiet, stream)
        self.label, self.status = label, status

    def line(self) -> str:
        s = self.status
        c = s.counts
        elapsed = time.monotonic() - s.started
        faults = "; ".join(s.active_faults) or "none"
        return (f"{self.label} {elapsed:5.1f}s {s.phase:<16} sends {c.sends_ok} ok/{c.sends_failed} fail/"
                f"{c.sends_indefinite} indef  pushes {c.pushes}  polls {c.polls} (showed {c.shown_by_poll})  "
                f"reconnects {c.reconnects}  faults: {faults}")


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class CampaignProgress(LiveLine):
    """One live line for a campaign: done/total, failures so far, ETA.

    In a pipe (a CI log) each finished run prints its own line instead, so the log reads as a list."""

    pipe_every = None

    def __init__(self, tally: Any, quiet: bool = False, stream: TextIO | None = None) -> None:
        super().__init__(quiet, stream)
        self.tally = tally

    def line(self) -> str:
        t = self.tally
        elapsed = time.monotonic() - t.started
        text = (f"campaign {t.done}/{t.total} done, {t.running} running, {t.failed} failed"
                + (f", {t.not_judged} not judged" if t.not_judged else "")
                + f"  elapsed {_clock(elapsed)}  ETA {_clock(t.eta())}")
        return f"{text}  last: {t.last}" if t.last else text

    def cell_done(self, result: Any, tally: Any) -> None:
        if not self.quiet:
            self.draw(f" ({result.duration:.1f}s)")
