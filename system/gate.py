"""The gate: ``gate.GateService`` for clients, ``RegisterGate`` streams to every node.

Clients get a ``Register`` stream fed from a small bounded queue; a push
that finds the queue full is dropped (logged as ``push_dropped`` and
counted, in :meth:`ClientRouter._drop` only). A push is serialised once,
when its envelope comes from the node, and the same bytes are written to
every client's stream (:mod:`system.clientstream`). Calls go to the node that owns
the object by rendezvous hashing over the nodes' advertise addresses, which
the gate learns with ``Status`` because ``--nodes`` may list proxies.
Each node's ``RegisterGate`` stream is re-opened with capped, fully
jittered backoff (:mod:`system.session`). A call whose owner cannot be
reached now (its stream is down, placement not known yet) waits at the gate
for the routing to change, within the call's deadline, rather than going
back to a client whose retry backoff has grown meanwhile: when a dead
node's lease expires or its stream comes back, the call goes on at once.
Who may register and call, and with which client id and user name, is the
:class:`~system.guard.GateGuard`'s to say, before anything is forwarded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import grpc

from system import clientid, contract, log, placement, tls
from system.clientstream import TokenExpired, add_gate_service, next_push, registered, shaped_pushes
from system.grpcopts import DEFAULT_KEEPALIVE, LINK_CONNECT_TIMEOUT_MS, Keepalive
from system.guard import GateGuard
from system.limits import Limits
from system.access import UNAUTHENTICATED, Refused
from system.etcdaccess import EtcdAccess
from system.membership import DEFAULT_PREFIX, DEFAULT_TTL, Membership
from system.metrics import Metrics
from system.objects import MISROUTED_KEY, STORED_KEY
from system.pb import gate_pb2, gate_pb2_grpc, goverse_pb2, goverse_pb2_grpc
from system.push import Mailbox
from system.server import Server
from system.session import StreamLost, keep_open
from system.wait import wait_until

_log = log.get("gate")
ROUTE_MARGIN = 0.25  # seconds before the caller's deadline at which a call waiting for its route gives up
MISROUTE_PAUSE, MISROUTE_PAUSE_MAX = 0.02, 0.5  # how long a misrouted call waits, at most, before routing again


@dataclass
class GateConfig:
    nodes: tuple[str, ...] = ("127.0.0.1:48000",)
    listen: str = "127.0.0.1:0"
    advertise: str | None = None      # default: the bound host:port; used in client ids
    client_buffer: int = 10
    keepalive: Keepalive = field(default_factory=lambda: DEFAULT_KEEPALIVE)
    call_timeout: float = 10.0        # cap on a forwarded call
    connect_timeout: float = 2.0      # Status probe when (re)opening a node stream
    backoff_min: float = 0.1
    backoff_max: float = 2.0
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    etcd: tuple[str, ...] = ()        # etcd endpoints: the nodes are whoever is registered there, not ``nodes``
    etcd_prefix: str = DEFAULT_PREFIX
    lease_ttl: float = DEFAULT_TTL
    etcd_access: EtcdAccess | None = None  # TLS and login towards etcd (None: plaintext, no login)
    dial: dict[str, str] = field(default_factory=dict)  # on etcd: node name -> address to dial (a proxy, say)
    auth: str = "none"                # none: identity is the connection; token: a signed token on every call
    secret: bytes | None = None       # signs the tokens (token mode), and the gate's own token to its nodes
    allow_admin_calls: bool = False   # let any client CreateObject/DeleteObject (else only admin tokens)
    limits: Limits = field(default_factory=Limits)
    tls: tls.ServerTls | None = None  # TLS towards clients
    node_tls: tls.ClientTls | None = None  # TLS (and the client certificate, for mutual TLS) towards nodes
    fault_control: str | None = None  # loopback HOST:PORT of the fault points' control (None: they are off)


class ClientRouter:
    """Registered clients and their queues; routes node envelopes to them (sans-I/O)."""

    def __init__(self, capacity: int, metrics: Metrics) -> None:
        self.capacity = capacity
        self.metrics = metrics
        self._clients: dict[str, Mailbox[bytes]] = {}  # each client's pushes, serialised (``Any`` on the wire)

    def __len__(self) -> int:
        return len(self._clients)

    def __contains__(self, client_id: str) -> bool:
        return client_id in self._clients

    def register(self, client_id: str) -> Mailbox[bytes]:
        box: Mailbox[bytes] = Mailbox(client_id, self.capacity)
        self._clients[client_id] = box
        self.metrics.connected_clients.set(len(self._clients))
        return box

    def unregister(self, box: Mailbox[bytes], in_flight: bytes | None = None, held: Sequence[bytes] = ()) -> None:
        """The client's stream ended: what it had not been sent is dropped as ``client_disconnected``
        (``held``: taken off the queue, held back by a fault point)."""
        lost = box.close() + ([in_flight] if in_flight is not None else []) + list(held)
        if self._clients.get(box.name) is box:
            del self._clients[box.name]
            self.metrics.connected_clients.set(len(self._clients))
        self.metrics.unsent.inc(len(lost))
        for _ in lost:
            self._drop(box.name, contract.CLIENT_DISCONNECTED)

    def deliver(self, envelope: goverse_pb2.ClientMessageEnvelope) -> int:
        """Queue the envelope's payload for each of its clients, never blocking; return how many took it.

        The payload is serialised here, once: every client's stream writes these same bytes."""
        ids = list(envelope.client_ids)
        self.metrics.attempted.inc(len(ids))
        payload = envelope.message.SerializeToString()
        delivered = 0
        for cid in ids:
            box = self._clients.get(cid)
            if box is None:
                self._drop(cid, contract.CLIENT_NOT_FOUND)
            elif box.closed:  # the gate is stopping
                self._drop(cid, contract.CLIENT_DISCONNECTED)
            elif not box.offer(payload):
                self._drop(cid, contract.CLIENT_BUFFER_FULL)
            else:
                delivered += 1
        self.metrics.delivered.inc(delivered)
        return delivered

    def finish_all(self) -> None:
        for box in list(self._clients.values()):
            box.finish()

    def _drop(self, client_id: str, reason: str) -> None:
        """The one place a drop is counted and logged (INFO when routine): they always agree."""
        self.metrics.dropped.labels(reason=reason).inc()
        log.event(_log, contract.push_log_level(reason), "push_dropped", client_id=client_id, reason=reason)


@dataclass
class NodeConnection:
    """The gate's connection to one configured node: the address we dial, the key (its advertise
    address) we place by, the channel calls go through, and whether its push stream is up."""

    dial: str
    channel: grpc.aio.Channel
    stub: goverse_pb2_grpc.GoverseStub
    key: str | None = None      # static: learned from the node's Status; on etcd: its registered name
    audience: str | None = None  # the node's advertise address, which our token to it names: on etcd what it
    #                              registered (fixed when dialled), static: what its Status says
    up: bool = False
    task: asyncio.Task[None] | None = None


class GateServicer(gate_pb2_grpc.GateServiceServicer):
    def __init__(self, gate: "GateServer") -> None:
        self.gate = gate

    async def Register(self, request: gate_pb2.Empty, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        router, guard = self.gate.router, self.gate.guard
        if self.gate.closing:  # its stream would only be cut at the end of the grace period
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"gate {self.gate.advertise} is stopping; register "
                                "again (with another gate, or once it is back)")
        caller = await guard.admit_stream(context)
        client_id = clientid.make(self.gate.advertise)
        box = router.register(client_id)
        guard.access.bind(caller, client_id)
        log.event(_log, logging.INFO, "client_registered", client_id=client_id)
        in_flight: bytes | None = None
        sent = 0  # pushes written to this client's stream (client_unregistered says how many)
        expires = caller.identity.expires if caller.identity else None
        shaped = shaped_pushes(self.gate.faults, box)
        try:
            yield registered(client_id)
            while True:  # one frame and no extra coroutine while it waits: a gate holds thousands of these
                item = await (box.get() if expires is None and shaped is None else next_push(shaped or box, expires))
                if item is None:
                    break
                in_flight = item
                yield item
                in_flight = None
                sent += 1
        except TokenExpired:
            await guard.refuse(context, Refused(UNAUTHENTICATED, "token_expired", "token expired; the stream is "
                                                "closed"), caller.session,
                               "Register")
        finally:
            guard.access.unbind(client_id)
            router.unregister(box, in_flight, shaped.unsent() if shaped else ())
            log.event(_log, logging.INFO, "client_unregistered", client_id=client_id, queued=box.accepted, sent=sent)

    async def CallObject(self, request: gate_pb2.CallObjectRequest, context: grpc.aio.ServicerContext) -> gate_pb2.CallObjectResponse:
        if request.client_id:
            try:
                clientid.parse(request.client_id)
            except clientid.MalformedClientId as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        guard = self.gate.guard
        caller, verdict = await guard.admit_call(context, request.client_id, request.id, request.method,
                                                 request.request)
        forward = goverse_pb2.CallObjectRequest(id=request.id, method=request.method, type=request.type,
                                                request=request.request, client_id=verdict.client_id)
        faults = self.gate.faults  # in-process fault points (system.faultpoints): an abort ends the call here
        faults.note_caller(verdict.client_id, request.request)
        await faults.call(context, "before", request.method, request.id, verdict.client_id, request.request)
        reply = await self._forward(context, request.id, "CallObject", forward, verdict.user)
        await faults.call(context, "after", request.method, request.id, verdict.client_id, request.request)
        guard.access.called(caller, verdict, request.id, request.method)
        return gate_pb2.CallObjectResponse(response=reply.response)

    async def CreateObject(self, request: gate_pb2.CreateObjectRequest, context: grpc.aio.ServicerContext) -> gate_pb2.CreateObjectResponse:
        await self.gate.guard.admit_admin(context, "CreateObject")
        forward = goverse_pb2.CreateObjectRequest(type=request.type, id=request.id)
        reply = await self._forward(context, request.id, "CreateObject", forward)
        return gate_pb2.CreateObjectResponse(id=reply.id)

    async def DeleteObject(self, request: gate_pb2.DeleteObjectRequest, context: grpc.aio.ServicerContext) -> gate_pb2.DeleteObjectResponse:
        await self.gate.guard.admit_admin(context, "DeleteObject")
        forward = goverse_pb2.DeleteObjectRequest(id=request.id)
        await self._forward(context, request.id, "DeleteObject", forward)
        return gate_pb2.DeleteObjectResponse()

    async def _forward(self, context: grpc.aio.ServicerContext, object_id: str, rpc: str, request,  # type: ignore[no-untyped-def]
                       user: str | None = None):
        """Send the call to the owning node, with headers of our own making (never the client's: its
        ``x-pushchat-user-bin`` is dropped here); its gRPC error comes back to the client unchanged.

        A node whose view of the cluster differs from ours for a moment refuses the call as misrouted
        (surely not done); we route it again, as the views converge, until just before the deadline. A
        node that leaves the cluster while a call is on it ends the call (:meth:`GateServer._disconnect`):
        the client hears UNAVAILABLE, maybe done, and retries with the same message id on the new owner.
        """
        pause = MISROUTE_PAUSE
        while True:
            timeout = self._time_left(context)
            give_up = timeout - min(ROUTE_MARGIN, timeout / 4)
            try:  # give up before the caller's deadline, so that it hears our refusal (retryable), not its own timeout
                node = await self.gate.route_soon(object_id, give_up)
            except LookupError as exc:  # never forwarded: it surely did nothing
                await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc), ((STORED_KEY, "no"),))
            try:
                metadata = self.gate.guard.node_metadata(node.audience or node.dial, user)
                return await getattr(node.stub, rpc)(request, timeout=self._time_left(context), metadata=metadata)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is None or task.cancelling():  # our own call ended (the client went away): not the node
                    raise
                await context.abort(grpc.StatusCode.UNAVAILABLE, f"node {node.dial} left the cluster while the call "
                                    "was on it; it may have been done, retry", ((STORED_KEY, "unknown"),))
            except grpc.aio.AioRpcError as exc:  # its "stored" verdict too: the client needs it to tell definite
                trailing = dict(exc.trailing_metadata() or ())
                if MISROUTED_KEY in trailing and self._time_left(context) - pause > ROUTE_MARGIN:
                    log.event(_log, logging.INFO, "call_misrouted", id=object_id, node=node.dial,
                              owner=trailing[MISROUTED_KEY], error=exc.details())
                    await self.gate.routes_change(pause)
                    pause = min(pause * 2, MISROUTE_PAUSE_MAX)
                    continue
                passed = tuple((k, v) for k, v in trailing.items() if k == STORED_KEY)
                await context.abort(exc.code(), exc.details() or f"node {node.dial}: {exc.code().name}", passed)

    def _time_left(self, context: grpc.aio.ServicerContext) -> float:
        """What is left of the caller's deadline, at most the gate's ``call_timeout``."""
        remaining = context.time_remaining()
        return min(self.gate.config.call_timeout, remaining) if remaining else self.gate.config.call_timeout


class GateServer(Server):
    """One gate, usable in-process: ``await start()``, ``port``, ``advertise``, ``await stop()``."""

    def __init__(self, config: GateConfig) -> None:
        if not config.nodes and not config.etcd:
            raise ValueError("a gate needs node addresses, or etcd to find them")
        super().__init__(config, "gate")
        self.config: GateConfig = config
        self.router = ClientRouter(config.client_buffer, self.metrics)
        self.guard = GateGuard(config.auth, config.secret, config.limits, config.allow_admin_calls, self.metrics, _log)
        self.metrics.watch(self.metrics.sessions, lambda: len(self.guard.access))
        self.metrics.watch(self.metrics.tracked, lambda: self.guard.access.tracked())
        self.connections: list[NodeConnection] = []
        self.membership: Membership | None = None
        self._closing = False
        self._routes_changed = asyncio.Event()  # set, and replaced, whenever route() may answer differently
        self.calls_waiting = 0  # calls waiting in route_soon() now

    @property
    def closing(self) -> bool:
        """The gate is stopping: it takes no new Register streams."""
        return self._closing

    def nodes_up(self) -> int:
        return sum(node.up for node in self.connections)

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until every node stream is up (tests and tools; the gate serves before that)."""
        if not await wait_until(lambda: self.connections and self.nodes_up() == len(self.connections), timeout,
                                fail=False):
            down = [node.dial for node in self.connections if not node.up]
            raise TimeoutError(f"node streams still down after {timeout}s: {down}")

    def route(self, object_id: str) -> NodeConnection:
        """The connection to the node owning ``object_id``; LookupError until every node's key is known, and
        while the owner's push stream is down: a message stored then could not be pushed to this gate's
        clients (the caller retries; once the stream is back, pushes flow from the first message)."""
        unknown = [node.dial for node in self.connections if node.key is None]
        if unknown:
            raise LookupError(f"placement not known yet: node(s) {', '.join(unknown)} not reached")
        by_key = {node.key: node for node in self.connections}
        if not by_key:
            raise LookupError("no node is registered in etcd")
        owner = by_key[placement.owner(object_id, by_key)]
        if not owner.up:
            raise LookupError(f"node {owner.dial} (owner of {object_id}) is not connected to this gate yet")
        return owner

    async def route_soon(self, object_id: str, wait: float) -> NodeConnection:
        """:meth:`route`, waiting up to ``wait`` s for the routing to change while it has no answer."""
        deadline = time.monotonic() + wait
        while True:
            try:
                if self._closing:
                    raise LookupError(f"gate {self.advertise} is stopping")
                return self.route(object_id)
            except LookupError:
                left = deadline - time.monotonic()
                if left <= 0 or self._closing:
                    raise
            self.calls_waiting += 1
            try:
                await self.routes_change(left)
            finally:
                self.calls_waiting -= 1

    async def routes_change(self, wait: float) -> None:
        """Wait up to ``wait`` s for the routing to change."""
        try:
            async with asyncio.timeout(wait):
                await self._routes_changed.wait()
        except asyncio.TimeoutError:
            pass

    def _route_changed(self) -> None:
        """Wake the calls waiting in :meth:`route_soon`."""
        self._routes_changed.set()
        self._routes_changed = asyncio.Event()

    def _add_servicers(self, server: grpc.aio.Server) -> None:
        add_gate_service(GateServicer(self), server)

    async def _prepare(self) -> None:
        """On etcd: register, and follow the nodes registered there."""
        if self.config.etcd:
            self.membership = Membership(self.config.etcd, name=self.advertise, role="gates", watch="nodes",
                                         prefix=self.config.etcd_prefix, ttl=self.config.lease_ttl,
                                         keepalive=self.config.keepalive, access=self.config.etcd_access)
            self.membership.listeners.append(lambda members: self._follow(members))
            await self.membership.start()

    def _serving(self) -> None:
        """Dial every node (the configured ones, or those registered in etcd), each kept connected by a task."""
        if self.membership is not None:
            self._follow(self.membership.members())
        else:
            for dial in self.config.nodes:
                self._connect(dial)

    def _connect(self, dial: str, name: str | None = None, audience: str | None = None) -> NodeConnection:
        # No BDP probing: the HTTP/2 window from a node stays at 64 KiB instead of growing to
        # megabytes, so a slow gate link backs up into the node's bounded per-gate buffer
        # (where overflow is logged and counted) rather than into invisible transport buffers.
        options = self.config.keepalive.channel_options(LINK_CONNECT_TIMEOUT_MS) + [("grpc.http2.bdp_probe", 0)]
        channel = tls.channel(dial, self.config.node_tls, options)
        node = NodeConnection(dial, channel, goverse_pb2_grpc.GoverseStub(channel), key=name, audience=audience)
        node.task = asyncio.create_task(self._keep_connected(node), name=f"node-stream {dial}")
        self.connections.append(node)
        return node

    def _follow(self, members: set[str]) -> None:
        """Connect to nodes that joined, let go of nodes that left: placement is over who is registered."""
        if self._closing:
            return
        known = {node.key for node in self.connections}
        for name in sorted(members - known):
            assert self.membership is not None
            registered = self.membership.value_of(name) or name
            dial = self.config.dial.get(name) or registered
            self._connect(dial, name, registered)
            log.event(_log, logging.INFO, "node_joined", node=name, dial=dial)
        for node in [n for n in self.connections if n.key not in members]:
            self.connections.remove(node)
            self.metrics.connected_nodes.set(self.nodes_up())
            log.event(_log, logging.INFO, "node_left", node=node.key, dial=node.dial)
            self.spawn(self._disconnect(node))
        self._route_changed()

    async def _disconnect(self, node: NodeConnection) -> None:
        """Let go of a node that left: the channel is closed first, so that calls still waiting on it
        end now (the client retries them elsewhere), not at their deadline."""
        if node.task:
            node.task.cancel()
        await node.channel.close()
        if node.task:
            await asyncio.gather(node.task, return_exceptions=True)

    async def _stopping(self) -> None:
        self._closing = True
        self._route_changed()
        self.router.finish_all()
        for node in self.connections:
            if node.task:
                node.task.cancel()
        await asyncio.gather(*(node.task for node in self.connections if node.task), return_exceptions=True)

    async def _stopped(self) -> None:
        for node in self.connections:
            await node.channel.close()
        if self.membership is not None:
            await self.membership.stop(revoke=True)

    async def _keep_connected(self, node: NodeConnection) -> None:
        """Keep a RegisterGate stream open; after a healthy stream, backoff starts over."""
        await keep_open(lambda attempt: self._session(node), backoff_min=self.config.backoff_min,
                        backoff_max=self.config.backoff_max, running=lambda: not self._closing)

    async def _session(self, node: NodeConnection) -> None:
        """One RegisterGate stream, from Status probe to its end; always raises StreamLost."""
        up_since: float | None = None
        call = None
        try:
            probe = self.guard.node_metadata(node.audience or node.dial)  # Status takes a token for any node
            status = await node.stub.Status(goverse_pb2.Empty(), timeout=self.config.connect_timeout, metadata=probe)
            if self.membership is None:  # on etcd the key is the registered name, the same on every gate
                node.key = status.advertise_addr or node.dial
                node.audience = node.key
            metadata = self.guard.node_metadata(node.audience or node.dial)
            call = node.stub.RegisterGate(goverse_pb2.RegisterGateRequest(gate_addr=self.advertise), metadata=metadata)
            first = await call.read()
            if first is grpc.aio.EOF or not first.HasField("register_gate_response"):
                raise ConnectionError("node did not answer register_gate_response first")
            up_since = time.monotonic()
            self._set_up(node, True)
            log.event(_log, logging.INFO, "node_stream_up", node=node.dial, key=node.key)
            series = self.metrics.stream_opened(node.key or node.dial, self.advertise)
            while True:
                msg = await call.read()
                if msg is grpc.aio.EOF:
                    raise ConnectionError("node ended the stream")
                if msg.HasField("client_message"):
                    series.inc(len(msg.client_message.client_ids))  # first: the node's count is compared with it
                    self.router.deliver(msg.client_message)
        except asyncio.CancelledError:
            self._set_up(node, False)
            raise
        except Exception as exc:  # any failure means: re-open
            error = f"{type(exc).__name__}: {exc.details() if isinstance(exc, grpc.aio.AioRpcError) else exc}"
        finally:
            if call is not None:
                call.cancel()
            self.metrics.stream_closed(node.key or node.dial, self.advertise)
        self._set_up(node, False)
        healthy = up_since is not None and time.monotonic() - up_since >= self.config.backoff_max
        log.event(_log, logging.WARNING, "node_stream_down", node=node.dial, error=error, was_up=up_since is not None)
        raise StreamLost(error, healthy)

    def _set_up(self, node: NodeConnection, up: bool) -> None:
        node.up = up
        self.metrics.connected_nodes.set(self.nodes_up())
        self._route_changed()
