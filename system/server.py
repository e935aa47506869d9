"""What a node and a gate share as in-process servers: bind, serve metrics, serve, stop.

Start-up is always in this order: bind the service port (a taken one is
refused, :class:`listen.CannotListen`), serve metrics, get ready (the node
opens its store and creates its objects), serve; anything that fails stops
what was started. So by the announce line every part is up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol

import grpc

from system import listen
from system.faultcontrol import FaultControl
from system.faultpoints import FaultPoints
from system.grpcopts import Keepalive
from system.metrics import Metrics
from system.tls import ServerTls


class ServerConfig(Protocol):
    listen: str
    advertise: str | None             # default: the bound host:port
    keepalive: Keepalive
    metrics_port: int | None          # None: no HTTP endpoint; 0: any free port
    metrics_host: str
    tls: ServerTls | None             # serve TLS (None: plaintext)
    fault_control: str | None         # None: fault points off; else the loopback HOST:PORT controlling them


class Server:
    """One gRPC server and its metrics: ``await start()``, ``port``, ``addr``, ``advertise``, ``await stop()``."""

    def __init__(self, config: ServerConfig, component: str) -> None:
        self.config = config
        self.metrics = Metrics(component)
        self.server: grpc.aio.Server | None = None
        self.port = 0
        self.advertise = ""
        # In-process fault points (system.faultpoints): off unless a control address is configured.
        control = getattr(config, "fault_control", None)
        self.faults = FaultPoints(component, self.metrics.registry, enabled=control is not None)
        self.fault_control = FaultControl(self.faults, control) if control is not None else None
        self._background: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``work`` in a task of its own, held until it ends: the event loop keeps only weak references."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    @property
    def addr(self) -> str:
        return f"{self.config.listen.rsplit(':', 1)[0]}:{self.port}"

    def bind(self) -> int:
        """Take the port (a taken one is refused: :class:`listen.CannotListen`); ``start()`` serves it."""
        if self.server is None:
            server = grpc.aio.server(options=self.config.keepalive.server_options() + listen.SERVER_OPTIONS)
            self._add_servicers(server)
            tls = self.config.tls
            self.port = listen.bind(server, self.config.listen, tls.credentials() if tls else None)
            self.server = server
            self.advertise = self.config.advertise or self.addr
        return self.port

    async def start(self) -> None:
        """Bind, serve metrics, get ready, serve; on any failure, stop what was started and raise."""
        self.bind()
        assert self.server is not None
        self.metrics.watch_tasks(asyncio.get_running_loop())
        try:
            if self.config.metrics_port is not None:
                self.metrics.serve(self.config.metrics_port, self.config.metrics_host)
            if self.fault_control is not None:
                await self.fault_control.start()
            await self._prepare()
            await self.server.start()
        except BaseException:
            await self.stop(None)
            raise
        self._serving()

    async def stop(self, grace: float | None = 1.0) -> None:
        """Stop taking work, stop the server (calls get ``grace`` seconds), release the rest."""
        await self._stopping()
        if self.server is not None:
            await self.server.stop(grace)
        await self._stopped()
        if self.fault_control is not None:
            await self.fault_control.stop()
        self.metrics.close()

    def announced(self) -> dict[str, object]:
        """What the start-up line adds for this server: the fault control port, when it has one."""
        return {"fault_control_port": self.fault_control.port} if self.fault_control is not None else {}

    # -- what each server adds --------------------------------------------------------------
    def _add_servicers(self, server: grpc.aio.Server) -> None:
        raise NotImplementedError

    async def _prepare(self) -> None:
        """After bind and metrics, before serving: what must be ready by the announce line."""

    def _serving(self) -> None:
        """The server serves."""

    async def _stopping(self) -> None:
        """Before the server stops: end the streams, take no more work."""

    async def _stopped(self) -> None:
        """After the server stopped: release what the calls used."""
