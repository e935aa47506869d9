"""The fault points' control endpoint: HTTP/JSON on a loopback address, for the chaos harness.

``pushchat node|gate --fault-control 127.0.0.1:0`` serves it (the start-up
line gives its port as ``fault_control_port``); it never listens beyond
the loopback interface, since whoever reaches it can break the process.

- ``GET /faults``: ``{"faults": [spec…], "active": N}``
- ``POST /faults`` with a spec (:class:`system.faultpoints.FaultSpec`): 201 and the spec
- ``DELETE /faults/ID``: 204, or 404
- ``DELETE /faults``: every fault cleared, 204

A bad request gets 400 and ``{"error": "one line"}``; the process keeps serving.

The standard library's HTTP server, in a thread of its own (as the metrics
endpoint), hands each request to the event loop the fault points live on:
a server start pays no web framework's import for an endpoint used only
under test.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from system import listen
from system.faultpoints import FaultPoints, FaultSpec, FaultSpecError, specs_json

Answer = tuple[int, Any]  # status, JSON body (None: no body)


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


class FaultControl:
    """Serve ``points`` over HTTP on ``address`` (port 0: any free one); ``port`` once started."""

    def __init__(self, points: FaultPoints, address: str) -> None:
        self.points = points
        self.address = address
        self.port: int | None = None
        self._http: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    async def start(self) -> int:
        host, port = check_address(self.address)
        loop = asyncio.get_running_loop()
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            server_class = type("Server", (ThreadingHTTPServer,), {"address_family": family,
                                                                   "allow_reuse_address": False})
            self._http = server_class((host, port), _handler(lambda *request: self._answer(loop, *request)))
        except OSError as exc:
            raise listen.CannotListen(self.address, listen.reason(exc), "fault control") from None
        self._http.daemon_threads = True
        self.port = int(self._http.server_address[1])
        self._thread = threading.Thread(target=self._http.serve_forever, name="fault-control", daemon=True)
        self._thread.start()
        return self.port

    async def stop(self) -> None:
        if self._http is not None:
            server, self._http = self._http, None
            await asyncio.to_thread(server.shutdown)
            server.server_close()

    def _answer(self, loop: asyncio.AbstractEventLoop, method: str, path: str, body: bytes) -> Answer:
        """In the HTTP thread: run the request on the event loop, wait for its answer."""
        async def on_loop() -> Answer:
            return self._route(method, path, body)
        try:
            return asyncio.run_coroutine_threadsafe(on_loop(), loop).result(timeout=10)
        except Exception as exc:  # noqa: BLE001 - the loop is closing: say so rather than hang
            return 503, {"error": f"not available: {type(exc).__name__}"}

    def _route(self, method: str, path: str, body: bytes) -> Answer:
        """On the event loop: the fault points change only there."""
        parts = [p for p in path.split("?", 1)[0].split("/") if p]
        if parts[:1] != ["faults"] or len(parts) > 2:
            return 404, {"error": f"no such resource {path!r} (try /faults)"}
        if method == "GET" and len(parts) == 1:
            return 200, {"faults": specs_json(self.points.specs()), "active": self.points.active}
        if method == "POST" and len(parts) == 1:
            try:
                spec = FaultSpec.from_json(json.loads(body or b"null"))
                self.points.add(spec)
            except ValueError as exc:  # FaultSpecError, or bad JSON
                message = str(exc) if isinstance(exc, FaultSpecError) else f"the body is not JSON: {exc}"
                return 400, {"error": message}
            return 201, spec.to_json()
        if method == "DELETE" and len(parts) == 1:
            self.points.clear()
            return 204, None
        if method == "DELETE":
            return (204, None) if self.points.remove(parts[1]) else (404, {"error": f"no fault {parts[1]!r}"})
        return 405, {"error": f"{method} is not allowed on {path}"}


def _handler(answer: Callable[[str, str, bytes], Answer]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, doc = answer(self.command, self.path, self.rfile.read(length) if length else b"")
            data = b"" if doc is None else json.dumps(doc).encode() + b"\n"
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - a library never prints
            pass

    return Handler
