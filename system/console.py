"""What the user of ``pushchat client`` sees on a terminal: chat lines, one status line, one prompt.

On a terminal, GNU readline edits the line and draws the one prompt; every
other line is written above the prompt, which is then redrawn with what was
typed so far. While the link is down, one status line just above the prompt
is rewritten in place (attempt, next try, cause) and, once the link is back,
replaced by a final line. Piped, lines are just printed, and the status only
at attempts 2, 4, 8, …, so an outage of minutes prints a few lines, not one
per attempt.

Presence: ``* bob joined`` / ``* bob left`` lines; on a terminal, "bob is
typing…" takes the status row while no outage does, and goes away by itself
when the indicator expires (the client library times it). Piped, typing is
not shown: a line per keystroke burst would bury the chat.
"""

from __future__ import annotations

import ctypes
import datetime
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from types import ModuleType
from typing import TextIO

import grpc

from system.client import Observer, cause
from system.pb import chat_pb2
from system.visible import visible

PROMPT = "> "


def format_message(msg: chat_pb2.ChatMessage) -> str:
    when = datetime.datetime.fromtimestamp(msg.timestamp / 1e6).strftime("%H:%M:%S")
    return f"[{when}] {msg.user_name}: {msg.message}"


def plural(n: int, noun: str, none: str = "no") -> str:
    return f"{none if n == 0 else n} {noun}{'' if n == 1 else 's'}"


def duration(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s" if seconds < 120 else \
        f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


class LineEditor:
    """The line being typed, as the reader thread's readline holds it (nothing without readline)."""

    def __init__(self) -> None:
        self.readline: ModuleType | None
        try:
            import readline  # noqa: PLC0415 - imported before the first input(), so input() edits with it
            self.readline = readline
        except ImportError:  # no GNU readline on this platform: input() reads plain lines
            self.readline = None
        self._point = _readline_int("rl_point", self.readline)

    def line(self) -> tuple[str, int]:
        """The typed text and the cursor's place in it (in characters; at the end if unknown)."""
        if self.readline is None:
            return "", 0
        text = self.readline.get_line_buffer()
        if self._point is None:
            return text, len(text)
        return text, len(text.encode()[: self._point.value].decode(errors="ignore"))

    def install(self, console: "Console") -> None:
        """Let the console know when readline draws its prompt, so it never draws a second one."""
        if self.readline is not None and hasattr(self.readline, "set_pre_input_hook"):
            self.readline.set_startup_hook(console.prompt_starting)
            self.readline.set_pre_input_hook(console.prompt_drawn)


def _readline_int(name: str, readline: ModuleType | None) -> ctypes.c_int | None:
    """A readline variable such as ``rl_point`` (Python's module does not expose it): read-only, best effort."""
    try:
        return ctypes.c_int.in_dll(ctypes.CDLL(readline.__file__), name) if readline is not None else None
    except (OSError, ValueError, AttributeError):  # libedit, or a static build
        return None


class Console(Observer):
    """What the user sees: chat lines, one status line while the link is down, and one prompt.

    On a terminal, readline (in the reader thread) owns the prompt row while it reads a line;
    ``prompt_starting``/``prompt_drawn`` (its startup and pre-input hooks) and ``line_entered``
    tell the console. Every other line is written above the prompt and the status line, which
    are redrawn below it; a line is never drawn while readline draws its prompt.
    """

    def __init__(self, out: TextIO, interactive: bool, reconnect: bool = True, *,
                 editor: LineEditor | None = None, columns: Callable[[], int] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.interactive = interactive
        self.reconnect = reconnect
        self.editor = editor or LineEditor()
        self.columns = columns or (lambda: shutil.get_terminal_size().columns)
        self.clock = clock
        self.lock = threading.Lock()
        self.shown: Counter[str] = Counter()  # room -> messages shown
        self.status: str | None = None  # while the link is down: what it is doing about it
        self.typists: dict[str, list[str]] = {}  # room -> who shows as typing there
        self.room: str | None = None    # the room the user is in: only its typists are shown
        self.reading = False            # readline's prompt and the typed text are the last row(s)
        self.closed = False
        self._status_drawn = False      # the status is the row just above the prompt (or the last row)
        self._down = False              # from a lost stream until reconnected
        self.outages = 0                # outages begun: a command compares before and after to know it waited
        self._lost_at = 0.0
        self._attempt = 1

    def outage_mark(self) -> int:
        """Outages begun, and whether one is going on: what :meth:`down_since` compares with."""
        return self.outages * 2 + self._down

    def down_since(self, mark: int) -> bool:
        """The link was down at some moment since ``outage_mark()`` gave ``mark``: down then, or an outage
        began since (a call waiting for the link goes on once it is registered, before the recovery is done)."""
        return bool(mark & 1) or self.outage_mark() != mark

    # -- output ---------------------------------------------------------------------
    def show(self, *lines: str) -> None:
        """Each of ``lines`` as one row: a newline or any other control inside one is shown escaped."""
        with self.lock:
            self._draw(list(lines))

    def _draw(self, lines: list[str]) -> None:
        """Write ``lines``; on a terminal above the status and the prompt, which are redrawn. Lock held.

        Every row passes through :func:`~system.visible.visible` here, the one door to the terminal: what
        a line holds of others' text (names, messages, rooms, the server's words) cannot act on it."""
        lines = [visible(line) for line in lines]
        if not self.interactive:
            self.out.write("".join(f"{line}\n" for line in lines))
            self.out.flush()
            return
        cols = max(2, self.columns())
        typed, point = self.editor.line() if self.reading else ("", 0)
        parts = [self._erase(point, cols), *(f"{line}\n" for line in lines)]
        row = self.status if self.status is not None else self._typing_row()
        if row is not None:
            parts.append(_fit(visible(row), cols) + "\n")
        self._status_drawn = row is not None
        if self.reading:
            parts.append(_with_cursor(PROMPT + typed, len(PROMPT) + point, cols))
        self.out.write("".join(parts))
        self.out.flush()

    def _erase(self, point: int, cols: int) -> str:
        """Back to the start of the status line (or of the prompt) and clear to the end of the screen."""
        up = (len(PROMPT) + point) // cols if self.reading else 0  # the cursor's row within the typed text
        up += self._status_drawn
        return "\r" + (f"\x1b[{up}A" if up else "") + "\x1b[J"

    def _set_status(self, status: str | None, final: str | None = None) -> None:
        """On a terminal: rewrite the status line in place (``final`` replaces it); piped: print what is given."""
        with self.lock:
            if self.interactive:
                self.status = status
                self._draw([final] if final else [])
            else:
                self._draw([line for line in (status, final) if line])

    def _typing_row(self) -> str | None:
        names = self.typists.get(self.room or "", [])
        if not names:
            return None
        return f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} typing…"

    # -- readline's side (the reader thread) ------------------------------------------
    def prompt_starting(self) -> None:
        """readline is about to draw its prompt: nothing else is drawn until it has (``prompt_drawn``)."""
        self.lock.acquire()
        if self.closed:  # we are exiting: no new prompt under the last line
            self.lock.release()
            threading.Event().wait()

    def prompt_drawn(self) -> None:
        self.reading = True
        self.lock.release()

    def line_entered(self, line: str) -> None:
        """readline echoed the entered line below the status: move the status below it again."""
        with self.lock:
            self.reading = False
            if self.interactive and self._status_drawn:
                cols = max(2, self.columns())
                echo = PROMPT + line
                rows = max(1, -(-len(echo) // cols))  # the echoed line's rows; the cursor is on the row below
                self.out.write(f"\r\x1b[{rows + 1}A\x1b[J{echo}\n")
                self._status_drawn = False
                self._draw([])

    def close(self) -> None:
        """Erase the prompt (and a status line): the terminal is left with the conversation only."""
        with self.lock:
            self.closed = True
            if self.interactive and (self.reading or self._status_drawn):
                cols = max(2, self.columns())
                self.out.write(self._erase(self.editor.line()[1] if self.reading else 0, cols))
                self.out.flush()
            self.reading, self.status, self._status_drawn = False, None, False
        self.typists.clear()

    # -- the client's side ---------------------------------------------------------------
    def on_display(self, room: str, message: chat_pb2.ChatMessage, source: str) -> None:
        self.shown[room] += 1
        self.show(format_message(message))

    def on_member(self, room: str, user: str, joined: bool, source: str) -> None:
        if source != "join" and room == self.room:  # a join's list is who was there already
            self.show(f"* {user} {'joined' if joined else 'left'}")

    def on_typing(self, room: str, user: str, typing: bool) -> None:
        with self.lock:
            names = self.typists.setdefault(room, [])
            if typing and user not in names:
                names.append(user)
            elif not typing and user in names:
                names.remove(user)
            if self.interactive and room == self.room:
                self._draw([])

    def on_stream_end(self, error: BaseException | None) -> None:
        if _code(error) == grpc.StatusCode.UNAUTHENTICATED:  # on_refused says what follows
            return
        why = cause(error)
        if not self.reconnect:
            self.show(f"* connection lost ({why}); new messages will not appear, /messages still fetches them")
            return
        if self._down:  # lost again before the recovery was done: the same outage goes on
            return
        self._down, self._lost_at, self._attempt = True, self.clock(), 1
        self.outages += 1
        self._set_status(f"* connection lost ({why}); reconnecting…")

    def on_refused(self, error: BaseException) -> None:
        self._down = False
        what = error.details() if isinstance(error, grpc.aio.AioRpcError) else str(error)
        hint = " (get a new one: pushchat token --user NAME --secret-file F)" if "token" in (what or "") else ""
        self._set_status(None, f"* the server refused you: {what}; not reconnecting{hint}")

    def on_reconnecting(self, attempt: int, error: BaseException | None, wait: float) -> None:
        self._attempt = attempt
        status = (f"* reconnecting: attempt {attempt} in {duration(wait)} "
                  f"({cause(error)}; down {duration(self.clock() - self._lost_at)})")
        if self.interactive or attempt & (attempt - 1) == 0:  # piped: at attempts 2, 4, 8, …
            self._set_status(status)

    def on_reconnected(self, client_id: str, recovered: int) -> None:
        self._down = False
        tries = f" ({self._attempt} attempts)" if self._attempt > 1 else ""
        got = f"recovered {plural(recovered, 'message')}" if recovered else "no messages missed"
        self._set_status(None, f"* reconnected after {duration(self.clock() - self._lost_at)}{tries}; {got}")

    def on_recovery_incomplete(self, room: str, first_available_seq: int, cursor: int) -> None:
        self.show(f"* could not recover everything in {room}: messages #{cursor + 1}-#{first_available_seq - 1} "
                  "are no longer available")

    def on_history_reset(self, room: str) -> None:
        self.show(f"* the server lost {room}'s history (it restarted); showing the new history")


def _code(error: BaseException | None) -> grpc.StatusCode | None:
    return error.code() if isinstance(error, grpc.aio.AioRpcError) else None


def _fit(line: str, cols: int) -> str:
    """One row: a longer line would wrap, and the next redraw would leave its first row behind."""
    return line if len(line) < cols else line[: cols - 2] + "…"


def _with_cursor(text: str, point: int, cols: int) -> str:
    """``text`` from column 0, then the cursor back at ``point`` (readline's cursor), across wrapped rows."""
    end = len(text)
    out = text + (" \r" if end and end % cols == 0 else "")  # a full last row: wrap now, as readline does
    if point == end:
        return out
    up = end // cols - point // cols
    return out + (f"\x1b[{up}A" if up else "") + "\r" + (f"\x1b[{point % cols}C" if point % cols else "")


class terminal_kept:
    """Restore the terminal's modes on exit: the reader thread may be inside readline, which changed them."""

    def __init__(self, stream: TextIO) -> None:
        self.fd = stream.fileno() if stream.isatty() else None
        self.saved: list | None = None  # type: ignore[type-arg]

    def __enter__(self) -> None:
        if self.fd is not None:
            import termios  # noqa: PLC0415 - POSIX only
            self.saved = termios.tcgetattr(self.fd)

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None and self.saved is not None:
            import termios  # noqa: PLC0415
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
