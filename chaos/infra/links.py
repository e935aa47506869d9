"""The one adapter the harness uses to put links behind Toxiproxy: ours or a real one.

Everything goes through ``toxiproxy-python`` where it can, and its known
flaws are fixed here and nowhere else:

- its API host and port are class attributes shared by the whole process:
  every call sets them for this instance under one lock;
- its requests have no timeout, and a 500 surfaces as ``KeyError``: while a
  call runs, the library's ``requests`` is swapped for a stand-in that adds
  a timeout and raises :class:`ToxiproxyError` carrying the server's error;
- it cannot update a toxic and its ``add_toxic`` returns nothing: update is
  one direct request, and ``add_toxic`` returns the toxic's name.

``Links.embedded()`` runs our server (``python -m chaos.toxiproxy``) as a
subprocess, so proxied traffic never competes with the caller for the GIL;
``Links.external(url)`` or ``TOXIPROXY_URL`` points at any Toxiproxy.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar
from urllib.parse import quote, urlsplit

import requests
import toxiproxy
import toxiproxy.api
import toxiproxy.exceptions
from toxiproxy.api import APIConsumer

from chaos.faults.kinds import STAND_INS
from chaos.toxiproxy import EXTENSIONS_HEADER
from chaos.toxiproxy.toxics import EXTENSIONS  # toxic types only our server has; README "Extensions"

__all__ = ["Links", "Link", "ToxiproxyError", "EXTENSIONS", "EXTENSIONS_HEADER", "STAND_INS"]

#: An extension toxic that standard toxics can stand in for on a server without extensions: (type, attributes).
#: ``stall`` → ``bandwidth`` at 1 KB/s, the least a real server paces to (rate 0 means unlimited there): its
#: stage sleeps on each chunk, its input channel is unbuffered, so the proxy stops reading the sender's socket
#: and the sender's buffers fill as under ``stall``, while about 1 KB/s still trickles through.

DEFAULT_TIMEOUT = 5.0

_API_LOCK = threading.RLock()
_T = TypeVar("_T")


class ToxiproxyError(RuntimeError):
    """A Toxiproxy call failed; ``status`` and ``server_error`` are the server's answer, if any."""

    def __init__(self, message: str, status: int | None = None, server_error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.server_error = server_error


class _Requests:
    """Stands in for the ``requests`` module inside toxiproxy-python while we call it."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.session = requests.Session()

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            raise ToxiproxyError(f"{method} {url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                message = str(response.json()["error"])
            except (ValueError, KeyError, TypeError):
                message = response.text.strip() or response.reason
            raise ToxiproxyError(f"{method} {urlsplit(url).path}: {response.status_code} {message}",
                                 response.status_code, message)
        return response

    def get(self, url: str, params: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, params=params, **kwargs)

    def post(self, url: str, data: Any = None, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, data=data, json=json, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self.session.close()


def _split_url(url: str) -> tuple[str, int]:
    parts = urlsplit(url if "//" in url else f"http://{url}")
    if not parts.hostname:
        raise ValueError(f"not a Toxiproxy URL: {url!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return host, parts.port or 8474


def _stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def _start_embedded(log_file: str | None, startup_timeout: float,
                    args: Sequence[str] = ()) -> tuple[subprocess.Popen, str]:
    """Start our server on a free port and read its start-up line."""
    cmd = [sys.executable, "-m", "chaos.toxiproxy", "--host", "127.0.0.1", "--port", "0",
           "--exit-with-parent", *args]
    if log_file:
        cmd += ["--log-file", str(log_file)]
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # the folder holding this ``chaos`` package
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, text=True)
    deadline = time.monotonic() + startup_timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ToxiproxyError(f"embedded toxiproxy did not start within {startup_timeout}s")
            ready, _, _ = select.select([proc.stdout], [], [], min(remaining, 0.5))
            if ready:
                line = proc.stdout.readline()  # type: ignore[union-attr]
                if not line:
                    raise ToxiproxyError(f"embedded toxiproxy exited with code {proc.wait()}")
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                if doc.get("event") == "listening":
                    return proc, str(doc["addr"])
            elif proc.poll() is not None:
                raise ToxiproxyError(f"embedded toxiproxy exited with code {proc.returncode}")
    except BaseException:
        _stop_process(proc)
        raise


class Links:
    """A Toxiproxy server the harness creates proxies ("links") on."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT,
                 process: subprocess.Popen | None = None) -> None:
        self.host, self.port = _split_url(url)
        self.url = f"http://{self.host}:{self.port}"
        self.process = process
        self._requests = _Requests(timeout)
        self._client = toxiproxy.Toxiproxy()
        self._extensions: bool | None = None
        self._finalizer = weakref.finalize(self, _stop_process, process) if process else None

    @property
    def runs_server(self) -> bool:
        """This instance started the server (``Links.embedded()``), and ``close()`` stops it."""
        return self._finalizer is not None

    # -- construction -----------------------------------------------------
    @classmethod
    def embedded(cls, log_file: str | os.PathLike | None = None, timeout: float = DEFAULT_TIMEOUT,
                 startup_timeout: float = 20.0, args: Sequence[str] = ()) -> "Links":
        """Start our server as a subprocess on a free port; ``close()`` stops it.

        ``args`` are extra server flags, e.g. ``["--metrics"]``.
        """
        proc, addr = _start_embedded(str(log_file) if log_file else None, startup_timeout, args)
        return cls(addr, timeout, proc)

    @classmethod
    def external(cls, url: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> "Links":
        """A server someone else runs: ``url`` or ``$TOXIPROXY_URL``."""
        url = url or os.environ.get("TOXIPROXY_URL")
        if not url:
            raise ToxiproxyError("no Toxiproxy URL: pass one or set TOXIPROXY_URL")
        return cls(url, timeout)

    @classmethod
    def from_env(cls, **kwargs: Any) -> "Links":
        """``$TOXIPROXY_URL`` if set, else our embedded server."""
        if os.environ.get("TOXIPROXY_URL"):
            return cls.external(timeout=kwargs.get("timeout", DEFAULT_TIMEOUT))
        return cls.embedded(**kwargs)

    def close(self) -> None:
        """Stop the embedded server, if this instance started one."""
        self._requests.close()
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> "Links":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calling the library safely ----------------------------------------
    def call(self, what: str, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` (toxiproxy-python calls) against this server; errors name ``what``."""
        with _API_LOCK:
            saved = APIConsumer.host, APIConsumer.port, toxiproxy.api.requests
            APIConsumer.host, APIConsumer.port = self.host, self.port
            toxiproxy.api.requests = self._requests  # type: ignore[assignment]
            try:
                return fn()
            except ToxiproxyError as exc:
                raise ToxiproxyError(f"{what}: {exc.server_error or exc}", exc.status,
                                     exc.server_error) from exc
            except (toxiproxy.exceptions.ProxyExists, toxiproxy.exceptions.NotFound,
                    toxiproxy.exceptions.InvalidToxic, KeyError, ValueError) as exc:
                raise ToxiproxyError(f"{what}: {exc}") from exc
            finally:
                APIConsumer.host, APIConsumer.port, toxiproxy.api.requests = saved

    def request(self, method: str, path: str, what: str, body: Any = None) -> requests.Response:
        """A direct API request, for what the library cannot do."""
        return self.call(what, lambda: self._requests.request(method, self.url + path, json=body))

    # -- server ---------------------------------------------------------------
    def version(self) -> str:
        return str(self.request("GET", "/version", "version").json()["version"])

    @property
    def supports_extensions(self) -> bool:
        """True only for our server: it names its extension toxics in a response header."""
        if self._extensions is None:
            response = self.request("GET", "/version", "version")
            offered = set(filter(None, response.headers.get(EXTENSIONS_HEADER, "").split(",")))
            self._extensions = EXTENSIONS <= offered
        return self._extensions

    def create(self, name: str, upstream: str, listen: str = "127.0.0.1:0", enabled: bool = True) -> "Link":
        """A new proxy; its ``listen`` comes back resolved (port 0 becomes the bound port)."""
        proxy = self.call(f"create proxy {name!r}", lambda: self._client.create(
            upstream=upstream, name=name, listen=listen, enabled=enabled))
        return Link(self, proxy)

    def create_many(self, wanted: Sequence[tuple[str, str, str]]) -> list["Link"]:
        """New proxies, (name, upstream, listen) each, in one ``POST /populate``; in ``wanted``'s order.

        One by one, toxiproxy-python lists every proxy before each create: 2,000 client proxies cost
        2,000 listings of up to 2,000 proxies (minutes of the server's and our CPU)."""
        body = [{"name": name, "upstream": upstream, "listen": listen, "enabled": True}
                for name, upstream, listen in wanted]
        made = self.request("POST", "/populate", f"create {len(body)} proxies", body).json().get("proxies") or []
        by_name = {p["name"]: p for p in made}
        missing = [name for name, _, _ in wanted if name not in by_name]
        if missing:
            raise ToxiproxyError(f"create {len(body)} proxies: none made for {missing[:3]} (of {len(missing)})")
        return [Link(self, toxiproxy.Proxy(**by_name[name])) for name, _, _ in wanted]

    def get(self, name: str) -> "Link":
        proxy = self.call(f"get proxy {name!r}", lambda: self._client.get_proxy(name))
        if proxy is None:
            raise ToxiproxyError(f"get proxy {name!r}: proxy not found", 404, "proxy not found")
        return Link(self, proxy)

    def proxies(self) -> dict[str, "Link"]:
        found = self.call("list proxies", self._client.proxies)
        return {name: Link(self, proxy) for name, proxy in found.items()}

    def reset(self) -> None:
        """Enable every proxy and remove every toxic (deletes nothing)."""
        self.call("reset", self._client.reset)

    def delete(self, name: str) -> None:
        self.request("DELETE", f"/proxies/{quote(name, safe='')}", f"delete proxy {name!r}")

    def delete_all(self) -> None:
        self.call("delete all proxies", self._client.destroy_all)


class Link:
    """One proxy: clients connect to ``host:port`` and reach ``upstream`` through its toxics."""

    def __init__(self, links: Links, proxy: toxiproxy.Proxy) -> None:
        self.links = links
        self._proxy = proxy

    @property
    def name(self) -> str:
        return str(self._proxy.name)

    @property
    def upstream(self) -> str:
        return str(self._proxy.upstream)

    @property
    def listen(self) -> str:
        return str(self._proxy.listen)

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def enabled(self) -> bool:
        return bool(self._proxy.enabled)

    def __repr__(self) -> str:
        return f"Link({self.name!r}, {self.listen} -> {self.upstream}, enabled={self.enabled})"

    def _path(self, *parts: str) -> str:
        return "/proxies/" + "/".join(quote(p, safe="") for p in (self.name, *parts))

    def add_toxic(self, type: str, stream: str = "downstream", attributes: dict[str, Any] | None = None,
                  name: str | None = None, toxicity: float = 1.0) -> str:
        """Add a toxic (acts on open connections too) and return its name.

        An extension toxic on a server without extensions is refused, unless standard toxics
        stand in for it (:data:`STAND_INS`): then they are added, under the name asked for.
        """
        name = name or f"{type}_{stream}"
        what = f"proxy {self.name!r}: add toxic {name!r} ({type})"
        if type in EXTENSIONS and not self.links.supports_extensions:
            if type not in STAND_INS:
                raise ToxiproxyError(f"{what}: {type!r} is an extension only our toxiproxy server has")
            type, attributes = STAND_INS[type][0], dict(STAND_INS[type][1])
        self.links.call(what, lambda: self._proxy.add_toxic(
            type=type, stream=stream, name=name, toxicity=toxicity, attributes=attributes or {}))
        return name

    def update_toxic(self, name: str, attributes: dict[str, Any] | None = None,
                     toxicity: float | None = None) -> dict[str, Any]:
        """Change a toxic's attributes (merged) and/or toxicity; returns its new JSON."""
        body: dict[str, Any] = {}
        if attributes is not None:
            body["attributes"] = attributes
        if toxicity is not None:
            body["toxicity"] = toxicity
        return self.links.request("POST", self._path("toxics", name), f"proxy {self.name!r}: update toxic "
                                  f"{name!r}", body).json()

    def remove_toxic(self, name: str) -> None:
        self.links.call(f"proxy {self.name!r}: remove toxic {name!r}",
                        lambda: self._proxy.destroy_toxic(name))

    def toxics(self) -> dict[str, dict[str, Any]]:
        found = self.links.call(f"proxy {self.name!r}: list toxics", self._proxy.toxics)
        return {name: {"name": t.name, "type": t.type, "stream": t.stream, "toxicity": t.toxicity,
                       "attributes": t.attributes} for name, t in found.items()}

    @contextmanager
    def toxic(self, type: str, **kwargs: Any) -> Iterator[str]:
        """``with link.toxic("latency", attributes={...}):`` adds it, and removes it on exit."""
        name = self.add_toxic(type, **kwargs)
        try:
            yield name
        finally:
            self.remove_toxic(name)

    def disable(self) -> None:
        """Stop listening and close every connection."""
        self.links.call(f"proxy {self.name!r}: disable", self._proxy.disable)

    def enable(self) -> None:
        """Listen again, on the same address."""
        self.links.call(f"proxy {self.name!r}: enable", self._proxy.enable)

    @contextmanager
    def down(self) -> Iterator["Link"]:
        self.disable()
        try:
            yield self
        finally:
            self.enable()

    def delete(self) -> None:
        self.links.delete(self.name)
