"""The fault points' control endpoint: HTTP/JSON on a loopback address, for the chaos harness.

``pushchat node|gate --fault-control 127.0.0.1:0`` serves it (the start-up
line gives its port as ``fault_control_port``); it never listens beyond
the loopback interface, since whoever reaches it can break the process.

- ``GET /faults``: ``{"faults": [spec…], "active": N}``
- ``POST /faults`` with a spec (:class:`system.faultpoints.FaultSpec`): 201 and the spec
- ``DELETE /faults/ID``: 204, or 404
- ``DELETE /faults``: every fault cleared, 204

A bad request gets 400 and ``{"error": "one line"}``; the process keeps serving.

Browsers are refused (:func:`browser_refusal`), since a web page the operator visits can make its
browser send requests to a loopback port (a form's cross-site ``text/plain`` POST needs no
permission): as Toxiproxy's API does, a ``User-Agent`` starting ``Mozilla/`` gets 403; so does an
``Origin`` other than the endpoint's own, which only a browser sends; and a POST or PUT, or any
request with a body, must say ``Content-Type: application/json`` (415), which no page can send
cross-site without the CORS permission this endpoint never grants.

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
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping

from system import listen
from system.faultpoints import FaultPoints, FaultSpec, FaultSpecError, specs_json

Answer = tuple[int, Any]  # status, JSON body (None: no body)
MAX_BODY = 64 * 1024  # a fault spec is a few hundred bytes


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


def own_origins(host: str, port: int) -> frozenset[str]:
    """The ``Origin`` values of the endpoint itself at ``host:port`` (a loopback host, by any of its names)."""
    hosts = {host, "localhost"} | ({"127.0.0.1"} if host in ("localhost", "127.0.0.1") else set())
    return frozenset(f"http://{f'[{h}]' if ':' in h else h}:{port}" for h in hosts)


def browser_refusal(method: str, headers: Mapping[str, str] | Message, origins: frozenset[str]) -> Answer | None:
    """Why a request looks browser-made (403 or 415, and one line saying so); None if it does not.
    ``headers``: the HTTP server's (whose ``get`` ignores case), or a mapping with canonical names."""
    agent = headers.get("User-Agent") or ""
    if agent.startswith("Mozilla/"):
        return 403, {"error": "User agent not allowed: browsers may not control fault points "
                              "(the endpoint is for the chaos harness, as Toxiproxy's API is)"}
    origin = headers.get("Origin")
    if origin is not None and origin not in origins:
        return 403, {"error": f"cross-origin request refused: Origin {origin[:100]!r} is not this endpoint's own"}
    content_type = headers.get("Content-Type")
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if (method in ("POST", "PUT") or content_type is not None) and media != "application/json":
        said = f"not {content_type[:100]!r}" if content_type is not None else "none was given"
        return 415, {"error": f"a {method} here needs Content-Type: application/json; {said}"}
    return None


class FaultControl:
    """Serve ``points`` over HTTP on ``address`` (port 0: any free one); ``port`` once started."""

    def __init__(self, points: FaultPoints, address: str) -> None:
        self.points = points
        self.address = address
        self.port: int | None = None
        self._http: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._origins: frozenset[str] = frozenset()

    async def start(self) -> int:
        host, port = check_address(self.address)
        loop = asyncio.get_running_loop()
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            server_class = type("Server", (ThreadingHTTPServer,), {"address_family": family,
                                                                   "allow_reuse_address": False})
            self._http = server_class((host, port), _handler(lambda *request: self._answer(loop, *request),
                                                             lambda: self._origins))
        except OSError as exc:
            raise listen.CannotListen(self.address, listen.reason(exc), "fault control") from None
        self._http.daemon_threads = True
        self.port = int(self._http.server_address[1])
        self._origins = own_origins(host, self.port)
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


def _handler(answer: Callable[[str, str, bytes], Answer],
             origins: Callable[[], frozenset[str]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            refused = browser_refusal(self.command, self.headers, origins())
            if refused is None and not 0 <= length <= MAX_BODY:
                refused = (413 if length > 0 else 400), {"error": f"want a Content-Length of 0-{MAX_BODY} bytes"}
            if refused is not None:
                self._discard(length)
                status, doc = refused
            else:
                status, doc = answer(self.command, self.path, self.rfile.read(length) if length else b"")
            data = b"" if doc is None else json.dumps(doc).encode() + b"\n"
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def _discard(self, length: int) -> None:
            """Read and drop a refused body (closing on unread bytes would reset the connection, answer and
            all); one too long to be worth reading closes the connection after the answer instead."""
            if not 0 <= length <= 16 * MAX_BODY:
                self.close_connection = True
                return
            while length > 0:
                chunk = self.rfile.read(min(length, MAX_BODY))
                if not chunk:
                    break
                length -= len(chunk)

        do_GET = do_POST = do_DELETE = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - a library never prints
            pass

    return Handler
