"""Goverse's text log lines as the checker's log lines (pure).

Goverse logs ``[2006-01-02 15:04:05.000] [WARN] [prefix] message`` (its
``util/logger``, local time). The lines that say a push failed or was
dropped become ``push_failed`` / ``push_dropped`` events, with the client
id, a reason in our contract's words where one fits (``system.contract``)
and Goverse's own error text, so the push-logging rule counts them:

- node, ``ChatRoom.SendMessage``: ``Failed to push message to client ID: ERR``
  (ERR ``gate G not connected to this node…``, ``gate G message channel is
  full``, ``invalid client ID format…``);
- gate: ``Client ID not found, dropping message from node N`` and
  ``ClientProxy ID message channel full, dropping message!!!``.

Every other line is kept as ``goverse_log`` with its level and text.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Iterable

from system.contract import (CLIENT_BUFFER_FULL, CLIENT_NOT_FOUND, GATE_BUFFER_FULL, GATE_NOT_CONNECTED,
                             MALFORMED_CLIENT_ID, log_ts)

LINE = re.compile(r"^\[(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\] \[(?P<level>[A-Z]+)\] \[(?P<prefix>[^\]]*)\] "
                  r"(?P<text>.*)$")
LEVELS = {"DEBUG": "DEBUG", "INFO": "INFO", "WARN": "WARNING", "WARNING": "WARNING", "ERROR": "ERROR",
          "FATAL": "CRITICAL"}
PUSH_FAILED = re.compile(r"^Failed to push message to client (?P<client_id>\S+): (?P<error>.*)$")
NOT_FOUND = re.compile(r"^Client (?P<client_id>\S+) not found, dropping message from node (?P<node>\S+)")
PROXY_FULL = re.compile(r"^ClientProxy (?P<client_id>\S+) message channel full, dropping message")
ROOM = re.compile(r"ChatRoom-(?P<room>[A-Za-z0-9_-]+)")
#: Goverse's push error text -> the reason our contract names the same failure by.
REASONS: tuple[tuple[str, str], ...] = (("not connected to this node", GATE_NOT_CONNECTED),
                                        ("message channel is full", GATE_BUFFER_FULL),
                                        ("invalid client ID format", MALFORMED_CLIENT_ID))
OTHER_REASON = "goverse_error"


def _seconds(stamp: str) -> float:
    """Goverse's local ``2006-01-02 15:04:05.000`` as Unix seconds."""
    whole, _, frac = stamp.partition(".")
    return time.mktime(time.strptime(whole, "%Y-%m-%d %H:%M:%S")) + (float(f"0.{frac}") if frac else 0.0)


def translate(raw: str) -> dict[str, Any]:
    """One Goverse log line as a log record (``{"raw": line}`` when it is not one of Goverse's lines)."""
    m = LINE.match(raw.rstrip("\n"))
    if m is None:
        return {"raw": raw.rstrip("\n")}
    text, prefix = m["text"], m["prefix"]
    out: dict[str, Any] = {"ts": log_ts(_seconds(m["ts"])), "level": LEVELS.get(m["level"], m["level"]),
                           "component": prefix, "event": "goverse_log", "msg": text}
    room = ROOM.search(prefix) or ROOM.search(text)
    if (found := PUSH_FAILED.match(text)) is not None:
        error = found["error"]
        reason = next((r for words, r in REASONS if words in error), OTHER_REASON)
        out.update(event="push_failed", client_id=found["client_id"], error=error, reason=reason)
        if room is not None:
            out["room"] = room["room"]
    elif (found := NOT_FOUND.match(text)) is not None:
        out.update(event="push_dropped", client_id=found["client_id"], reason=CLIENT_NOT_FOUND, node=found["node"])
    elif (found := PROXY_FULL.match(text)) is not None:
        out.update(event="push_dropped", client_id=found["client_id"], reason=CLIENT_BUFFER_FULL)
    return out


def translate_lines(lines: Iterable[str]) -> list[dict[str, Any]]:
    return [translate(line) for line in lines if line.strip()]


def translate_file(raw: Path, out: Path) -> int:
    """Write ``raw`` (Goverse's output) as JSON lines into ``out``; the lines written."""
    records = translate_lines(raw.read_text(encoding="utf-8", errors="replace").splitlines())
    with open(out, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record) + "\n")
    return len(records)
