"""The names the system promises to whoever reads its logs and metrics.

A push failure's ``reason`` is both the field of its log line and the
label of its counter (:func:`push_log_level` says the line's level); the chaos checker matches them by these names, so
they are defined here once (docs/architecture.md, "Log events"); so is the
form of every line's ``ts``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

# node: pushchat_push_failed_total{reason}, each logged as push_failed
MALFORMED_CLIENT_ID = "malformed_client_id"
GATE_NOT_CONNECTED = "gate_not_connected"
GATE_BUFFER_FULL = "gate_buffer_full"
GATE_DISCONNECTED = "gate_disconnected"  # queued, then the gate's stream ended before it was sent
NODE_FAILURE_REASONS: tuple[str, ...] = (MALFORMED_CLIENT_ID, GATE_NOT_CONNECTED, GATE_BUFFER_FULL, GATE_DISCONNECTED)

# gate: pushchat_push_dropped_total{reason}, each logged as push_dropped
CLIENT_BUFFER_FULL = "client_buffer_full"
CLIENT_NOT_FOUND = "client_not_found"
CLIENT_DISCONNECTED = "client_disconnected"  # queued, then the client's stream ended before it was sent
GATE_DROP_REASONS: tuple[str, ...] = (CLIENT_BUFFER_FULL, CLIENT_NOT_FOUND, CLIENT_DISCONNECTED)
#: drops that are the client's own doing (it left, or its stream ended): routine, so logged at INFO, as
#: WARNING is for the server's own trouble; counted like every other
ROUTINE_DROPS: frozenset[str] = frozenset({CLIENT_NOT_FOUND, CLIENT_DISCONNECTED})

PUSH_FAILURE_REASONS: tuple[str, ...] = NODE_FAILURE_REASONS + GATE_DROP_REASONS

# objects: a room's object id is this prefix and its name
ROOM_PREFIX = "ChatRoom-"

# fault points' specs (system.faultpoints; the harness's fault kinds check them without importing gRPC)
FAULT_WHEN: tuple[str, ...] = ("before", "after")  # an abort or a store failure: before the work or after it
#: gRPC status names but OK, literally: this module imports no gRPC (tests check it against grpc.StatusCode).
STATUS_CODES: tuple[str, ...] = (
    "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED")

def push_log_level(reason: str) -> int:
    """The level of a ``push_failed`` / ``push_dropped`` line: INFO for a routine drop, else WARNING."""
    return logging.INFO if reason in ROUTINE_DROPS else logging.WARNING


# every log line's ``ts``: ISO 8601 local time with its UTC offset, to the microsecond, always that wide
# ("2025-01-01T12:00:00.123456+01:00"), so the lines of one offset sort as text; ts_seconds() reads it back.


def log_ts(seconds: float) -> str:
    """Unix ``seconds`` as a log line's ``ts``."""
    return datetime.fromtimestamp(seconds, timezone.utc).astimezone().isoformat(timespec="microseconds")


def ts_seconds(value: Any) -> float | None:
    """A log line's ``ts`` as unix seconds (also a number, as logs before ISO 8601 had it); None if neither."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None
