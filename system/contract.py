"""The names the system promises to whoever reads its logs and metrics.

A push failure's ``reason`` is both the field of its WARNING line and the
label of its counter; the chaos checker matches them by these names, so
they are defined here once (docs/architecture.md, "Log events").
"""

from __future__ import annotations

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

PUSH_FAILURE_REASONS: tuple[str, ...] = NODE_FAILURE_REASONS + GATE_DROP_REASONS

# objects: a room's object id is this prefix and its name
ROOM_PREFIX = "ChatRoom-"

# fault points' specs (system.faultpoints; the harness's fault kinds check them without importing gRPC)
FAULT_WHEN: tuple[str, ...] = ("before", "after")  # an abort or a store failure: before the work or after it
#: gRPC status names but OK, literally: this module imports nothing (tests check it against grpc.StatusCode).
STATUS_CODES: tuple[str, ...] = (
    "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED")
