"""A proxy: a named listener forwarding each accepted connection to its upstream.

Disabling or deleting a proxy closes its listener and every connection, as
in the real server; a new address restarts it. One connection's work is in
``connection.py``, one direction's in ``pipe.py``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from . import jsonlog
from .address import bind_listener, format_addr
from .connection import Connection
from .decode import ApiError
from .toxicset import DOWNSTREAM, UPSTREAM, ToxicSet

__all__ = ["Proxy", "ERR_ALREADY_STARTED", "DIAL_TIMEOUT"]

ERR_ALREADY_STARTED = "proxy already started"

#: Seconds a connection's dial of its upstream may take (the real server waits for the OS: minutes).
DIAL_TIMEOUT = 10.0


class Proxy:
    """A named listener that forwards every accepted connection to ``upstream``."""

    def __init__(self, name: str, listen: str, upstream: str, dial_timeout: float = DIAL_TIMEOUT) -> None:
        self.name = name
        self.dial_timeout = dial_timeout
        self.listen = listen
        self.upstream = upstream
        self.enabled = False
        self.toxics = ToxicSet()
        self.connections: set[Connection] = set()
        self.closed_bytes = [[0, 0], [0, 0]]  # per direction: received, sent (closed connections)
        self._server: asyncio.AbstractServer | None = None

    def to_json(self) -> dict[str, Any]:
        # "Logger": the real Proxy's untagged *zerolog.Logger, which Go marshals as {}.
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream,
                "enabled": self.enabled, "Logger": {}, "toxics": self.toxics.to_json()}

    def byte_counts(self) -> list[list[int]]:
        """Per direction ``[received, sent]``, closed and open connections together."""
        counts = [list(pair) for pair in self.closed_bytes]
        for direction in (UPSTREAM, DOWNSTREAM):
            for pipe in self.toxics.pipes[direction]:
                counts[direction][0] += pipe.received  # type: ignore[attr-defined]
                counts[direction][1] += pipe.sent  # type: ignore[attr-defined]
        return counts

    async def start(self) -> None:
        if self.enabled:
            raise ApiError(ERR_ALREADY_STARTED, 500)
        sock = await bind_listener(self.listen)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Connection(self, self.dial_timeout).client, sock=sock)
        self.listen = format_addr(sock.getsockname())
        self.enabled = True
        jsonlog.event(logging.INFO, "proxy_started", proxy=self.name, listen=self.listen,
                      upstream=self.upstream)

    def stop(self) -> None:
        """Stop listening and close every connection (the client sees EOF)."""
        if not self.enabled:
            return
        self.enabled = False
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.connections):
            conn.abort()
        jsonlog.event(logging.INFO, "proxy_stopped", proxy=self.name, listen=self.listen)

    async def update(self, listen: str, upstream: str, enabled: bool) -> None:
        """Partial update: a new address restarts the proxy; ``enabled`` starts or stops it."""
        if listen != self.listen or upstream != self.upstream:
            self.stop()
            self.listen, self.upstream = listen, upstream
        if enabled != self.enabled:
            if enabled:
                await self.start()
            else:
                self.stop()
