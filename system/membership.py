"""Cluster membership on etcd: who is up, as lease-bound keys that everyone watches.

A member (node or gate) puts ``PREFIX/ROLE/NAME`` bound to a lease it keeps
alive (every third of the TTL); when it dies or is cut off, the lease
expires and the key goes, so every watcher learns it within the TTL. On a
clean stop the member revokes its lease: the key goes at once.

A member also knows when it must stop acting as one: its lease is surely
valid only until the TTL after it *sent* the last keepalive that was
answered (the server renewed it on receipt, later). Past that instant,
:meth:`Membership.registered` is False, before anyone else can count the
lease as expired, so a node cut off from etcd stops serving before its
rooms move (the store's fencing is the guarantee; this keeps the overlap
short).

Watchers list the prefix, then watch it from the next revision; when the
watch breaks (etcd gone, compacted) they list and watch again, with capped,
fully jittered backoff. :class:`MemberSet` is that bookkeeping without I/O.

The etcd v3 API is reached through the generated stubs of ``aetcd`` on our
own gRPC channel (round robin over every endpoint, with our keepalive), so a
dead or frozen member is noticed and skipped; over TLS and with a login when
:class:`~system.etcdaccess.EtcdAccess` says so (aetcd's own client has no TLS).
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import grpc
from aetcd import rpc

from system import log
from system.etcdaccess import EtcdAccess, EtcdLogin
from system.grpcopts import DEFAULT_KEEPALIVE, Keepalive

_log = log.get("membership")
DEFAULT_PREFIX = "/pushchat"
DEFAULT_TTL = 5.0


def prefix_end(prefix: bytes) -> bytes:
    """etcd's range end for "every key starting with ``prefix``"."""
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\0"


@dataclass
class MemberSet:
    """Members under one prefix, kept from a listing and then watch events (sans-I/O)."""

    prefix: str
    members: dict[str, str] = field(default_factory=dict)  # name -> value
    revision: int = 0

    def name(self, key: bytes) -> str | None:
        text = key.decode(errors="replace")
        return text[len(self.prefix):] if text.startswith(self.prefix) else None

    def reset(self, kvs: Iterable[tuple[bytes, bytes]], revision: int) -> bool:
        """A fresh listing; True when it changed who is there."""
        members = {n: v.decode(errors="replace") for k, v in kvs if (n := self.name(k))}
        changed = members.keys() != self.members.keys()
        self.members, self.revision = members, revision
        return changed

    def apply(self, events: Iterable[tuple[str, bytes, bytes, int]]) -> bool:
        """Watch events (``PUT``/``DELETE``, key, value, mod revision); True when who is there changed."""
        before = set(self.members)
        for kind, key, value, revision in events:
            name = self.name(key)
            if name:
                if kind == "PUT":
                    self.members[name] = value.decode(errors="replace")
                else:
                    self.members.pop(name, None)
            self.revision = max(self.revision, revision)
        return set(self.members) != before


def channel_target(endpoints: Sequence[str]) -> str:
    """A gRPC target over every endpoint (``host:port``), names resolved now."""
    addrs = []
    for endpoint in endpoints:
        host, _, port = endpoint.rpartition(":")
        host = host.strip("[]")
        info = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
        family, *_, sockaddr = info[0]
        addrs.append((family, sockaddr[0], int(port)))
    if len(addrs) == 1:
        _, host, port = addrs[0]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    scheme = "ipv6" if all(a[0] == socket.AF_INET6 for a in addrs) else "ipv4"
    return scheme + ":" + ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for _, h, p in addrs)


class Membership:
    """Register ``PREFIX/ROLE/NAME`` (unless ``role`` is None) and watch ``PREFIX/WATCH/``."""

    def __init__(self, endpoints: Sequence[str], *, name: str, role: str | None, watch: str = "nodes",
                 value: str | None = None,
                 prefix: str = DEFAULT_PREFIX, ttl: float = DEFAULT_TTL, timeout: float = 2.0,
                 backoff_min: float = 0.05, backoff_max: float = 1.0,
                 keepalive: Keepalive = DEFAULT_KEEPALIVE, access: EtcdAccess | None = None) -> None:
        if not endpoints:
            raise ValueError("membership needs at least one etcd endpoint")
        if ttl < 1:
            raise ValueError("the lease TTL must be at least 1 s (etcd counts it in whole seconds)")
        self.endpoints = list(endpoints)
        self.name, self.role, self.prefix = name, role, prefix.rstrip("/")
        self.value = name if value is None else value  # what others read under our key: where to reach us
        self.key = f"{self.prefix}/{role}/{name}".encode() if role else b""
        self.watched = MemberSet(f"{self.prefix}/{watch}/")
        self.ttl = ttl
        self.timeout = timeout
        self.backoff_min, self.backoff_max = backoff_min, backoff_max
        self.keepalive = keepalive
        self.access = access or EtcdAccess()
        self.last_error = ""  # etcd's last refusal or failure, for a person: what start() says when it times out
        self.listeners: list[Callable[[set[str]], None]] = []   # told when who is registered changes
        self.lapse_listeners: list[Callable[[], None]] = []     # told when our own registration lapses
        self.lease = 0
        self._valid_until = 0.0
        self._channel: grpc.aio.Channel | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._listed = asyncio.Event()
        self._changed = asyncio.Event()
        self._stopping = False
        self.lost_count = 0  # times our registration lapsed
        self._said_raised = False

    # -- what a member asks -----------------------------------------------------
    @property
    def registered(self) -> bool:
        """Our key surely still exists: the lease was renewed less than a TTL ago (by when we asked)."""
        return bool(self.lease) and time.monotonic() < self._valid_until

    def members(self) -> set[str]:
        return set(self.watched.members)

    def value_of(self, name: str) -> str | None:
        """What a member registered under its name (a node: the address to reach it at)."""
        return self.watched.members.get(name)

    async def wait_for(self, predicate: Callable[[set[str]], bool], timeout: float) -> set[str]:
        """Wait until the watched set satisfies ``predicate``; TimeoutError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not predicate(self.members()):
            self._changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"etcd membership did not reach the wanted state within {timeout:g}s: "
                                   f"{sorted(self.members())}")
            try:
                async with asyncio.timeout(left):
                    await self._changed.wait()
            except asyncio.TimeoutError:
                pass
        return self.members()

    # -- life ------------------------------------------------------------------------
    async def start(self, wait: float = 10.0) -> None:
        """Connect, register (when a role is set) and list; raise TimeoutError if etcd stays away ``wait`` s."""
        options = self.keepalive.channel_options() + [("grpc.lb_policy_name", "round_robin")]
        self._channel = self.access.channel(channel_target(self.endpoints), options)
        self._login = EtcdLogin(self._channel, self.access, self.timeout)
        self._kv = rpc.KVStub(self._channel)
        self._leases = rpc.LeaseStub(self._channel)
        self._watch = rpc.WatchStub(self._channel)
        registered = asyncio.Event()
        if self.role:
            self._tasks.append(asyncio.create_task(self._keep_registered(registered), name=f"lease {self.name}"))
        else:
            registered.set()
        self._tasks.append(asyncio.create_task(self._keep_watching(), name=f"watch {self.name}"))
        try:
            async with asyncio.timeout(wait):
                await asyncio.gather(registered.wait(), self._listed.wait())
        except asyncio.TimeoutError:
            await self.stop(revoke=False)
            why = f": {self.last_error}" if self.last_error else ""
            raise TimeoutError(f"etcd at {', '.join(self.endpoints)}: not registered and listed within {wait:g}s"
                               f"{why}") from None

    async def stop(self, revoke: bool = True) -> None:
        """Stop keeping the lease and watching; ``revoke``: drop our key now rather than at the TTL."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if revoke and self.lease and self._channel is not None:
            try:
                await self._leases.LeaseRevoke(rpc.LeaseRevokeRequest(ID=self.lease), timeout=self.timeout,
                                               metadata=await self._login.metadata())
                log.event(_log, logging.INFO, "membership_left", key=self.key.decode(), lease=self.lease)
            except grpc.aio.AioRpcError as exc:  # etcd away: the lease expires by itself
                log.event(_log, logging.WARNING, "membership_revoke_failed", key=self.key.decode(),
                          error=f"{exc.code().name}: {exc.details()}")
        self.lease = 0
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    # -- the lease -------------------------------------------------------------------
    async def _keep_registered(self, first: asyncio.Event) -> None:
        attempt = 0
        while not self._stopping:
            try:
                await self._register()
                attempt = 0
                first.set()
                await self._renew_until_lost()
            except (grpc.aio.AioRpcError, asyncio.TimeoutError, ConnectionError) as exc:
                self._failed(exc)
                if self.lease and not self.registered:
                    self._lapsed(exc)
            attempt += 1
            await asyncio.sleep(self._backoff(attempt))  # the retry's backoff itself

    async def _register(self) -> None:
        sent = time.monotonic()
        grant = await self._leases.LeaseGrant(rpc.LeaseGrantRequest(TTL=max(1, round(self.ttl))),
                                              timeout=self.timeout, metadata=await self._login.metadata())
        await self._kv.Put(rpc.PutRequest(key=self.key, value=self.value.encode(), lease=grant.ID),
                           timeout=self.timeout, metadata=await self._login.metadata())
        self.lease, self._valid_until = grant.ID, sent + grant.TTL
        log.event(_log, logging.INFO, "membership_registered", key=self.key.decode(), lease=grant.ID, ttl=grant.TTL)
        if grant.TTL > round(self.ttl) and not self._said_raised:
            # etcd's floor is 1.5 election timeouts, whole seconds: 2 s with its default 1 s timeout
            self._said_raised = True
            log.event(_log, logging.WARNING, "membership_ttl_raised", key=self.key.decode(), asked=round(self.ttl),
                      granted=grant.TTL, why="etcd grants no lease shorter than 1.5 election timeouts; "
                      "a dead member's rooms move after the granted TTL")

    async def _renew_until_lost(self) -> None:
        """Renew every third of the TTL; return (to register again) when etcd says the lease is gone."""
        every = max(0.2, self.ttl / 3)
        while not self._stopping:
            await asyncio.sleep(every)  # the renewal period itself
            sent = time.monotonic()
            try:
                reply = await self._keepalive_once()
            except (grpc.aio.AioRpcError, asyncio.TimeoutError) as exc:
                self._failed(exc)
                if not self.registered:
                    self._lapsed(exc)
                    return
                continue  # etcd is away for now; the lease may still hold: try again next period
            if reply.TTL <= 0:
                self._lapsed(ConnectionError("etcd says the lease expired"))
                return
            self._valid_until = sent + reply.TTL

    async def _keepalive_once(self) -> rpc.LeaseKeepAliveResponse:
        call = self._leases.LeaseKeepAlive(timeout=self.timeout, metadata=await self._login.metadata())
        try:
            await call.write(rpc.LeaseKeepAliveRequest(ID=self.lease))
            reply = await call.read()
            await call.done_writing()
        finally:
            call.cancel()
        if reply is grpc.aio.EOF:
            raise ConnectionError("etcd closed the keepalive stream")
        return reply

    def _failed(self, exc: BaseException) -> None:
        """An etcd call failed: remember why (for start's error), and log in again if etcd dropped our token."""
        self.last_error = (f"{exc.code().name}: {exc.details()}" if isinstance(exc, grpc.aio.AioRpcError)
                           else f"{type(exc).__name__}: {exc}")
        self._login.failed(exc)

    def _lapsed(self, why: BaseException) -> None:
        self.lost_count += 1
        log.event(_log, logging.WARNING, "membership_lost", key=self.key.decode(), lease=self.lease,
                  error=f"{type(why).__name__}: {why}")
        self.lease = 0
        for listener in list(self.lapse_listeners):
            try:
                listener()
            except Exception:  # a listener's bug must not stop the lease keeping
                _log.exception("membership lapse listener failed")

    # -- the watch -------------------------------------------------------------------
    async def _keep_watching(self) -> None:
        attempt = 0
        prefix = self.watched.prefix.encode()
        while not self._stopping:
            try:
                listing = await self._kv.Range(rpc.RangeRequest(key=prefix, range_end=prefix_end(prefix)),
                                               timeout=self.timeout, metadata=await self._login.metadata())
                self._update(self.watched.reset(((kv.key, kv.value) for kv in listing.kvs),
                                                listing.header.revision))
                self._listed.set()
                attempt = 0
                await self._follow(prefix, listing.header.revision + 1)
            except (grpc.aio.AioRpcError, asyncio.TimeoutError, ConnectionError) as exc:
                self._failed(exc)
                log.event(_log, logging.INFO, "membership_watch_broken", prefix=self.watched.prefix,
                          error=f"{type(exc).__name__}: {exc}")
            attempt += 1
            await asyncio.sleep(self._backoff(attempt))  # the retry's backoff itself

    async def _follow(self, prefix: bytes, revision: int) -> None:
        call = self._watch.Watch(metadata=await self._login.metadata())
        try:
            await call.write(rpc.WatchRequest(create_request=rpc.WatchCreateRequest(
                key=prefix, range_end=prefix_end(prefix), start_revision=revision)))
            while True:
                reply = await call.read()
                if reply is grpc.aio.EOF:
                    raise ConnectionError("etcd ended the watch")
                if reply.canceled or reply.compact_revision:
                    raise ConnectionError(f"etcd cancelled the watch ({reply.cancel_reason or 'compacted'})")
                events = [("PUT" if e.type == rpc.Event.PUT else "DELETE", e.kv.key, e.kv.value, e.kv.mod_revision)
                          for e in reply.events]
                if events:
                    self._update(self.watched.apply(events))
        finally:
            call.cancel()

    def _update(self, changed: bool) -> None:
        self._changed.set()
        if not changed:
            return
        members = self.members()
        log.event(_log, logging.INFO, "membership_changed", prefix=self.watched.prefix, members=sorted(members))
        for listener in list(self.listeners):
            try:
                listener(members)
            except Exception:  # a listener's bug must not stop the watch
                _log.exception("membership listener failed")

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.backoff_max, self.backoff_min * 2 ** attempt))
