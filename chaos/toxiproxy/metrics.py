"""``/metrics``: the real server's proxy byte counters, plus process metrics.

Counts are read from the pipes when scraped, so the data path only adds to
plain integers. Names and labels follow Toxiproxy's ``-proxy-metrics``.
"""

from __future__ import annotations

from typing import Iterator

from prometheus_client import (CONTENT_TYPE_LATEST, GC_COLLECTOR, PLATFORM_COLLECTOR,
                               PROCESS_COLLECTOR, CollectorRegistry, generate_latest)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from .collection import ProxyCollection
from .toxicset import DIRECTIONS

__all__ = ["MetricsRenderer"]

_LABELS = ["direction", "proxy", "listener", "upstream"]


class _ProxyBytes(Collector):
    def __init__(self, collection: ProxyCollection) -> None:
        self.collection = collection

    def collect(self) -> Iterator[Metric]:
        received = CounterMetricFamily("toxiproxy_proxy_received_bytes",
                                       "Number of bytes received from the source", labels=_LABELS)
        sent = CounterMetricFamily("toxiproxy_proxy_sent_bytes",
                                   "Number of bytes sent to the destination", labels=_LABELS)
        for proxy in list(self.collection.proxies.values()):
            for direction, (rx, tx) in enumerate(proxy.byte_counts()):
                labels = [DIRECTIONS[direction], proxy.name, proxy.listen, proxy.upstream]
                received.add_metric(labels, rx)
                sent.add_metric(labels, tx)
        yield received
        yield sent


class MetricsRenderer:
    """Callable giving the Prometheus text body and its content type."""

    def __init__(self, collection: ProxyCollection) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_ProxyBytes(collection))
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)

    def __call__(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
