"""The daemon's own metrics: vendor HTTP calls, rate-limit waits, and state read at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from core.http import HttpClient, Limiter, Shutdown
from core.store.schema import outbox, time_entries
from core.store.store import Store
from core.store.sync_state import DONE


class DaemonMetrics:
    """Counters fed by every firm's HTTP client, and gauges computed from the store when scraped."""

    def __init__(self, registry: CollectorRegistry | None = None, *, shutdown: Shutdown | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._shutdown = shutdown  # every client made here refuses new requests once it begins
        self.vendor_calls = Counter(
            "billsync_vendor_http_requests",
            "HTTP requests to vendors, by vendor and status.",
            ["vendor", "status"],
            registry=self.registry,
        )
        self.rate_limit_waits = Counter(
            "billsync_rate_limit_wait_seconds",
            "Seconds spent waiting for a vendor's rate-limit window, by vendor.",
            ["vendor"],
            registry=self.registry,
        )
        self.job_runs_skipped = Counter(
            "billsync_job_runs_skipped",
            "Scheduled job runs that did not happen, by firm, job and reason (still running, late).",
            ["firm", "job", "reason"],
            registry=self.registry,
        )

    def count_skipped(self, firm: str, job: str, reason: str) -> None:
        """One scheduled run of a firm's job did not happen (core.daemon.skipped.SkippedRuns)."""
        self.job_runs_skipped.labels(firm=firm, job=job, reason=reason).inc()

    def http_client(self, vendor: str, limiter: Limiter | None = None) -> HttpClient:
        """An HTTP client whose calls and waits are counted under `vendor`."""
        return HttpClient(
            limiter=limiter,
            on_response=lambda _method, status: self.vendor_calls.labels(vendor=vendor, status=str(status)).inc(),
            on_wait=lambda seconds: self.rate_limit_waits.labels(vendor=vendor).inc(seconds),
            shutdown=self._shutdown,
        )

    def watch_store(self, store: Store, firms: list[str], webhook_lag: Callable[[str], float | None]) -> None:
        """Expose entries by state, outbox depth and webhook lag, read fresh on every scrape."""
        self.registry.register(_StoreCollector(store, firms, webhook_lag))


class _StoreCollector(Collector):
    def __init__(self, store: Store, firms: list[str], webhook_lag: Callable[[str], float | None]) -> None:
        self._store = store
        self._firms = firms
        self._lag = webhook_lag

    def collect(self) -> Iterator[GaugeMetricFamily]:
        entries = GaugeMetricFamily("billsync_entries", "Time entries by firm and state.", labels=["firm", "state"])
        depth = GaugeMetricFamily(
            "billsync_outbox_depth", "Writes waiting, by firm and status.", labels=["firm", "status"]
        )
        lag = GaugeMetricFamily(
            "billsync_webhook_lag_seconds", "Seconds since the firm's last verified webhook.", labels=["firm"]
        )
        t, o = time_entries.c, outbox.c
        with self._store.engine.connect() as conn:
            for firm, state, count in conn.execute(
                select(t.firm_id, t.state, func.count()).group_by(t.firm_id, t.state)
            ):
                entries.add_metric([firm, state], count)
            for firm, status, count in conn.execute(
                select(o.firm_id, o.status, func.count()).where(o.status != DONE).group_by(o.firm_id, o.status)
            ):
                depth.add_metric([firm, status], count)
        for firm in self._firms:
            seconds = self._lag(firm)
            if seconds is not None:
                lag.add_metric([firm], seconds)
        yield from (entries, depth, lag)
