"""Prometheus metrics of one server instance, in a registry of its own (never the global one)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.models import ActivityStatus
from core.server.headers import SecurityHeaders

# Webhook acks should be far under a second: fine buckets at the low end.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServerMetrics:
    """Counters, gauges and the webhook latency histogram the server exposes at /metrics."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, queue_depth: Callable[[], float], registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.webhooks = Counter(
            "billsync_webhook_deliveries",
            "Webhook deliveries received, by connector and outcome.",
            ["connector", "outcome"],
            registry=self.registry,
        )
        self.webhook_seconds = Histogram(
            "billsync_webhook_handling_seconds",
            "Time to answer a webhook delivery.",
            ["connector"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ingest = Counter(
            "billsync_ingest_requests",
            "Signed ingest requests, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.activities = Counter(
            "billsync_activities_captured",
            "Activities captured by the server's background work, by capture status.",
            ["status"],
            registry=self.registry,
        )
        self.background = Counter(
            "billsync_background_jobs",
            "Background jobs finished, by kind and outcome.",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "billsync_background_queue_depth",
            "Re-polls and jobs waiting for the background worker.",
            registry=self.registry,
        )
        self.queue_depth.set_function(queue_depth)

    def count_statuses(self, statuses: Mapping[ActivityStatus, int]) -> None:
        """Add a capture run's activity statuses."""
        for status, count in statuses.items():
            if count:
                self.activities.labels(status=status.value).inc(count)

    def job_done(self, kind: str, ok: bool) -> None:
        """Count a finished background job (firms stay out of labels: bounded cardinality)."""
        self.background.labels(kind=kind, outcome="ok" if ok else "failed").inc()

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


def metrics_app(registry: CollectorRegistry) -> Starlette:
    """An app serving only GET /metrics (the registry's text exposition), for a listener of its own."""

    def exposition(_request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app = Starlette(routes=[Route("/metrics", exposition)])
    app.add_middleware(SecurityHeaders)
    return app
