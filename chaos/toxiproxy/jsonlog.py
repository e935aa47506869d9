"""The server's logs: one JSON object per line, and its start-up line.

The proxy is a product of its own, so it keeps its own small logging rather
than borrowing the chat system's; the line format is the project's one:
``ts`` (ISO 8601 local time with its offset, to the microsecond), ``level``, ``component`` (``toxiproxy``), ``event``,
then the event's fields. Event names and fields are a contract (listed in
``docs/architecture.md``): log them with :func:`event`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import datetime, timezone
from typing import Any, TextIO

__all__ = ["COMPONENT", "JsonLines", "logger", "setup", "event", "exception", "announce"]

COMPONENT = "toxiproxy"
_RESERVED = ("ts", "level", "component", "event")

#: Every record of the server goes through this logger. Until :func:`setup`
#: gives it a destination it writes nothing: code that imports the server
#: without running its CLI gets no stray lines on its terminal.
logger = logging.getLogger("chaos.toxiproxy")
logger.addHandler(logging.NullHandler())


def _ts(seconds: float) -> str:
    """A line's ``ts``: ``2025-01-01T12:00:00.123456+01:00``, always that wide, so lines sort as text."""
    return datetime.fromtimestamp(seconds, timezone.utc).astimezone().isoformat(timespec="microseconds")


class JsonLines(logging.Formatter):
    """A record as one JSON line; ``record.fields`` holds the event's own data."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _ts(record.created),
            "level": record.levelname,
            "component": COMPONENT,
            "event": record.getMessage(),
        }
        for key, value in (getattr(record, "fields", None) or {}).items():
            doc[key if key not in _RESERVED else f"field_{key}"] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, separators=(",", ":"))


def setup(path: str | None = None, stream: TextIO | None = None, level: int = logging.INFO) -> logging.Handler:
    """Send the server's records to ``path`` (or ``stream``, default stderr) as JSON lines."""
    handler: logging.Handler
    if path:
        handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines())
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return handler


def event(level: int, name: str, **fields: Any) -> None:
    """Log one event: ``event(logging.INFO, "proxy_started", proxy=..., listen=...)``."""
    logger.log(level, name, extra={"fields": fields})


def exception(name: str, **fields: Any) -> None:
    """Log an ERROR event with the exception being handled (its traceback in ``exception``)."""
    logger.error(name, exc_info=True, extra={"fields": fields})


def announce(stream: TextIO | None = None, **fields: Any) -> None:
    """Print the one line a parent process reads to learn the bound address."""
    out = stream or sys.stdout
    out.write(json.dumps({"event": "listening", "ts": _ts(time.time()), **fields}) + "\n")
    out.flush()
