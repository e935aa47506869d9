"""What one client may take of a gate, and the rate limiter that meters its calls (sans-I/O).

Each limit, when hit, is a gRPC status (:data:`CODES`) and one count of
``pushchat_limited_total{limit=NAME}``; the names are a contract
(docs/architecture.md, metrics).
"""

from __future__ import annotations

from dataclasses import dataclass

CLIENTS = "clients"                              # Register streams on one gate
STREAMS_PER_CONNECTION = "streams_per_connection"
CALL_RATE = "call_rate"                          # calls per second per client
ROOMS_PER_CLIENT = "rooms_per_client"
MESSAGE_BYTES = "message_bytes"                  # the node's --max-message-bytes
MEMBERS_PER_ROOM = "members_per_room"            # the node's --max-members-per-room
NAMES = (CLIENTS, STREAMS_PER_CONNECTION, CALL_RATE, ROOMS_PER_CLIENT, MESSAGE_BYTES, MEMBERS_PER_ROOM)
GATE_LIMITS = NAMES[:4]
NODE_LIMITS = NAMES[4:]
CODES = {CLIENTS: "RESOURCE_EXHAUSTED", STREAMS_PER_CONNECTION: "RESOURCE_EXHAUSTED",
         CALL_RATE: "RESOURCE_EXHAUSTED", ROOMS_PER_CLIENT: "RESOURCE_EXHAUSTED", MESSAGE_BYTES: "INVALID_ARGUMENT",
         MEMBERS_PER_ROOM: "RESOURCE_EXHAUSTED"}


@dataclass(frozen=True)
class Limits:
    """A gate's limits; 0 turns one off. The defaults are far above what a person's chat client does, and
    let one process (a bot host, a bridge, a test) hold hundreds of clients over one connection."""

    max_clients: int = 10000             # Register streams open on the gate at once
    streams_per_connection: int = 1000   # Register streams over one HTTP/2 connection (a gate's memory per peer)
    call_rate: float = 200.0             # calls per second per client (token user, registered client, or
    call_burst: int = 400                # anonymous connection), sustained and in a burst
    connection_call_rate: float = 2000.0  # calls per second over one connection, whatever clients it holds
    connection_call_burst: int = 4000
    rooms_per_client: int = 100          # rooms one client may be a member of through this gate
    max_tracked: int = 100_000           # callers whose buckets and rooms are kept at once (oldest go first)
    idle_expiry: float = 3600.0          # seconds after which an anonymous caller's rooms are forgotten


SWEEP_EVERY = 1.0  # seconds: how often, at most, a rate limiter looks for buckets that refilled


class RateLimiter:
    """A token bucket per key: ``rate`` tokens a second, at most ``burst`` saved up.

    A bucket that has refilled is as good as none, so such buckets are forgotten as new keys come
    (a sweep at most once per refill time, :data:`SWEEP_EVERY` s at least): a client that reconnects
    gets a new client id and connection, and the old ones' buckets must not stay until ``max_keys``."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self._sweep_every = max(SWEEP_EVERY, self.burst / rate) if rate > 0 else SWEEP_EVERY
        self._swept: float | None = None

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, key: str, now: float) -> bool:
        """Take one token for ``key``; False when it has none (rate 0: never limited)."""
        if self.rate <= 0:
            return True
        tokens, then = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - then) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        if key not in self._buckets:
            if self._swept is None or now - self._swept >= self._sweep_every or len(self._buckets) >= self.max_keys:
                self._forget_full(now)
        self._buckets[key] = (tokens - 1.0, now)
        return True

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: they are as good as new. If none has and there are ``max_keys``,
        drop the longest idle, so memory stays bounded whatever the callers do."""
        self._swept = now
        for key, (tokens, then) in list(self._buckets.items()):
            if tokens + (now - then) * self.rate >= self.burst:
                del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            del self._buckets[min(self._buckets, key=lambda k: self._buckets[k][1])]
