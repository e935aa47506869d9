"""Structured logs: one JSON object per line, with stable field names.

The chaos checker counts these lines, so the field names are a contract:
``ts`` (ISO 8601 local time with its offset, to the microsecond: ``2025-01-01T12:00:00.123456+01:00``;
:func:`system.contract.ts_seconds` reads it back), ``level``, ``component``, ``event``, then the
event's own fields. Events are logged as ``log.warning("push_failed",
extra={"fields": {...}})`` or, shorter, with :func:`event`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Mapping, TextIO

from system import contract

_RESERVED = ("ts", "level", "component", "event")

# A library never prints: without a handler, Python's last-resort handler would write
# our WARNINGs as bare words ("stream_lost") to the stderr of any program using the
# client. The program decides where they go (setup(), or FilePerUser).
logging.getLogger("pushchat").addHandler(logging.NullHandler())

#: The user a record belongs to when it has no ``user`` field; set by code that drives
#: several clients in one process (asyncio tasks inherit it from where they were created).
current_user: ContextVar[str | None] = ContextVar("pushchat_current_user", default=None)


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line; ``record.fields`` holds the event's data."""

    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": contract.log_ts(record.created),
            "level": record.levelname,
            "component": self.component,
            "event": record.getMessage(),
        }
        for key, value in (getattr(record, "fields", None) or {}).items():
            doc[key if key not in _RESERVED else f"field_{key}"] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, separators=(",", ":"))


def setup(component: str, stream: TextIO | None = None, path: str | None = None,
          level: int = logging.INFO) -> None:
    """Send every ``pushchat`` log record to ``path`` (or ``stream``) as JSON lines."""
    handler: logging.Handler
    if path:
        handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(component))
    root = logging.getLogger("pushchat")
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False


class FilePerUser(logging.Handler):
    """JSON lines into one file per user: many clients in one process (the chaos workload), a log each.

    A record belongs to its ``user`` field, else to :data:`current_user`; records of
    users not in ``paths`` are left to other handlers.
    """

    def __init__(self, paths: Mapping[str, str | Path], component: str = "client") -> None:
        super().__init__()
        self.setFormatter(JsonFormatter(component))
        self._files: dict[str, TextIO] = {user: open(path, "a", encoding="utf-8") for user, path in paths.items()}

    def emit(self, record: logging.LogRecord) -> None:
        user = (getattr(record, "fields", None) or {}).get("user") or current_user.get()
        fh = self._files.get(user) if isinstance(user, str) else None
        if fh is None:
            return
        try:
            fh.write(self.format(record) + "\n")
            fh.flush()
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        self.acquire()
        try:
            for fh in self._files.values():
                fh.close()
            self._files.clear()
        finally:
            self.release()
        super().close()


def get(name: str) -> logging.Logger:
    return logging.getLogger(f"pushchat.{name}")


def event(logger: logging.Logger, level: int, name: str, **fields: Any) -> None:
    """Log one structured event: ``event(log, logging.WARNING, "push_failed", room=...)``."""
    logger.log(level, name, extra={"fields": fields})


def read(path: str) -> list[dict[str, Any]]:
    """Parse a JSON-lines log; lines that are not JSON objects are kept as ``{"raw": line}``."""
    out: list[dict[str, Any]] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                doc = {"raw": line}
            out.append(doc if isinstance(doc, dict) else {"raw": line})
    return out


def announce(stream: TextIO | None = None, **fields: Any) -> None:
    """Print the one line a parent process reads to learn our bound ports."""
    out = stream or sys.stdout
    out.write(json.dumps({"event": "listening", "ts": contract.log_ts(time.time()), **fields}) + "\n")
    out.flush()
