"""Client ids: ``<gate advertise address>/<unique id>``, as Goverse makes them.

The gate address lets a node route a push to the right gate without any
client registry; the unique id is 20 URL-safe base64 characters (8 bytes of
microsecond time and 7 random bytes), like Goverse's.
"""

from __future__ import annotations

import base64
import os
import re
import time

UNIQUE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
GATE_ADDR_RE = re.compile(r"^[A-Za-z0-9._\-\[\]:]+:\d{1,5}$")


class MalformedClientId(ValueError):
    """The id is not ``host:port/unique``."""


def new_unique_id() -> str:
    raw = time.time_ns().__floordiv__(1000).to_bytes(8, "big") + os.urandom(7)
    return base64.urlsafe_b64encode(raw).decode("ascii")


def make(gate_addr: str, unique_id: str | None = None) -> str:
    return f"{gate_addr}/{unique_id or new_unique_id()}"


def parse(client_id: str) -> tuple[str, str]:
    """Split a client id into (gate address, unique id) or raise MalformedClientId."""
    if not isinstance(client_id, str) or client_id.count("/") != 1:
        raise MalformedClientId(f"malformed client id {client_id!r}: want 'host:port/uniqueId'")
    gate_addr, unique = client_id.split("/")
    if not GATE_ADDR_RE.match(gate_addr) or not UNIQUE_ID_RE.match(unique):
        raise MalformedClientId(f"malformed client id {client_id!r}: want 'host:port/uniqueId'")
    return gate_addr, unique
