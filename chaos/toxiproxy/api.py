"""The HTTP API, on aiohttp: the routes, status codes and bodies of Toxiproxy 2.12.

Successful bodies are compact JSON (Go's ``json.Marshal``); errors are
``{"error": ..., "status": ...}`` plus a newline with a text/plain content
type (Go's ``http.Error``). Every response of a route carries
``X-Toxiproxy-Request-Id``; what the router answers by itself (a redirect to
the cleaned path, ``404 page not found``, an empty 405) carries none, as the
real server's middlewares run only once a route matched. Our own addition is
one response header on routes, ``X-Toxiproxy-Extensions``, listing the
extension toxics, so clients can tell this server from the real one without
any change to the standard JSON.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
from typing import Any, Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from . import EXTENSIONS_HEADER, VERSION, jsonlog
from .collection import PopulateError, ProxyCollection
from .decode import ApiError, parse_body
from .toxics import offered_extensions
from .toxicset import ToxicSpec

__all__ = ["make_app", "EXTENSIONS_HEADER", "REQUEST_ID_HEADER"]

REQUEST_ID_HEADER = "X-Toxiproxy-Request-Id"
_TEXT = "text/plain; charset=utf-8"
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_B32 = "0123456789abcdefghijklmnopqrstuv"
_counter = itertools.count(int.from_bytes(os.urandom(3), "big"))
_machine = os.urandom(3)


def request_id() -> str:
    """A 20-character id shaped like the xid the real server uses (time, machine, pid, counter)."""
    raw = (int(time.time()).to_bytes(4, "big") + _machine + (os.getpid() & 0xFFFF).to_bytes(2, "big")
           + (next(_counter) & 0xFFFFFF).to_bytes(3, "big"))
    bits = int.from_bytes(raw, "big") << 4  # 96 bits -> 100 bits = 20 base32 digits
    return "".join(_B32[(bits >> shift) & 31] for shift in range(95, -5, -5))


def go_json(value: Any) -> str:
    """JSON the way Go's encoder writes it: compact, with <, > and & escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=go_json(value).encode(),
                        headers={"Content-Type": "application/json"})


def text_error(body: str, status: int) -> web.Response:
    return web.Response(status=status, body=body.encode(),
                        headers={"Content-Type": _TEXT, "X-Content-Type-Options": "nosniff"})


def api_error(exc: ApiError) -> web.Response:
    return text_error(go_json(exc.to_json()) + "\n", exc.status)


def clean_path(path: str) -> str:
    """The canonical form gorilla/mux redirects to: Go's ``path.Clean``, keeping a trailing slash."""
    rooted = path if path.startswith("/") else "/" + path
    parts: list[str] = []
    for segment in rooted.split("/"):
        if segment == "..":
            if parts:
                parts.pop()
        elif segment not in ("", "."):
            parts.append(segment)
    cleaned = "/" + "/".join(parts)
    return cleaned + "/" if rooted.endswith("/") and cleaned != "/" else cleaned


def _redirect_target(request: web.Request, cleaned: str) -> str:
    """Go's ``url.String()`` of the request URL with the cleaned path: escaped path, raw query kept."""
    _, has_query, query = request.raw_path.partition("?")
    return quote(cleaned, safe="/$&+,:;=@") + (f"?{query}" if has_query else "")


@web.middleware
async def _routing(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """What the router answers before any middleware runs, and the debug line of every request."""
    start = time.monotonic()
    cleaned = clean_path(request.path)
    failed = request.match_info.http_exception
    if cleaned != request.path:
        response: web.StreamResponse = web.Response(
            status=301, headers={"Location": _redirect_target(request, cleaned)})
    elif isinstance(failed, web.HTTPMethodNotAllowed):
        response = web.Response(status=405)
    elif failed is not None:
        response = text_error("404 page not found\n", 404)
    else:
        response = await handler(request)
    jsonlog.event(logging.DEBUG, "api_request", request_id=request.get(REQUEST_ID_HEADER),
                  method=request.method, path=request.path, status=response.status,
                  duration_ms=round((time.monotonic() - start) * 1000, 3))
    return response


@web.middleware
async def _request_ids(request: web.Request, handler: _Handler) -> web.StreamResponse:
    request[REQUEST_ID_HEADER] = rid = request_id()
    response = await handler(request)
    response.headers[REQUEST_ID_HEADER] = rid
    if extensions := offered_extensions():
        response.headers[EXTENSIONS_HEADER] = ",".join(extensions)
    return response


@web.middleware
async def _browser_guard(request: web.Request, handler: _Handler) -> web.StreamResponse:
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        return text_error("User agent not allowed\n", 403)
    return await handler(request)


@web.middleware
async def _errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return api_error(exc)
    except web.HTTPException:
        raise
    except Exception as exc:  # keep serving; report like Go's untyped errors
        jsonlog.exception("api_failed", method=request.method, path=request.path)
        return api_error(ApiError(str(exc), 500))


async def _no_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """Go's server names no software; aiohttp would add ``Server: Python/... aiohttp/...``."""
    response.headers.popall("Server", None)


def _log_toxic(event: str, proxy: str, spec: ToxicSpec) -> None:
    jsonlog.event(logging.INFO, event, proxy=proxy, toxic=spec.name, type=spec.type,
                  stream=spec.stream, toxicity=spec.toxicity, attributes=spec.toxic.attributes())


async def _body(request: web.Request) -> Any:
    return parse_body(await request.read())


def make_app(collection: ProxyCollection, metrics: Callable[[], tuple[bytes, str]] | None = None
             ) -> web.Application:
    """The API over ``collection``; ``/metrics`` exists only when ``metrics`` renders them."""

    async def proxy_index(request: web.Request) -> web.Response:
        return json_response(collection.to_json())

    async def proxy_create(request: web.Request) -> web.Response:
        proxy = await collection.create(await _body(request))
        return json_response(proxy.to_json(), 201)

    async def populate(request: web.Request) -> web.Response:
        # Go marshals an empty list of proxies as null: {"proxies":null}, even on success.
        try:
            done = await collection.populate(await _body(request))
        except ApiError as exc:  # the body did not parse
            return json_response({**exc.to_json(), "proxies": None}, exc.status)
        except PopulateError as exc:
            created = [p.to_json() for p in exc.created or ()] or None
            return json_response({**exc.error.to_json(), "proxies": created}, exc.error.status)
        return json_response({"proxies": [p.to_json() for p in done] or None}, 201)

    async def proxy_show(request: web.Request) -> web.Response:
        return json_response(collection.get(request.match_info["proxy"]).to_json())

    async def proxy_update(request: web.Request) -> web.Response:
        name = request.match_info["proxy"]
        collection.get(name)
        proxy = await collection.update(name, await _body(request))
        return json_response(proxy.to_json())

    async def proxy_delete(request: web.Request) -> web.Response:
        await collection.delete(request.match_info["proxy"])
        return web.Response(status=204)

    async def toxic_index(request: web.Request) -> web.Response:
        return json_response(collection.get(request.match_info["proxy"]).toxics.to_json())

    async def toxic_create(request: web.Request) -> web.Response:
        proxy = collection.get(request.match_info["proxy"])
        spec = await proxy.toxics.add(await _body(request))
        _log_toxic("toxic_added", proxy.name, spec)
        return json_response(spec.to_json())

    async def toxic_show(request: web.Request) -> web.Response:
        proxy = collection.get(request.match_info["proxy"])
        return json_response(proxy.toxics.get(request.match_info["toxic"]).to_json())

    async def toxic_update(request: web.Request) -> web.Response:
        proxy = collection.get(request.match_info["proxy"])
        proxy.toxics.get(request.match_info["toxic"])
        spec = await proxy.toxics.update(request.match_info["toxic"], await _body(request))
        _log_toxic("toxic_updated", proxy.name, spec)
        return json_response(spec.to_json())

    async def toxic_delete(request: web.Request) -> web.Response:
        proxy = collection.get(request.match_info["proxy"])
        spec = await proxy.toxics.remove(request.match_info["toxic"])
        _log_toxic("toxic_removed", proxy.name, spec)
        return web.Response(status=204)

    async def reset(request: web.Request) -> web.Response:
        await collection.reset()
        jsonlog.event(logging.INFO, "reset")
        return web.Response(status=204)

    async def version(request: web.Request) -> web.Response:
        return web.Response(body=f'{{"version": "{VERSION}"}}\n'.encode(),
                            headers={"Content-Type": "application/json;charset=utf-8"})

    app = web.Application(middlewares=[_routing, _request_ids, _browser_guard, _errors])
    app.on_response_prepare.append(_no_server_header)
    routes = [
        web.post("/reset", reset),
        web.get("/proxies", proxy_index, allow_head=False),
        web.post("/proxies", proxy_create),
        web.post("/populate", populate),
        web.get("/proxies/{proxy}", proxy_show, allow_head=False),
        web.post("/proxies/{proxy}", proxy_update),
        web.patch("/proxies/{proxy}", proxy_update),
        web.delete("/proxies/{proxy}", proxy_delete),
        web.get("/proxies/{proxy}/toxics", toxic_index, allow_head=False),
        web.post("/proxies/{proxy}/toxics", toxic_create),
        web.get("/proxies/{proxy}/toxics/{toxic}", toxic_show, allow_head=False),
        web.post("/proxies/{proxy}/toxics/{toxic}", toxic_update),
        web.patch("/proxies/{proxy}/toxics/{toxic}", toxic_update),
        web.delete("/proxies/{proxy}/toxics/{toxic}", toxic_delete),
        web.get("/version", version, allow_head=False),
    ]
    if metrics is not None:
        async def metrics_handler(request: web.Request) -> web.Response:
            body, content_type = metrics()
            return web.Response(body=body, headers={"Content-Type": content_type})

        routes.append(web.route("*", "/metrics", metrics_handler))  # any method, as the real one
    app.add_routes(routes)
    return app
