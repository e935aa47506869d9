"""gRPC channel and server options shared by both hops (client→gate, gate→node).

Keepalive alone does not notice a blackholed link: the wait for a ping's ack
is ``grpc.http2.ping_timeout_ms`` (default 60 s). With time, timeout and
ping timeout at 1 s, a dead link is noticed in about 1-2 s. Both ends must
agree, or the server answers frequent pings with GOAWAY ``too_many_pings``.
"""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


#: How long one connection attempt may take before gRPC gives it up (see ``Keepalive.channel_options``).
CONNECT_TIMEOUT_MS = 2000
#: The same for a server-to-server link (gate to node): a handshake slowed by a reconnect storm of thousands
#: of clients on the same machine is waited for; cut at 2 s, a restarted gate's every attempt to reach its node
#: timed out for 45 s while 2,000 clients redialled (docs/benchmarks.md, "A big room under faults").
LINK_CONNECT_TIMEOUT_MS = 10000


@dataclass(frozen=True)
class Keepalive:
    time_ms: int = 1000
    timeout_ms: int = 1000
    ping_timeout_ms: int = 1000

    def _both_ends(self) -> list[tuple[str, int]]:
        """What the two ends of a hop must agree on: how often to ping, how long to wait for the ack."""
        return [
            ("grpc.keepalive_time_ms", self.time_ms),
            ("grpc.keepalive_timeout_ms", self.timeout_ms),
            ("grpc.http2.ping_timeout_ms", self.ping_timeout_ms),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.max_receive_message_length", 16 * MB),
        ]

    def channel_options(self, connect_timeout_ms: int = CONNECT_TIMEOUT_MS) -> list[tuple[str, int]]:
        """The dialling end: redial a lost server within a second.

        gRPC also takes ``min_reconnect_backoff_ms`` as the least time a connection attempt may take
        (TCP and the HTTP/2 handshake): at 100 ms, 500 clients redialling one busy gate at once all
        timed out, attempt after attempt, for minutes (docs/benchmarks.md, "Chaos under load")."""
        return self._both_ends() + [
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.min_reconnect_backoff_ms", connect_timeout_ms),
            ("grpc.max_reconnect_backoff_ms", 1000),
        ]

    def server_options(self) -> list[tuple[str, int]]:
        """The serving end: accept pings as often as the other end sends them, never GOAWAY for them."""
        return self._both_ends() + [
            ("grpc.http2.min_ping_interval_without_data_ms", max(100, self.time_ms // 2)),
            ("grpc.http2.max_ping_strikes", 0),
        ]


DEFAULT_KEEPALIVE = Keepalive()
