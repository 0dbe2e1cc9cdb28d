"""Fake runners and connectors for the daemon tests: no network, no store, observable calls."""

from __future__ import annotations

import io
import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import structlog

from config.settings import BillsyncSettings
from core.daemon import Daemon, Intervals
from core.progress import RateLimit
from core.runtime import FirmRuntime
from core.tokens import Subscription

FAST = Intervals(
    poll_healthy=timedelta(seconds=30),
    poll_unhealthy=timedelta(seconds=0.05),
    webhook_fresh=timedelta(minutes=15),
    drain=timedelta(seconds=0.05),
    renew_webhooks=timedelta(seconds=30),
    reconcile=timedelta(seconds=30),
)


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class FakeConnector:
    name = "fakevendor"

    def __init__(self) -> None:
        self._writer = object()

    def writer(self) -> object:
        return self._writer

    def webhooks(self) -> None:
        return None


class HookedConnector(FakeConnector):
    """A vendor that sends webhooks (the handler itself is never called by the daemon)."""

    def webhooks(self) -> object:  # type: ignore[override]
        return object()


class FakeRunner:
    """Records calls; a job can be made to fail (`fail[name]`) or to block until `release` is set."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.fail: dict[str, Exception] = {}
        self.block: set[str] = set()
        self.release = threading.Event()
        self.active = 0
        self.max_active = 0
        self.callbacks: list[str] = []
        self.drain_phases: list[tuple[str, int]] = []
        self.connectors = (HookedConnector(),)
        self._lock = threading.Lock()

    def _work(self, name: str) -> None:
        with self._lock:
            self.calls[name] += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            structlog.get_logger().info("inside", step=name)
            if name in self.block:
                self.release.wait(5)
            if name in self.fail:
                raise self.fail[name]
        finally:
            with self._lock:
                self.active -= 1

    def poll(self, report, *, only_streams=None, progress=None) -> None:
        self._work("poll")
        report.records_read["activities"] += 2

    def drain_outbox(self, writer, report, *, progress=None) -> None:
        self._work("drain")
        report.written += 1
        for phase, total in self.drain_phases:  # (name, entries at one request each) told to `progress`
            progress.start(phase, total=total, requests=total, limit=RateLimit("FakeVendor", 50))
            progress.advance(total, requests=total)
        progress.finish()

    def reconcile(self, writer, report, *, progress=None) -> None:
        self._work("reconcile")
        report.remote_edits += 3
        report.tombstones += 1

    def ensure_webhooks(self, callback_url: str, connector: str | None = None) -> Subscription:
        self._work("renew_webhooks")
        self.callbacks.append(callback_url)
        return Subscription(id="sub-1", expires_at=datetime(2026, 4, 1, tzinfo=UTC), secret="whsec_c2VjcmV0")


def settings(*firms: str) -> BillsyncSettings:
    return BillsyncSettings(firms={firm: {"name": firm.title()} for firm in firms})


def runtime(firm: str, runner: FakeRunner) -> FirmRuntime:
    return FirmRuntime(firm, settings(firm).firm(firm), None, None, FakeConnector(), runner)  # type: ignore[arg-type]


def make_daemon(runners: dict[str, FakeRunner], **kwargs) -> Daemon:
    kwargs.setdefault("intervals", FAST)
    return Daemon(
        settings(*runners),
        None,  # type: ignore[arg-type]
        build=lambda _settings, firm, _store: runtime(firm, runners[firm]),
        **kwargs,
    )


def wait_until(predicate, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


class Logs:
    """Captures structlog's JSON output and parses it back into dicts."""

    def __init__(self) -> None:
        self.out = io.StringIO()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.out.getvalue().splitlines() if line.strip()]

    def jobs(self, **match) -> list[dict]:
        return [
            line
            for line in self.lines()
            if line.get("event") == "job" and all(line.get(k) == v for k, v in match.items())
        ]
