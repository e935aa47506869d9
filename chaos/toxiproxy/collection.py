"""The set of proxies and the JSON rules of ``/proxies``, ``/populate`` and ``/reset``."""

from __future__ import annotations

import asyncio
from typing import Any

from .decode import ApiError, bad_body, decode_fields
from .proxy import ERR_ALREADY_STARTED, Proxy

__all__ = ["ProxyCollection", "PopulateError"]

ERR_PROXY_NOT_FOUND = ApiError("proxy not found", 404)
ERR_PROXY_EXISTS = ApiError("proxy already exists", 409)

_PROXY_FIELDS = {"name": "string", "listen": "string", "upstream": "string", "enabled": "bool"}


def _missing(field: str) -> ApiError:
    return ApiError(f"missing required field: {field}", 400)


class PopulateError(Exception):
    """A populate that failed; ``created`` is what it did before failing (None: nothing)."""

    def __init__(self, error: ApiError, created: list[Proxy] | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.created = created


class ProxyCollection:
    """Named proxies; every change goes through one lock, as in the real server."""

    def __init__(self) -> None:
        self.proxies: dict[str, Proxy] = {}
        self._lock = asyncio.Lock()

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ERR_PROXY_NOT_FOUND
        return proxy

    def to_json(self) -> dict[str, Any]:
        return {name: self.proxies[name].to_json() for name in sorted(self.proxies)}

    async def create(self, value: Any) -> Proxy:
        fields = decode_fields(value, "Proxy", _PROXY_FIELDS)
        if not fields.get("name"):
            raise _missing("name")
        if not fields.get("upstream"):
            raise _missing("upstream")
        async with self._lock:
            if fields["name"] in self.proxies:
                raise ERR_PROXY_EXISTS
            proxy = Proxy(fields["name"], fields.get("listen") or "127.0.0.1:0", fields["upstream"])
            if fields.get("enabled", True):
                await proxy.start()
            self.proxies[proxy.name] = proxy
            return proxy

    async def populate(self, value: Any) -> list[Proxy]:
        """Validate all, then create or replace each; raise PopulateError on failure."""
        if not isinstance(value, list):
            kind = "object" if isinstance(value, dict) else type(value).__name__
            raise PopulateError(bad_body(f"json: cannot unmarshal {kind} into Go value of type "
                                         "[]toxiproxy.Proxy"), None)
        wanted = []
        try:
            for i, item in enumerate(value, 1):
                fields = decode_fields(item, "Proxy", _PROXY_FIELDS)
                if not fields.get("name"):
                    raise _missing(f"name at proxy {i}")
                if not fields.get("upstream"):
                    raise _missing(f"upstream at proxy {i}")
                wanted.append(fields)
        except ApiError as exc:
            raise PopulateError(exc, None) from None
        done: list[Proxy] = []
        async with self._lock:
            for fields in wanted:
                listen = fields.get("listen") or "127.0.0.1:0"
                existing = self.proxies.get(fields["name"])
                if existing is not None:
                    if existing.listen == listen and existing.upstream == fields["upstream"]:
                        done.append(existing)  # identical: kept, toxics and all
                        continue
                    existing.stop()
                proxy = Proxy(fields["name"], listen, fields["upstream"])
                if fields.get("enabled", True):
                    try:
                        await proxy.start()
                    except ApiError as exc:
                        raise PopulateError(exc, done) from None
                self.proxies[proxy.name] = proxy
                done.append(proxy)
        return done

    async def update(self, name: str, value: Any) -> Proxy:
        proxy = self.get(name)
        fields = decode_fields(value, "Proxy", _PROXY_FIELDS)
        async with self._lock:
            await proxy.update(fields.get("listen", proxy.listen), fields.get("upstream", proxy.upstream),
                               fields.get("enabled", proxy.enabled))
        return proxy

    async def delete(self, name: str) -> None:
        async with self._lock:
            proxy = self.get(name)
            proxy.stop()
            del self.proxies[name]

    async def reset(self) -> None:
        """Every proxy enabled again and stripped of its toxics; none deleted."""
        async with self._lock:
            for proxy in list(self.proxies.values()):
                try:
                    await proxy.start()
                except ApiError as exc:
                    if exc.message != ERR_ALREADY_STARTED:
                        raise
                await proxy.toxics.clear()

    async def close(self) -> None:
        async with self._lock:
            for proxy in self.proxies.values():
                proxy.stop()
                await proxy.toxics.clear()
