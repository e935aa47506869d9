"""The gate's rules on who may do what, and over which connection (sans-I/O).

- Identity is the registered client, not the connection. A ``Register``
  stream grants a client id on its connection; a call (or a ``Join``/``Leave``
  inside one) naming that id over that connection acts as that client.
  Many clients may share one connection (grpc shares one TCP connection
  between a process's channels to a target): each has its own name. Naming
  an id registered on another connection is refused, so nobody can move
  someone else's pushes. A call naming no id is anonymous, on its own account.
- With tokens (``--auth token``) the user name is the token's; a request
  naming another is refused. Without (``--auth none``) a name is claimed by
  the first registered client that speaks as it, and is that client's while
  its Register stream lasts: nobody else, registered or not, may speak as it
  meanwhile. A name nobody holds is free to use (that is what "no
  authentication" means). A client proves it is the same client across
  reconnections by a random session value it sends (:data:`auth.SESSION_HEADER`):
  that value lets it take its own name back, and meters nothing.
- Creating and deleting objects is for admins only.
- Limits (:mod:`system.limits`) meter what a client cannot choose: its
  connection, its registered client, its token's user. Never a header alone.
  What is kept for calls that name no client expires (:attr:`Limits.idle_expiry`).

The gate's :mod:`system.guard` reads the headers and peer, asks here, and
turns a :class:`Refused` into a gRPC status.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from cachetools import TTLCache

from system import clientid, limits as L
from system.auth import Identity
from system.names import canonical_user_name

PERMISSION_DENIED, UNAUTHENTICATED, RESOURCE_EXHAUSTED = "PERMISSION_DENIED", "UNAUTHENTICATED", "RESOURCE_EXHAUSTED"
INVALID_ARGUMENT = "INVALID_ARGUMENT"
JOIN, LEAVE = "Join", "Leave"


class Refused(Exception):
    """A refused request: ``code`` (a gRPC status name), ``reason`` (a stable word), ``limit`` if one was hit."""

    def __init__(self, code: str, reason: str, message: str, limit: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.limit = limit


@dataclass(frozen=True, slots=True)  # slots: a gate keeps one per Register stream
class Caller:
    """Where a request came from and who it proved to be."""

    connection: str                 # the gRPC peer: one per TCP connection
    session: str = ""               # the client's hashed session value, "" when it sends none
    identity: Identity | None = None  # the verified token (--auth token), else None


@dataclass(slots=True)
class Registration:
    """One registered client: the stream's caller, the name it speaks as (``--auth none``), its rooms."""

    caller: Caller
    name: str | None = None
    rooms: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Verdict:
    """What the gate vouches for on a forwarded call."""

    client_id: str       # the caller's own registered client id, or "" (an anonymous call)
    user: str | None     # the user name the object must act for; None when the request names none


@dataclass
class Access:
    """The registered clients of one gate and the rules above. ``mode``: ``none`` or ``token``."""

    mode: str = "none"
    limits: L.Limits = field(default_factory=L.Limits)
    allow_admin_calls: bool = False
    clock: Callable[[], float] = time.monotonic  # what ``now`` in :meth:`check_call` is measured by

    def __post_init__(self) -> None:
        lim = self.limits
        self._registrations: dict[str, Registration] = {}  # client id -> its Register stream's registration
        self._streams: Counter[str] = Counter()              # connection -> open Register streams
        self._claims: dict[str, set[str]] = {}               # --auth none: user name -> client ids holding it
        # Anonymous calls' rooms, by connection or token user: nobody says when they end, so they expire.
        self._rooms: TTLCache[str, set[str]] = TTLCache(maxsize=max(1, lim.max_tracked), ttl=lim.idle_expiry,
                                                        timer=self.clock)
        self.rate = L.RateLimiter(lim.call_rate, lim.call_burst, max_keys=lim.max_tracked)
        self.connection_rate = L.RateLimiter(lim.connection_call_rate, lim.connection_call_burst,
                                             max_keys=lim.max_tracked)

    def __len__(self) -> int:
        return len(self._registrations)

    # -- Register streams ------------------------------------------------------------------
    def open_stream(self, caller: Caller) -> None:
        """May ``caller`` open another Register stream? Refused when the gate or its connection is full."""
        lim = self.limits
        if lim.max_clients and len(self._registrations) >= lim.max_clients:
            raise Refused(RESOURCE_EXHAUSTED, L.CLIENTS, f"the gate is full: {lim.max_clients} clients are "
                          "registered; try again later or another gate", limit=L.CLIENTS)
        if lim.streams_per_connection and self._streams[caller.connection] >= lim.streams_per_connection:
            raise Refused(RESOURCE_EXHAUSTED, L.STREAMS_PER_CONNECTION,
                          f"this connection already has {lim.streams_per_connection} Register streams",
                          limit=L.STREAMS_PER_CONNECTION)

    def bind(self, caller: Caller, client_id: str) -> None:
        """``client_id`` was given to ``caller``'s new stream: it is that client's, on that connection."""
        self._registrations[client_id] = Registration(caller)
        self._streams[caller.connection] += 1

    def unbind(self, client_id: str) -> None:
        """The stream ended: its id is nobody's, and its name is free unless another of its session holds it."""
        registration = self._registrations.pop(client_id, None)
        if registration is None:
            return
        connection = registration.caller.connection
        self._streams[connection] -= 1
        if self._streams[connection] <= 0:
            del self._streams[connection]
        if registration.name is not None:
            holders = self._claims.get(registration.name, set())
            holders.discard(client_id)
            if not holders:
                self._claims.pop(registration.name, None)

    def name_of(self, client_id: str) -> str | None:
        """The name a registered client speaks as (``--auth none``), once it has spoken."""
        registration = self._registrations.get(client_id)
        return registration.name if registration else None

    def streams(self) -> dict[str, int]:
        """Open Register streams by connection."""
        return dict(self._streams)

    def tracked(self) -> int:
        """Callers whose state is kept beyond their streams (buckets, anonymous rooms): bounded, expiring."""
        return len(self._rooms) + len(self.rate) + len(self.connection_rate)

    # -- calls -----------------------------------------------------------------------------
    def check_admin(self, caller: Caller, what: str) -> None:
        """CreateObject and DeleteObject: only with ``--allow-admin-calls`` or an admin token."""
        if self.allow_admin_calls or (caller.identity is not None and caller.identity.admin):
            return
        raise Refused(PERMISSION_DENIED, "admin_call", f"{what} through the gate needs an admin token (or a gate "
                      "started with --allow-admin-calls)")

    def check_call(self, caller: Caller, *, client_id: str, named_client_id: str, user_name: str | None,
                   object_id: str, method: str, now: float) -> Verdict:
        """Check one CallObject: its connection's and its client's rate, the client ids it names (the call's
        and its request's), the user name its request speaks as, and the rooms joined; the verdict is what
        the gate forwards."""
        lim = self.limits
        if not self.connection_rate.allow(caller.connection, now):
            raise Refused(RESOURCE_EXHAUSTED, L.CALL_RATE, f"too many calls on this connection: the limit is "
                          f"{lim.connection_call_rate:g} a second (bursts of {lim.connection_call_burst})",
                          limit=L.CALL_RATE)
        verified = self._client_id(caller, client_id, named_client_id)
        if not self.rate.allow(self._principal(caller, verified), now):
            raise Refused(RESOURCE_EXHAUSTED, L.CALL_RATE, f"too many calls: the limit is "
                          f"{lim.call_rate:g} a second (bursts of {lim.call_burst})", limit=L.CALL_RATE)
        user = self._user(caller, verified, user_name)
        if method == JOIN and lim.rooms_per_client:
            rooms = self._rooms_of(caller, verified, create=False)
            if object_id not in rooms and len(rooms) >= lim.rooms_per_client:
                raise Refused(RESOURCE_EXHAUSTED, L.ROOMS_PER_CLIENT, f"you are in {len(rooms)} rooms, the "
                              f"limit; leave one first", limit=L.ROOMS_PER_CLIENT)
        return Verdict(verified, user)

    def called(self, caller: Caller, verdict: Verdict, object_id: str, method: str) -> None:
        """A call went through: keep count of the rooms joined."""
        if method == JOIN:
            self._rooms_of(caller, verdict.client_id, create=True).add(object_id)
        elif method == LEAVE:
            self._rooms_of(caller, verdict.client_id, create=False).discard(object_id)

    def _principal(self, caller: Caller, client_id: str) -> str:
        """Whom a call's rate is metered against: the token's user, else the registered client, else the
        connection. Each is something the caller cannot pick afresh for every call."""
        if caller.identity is not None:
            return f"user:{caller.identity.user}"
        return f"client:{client_id}" if client_id else f"conn:{caller.connection}"

    def _rooms_of(self, caller: Caller, client_id: str, *, create: bool) -> set[str]:
        """The rooms a registered client joined (forgotten with its stream); an anonymous caller's, which
        expire when it has been idle for ``idle_expiry``."""
        registration = self._registrations.get(client_id) if client_id else None
        if registration is not None:
            return registration.rooms
        key = self._principal(caller, "")
        rooms = self._rooms.get(key)
        if rooms is None:
            rooms = set()
            if not create:
                return rooms
        self._rooms[key] = rooms  # (re)inserted: an active caller's rooms do not expire
        return rooms

    def _client_id(self, caller: Caller, client_id: str, named: str) -> str:
        if client_id and named and client_id != named:
            raise Refused(PERMISSION_DENIED, "client_id_mismatch", f"the call is made as client {client_id!r} "
                          f"but its request names client {named!r}")
        wanted = client_id or named
        if not wanted:
            return ""
        try:
            clientid.parse(wanted)
        except clientid.MalformedClientId as exc:
            raise Refused(INVALID_ARGUMENT, "malformed_client_id", str(exc)) from None
        registration = self._registrations.get(wanted)
        if registration is None:
            raise Refused(PERMISSION_DENIED, "client_id_unknown", f"client id {wanted!r} is not registered on this "
                          "gate (its Register stream ended?); register again and use the new id")
        owner = registration.caller
        if owner.connection != caller.connection:
            raise Refused(PERMISSION_DENIED, "client_id_not_yours", f"client id {wanted!r} was registered on "
                          "another connection; a client may only use the id its own Register stream got")
        if caller.identity is not None and owner.identity is not None and owner.identity.user != caller.identity.user:
            raise Refused(PERMISSION_DENIED, "client_id_not_yours", f"client id {wanted!r} belongs to another user")
        return wanted

    def _user(self, caller: Caller, client_id: str, user_name: str | None) -> str | None:
        if user_name is None:
            return None
        if caller.identity is not None:  # --auth token: the token says who you are
            if user_name and not _same_name(user_name, caller.identity.user):
                raise Refused(PERMISSION_DENIED, "user_name_not_yours", f"your token is for "
                              f"{caller.identity.user!r}; you cannot speak as {user_name[:64]!r}")
            return caller.identity.user
        if not user_name:
            return None
        try:  # before anything is claimed: a name the node would refuse costs the gate nothing
            user_name = canonical_user_name(user_name)
        except ValueError as exc:
            raise Refused(INVALID_ARGUMENT, "bad_user_name", f"bad user_name: {exc}") from None
        registration = self._registrations.get(client_id) if client_id else None
        holders = self._claims.get(user_name, set())
        if holders and not self._may_hold(caller, client_id, holders):
            raise Refused(PERMISSION_DENIED, "user_name_in_use", f"user name {user_name!r} is in use by "
                          "another client on this gate")
        if registration is not None:  # a registered client holds the name it speaks as
            if registration.name is not None and registration.name != user_name:
                raise Refused(PERMISSION_DENIED, "user_name_not_yours", f"this client speaks as "
                              f"{registration.name!r}; it cannot also be {user_name!r}")
            registration.name = user_name
            self._claims.setdefault(user_name, set()).add(client_id)
        return user_name

    def _may_hold(self, caller: Caller, client_id: str, holders: set[str]) -> bool:
        """A held name is the caller's if one of its holders is this very client, or a client of the same
        session (the same client, reconnected before the gate noticed its old stream end)."""
        if client_id in holders:
            return True
        return bool(caller.session) and any(self._registrations[held].caller.session == caller.session
                                            for held in holders)


def _same_name(given: str, user: str) -> bool:
    """Does a request's ``user_name`` name ``user`` (a token's, already canonical)? Compared canonically."""
    try:
        return canonical_user_name(given) == user
    except ValueError:
        return False
