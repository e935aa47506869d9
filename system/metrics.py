"""Per-process Prometheus counters, in a registry of their own.

Each server gets its own ``CollectorRegistry`` (not prometheus-client's
global one) so several nodes and gates can run in one test process without
their counts mixing. ``snapshot()`` gives tests the same numbers that the
HTTP endpoint serves.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from system import limits, listen
from system.contract import GATE_DROP_REASONS, NODE_FAILURE_REASONS


class Metrics:
    """The push counters of one node or gate (``component``)."""

    def __init__(self, component: str) -> None:
        self.component = component
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.attempted = Counter("pushchat_push_attempted", "pushes attempted (node: per recipient; gate: per client in an envelope)", registry=r)
        self.delivered = Counter("pushchat_push_delivered", "pushes put on a gate queue (node) or a client queue (gate)", registry=r)
        self.failed = Counter("pushchat_push_failed", "node push failures, each logged as push_failed", ["reason"], registry=r)
        self.dropped = Counter("pushchat_push_dropped", "gate drops, each logged as push_dropped", ["reason"], registry=r)
        for reason in NODE_FAILURE_REASONS if component == "node" else ():
            self.failed.labels(reason=reason)
        for reason in GATE_DROP_REASONS if component == "gate" else ():
            self.dropped.labels(reason=reason)
        self.limited = Counter("pushchat_limited", "requests refused by a limit (system.limits)", ["limit"], registry=r)
        self.denied = Counter("pushchat_denied", "requests refused as unauthenticated or not allowed", ["reason"],
                              registry=r)
        for limit in limits.GATE_LIMITS if component == "gate" else limits.NODE_LIMITS:
            self.limited.labels(limit=limit)
        # One RegisterGate stream's pushes, counted at each end (a series per stream up; reset when it opens again)
        self.stream_pushes = Gauge(f"pushchat_stream_pushes_{'written' if component == 'node' else 'read'}",
                                   "pushes (one per client of an envelope) written to (node) or read from (gate) "
                                   "the current RegisterGate stream between node and gate", ["node", "gate"],
                                   registry=r)
        # What a soak (``pushchat chaos soak``) watches for growth; each is read when scraped (see ``watch``).
        self.tasks = Gauge("pushchat_asyncio_tasks", "asyncio tasks not yet done in the server's event loop", registry=r)
        if component == "node":
            self.connected_gates = Gauge("pushchat_connected_gates", "gates with an open RegisterGate stream", registry=r)
            self.rooms = Gauge("pushchat_rooms_hosted", "chat rooms this node hosts", registry=r)
        else:
            self.connected_clients = Gauge("pushchat_connected_clients", "clients with an open Register stream", registry=r)
            self.unsent = Counter("pushchat_push_unsent", "gate: pushes queued for a client whose stream ended "
                                  "before they were sent (also counted as dropped, client_disconnected)", registry=r)
            self.connected_nodes = Gauge("pushchat_connected_nodes", "nodes whose RegisterGate stream is up", registry=r)
            self.sessions = Gauge("pushchat_gate_sessions", "registered clients the gate's access rules hold (one per "
                                  "Register stream, forgotten when it ends)", registry=r)
            self.tracked = Gauge("pushchat_gate_tracked", "callers whose state outlives their streams (rate buckets, "
                                 "anonymous callers' rooms): bounded and expiring", registry=r)
        self._http: Any = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    def watch(self, gauge: Gauge, read: Callable[[], float]) -> None:
        """``gauge`` reads ``read()`` at each scrape (in the metrics thread: ``read`` must only take a length)."""
        gauge.set_function(read)

    def watch_tasks(self, loop: asyncio.AbstractEventLoop) -> None:
        """``pushchat_asyncio_tasks`` counts ``loop``'s unfinished tasks (``asyncio.all_tasks`` is safe from
        another thread: it retries a set that changed while it was copied)."""
        self.watch(self.tasks, lambda: len(asyncio.all_tasks(loop)))

    def stream_opened(self, node: str, gate: str) -> Any:
        """The series of a node-gate stream that just opened, at 0: ``set()`` it as pushes pass."""
        series = self.stream_pushes.labels(node=node, gate=gate)
        series.set(0)
        return series

    def stream_closed(self, node: str, gate: str) -> None:
        """Forget the series of a stream that ended: only streams up are compared across processes."""
        try:
            self.stream_pushes.remove(node, gate)
        except KeyError:
            pass

    def snapshot(self) -> dict[str, Any]:
        """``{name: value}`` for plain series, ``{name: {label values, comma-joined: value}}`` for labelled ones."""
        from prometheus_client import generate_latest
        return parse(generate_latest(self.registry).decode())

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on ``host:port`` (0 picks a free port); return the bound port.

        A taken port is refused (:class:`listen.CannotListen`): the HTTP server sets no ``SO_REUSEPORT``.
        """
        addr = listen.join(host, port)
        try:
            listen.parse(addr)
            self._http, self._thread = start_http_server(port, addr=host, registry=self.registry)
        except listen.CannotListen as exc:
            raise listen.CannotListen(addr, exc.reason, "metrics") from None
        except OSError as exc:
            raise listen.CannotListen(addr, listen.reason(exc), "metrics") from None
        self.port = int(self._http.server_port)
        return self.port

    def close(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


def _samples(text: str) -> Iterator[Any]:
    """The samples of Prometheus exposition text, without the counters' ``_created`` series."""
    for family in text_string_to_metric_families(text):
        yield from (s for s in family.samples if not s.name.endswith("_created"))


def parse(text: str) -> dict[str, Any]:
    """Read Prometheus exposition text into the ``snapshot()`` shape."""
    out: dict[str, Any] = {}
    for sample in _samples(text):
        if sample.labels:
            out.setdefault(sample.name, {})[",".join(sample.labels.values())] = sample.value
        else:
            out[sample.name] = sample.value
    return out


def parse_flat(text: str) -> dict[str, float]:
    """Read Prometheus exposition text into ``{'name{label="v"}': value}``, the chaos checker's shape."""
    out: dict[str, float] = {}
    for sample in _samples(text):
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
        out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out
