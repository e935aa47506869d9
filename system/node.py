"""The node: ``goverse.Goverse`` over gRPC, hosting chat objects and pushing to gates.

``RegisterGate`` answers ``register_gate_response`` first and then streams
the gate's queue from the push hub. Every push failure is logged once as
``push_failed`` and counted once, in :meth:`NodeServer._push_failed`.
A refused call is the caller's mistake and logged as ``call_failed`` at
INFO; only the node's own trouble (``INTERNAL``) is a WARNING. Who may
call is the :class:`~system.guard.NodeGuard`'s to say (``--auth``); the
user a gate vouches for reaches the objects as :attr:`CallInfo.user`.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message

from system import log, placement
from system.faultpoints import Event
from system.grpcopts import DEFAULT_KEEPALIVE, Keepalive
from system.guard import NodeGuard
from system.etcdaccess import EtcdAccess
from system.membership import DEFAULT_PREFIX, DEFAULT_TTL, Membership
from system.objects import STORED_KEY, CallInfo, Misrouted, ObjectError, ObjectHost, Superseded
from system.pb import goverse_pb2, goverse_pb2_grpc
from system.push import Outgoing, PushError, PushHub, PushMeta
from system.presence import PresenceConfig
from system.room import DEFAULT_ROOMS, ChatRoom, RoomConfig, default_objects, install
from system.server import Server
from system.store import Store, StoreUnusable, make_store
from system.tls import ServerTls

_log = log.get("node")

# Refusals answering a bad request: the caller's mistake, not the node's trouble.
CALLER_ERRORS = frozenset({"INVALID_ARGUMENT", "NOT_FOUND", "UNIMPLEMENTED", "ALREADY_EXISTS",
                           "FAILED_PRECONDITION", "OUT_OF_RANGE", "PERMISSION_DENIED"})


@dataclass
class NodeConfig:
    listen: str = "127.0.0.1:0"
    advertise: str | None = None          # default: the bound host:port
    node_id: str | None = None            # on etcd: the name placement knows us by (default: the advertise address)
    peers: tuple[str, ...] = ()           # the other nodes' advertise addresses (see create_default_objects)
    gate_buffer: int = 1024
    rooms: tuple[str, ...] = DEFAULT_ROOMS
    max_message_bytes: int = RoomConfig.max_message_bytes
    history_limit: int = RoomConfig.history_limit
    join_history: int = RoomConfig.join_history
    page_size: int = RoomConfig.page_size
    dedup_window: int = RoomConfig.dedup_window
    push_to_sender: bool = RoomConfig.push_to_sender
    max_members_per_room: int = RoomConfig.max_members  # 0: no limit
    keepalive: Keepalive = field(default_factory=lambda: DEFAULT_KEEPALIVE)
    metrics_port: int | None = None       # None: no HTTP endpoint; 0: any free port
    metrics_host: str = "127.0.0.1"
    store: str = "sqlite"                 # sqlite, memory, or a postgresql:// URL
    data_dir: str | None = None           # the sqlite store's folder (None: a temporary one, removed at stop)
    store_sync: str = "full"              # sqlite: full (survives power loss) or normal (survives a crash)
    store_timeout: float = 5.0            # seconds a store call may take
    etcd: tuple[str, ...] = ()            # etcd endpoints (host:port): membership from etcd, not --peers
    etcd_prefix: str = DEFAULT_PREFIX
    lease_ttl: float = DEFAULT_TTL        # seconds our key outlives us if we die without a word
    etcd_access: EtcdAccess | None = None  # TLS and login towards etcd (None: plaintext, no login)
    auth: str = "none"                    # none: callers are trusted (a private network); token: gates' tokens
    secret: bytes | None = None           # signs the tokens (token mode)
    tls: ServerTls | None = None          # serve TLS; with a client CA, mutual TLS
    fault_control: str | None = None      # loopback HOST:PORT of the fault points' control (None: they are off)
    presence: PresenceConfig = field(default_factory=PresenceConfig)  # away grace, typing expiry and rate

    def make_store(self, data_dir: str | None = None) -> Store:
        return make_store(self.store, data_dir or self.data_dir, sync=self.store_sync, timeout=self.store_timeout)

    def room_config(self) -> RoomConfig:
        return RoomConfig(rooms=tuple(self.rooms), max_message_bytes=self.max_message_bytes,
                          history_limit=self.history_limit, join_history=self.join_history,
                          page_size=self.page_size, dedup_window=self.dedup_window, presence=self.presence,
                          push_to_sender=self.push_to_sender,
                          max_members=self.max_members_per_room)


def sweep_period(expiry: float) -> float:
    """How often the node looks for members gone longer than ``expiry``: a quarter of it, 0.5 s to 60 s."""
    return max(0.5, min(expiry / 4, 60.0))


class _HubPort:
    """The rooms' push port: the hub's fan-out, one envelope per gate."""

    def __init__(self, hub: PushHub) -> None:
        self.hub = hub

    def push(self, client_ids: list[str], message: Message, meta: PushMeta) -> list[PushError]:
        return self.hub.push_message_to_clients(client_ids, message, meta)


def push_event(item: Outgoing, gate_addr: str) -> Event:
    """An envelope on a node's stream to a gate, as the push faults see it: one event for all its recipients."""
    meta = item.meta
    return Event("push", frozenset(meta.users.values()), gate=gate_addr, room=meta.room,
                 detail={"seq": meta.seq, "users": sorted(meta.users.values()),
                         "client_ids": list(item.envelope.client_ids)})


class NodeServicer(goverse_pb2_grpc.GoverseServicer):
    def __init__(self, server: "NodeServer") -> None:
        self.server = server

    async def Status(self, request: goverse_pb2.Empty, context: grpc.aio.ServicerContext) -> goverse_pb2.StatusResponse:
        await self.server.guard.admit(context, "Status", "status")
        s = self.server
        return goverse_pb2.StatusResponse(advertise_addr=s.advertise, num_objects=len(s.host.objects()),
                                          uptime_seconds=int(time.monotonic() - s.started))

    async def ListObjects(self, request: goverse_pb2.Empty, context: grpc.aio.ServicerContext) -> goverse_pb2.ListObjectsResponse:
        await self.server.guard.admit(context, "ListObjects")
        return goverse_pb2.ListObjectsResponse(objects=[
            goverse_pb2.ObjectInfo(type=h.type_name, id=h.object_id, creation_time=int(h.created))
            for h in self.server.host.objects()])

    async def CallObject(self, request: goverse_pb2.CallObjectRequest, context: grpc.aio.ServicerContext) -> goverse_pb2.CallObjectResponse:
        left = context.time_remaining()
        if left is not None and left <= 0:  # the caller gave up while the call queued here: do none of it
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "the call's deadline passed before the node "
                                "got to it; nothing was done", ((STORED_KEY, "no"),))
        caller = await self.server.guard.admit(context, request.method, client_id=request.client_id,
                                               request=request.request)
        faults = self.server.faults  # in-process fault points (system.faultpoints): an abort ends the call here
        await faults.call(context, "before", request.method, request.id, request.client_id, request.request)
        try:
            reply = await self.server.call(request.type, request.id, request.method, request.request,
                                           CallInfo(client_id=request.client_id, user=caller.user))
        except ObjectError as exc:
            await self._refuse(context, request.type, request.id, request.method, exc.code, str(exc), exc.trailing,
                               exc.limit)
        except Exception as exc:  # a bug in a method must not take the node down
            _log.exception("call_crashed")
            await self._refuse(context, request.type, request.id, request.method, "INTERNAL", f"internal error: {exc!r}")
        await faults.call(context, "after", request.method, request.id, request.client_id, request.request)
        return goverse_pb2.CallObjectResponse(response=reply)

    async def CreateObject(self, request: goverse_pb2.CreateObjectRequest, context: grpc.aio.ServicerContext) -> goverse_pb2.CreateObjectResponse:
        await self.server.guard.admit(context, "CreateObject", "admin")
        try:
            await self.server.check_owner(request.id)
            hosted = await self.server.host.create(request.type, request.id)
        except ObjectError as exc:
            await self._refuse(context, request.type, request.id, "CreateObject", exc.code, str(exc), exc.trailing)
        return goverse_pb2.CreateObjectResponse(id=hosted.object_id)

    async def DeleteObject(self, request: goverse_pb2.DeleteObjectRequest, context: grpc.aio.ServicerContext) -> goverse_pb2.DeleteObjectResponse:
        await self.server.guard.admit(context, "DeleteObject", "admin")
        try:
            await self.server.check_owner(request.id)
            found = await self.server.host.delete(request.id)
        except ObjectError as exc:
            await self._refuse(context, "", request.id, "DeleteObject", exc.code, str(exc), exc.trailing)
        if not found:
            await self._refuse(context, "", request.id, "DeleteObject", "NOT_FOUND", f"no object {request.id!r}")
        return goverse_pb2.DeleteObjectResponse()

    async def RegisterGate(self, request: goverse_pb2.RegisterGateRequest,
                           context: grpc.aio.ServicerContext) -> AsyncIterator[goverse_pb2.GateMessage]:
        await self.server.guard.admit(context, "RegisterGate", "gate")
        gate_addr = request.gate_addr
        if not gate_addr:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "gate_addr is empty")
        hub = self.server.hub
        channel = hub.register(gate_addr)
        log.event(_log, logging.INFO, "gate_registered", gate_addr=gate_addr)
        metrics, me = self.server.metrics, self.server.known_as
        series = metrics.stream_opened(me, gate_addr)
        in_flight: Outgoing | None = None
        shaped = self.server.faults.push_stream(channel.get, lambda item: push_event(item, gate_addr))
        try:
            yield goverse_pb2.GateMessage(register_gate_response=goverse_pb2.RegisterGateResponse())
            while True:
                item = await (shaped or channel).get()
                if item is None:
                    break
                in_flight = item
                yield goverse_pb2.GateMessage(client_message=item.envelope)
                in_flight = None
                if hub.current(channel):  # an older stream of a gate that registered again counts for nothing
                    series.inc(len(item.envelope.client_ids))
        finally:
            if hub.unregister(channel, in_flight, shaped.unsent() if shaped else ()):
                metrics.stream_closed(me, gate_addr)
                log.event(_log, logging.INFO, "gate_unregistered", gate_addr=gate_addr)

    async def _refuse(self, context: grpc.aio.ServicerContext, type_: str, id_: str, method: str,
                      code: str, error: str, trailing: tuple[tuple[str, str], ...] = (),
                      limit: str | None = None) -> None:
        level = logging.INFO if code in CALLER_ERRORS else logging.WARNING
        if limit:
            self.server.metrics.limited.labels(limit=limit).inc()
        log.event(_log, level, "call_failed", type=type_, id=id_, method=method, code=code, error=error)
        await context.abort(grpc.StatusCode[code], error, trailing)


class NodeServer(Server):
    """One node, usable in-process: ``bind()``, ``await start()``, ``port``, ``await stop()``.

    ``bind()`` is separate so that a harness can learn every node's address,
    and so give each its ``peers``, before any node creates its objects.
    """

    def __init__(self, config: NodeConfig | None = None) -> None:
        config = config or NodeConfig()
        super().__init__(config, "node")
        self.config: NodeConfig = config
        self.hub = PushHub(self.config.gate_buffer, self.metrics, self._push_failed)
        self._scratch = (tempfile.TemporaryDirectory(prefix="pushchat-node-")
                         if self.config.store == "sqlite" and not self.config.data_dir else None)
        self.data_dir = self._scratch.name if self._scratch else self.config.data_dir
        self.store = self.faults.wrap_store(self.config.make_store(self.data_dir))
        self.host = ObjectHost()
        self.guard = NodeGuard(self.config.auth, self.config.secret, self.metrics, _log, lambda: self.advertise)
        install(self.host, self.config.room_config(), _HubPort(self.hub), self.store)
        rooms = self.metrics.rooms
        self.metrics.watch(rooms, lambda: sum(h.type_name == ChatRoom.type_name for h in self.host.objects()))
        self.membership: Membership | None = None
        self.started = time.monotonic()
        self._sweeper: asyncio.Task[None] | None = None

    def _add_servicers(self, server: grpc.aio.Server) -> None:
        goverse_pb2_grpc.add_GoverseServicer_to_server(NodeServicer(self), server)

    async def _prepare(self) -> None:
        """Open the store and load the default objects, before serving and so before the announce.

        A store that cannot be used (corrupt, newer, in use, unreachable) is
        :class:`~system.store.StoreUnusable`: the node refuses to start.
        """
        await self.store.open()
        if self.config.etcd:
            await self._join_cluster()
        await self.create_default_objects()
        log.event(_log, logging.INFO if self.store.durable else logging.WARNING, "store_opened",
                  store=self.config.store if self.config.store in ("sqlite", "memory") else "postgresql",
                  where=self.store.where, epoch=self.store.epoch, durable=self.store.durable,
                  **({} if self.store.durable else {"warning": "every message is lost when this node stops"}))
        rooms = self.config.room_config()
        log.event(_log, logging.INFO, "room_config", push_to_sender=rooms.push_to_sender,
                  history_limit=rooms.history_limit, page_size=rooms.page_size)

    def _serving(self) -> None:
        self.started = time.monotonic()
        if self.config.presence.expiry > 0:
            self._sweeper = self.spawn(self._sweep_members(sweep_period(self.config.presence.expiry)))

    async def _sweep_members(self, period: float) -> None:
        """Drop, room by room, the members gone longer than the expiry, even from rooms nobody calls."""
        while True:
            await asyncio.sleep(period)
            try:
                await self.host.visit(ChatRoom.type_name, lambda room: room.expire_members())  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - a bug in one sweep must not end the sweeping
                _log.exception("member_sweep_failed")

    async def _join_cluster(self) -> None:
        """Register in etcd and follow the other nodes; serve only the rooms placement gives us."""
        self.membership = Membership(self.config.etcd, name=self.node_id, value=self.advertise, role="nodes",
                                     watch="nodes",
                                     prefix=self.config.etcd_prefix, ttl=self.config.lease_ttl,
                                     keepalive=self.config.keepalive, access=self.config.etcd_access)
        self.membership.listeners.append(lambda members: self.spawn(self._give_up_others()))
        self.membership.lapse_listeners.append(lambda: self.spawn(self._give_up_others()))
        await self.membership.start()
        await self.membership.wait_for(lambda members: self.node_id in members, 10.0)

    @property
    def known_as(self) -> str:
        """The name gates know this node by (their ``NodeConnection.key``): on etcd its registered name, else
        its advertise address (what ``Status`` tells them)."""
        return self.node_id if self.config.etcd else self.advertise

    @property
    def node_id(self) -> str:
        """The name placement knows this node by: ``node_id`` on etcd if given, else the advertise address."""
        return self.config.node_id or self.advertise

    def owner_of(self, object_id: str) -> str | None:
        """The node that owns ``object_id`` in our view of the cluster; None when we have no view (static)."""
        if self.membership is None:
            return None
        members = self.membership.members() | ({self.node_id} if self.membership.registered else set())
        return placement.owner(object_id, members) if members else ""

    async def check_owner(self, object_id: str) -> None:
        """Refuse (retryable, surely not done) a call for an object another node owns, or any call while
        our registration has lapsed: that node is deposed, and its store writes would be fenced anyway."""
        if self.membership is None:
            return
        if not self.membership.registered:
            await self._give_up_others()
            raise Misrouted(f"node {self.advertise} is not a cluster member now (its etcd lease lapsed); retry",
                            owner="")
        owner = self.owner_of(object_id)
        if owner != self.node_id:
            await self.host.evict(object_id)
            raise Misrouted(f"{object_id} is owned by node {owner or 'none'} now; retry", owner=owner or "")

    async def call(self, type_name: str, object_id: str, method: str, request: any_pb2.Any,
                   info: CallInfo) -> any_pb2.Any:
        """A call on an object we own. On etcd, membership says who owns a room, and the store's fencing
        keeps a deposed owner from writing: a room another node claimed for a moment (nodes starting
        together each claim what they own in their first, partial view) is taken back, once, by the node
        etcd names, rather than refusing a send that it alone may serve."""
        await self.check_owner(object_id)
        try:
            return await self.host.call(type_name, object_id, method, request, info)
        except Superseded as exc:
            if self.membership is None:  # static: no one says who owns it; the newer claim stands
                raise
            await self.check_owner(object_id)
            log.event(_log, logging.INFO, "object_reclaimed", id=object_id, error=str(exc))
            return await self.host.call(type_name, object_id, method, request, info)

    async def _give_up_others(self) -> None:
        """Close every object this node no longer owns (membership changed, or our lease lapsed)."""
        registered = self.membership is not None and self.membership.registered
        for hosted in self.host.objects():
            if not registered or self.owner_of(hosted.object_id) != self.node_id:
                if await self.host.evict(hosted.object_id):
                    log.event(_log, logging.INFO, "object_released", id=hosted.object_id,
                              owner=self.owner_of(hosted.object_id) if registered else None)

    async def create_default_objects(self) -> None:
        """Create the manager and the default rooms this node owns, as Goverse does at start.

        Placement is the gates' rendezvous hashing over the nodes' advertise
        addresses, and a node does not know the others unless told
        (``peers``, ``pushchat node --peers``). Told, it creates only what it
        owns, so each object exists once in the cluster, where the gates will
        call it. Alone (no peers) it owns everything and creates all of them.
        Nodes of a cluster started without ``peers`` each create all of them:
        the gates still call one copy of each, the others stay empty. On etcd,
        the cluster's current members are the peers.
        """
        keys = self.membership.members() if self.membership else {self.node_id, *self.config.peers}
        for type_name, object_id in default_objects(self.config.room_config()):
            if placement.owner(object_id, keys) == self.node_id:
                try:
                    await self.host.create(type_name, object_id)
                except ObjectError as exc:
                    raise StoreUnusable(f"cannot load {object_id} from {self.store.where}: {exc}") from None

    async def _stopping(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        self.hub.close()

    async def _stopped(self) -> None:
        """Drained (calls done, writes flushed), then leave the cluster at once, then close the store."""
        await self.host.close()
        if self.membership is not None:
            await self.membership.stop(revoke=True)
        await self.store.close()
        if self._scratch is not None:
            self._scratch.cleanup()

    def _push_failed(self, err: PushError) -> None:
        """The one place a push failure is logged and counted: they always agree."""
        meta = err.meta
        self.metrics.failed.labels(reason=err.reason).inc()
        log.event(_log, logging.WARNING, "push_failed", room=meta.room, user=meta.users.get(err.client_id, ""),
                  client_id=err.client_id, reason=err.reason, seq=meta.seq, sender=meta.sender,
                  error=err.detail)
