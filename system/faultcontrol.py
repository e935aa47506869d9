"""The fault points' control endpoint: HTTP/JSON on a loopback address, for the chaos harness.

``pushchat node|gate --fault-control 127.0.0.1:0`` serves it (the start-up
line gives its port as ``fault_control_port``); it never listens beyond
the loopback interface, since whoever reaches it can break the process.

- ``GET /faults``: ``{"faults": [spec…], "active": N}``
- ``POST /faults`` with a spec (:class:`system.faultpoints.FaultSpec`): 201 and the spec
- ``DELETE /faults/ID``: 204, or 404
- ``DELETE /faults``: every fault cleared, 204

A bad request gets 400 and ``{"error": "one line"}``; the process keeps serving.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
from typing import Any

from aiohttp import web

from system import listen
from system.faultpoints import FaultPoints, FaultSpec, FaultSpecError, specs_json


def check_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` for the endpoint; only a loopback host is accepted (:class:`listen.CannotListen` else)."""
    host, port = listen.parse(text)
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise listen.CannotListen(text, "the fault control endpoint listens on a loopback address only",
                                  "fault control")
    return host, port


def add_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fault-control", type=_address, metavar="HOST:PORT",
                        help="turn the in-process fault points on, controlled over HTTP at this loopback address "
                             "(port 0: any free port, given as fault_control_port in the start-up line); for chaos "
                             "testing only (default: off)")


def _address(text: str) -> str:
    try:
        check_address(text)
    except listen.CannotListen as exc:
        raise argparse.ArgumentTypeError(exc.reason) from None
    return text


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class FaultControl:
    """Serve ``points`` over HTTP on ``address`` (port 0: any free one); ``port`` once started."""

    def __init__(self, points: FaultPoints, address: str) -> None:
        self.points = points
        self.address = address
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        host, port = check_address(self.address)
        app = web.Application()
        app.add_routes([web.get("/faults", self._list), web.post("/faults", self._add),
                        web.delete("/faults", self._clear), web.delete("/faults/{id}", self._remove)])
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=False)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            raise listen.CannotListen(self.address, listen.reason(exc),
                                      "fault control") from None
        server = site._server  # noqa: SLF001 - aiohttp offers no public way to read a port-0 bind
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response({"faults": specs_json(self.points.specs()), "active": self.points.active})

    async def _add(self, request: web.Request) -> web.Response:
        try:
            doc: Any = json.loads(await request.text())
        except ValueError as exc:
            return _error(400, f"the body is not JSON: {exc}")
        try:
            spec = FaultSpec.from_json(doc)
            self.points.add(spec)
        except FaultSpecError as exc:
            return _error(400, str(exc))
        return web.json_response(spec.to_json(), status=201)

    async def _remove(self, request: web.Request) -> web.Response:
        if not self.points.remove(request.match_info["id"]):
            return _error(404, f"no fault {request.match_info['id']!r}")
        return web.Response(status=204)

    async def _clear(self, request: web.Request) -> web.Response:
        self.points.clear()
        return web.Response(status=204)
