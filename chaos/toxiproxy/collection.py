"""The set of proxies and the JSON rules of ``/proxies``, ``/populate`` and ``/reset``."""

from __future__ import annotations

import asyncio
from typing import Any

from .decode import ApiError, bad_body, decode_fields, kind_of
from .proxy import DIAL_TIMEOUT, ERR_ALREADY_STARTED, Proxy

__all__ = ["ProxyCollection", "PopulateError"]

ERR_PROXY_NOT_FOUND = ApiError("proxy not found", 404)
ERR_PROXY_EXISTS = ApiError("proxy already exists", 409)

# The real Proxy struct also has an exported, untagged ``Logger *zerolog.Logger``:
# Go decodes any object into it and rejects anything else.
_PROXY_FIELDS = {"name": "string", "listen": "string", "upstream": "string", "enabled": "bool",
                 "Logger": "zerolog.Logger"}
_PROXY_TYPE = "toxiproxy.Proxy"
# What /populate decodes each item into: a Proxy whose enabled may be absent.
_POPULATE_ITEM = 'struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }'


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

    def __init__(self, dial_timeout: float = DIAL_TIMEOUT) -> None:
        self.dial_timeout = dial_timeout
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
        fields = decode_fields(value, "Proxy", _PROXY_FIELDS, _PROXY_TYPE)
        if not fields.get("name"):
            raise _missing("name")
        if not fields.get("upstream"):
            raise _missing("upstream")
        async with self._lock:
            if fields["name"] in self.proxies:
                raise ERR_PROXY_EXISTS
            proxy = Proxy(fields["name"], fields.get("listen") or "127.0.0.1:0", fields["upstream"],
                          self.dial_timeout)
            if fields.get("enabled", True):
                await proxy.start()
            self.proxies[proxy.name] = proxy
            return proxy

    async def populate(self, value: Any) -> list[Proxy]:
        """Decode all, validate all, then create or replace each; raise PopulateError on failure.

        Go decodes the whole body before checking a field, so a type error in
        any item beats a missing name in an earlier one; ``null`` is no proxies.
        """
        if value is None:
            value = []
        if not isinstance(value, list):
            raise PopulateError(bad_body(f"json: cannot unmarshal {kind_of(value)} into Go value of type "
                                         f"[]{_POPULATE_ITEM}"), None)
        try:
            wanted = [decode_fields(item, "", _PROXY_FIELDS, _POPULATE_ITEM) for item in value]
            for i, fields in enumerate(wanted, 1):
                if not fields.get("name"):
                    raise _missing(f"name at proxy {i}")
                if not fields.get("upstream"):
                    raise _missing(f"upstream at proxy {i}")
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
                proxy = Proxy(fields["name"], listen, fields["upstream"], self.dial_timeout)
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
        fields = decode_fields(value, "Proxy", _PROXY_FIELDS, _PROXY_TYPE)
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
