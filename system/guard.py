"""The door of a gate and of a node: who is calling, may they, and the status they get if not.

The I/O edge of :mod:`system.access` and :mod:`system.auth`: it reads a
call's peer and headers, asks those modules, and turns a refusal into its
gRPC status, counted once (``pushchat_denied_total{reason}`` or
``pushchat_limited_total{limit}``) and logged (``access_denied`` or
``limited``) at most once a second per peer and reason, or client and limit,
with how many refusals the line stands for. The gate forwards a call with headers of its own making, so
a client's ``x-pushchat-user`` never reaches a node.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Callable, NoReturn

import grpc
from google.protobuf import any_pb2, descriptor, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from system import auth, log
from system.access import PERMISSION_DENIED, UNAUTHENTICATED, Access, Caller, Refused, Verdict
from system.limits import Limits
from system.metrics import Metrics
from system.pb import chat_pb2  # noqa: F401 (its types in the pool: the gate reads user names in requests)

GATE_TOKEN_TTL = 120.0      # seconds a gate's own token to a node lives; it makes a new one at half that
GATE_TOKENS_KEPT = 1024     # nodes whose gate token is cached at once
QUIET_SECONDS = 1.0         # one ``limited``/``access_denied`` line per client and refusal per this long
_STRING = descriptor.FieldDescriptor.TYPE_STRING


def named_in(packed: any_pb2.Any) -> tuple[str | None, str]:
    """The ``user_name`` a request inside an ``Any`` speaks as (None: it has no such field) and the
    ``client_id`` it names ("" if none). An unknown type, or a payload that does not parse, names nobody."""
    if not packed.type_url:
        return None, ""
    try:
        cls = message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(packed.TypeName()))
    except KeyError:
        return None, ""
    message = cls()
    try:
        message.ParseFromString(packed.value)
    except DecodeError:  # it names nobody; the node, parsing it alike, refuses it
        return None, ""
    fields = message.DESCRIPTOR.fields_by_name
    user = fields.get("user_name")
    client = fields.get("client_id")
    return (getattr(message, "user_name") if user is not None and user.type == _STRING else None,
            getattr(message, "client_id") if client is not None and client.type == _STRING else "")


class _Door:
    """Counting, logging and answering refusals: the same at the gate and at the node."""

    def __init__(self, mode: str, secret: bytes | None, metrics: Metrics, logger: logging.Logger) -> None:
        if mode not in auth.AUTH_MODES:
            raise ValueError(f"unknown auth mode {mode!r}: want one of {', '.join(auth.AUTH_MODES)}")
        if mode == "token" and not secret:
            raise ValueError("--auth token needs the secret that signs the tokens (--secret-file)")
        self.mode = mode
        self.secret = secret
        self.metrics = metrics
        self.log = logger
        self._quiet: dict[tuple[str, str], list[float]] = {}  # (limit, principal) -> [last logged, refused since]

    async def refuse(self, context: grpc.aio.ServicerContext, refused: Refused, who: str = "",
                     method: str = "") -> NoReturn:
        peer = context.peer()
        if refused.limit:
            self.metrics.limited.labels(limit=refused.limit).inc()
            self._log_quietly("limited", (refused.limit, who or peer), refused, limit=refused.limit, peer=peer,
                              who=who, method=method)
        elif refused.code == "INVALID_ARGUMENT":  # a bad request, not a trespass: as the node logs those
            log.event(self.log, logging.INFO, "call_failed", method=method, code=refused.code, error=str(refused))
        else:
            self.metrics.denied.labels(reason=refused.reason).inc()
            self._log_quietly("access_denied", (refused.reason, peer), refused, reason=refused.reason, peer=peer,
                              who=who, method=method)
        await context.abort(grpc.StatusCode[refused.code], str(refused))
        raise AssertionError("unreachable: abort raises")

    def _log_quietly(self, event: str, key: tuple[str, str], refused: Refused, **fields: str) -> None:
        """At most one line a second per ``key`` (a limit and its client, a reason and its peer), saying how
        many refusals it stands for: a caller hammering the door cannot fill the disk. Every refusal is
        still counted in the metrics."""
        now = time.monotonic()
        seen = self._quiet.get(key)
        if seen is not None and now - seen[0] < QUIET_SECONDS:
            seen[1] += 1
            return
        if len(self._quiet) > 10_000:
            self._quiet.clear()
        self._quiet[key] = [now, 0]
        log.event(self.log, logging.INFO, event, code=refused.code, **fields,
                  refused=1 + (seen[1] if seen else 0), error=str(refused))


class GateGuard(_Door):
    """The gate's door: a caller from the peer and headers, :class:`Access` for the rules."""

    def __init__(self, mode: str, secret: bytes | None, limits: Limits, allow_admin_calls: bool,
                 metrics: Metrics, logger: logging.Logger) -> None:
        super().__init__(mode, secret, metrics, logger)
        self.access = Access(mode, limits, allow_admin_calls)
        self._gate_tokens: dict[str, tuple[str, float]] = {}  # node -> (its token, expiry)

    def caller(self, context: grpc.aio.ServicerContext) -> Caller:
        """Who is calling; :class:`Refused` (UNAUTHENTICATED) for a missing or bad token in token mode."""
        metadata = context.invocation_metadata()
        peer = context.peer()
        session = auth.header(metadata, auth.SESSION_HEADER)
        # Hashed: whatever its length, a session value costs the gate 32 characters.
        key = hashlib.sha256(session.encode()).hexdigest()[:32] if session else ""
        identity = None
        if self.mode == "token":
            assert self.secret is not None
            try:
                token = auth.bearer(metadata)
                if token is None:
                    raise auth.TokenRejected("missing", "this gate needs a token: send 'authorization: Bearer "
                                             "<token>' ('pushchat token' issues one)")
                identity = auth.verify(self.secret, token)
            except auth.TokenRejected as exc:
                raise Refused(UNAUTHENTICATED, f"token_{exc.reason}", str(exc)) from None
            if identity.gate:
                raise Refused(PERMISSION_DENIED, "gate_token", "a gate's token does not make a client")
        return Caller(peer, key, identity)

    async def admit_stream(self, context: grpc.aio.ServicerContext) -> Caller:
        """A new Register stream: authenticated, within the limits; else the stream is refused."""
        try:
            caller = self.caller(context)
            self.access.open_stream(caller)
        except Refused as refused:
            await self.refuse(context, refused, method="Register")
        return caller

    async def admit_call(self, context: grpc.aio.ServicerContext, client_id: str, object_id: str, method: str,
                         request: any_pb2.Any) -> tuple[Caller, Verdict]:
        caller: Caller | None = None
        try:
            caller = self.caller(context)
            user, named = named_in(request)
            verdict = self.access.check_call(caller, client_id=client_id, named_client_id=named, user_name=user,
                                             object_id=object_id, method=method, now=self.access.clock())
        except Refused as refused:
            await self.refuse(context, refused, _who(caller), method)
        return caller, verdict

    async def admit_admin(self, context: grpc.aio.ServicerContext, what: str) -> Caller:
        caller: Caller | None = None
        try:
            caller = self.caller(context)
            self.access.check_admin(caller, what)
        except Refused as refused:
            await self.refuse(context, refused, _who(caller), what)
        return caller

    def node_metadata(self, node: str, user: str | None = None) -> tuple[tuple[str, str | bytes], ...]:
        """Headers of a call to ``node`` (its advertise address): the gate's own token made for that node
        alone (when the gate has the secret), and the vouched-for user."""
        out: list[tuple[str, str | bytes]] = []
        token = self.gate_token(node)
        if token:
            out.append((auth.AUTH_HEADER, f"Bearer {token}"))
        if user:
            out.append((auth.USER_HEADER, user.encode("utf-8")))
        return tuple(out)

    def gate_token(self, node: str) -> str | None:
        """The gate's token for one node (``aud``), short-lived, made anew at half its life; None without the
        secret. A node refuses a token made for another: one handed to a rogue address is useless elsewhere."""
        if self.secret is None:
            return None
        now = time.time()
        held = self._gate_tokens.get(node)
        if held is None or held[1] - now < GATE_TOKEN_TTL / 2:
            if len(self._gate_tokens) >= GATE_TOKENS_KEPT:  # bounded, whatever etcd lists
                self._gate_tokens.clear()
            held = (auth.issue(self.secret, "gate", GATE_TOKEN_TTL, role=auth.ROLE_GATE, now=now, audience=node),
                    now + GATE_TOKEN_TTL)
            self._gate_tokens[node] = held
        return held[0]


def _who(caller: Caller | None) -> str:
    if caller is None:
        return ""
    return caller.identity.user if caller.identity else caller.connection


@dataclass(frozen=True)
class NodeCaller:
    """Who a node's caller is: the user it acts for (None: unsaid), and whether a gate or an admin."""

    user: str | None
    gate: bool
    admin: bool


class NodeGuard(_Door):
    """The node's door. ``--auth none``: the network is trusted (keep the node's port private, or use mutual
    TLS). ``--auth token``: the node's port is for gates and operators, never for chat users. A gate's token
    (made for this node: its ``aud`` is our advertise address) vouches for the user and the client id it
    forwards; an operator's (admin) token acts as itself, naming no client; a user's token acts on nothing.
    Status answers any gate's token: it is how a gate learns the address the others must be made for."""

    def __init__(self, mode: str, secret: bytes | None, metrics: Metrics, logger: logging.Logger,
                 audience: Callable[[], str] = lambda: "") -> None:
        super().__init__(mode, secret, metrics, logger)
        self.audience = audience  # our advertise address, known once bound

    def identify(self, context: grpc.aio.ServicerContext, need: str = "", client_id: str = "",
                 request: any_pb2.Any | None = None) -> NodeCaller:
        """``need``: "" (any gate or operator), "gate", "admin", or "status" (a gate token for any node will
        do); ``client_id`` and ``request``: the client a call names (in ``CallObject`` or inside its request);
        :class:`Refused` when the caller may not."""
        metadata = context.invocation_metadata()
        forwarded = auth.header(metadata, auth.USER_HEADER) or None
        if self.mode == "none":
            return NodeCaller(forwarded, gate=True, admin=True)
        assert self.secret is not None
        try:
            token = auth.bearer(metadata)
            if token is None:
                raise auth.TokenRejected("missing", "this node needs a token (a gate's, or an operator's)")
            identity = auth.verify(self.secret, token)
        except auth.TokenRejected as exc:
            raise Refused(UNAUTHENTICATED, f"token_{exc.reason}", str(exc)) from None
        if identity.gate:
            mine = self.audience()
            if need != "status" and identity.audience != mine:
                raise Refused(PERMISSION_DENIED, "token_audience",
                              f"this gate token was made for node {identity.audience or '(none named)'!r}, "
                              f"not for this one ({mine!r})")
            caller = NodeCaller(forwarded, gate=True, admin=True)
        elif not identity.admin:
            raise Refused(PERMISSION_DENIED, "user_token", "a user's token acts on nothing on a node's port: "
                          "clients call a gate; a node admits gates and operators (admin tokens)")
        else:
            named = client_id or (named_in(request)[1] if request is not None else "")
            if forwarded is not None or named:
                raise Refused(PERMISSION_DENIED, "client_claim_not_from_gate",
                              "only a gate may act for a user or name a client id on a node")
            caller = NodeCaller(identity.user, gate=False, admin=True)
        if need == "gate" and not caller.gate:
            raise Refused(PERMISSION_DENIED, "not_a_gate", "only a gate may register for pushes")
        if need == "admin" and not caller.admin:
            raise Refused(PERMISSION_DENIED, "admin_call", "creating and deleting objects needs an admin token")
        return caller

    async def admit(self, context: grpc.aio.ServicerContext, method: str, need: str = "", client_id: str = "",
                    request: any_pb2.Any | None = None) -> NodeCaller:
        try:
            return self.identify(context, need, client_id, request)
        except Refused as refused:
            await self.refuse(context, refused, method=method)
        raise AssertionError("unreachable")
