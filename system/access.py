"""The gate's rules on who may do what, and over which connection (sans-I/O).

- A client id belongs to the connection whose ``Register`` stream got it:
  a call (or a ``Join``/``Leave`` inside one) naming it from any other
  connection is refused, so nobody can move someone else's pushes.
- With tokens (``--auth token``) the user name is the token's; a request
  naming another is refused. Without (``--auth none``) a name is claimed by
  the first registered client that uses it and is its own while that client
  has a Register stream on this gate: nobody else, registered or not, may
  speak as it meanwhile. A name nobody holds is free to use (that is what
  "no authentication" means). A client proves it is the same client across
  reconnections by a random session value it sends (:data:`auth.SESSION_HEADER`).
- Creating and deleting objects is for admins only.
- Limits (:mod:`system.limits`) are metered per client: the token's user, or the session.

The gate's :mod:`system.guard` reads the headers and peer, asks here, and
turns a :class:`Refused` into a gRPC status.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from system import clientid, limits as L
from system.auth import Identity

PERMISSION_DENIED, UNAUTHENTICATED, RESOURCE_EXHAUSTED = "PERMISSION_DENIED", "UNAUTHENTICATED", "RESOURCE_EXHAUSTED"
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
    session: str                    # the client's session value, or its connection when it sends none
    identity: Identity | None = None  # the verified token (--auth token), else None

    @property
    def principal(self) -> str:
        """Whom the limits meter: the token's user, or the client's session."""
        return f"user:{self.identity.user}" if self.identity else f"session:{self.session}"


@dataclass(frozen=True)
class Verdict:
    """What the gate vouches for on a forwarded call."""

    client_id: str       # the caller's own registered client id, or "" (no push stream named)
    user: str | None     # the user name the object must act for; None when the request names none


@dataclass
class Access:
    """The registered streams of one gate and the rules above. ``mode``: ``none`` or ``token``."""

    mode: str = "none"
    limits: L.Limits = field(default_factory=L.Limits)
    allow_admin_calls: bool = False

    def __post_init__(self) -> None:
        self._registrations: dict[str, Caller] = {}     # client id -> the caller whose stream got it
        self._streams: Counter[str] = Counter()          # connection -> open Register streams
        self._session_streams: Counter[str] = Counter()  # session -> open Register streams
        self._claims: dict[str, str] = {}                # --auth none: user name -> session holding it
        self._named: dict[str, str] = {}                 # --auth none: session -> the name it speaks as
        self._rooms: dict[str, set[str]] = {}            # principal -> rooms joined through this gate
        self.rate = L.RateLimiter(self.limits.call_rate, self.limits.call_burst)

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
        """``client_id`` was given to ``caller``'s new stream: it is that connection's from now on."""
        self._registrations[client_id] = caller
        self._streams[caller.connection] += 1
        self._session_streams[caller.session] += 1

    def unbind(self, client_id: str) -> None:
        """The stream ended: its id is nobody's, and a session with no stream left gives up its name."""
        caller = self._registrations.pop(client_id, None)
        if caller is None:
            return
        for counter, key in ((self._streams, caller.connection), (self._session_streams, caller.session)):
            counter[key] -= 1
            if counter[key] <= 0:
                del counter[key]
        if caller.session not in self._session_streams:
            name = self._named.pop(caller.session, None)
            if name is not None and self._claims.get(name) == caller.session:
                del self._claims[name]
            if caller.identity is None:
                self._rooms.pop(caller.principal, None)

    def owner(self, client_id: str) -> Caller | None:
        return self._registrations.get(client_id)

    # -- calls -----------------------------------------------------------------------------
    def check_admin(self, caller: Caller, what: str) -> None:
        """CreateObject and DeleteObject: only with ``--allow-admin-calls`` or an admin token."""
        if self.allow_admin_calls or (caller.identity is not None and caller.identity.admin):
            return
        raise Refused(PERMISSION_DENIED, "admin_call", f"{what} through the gate needs an admin token (or a gate "
                      "started with --allow-admin-calls)")

    def check_call(self, caller: Caller, *, client_id: str, named_client_id: str, user_name: str | None,
                   object_id: str, method: str, now: float) -> Verdict:
        """Check one CallObject: its rate, the client ids it names (the call's and its request's), the user
        name its request speaks as, and the rooms joined; the verdict is what the gate forwards."""
        if not self.rate.allow(caller.principal, now):
            raise Refused(RESOURCE_EXHAUSTED, L.CALL_RATE, f"too many calls: the limit is "
                          f"{self.limits.call_rate:g} a second (bursts of {self.limits.call_burst})",
                          limit=L.CALL_RATE)
        verified = self._client_id(caller, client_id, named_client_id)
        user = self._user(caller, user_name)
        if method == JOIN and self.limits.rooms_per_client:
            rooms = self._rooms.get(caller.principal, set())
            if object_id not in rooms and len(rooms) >= self.limits.rooms_per_client:
                raise Refused(RESOURCE_EXHAUSTED, L.ROOMS_PER_CLIENT, f"you are in {len(rooms)} rooms, the "
                              f"limit; leave one first", limit=L.ROOMS_PER_CLIENT)
        return Verdict(verified, user)

    def called(self, caller: Caller, object_id: str, method: str) -> None:
        """A call went through: keep count of the rooms joined."""
        if method == JOIN:
            self._rooms.setdefault(caller.principal, set()).add(object_id)
        elif method == LEAVE:
            self._rooms.get(caller.principal, set()).discard(object_id)

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
            raise Refused("INVALID_ARGUMENT", "malformed_client_id", str(exc)) from None
        owner = self._registrations.get(wanted)
        if owner is None:
            raise Refused(PERMISSION_DENIED, "client_id_unknown", f"client id {wanted!r} is not registered on this "
                          "gate (its Register stream ended?); register again and use the new id")
        if owner.connection != caller.connection:
            raise Refused(PERMISSION_DENIED, "client_id_not_yours", f"client id {wanted!r} was registered on "
                          "another connection; a client may only use the id its own Register stream got")
        if caller.identity is not None and owner.identity is not None and owner.identity.user != caller.identity.user:
            raise Refused(PERMISSION_DENIED, "client_id_not_yours", f"client id {wanted!r} belongs to another user")
        return wanted

    def _user(self, caller: Caller, user_name: str | None) -> str | None:
        if user_name is None:
            return None
        if caller.identity is not None:  # --auth token: the token says who you are
            if user_name and user_name != caller.identity.user:
                raise Refused(PERMISSION_DENIED, "user_name_not_yours", f"your token is for "
                              f"{caller.identity.user!r}; you cannot speak as {user_name[:64]!r}")
            return caller.identity.user
        if not user_name:
            return None
        holder = self._claims.get(user_name)
        if holder is not None and holder != caller.session:
            raise Refused(PERMISSION_DENIED, "user_name_in_use", f"user name {user_name[:64]!r} is in use by "
                          "another client on this gate")
        if self._session_streams.get(caller.session):  # a registered client holds the name it speaks as
            mine = self._named.get(caller.session)
            if mine is not None and mine != user_name:
                raise Refused(PERMISSION_DENIED, "user_name_not_yours", f"this client speaks as {mine!r}; it "
                              f"cannot also be {user_name[:64]!r}")
            self._claims[user_name] = caller.session
            self._named[caller.session] = user_name
        return user_name
