"""The whole server: API site, proxy collection, optional config and metrics, shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from . import jsonlog
from .address import bind_listener, format_addr
from .api import make_app
from .collection import PopulateError, ProxyCollection
from .decode import ApiError, parse_body
from .proxy import DIAL_TIMEOUT

__all__ = ["Server", "serve"]


class Server:
    """The API and its proxies in one event loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8474, metrics: bool = False,
                 dial_timeout: float = DIAL_TIMEOUT) -> None:
        self.host = host
        self.port = port
        self.collection = ProxyCollection(dial_timeout)
        self.metrics = metrics
        self.addr = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Bind the API (port 0 picks a free port) and return its ``host:port``."""
        renderer = None
        if self.metrics:
            from .metrics import MetricsRenderer
            renderer = MetricsRenderer(self.collection)
        self._runner = web.AppRunner(make_app(self.collection, renderer), access_log=None,
                                     handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = await bind_listener(f"[{self.host}]:{self.port}" if ":" in self.host
                                   else f"{self.host}:{self.port}")
        await web.SockSite(self._runner, sock).start()
        self.addr = format_addr(sock.getsockname())
        jsonlog.event(logging.INFO, "api_started", addr=self.addr, metrics=self.metrics)
        return self.addr

    async def load_config(self, path: str) -> None:
        """Populate from a file at start; a bad file is logged, not fatal (as in the real one)."""
        try:
            with open(path, "rb") as fh:
                proxies = await self.collection.populate(parse_body(fh.read()))
        except (OSError, ApiError) as exc:
            jsonlog.event(logging.ERROR, "config_failed", config=path, error=str(exc))
        except PopulateError as exc:
            jsonlog.event(logging.ERROR, "config_failed", config=path, error=exc.error.message)
        else:
            jsonlog.event(logging.INFO, "config_loaded", config=path, proxies=len(proxies))

    async def close(self) -> None:
        await self.collection.close()
        if self._runner is not None:
            await self._runner.cleanup()


def _route_library_logs() -> None:
    """aiohttp and asyncio complaints go out as JSON lines too, never as plain text."""
    handlers = jsonlog.logger.handlers
    for name in ("aiohttp", "asyncio"):
        logger = logging.getLogger(name)
        logger.handlers = list(handlers)
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    for handler in handlers:  # a filter on the handler: aiohttp.server's records propagate to it
        if not any(isinstance(f, _BadRequests) for f in handler.filters):
            handler.addFilter(_BadRequests())


class _BadRequests(logging.Filter):
    """A request aiohttp cannot even parse (garbage method, broken header) is the caller's mistake: it was
    answered 400, so it is one WARNING line ``bad_http_request``, not an ERROR with aiohttp's traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= (exc.code or 0) < 500:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args, record.exc_info, record.exc_text = "bad_http_request", (), None, None
            record.fields = {"status": exc.code, "error": str(exc.message).strip().splitlines()[0][:200]}
        return True


async def _watch_parent(stop: asyncio.Event) -> None:
    """Stop when the process that started us is gone (we were re-parented)."""
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    jsonlog.event(logging.WARNING, "parent_gone", parent=parent)
    stop.set()


async def serve(host: str, port: int, config: str | None = None, metrics: bool = False,
                exit_with_parent: bool = False, dial_timeout: float = DIAL_TIMEOUT, **announce: Any) -> int:
    """Run until SIGTERM/SIGINT (or the parent's death); print the start-up line once ready.

    An API address that cannot be bound (taken, unknown host) raises
    :class:`ApiError` with the real server's wording, for the caller to show.
    """
    _route_library_logs()
    server = Server(host, port, metrics, dial_timeout)
    try:
        addr = await server.start()
    except BaseException:
        await server.close()
        raise
    if config:
        await server.load_config(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watcher = loop.create_task(_watch_parent(stop)) if exit_with_parent else None
    jsonlog.announce(service="toxiproxy", addr=addr, pid=os.getpid(), **announce)
    await stop.wait()
    if watcher is not None:
        watcher.cancel()
    jsonlog.event(logging.INFO, "shutting_down")
    await server.close()
    return 0
