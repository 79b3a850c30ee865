"""Prometheus metrics of one app (its own registry, so several apps in one process never share counters)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Buckets span a cached prior-only answer (~ms) to a model-scored, explained one on a CPU (seconds).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = r = CollectorRegistry()
        self.requests = Counter("genrec_requests", "HTTP requests by route and status", ["route", "status"],
                                registry=r)
        self.latency = Histogram("genrec_request_seconds", "request latency by route", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("genrec_batch_size", "users per recommend_batch call", buckets=BATCH_BUCKETS,
                                    registry=r)
        self.queue_depth = Gauge("genrec_queue_depth", "requests waiting for a batch", registry=r)
        self.items = Gauge("genrec_catalog_items", "catalog items served (retired ones excluded)", registry=r)

    def request(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def watch(self, batcher, live) -> None:
        """Gauges read at scrape time."""
        self.queue_depth.set_function(batcher.depth)
        self.items.set_function(lambda: len(live.current.catalog) - len(live.current.retired))

    def render(self) -> bytes:
        return generate_latest(self.registry)
