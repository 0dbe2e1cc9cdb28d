"""The scheduling half of `billsync run`: one in-memory APScheduler, explicit jobs per firm.

Correctness lives in the store, not here: every job's work is transactional in SyncRunner,
so an extra, missed or interrupted run does no harm. The job store is APScheduler's default
in-memory one on purpose: job stores must never be shared between replicas.

Stopping: `stopping_begins` (safe in a signal handler) starts no new run and makes every HTTP
client refuse new vendor requests (core.http.Shutdown); `shut_down` waits, bounded, for the runs
under way and says what finished, what was cut short and what waits in the outbox.
"""

from __future__ import annotations

import functools
import threading
import time as monotonic_time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

import structlog
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent  # type: ignore[import-untyped]
from apscheduler.executors.pool import ThreadPoolExecutor  # type: ignore[import-untyped]
from apscheduler.jobstores.memory import MemoryJobStore  # type: ignore[import-untyped]
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]
from sqlalchemy import func, select

from config.daemon import DaemonSettings
from config.settings import BillsyncSettings
from core.daemon import jobs
from core.daemon.health import WebhookHealth
from core.daemon.skipped import LATE, STILL_RUNNING, SkippedRuns, quiet_apscheduler
from core.http import Shutdown
from core.payments.firm import FirmPayments, build_firm_payments
from core.runtime import FirmRuntime, build_runtime
from core.store.leases import JobLeases
from core.store.schema import outbox
from core.store.store import Store
from core.store.sync_state import PENDING, SENDING, worker_name

JOBS_PER_FIRM = 7  # poll, drain, renew_webhooks, reconcile, billing, payments, report_snapshot
JOB_LEASE = timedelta(minutes=30)  # longer than any one run; a dead replica's jobs wait this long
_LOCK_WAIT = 0.2  # seconds between looks at the stop flag while waiting for a firm's other job


@dataclass(frozen=True, slots=True)
class Intervals:
    """How often each job runs; the defaults are production's, tests pass short ones."""

    poll_healthy: timedelta = timedelta(minutes=2)  # webhooks ring the doorbell; polling is the safety net
    poll_unhealthy: timedelta = timedelta(seconds=30)
    webhook_fresh: timedelta = timedelta(minutes=15)  # a delivery this recent means webhooks work
    drain: timedelta = timedelta(minutes=1)
    renew_webhooks: timedelta = timedelta(hours=6)
    reconcile: time | timedelta = time(2, 0)  # a local time of day (nightly), or an interval
    # A nightly run delayed by a busy or suspended host still runs that night, once (coalesced).
    reconcile_grace: timedelta = timedelta(hours=4)
    payments: timedelta = timedelta(minutes=5)  # gateway events (their webhooks are only a doorbell)
    billing: timedelta = timedelta(hours=1)  # looks whether the firm's billing schedule is due
    report_snapshot: time = time(3, 0)  # local time, nightly, after the reconcile


def _intervals_from(settings: DaemonSettings) -> Intervals:
    return Intervals(
        poll_healthy=timedelta(seconds=settings.poll_with_webhooks_seconds),
        poll_unhealthy=timedelta(seconds=settings.poll_seconds),
        drain=timedelta(seconds=settings.drain_seconds),
        reconcile=settings.reconcile_at,
    )


@dataclass(frozen=True)
class StopReport:
    """What a stop did to the runs under way when it began (job ids are "firm:job")."""

    seconds: float  # from the signal to the end of the wait
    finished: tuple[str, ...] = ()  # ran to their end after the signal
    cut_short: tuple[str, ...] = ()  # stopped at their next vendor request; resume on the next start
    failed: tuple[str, ...] = ()  # ended with an error (their summary line says which)
    still_running: tuple[str, ...] = ()  # in a vendor request when the wait ended
    writes_waiting: dict[str, int] = field(default_factory=dict)  # outbox rows by firm, sent on the next start

    @property
    def complete(self) -> bool:
        """True when every run under way ended on its own and nothing is still running."""
        return not (self.cut_short or self.still_running)

    def sentence(self) -> str:
        """One line for a person: what finished, what was cut short and resumes."""
        parts = []
        if self.finished:
            parts.append(f"finished: {', '.join(self.finished)}")
        if self.failed:
            parts.append(f"ended with an error (see its job line): {', '.join(self.failed)}")
        if self.cut_short or self.still_running:
            parts.append(f"cut short, resumes on the next start: {', '.join(self.cut_short + self.still_running)}")
        if not parts:
            parts.append("no job was running")
        waiting = sum(self.writes_waiting.values())
        if waiting:
            parts.append(f"{waiting} writes wait in the outbox for the next start")
        return f"stopped in {self.seconds:.1f} s; " + "; ".join(parts)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _interval(every: timedelta) -> IntervalTrigger:
    return IntervalTrigger(seconds=every.total_seconds())


def _grace(every: timedelta) -> int:
    # Late by less than one period: still worth running; later than that, the next run is due anyway.
    return max(1, int(every.total_seconds()))


class Daemon:
    """Runs every firm's poll, drain, webhook renewal and reconcile jobs on one scheduler."""

    def __init__(
        self,
        settings: BillsyncSettings,
        store: Store,
        *,
        public_url: str | None = None,
        intervals: Intervals | None = None,
        build: Callable[[BillsyncSettings, str, Store], FirmRuntime] = build_runtime,
        clock: Callable[[], datetime] = _utcnow,
        shutdown: Shutdown | None = None,
        skipped: SkippedRuns | None = None,
    ) -> None:
        self.intervals = intervals or _intervals_from(settings.daemon)
        self._settings = settings
        self._store = store
        # Given to the firms' HTTP clients by the caller: set, they start no new vendor request.
        self._shutdown = shutdown or Shutdown()
        self._skipped = skipped or SkippedRuns()
        self._stop_began: float | None = None  # monotonic time of the signal
        self._active: set[str] = set()  # job ids running now
        self._ended_while_stopping: dict[str, jobs.Outcome] = {}  # runs that ended after the signal
        # Several replicas may run against one database: a firm's periodic job runs on one of
        # them at a time (drains need no lease: outbox rows are claimed one by one).
        self._leases = JobLeases(store.engine, worker_name()) if store is not None else None
        self._forced: set[tuple[str, str]] = set()  # jobs asked for now (a doorbell): no minimum gap
        # One store for all firms is fine: every row is keyed by firm id.
        self.runtimes: dict[str, FirmRuntime] = {firm: build(settings, firm, store) for firm in settings.firms}
        self._public_url = public_url.rstrip("/") if public_url else None
        self._health = WebhookHealth(self.intervals.webhook_fresh, clock)
        # One firm's jobs run one at a time: two drains of one outbox could both send a row
        # (no lease in-process), and the connector's session is not shared across threads.
        self._firm_locks = {firm: threading.Lock() for firm in self.runtimes}
        self._poll_healthy: dict[str, bool] = {}  # the mode each poll job is scheduled in
        self._mode_lock = threading.Lock()
        self._stopping = threading.Event()
        self._idle = threading.Condition()
        self._running = 0
        self._log = structlog.get_logger()
        self._scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            # A worker for every job of every firm: a hung job of one firm never starves another firm.
            executors={"default": ThreadPoolExecutor(max_workers=max(1, JOBS_PER_FIRM * len(self.runtimes)))},
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self._scheduler.add_listener(self._not_run, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)

    # Lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule every firm's jobs and start the scheduler thread; polls and drains run at once."""
        now = datetime.now(UTC)
        every = self.intervals
        # Long polls, drains and reconciles log `progress` lines (never a bar: no one watches a terminal).
        progress_every = self._settings.progress_every_seconds
        poll = functools.partial(jobs.poll, progress_every=progress_every)
        drain = functools.partial(jobs.drain, progress_every=progress_every)
        reconcile = functools.partial(jobs.reconcile, progress_every=progress_every)
        for firm in self.runtimes:
            with self._mode_lock:
                healthy = self._health.healthy(firm)
                self._poll_healthy[firm] = healthy
                trigger = _interval(self._poll_every(healthy))
                self._add(firm, "poll", poll, trigger, grace=_grace(every.poll_unhealthy), first=now)
            self._add(firm, "drain", drain, _interval(every.drain), grace=_grace(every.drain), first=now)
            if self._public_url is not None:
                renew = jobs.renew_webhooks(functools.partial(self.callback_url, firm))
                self._add(firm, "renew_webhooks", renew, _interval(every.renew_webhooks), grace=3600, first=now)
            if isinstance(every.reconcile, timedelta):
                trigger = _interval(every.reconcile)
            else:
                # The scheduler's time zone is the server's local one, so 02:00 means local 02:00.
                trigger = CronTrigger(hour=every.reconcile.hour, minute=every.reconcile.minute)
            self._add(firm, "reconcile", reconcile, trigger, grace=_grace(every.reconcile_grace))
            if self.runtimes[firm].settings.billing.schedule.enabled:
                self._add(firm, "billing", jobs.bill, _interval(every.billing), grace=_grace(every.billing), first=now)
            if self.runtimes[firm].settings.reports.snapshot_folder is not None:
                at = every.report_snapshot
                nightly = CronTrigger(hour=at.hour, minute=at.minute)
                self._add(firm, "report_snapshot", jobs.snapshot_reports, nightly, grace=_grace(every.reconcile_grace))
            if self.runtimes[firm].settings.payments is not None:
                collect = jobs.collect_payments(self._payments_for)
                self._add(firm, "payments", collect, _interval(every.payments), grace=_grace(every.payments), first=now)
        quiet_apscheduler()  # its per-run skip warnings: counted and said by self._skipped instead
        self._scheduler.start()
        self._log.info("daemon started", firms=sorted(self.runtimes), webhooks=self._public_url is not None)

    def stopping_begins(self) -> None:
        """Start no new run and no new vendor request, from now on. Safe in a signal handler:
        it only sets events (no lock a running thread might hold)."""
        if self._stop_began is None:
            self._stop_began = monotonic_time.monotonic()
        self._shutdown.begin()
        self._stopping.set()

    def running_jobs(self) -> tuple[str, ...]:
        """The runs under way now, as "firm:job" ids."""
        with self._idle:
            return tuple(sorted(self._active))

    def stop(self, timeout: float = 30.0) -> bool:
        """Take no new work, wait up to `timeout` seconds for running jobs; True when all finished."""
        report = self.shut_down(timeout)
        self._log.info("daemon stopped", **_report_fields(report))
        return report.complete

    def shut_down(self, timeout: float = 30.0) -> StopReport:
        """Take no new work, wait up to `timeout` seconds for the runs under way; say what happened."""
        self.stopping_begins()
        with self._mode_lock:
            if self._scheduler.running:
                self._scheduler.pause()  # nothing new is submitted from here on
                self._scheduler.shutdown(wait=False)  # the waiting happens below, bounded
        with self._idle:
            self._idle.notify_all()
            self._idle.wait_for(lambda: self._running == 0, timeout=timeout)
            still = tuple(sorted(self._active))
            ended = dict(self._ended_while_stopping)
        self._skipped.flush()
        began = self._stop_began if self._stop_began is not None else monotonic_time.monotonic()

        def ended_as(outcome: jobs.Outcome) -> tuple[str, ...]:
            return tuple(sorted(job for job, how in ended.items() if how is outcome))

        # Whatever was cut short is safe: each step is transactional and resumes from the store.
        return StopReport(
            seconds=monotonic_time.monotonic() - began,
            finished=ended_as(jobs.Outcome.OK),
            cut_short=ended_as(jobs.Outcome.CUT_SHORT),
            failed=ended_as(jobs.Outcome.ERROR),
            still_running=still,
            writes_waiting=self._writes_waiting(),
        )

    def _writes_waiting(self) -> dict[str, int]:
        if self._store is None:
            return {}
        o = outbox.c
        query = select(o.firm_id, func.count()).where(o.status.in_((PENDING, SENDING))).group_by(o.firm_id)
        with self._store.engine.connect() as conn:
            return {firm: count for firm, count in conn.execute(query) if firm in self.runtimes}

    def _not_run(self, event: JobEvent) -> None:
        """APScheduler did not run a job: still running (max_instances) or too late (misfire)."""
        firm, _, name = str(event.job_id).partition(":")
        if not self._stopping.is_set():
            self._skipped.skipped(firm, name, STILL_RUNNING if event.code == EVENT_JOB_MAX_INSTANCES else LATE)

    # What the HTTP server reports and asks ----------------------------------------------------

    def webhook_seen(self, firm: str) -> None:
        """A verified delivery for `firm` arrived: webhooks work, so polling relaxes."""
        if firm not in self.runtimes:
            raise KeyError(f"no firm {firm!r}")
        self._health.seen(firm)
        self._apply_poll_mode(firm)

    def webhook_lag_seconds(self, firm: str) -> float | None:
        """Seconds since the firm's last verified webhook delivery, or None before the first."""
        last = self._health.last_seen(firm)
        return None if last is None else (datetime.now(UTC) - last).total_seconds()

    def run_soon(self, firm: str, job: str) -> None:
        """Run one of a firm's jobs now instead of at its next time (skipped if it is running)."""
        if not self._stopping.is_set():
            self._forced.add((firm, job))
            self._scheduler.modify_job(self.job_id(firm, job), next_run_time=datetime.now(UTC))

    def _payments_for(self, runtime: FirmRuntime) -> FirmPayments:
        return build_firm_payments(self._settings, runtime.firm_id, runtime.store, http=runtime.http)

    def callback_url(self, firm: str, connector: str | None = None) -> str:
        """Where a vendor delivers this firm's webhooks (its PMS's by default)."""
        name = connector or self.runtimes[firm].pms.name
        return f"{self._public_url}/hooks/{name}/{firm}"

    def poll_interval(self, firm: str) -> timedelta:
        """The interval the firm's poll job is scheduled at right now."""
        with self._mode_lock:
            return self._poll_every(self._poll_healthy.get(firm, False))

    def schedule(self) -> dict[str, str]:
        """Every scheduled job's id and trigger, for health pages and tests."""
        return {job.id: str(job.trigger) for job in self._scheduler.get_jobs()}

    @staticmethod
    def job_id(firm: str, job: str) -> str:
        """The scheduler's id for one firm's job."""
        return f"{firm}:{job}"

    # Internals --------------------------------------------------------------------------------

    def _poll_every(self, healthy: bool) -> timedelta:
        return self.intervals.poll_healthy if healthy else self.intervals.poll_unhealthy

    def _add(
        self, firm: str, name: str, job: jobs.Job, trigger: Any, *, grace: int, first: datetime | None = None
    ) -> None:
        options: dict[str, Any] = {"next_run_time": first} if first is not None else {}
        self._scheduler.add_job(
            self._execute,
            trigger=trigger,
            args=(firm, name, job),
            id=self.job_id(firm, name),
            name=self.job_id(firm, name),
            misfire_grace_time=grace,
            coalesce=True,  # after a stall, one catch-up run, not a burst
            max_instances=1,  # a job never overlaps itself
            replace_existing=True,
            **options,
        )

    def _execute(self, firm: str, name: str, job: jobs.Job) -> None:
        job_id = self.job_id(firm, name)
        with self._idle:
            if self._stopping.is_set():
                return  # queued before stop, never started: nothing to finish
            self._running += 1
            self._active.add(job_id)
        outcome: jobs.Outcome | None = None
        try:
            lock = self._firm_locks[firm]
            while not lock.acquire(timeout=_LOCK_WAIT):
                if self._stopping.is_set():
                    return  # never began: the next start runs it
            try:
                if self._lease(firm, name):
                    try:
                        outcome = jobs.run_job(self.runtimes[firm], name, job)
                    finally:
                        if self._leases is not None and name != "drain":
                            self._leases.finish(firm, name)
            finally:
                lock.release()
            if name == "poll":
                # Webhooks go stale without any event saying so: look after every poll.
                self._apply_poll_mode(firm)
        finally:
            with self._idle:
                self._running -= 1
                self._active.discard(job_id)
                if self._stopping.is_set() and outcome is not None:
                    self._ended_while_stopping[job_id] = outcome
                self._idle.notify_all()

    def _lease(self, firm: str, name: str) -> bool:
        """Whether this replica runs the job now: it holds the job's lease and no replica ran it just now."""
        if self._leases is None or name == "drain":
            return True
        forced = (firm, name) in self._forced
        self._forced.discard((firm, name))
        gap = timedelta(0) if forced else self._min_gap(firm, name)
        if self._leases.try_start(firm, name, lease=JOB_LEASE, min_gap=gap):
            return True
        if forced and not self._stopping.is_set():
            # A doorbell on this replica while another one runs the job: ask again shortly.
            self._forced.add((firm, name))
            self._scheduler.modify_job(self.job_id(firm, name), next_run_time=datetime.now(UTC) + timedelta(seconds=1))
        self._log.debug("job left to another replica", firm=firm, job=name)
        return False

    def _min_gap(self, firm: str, name: str) -> timedelta:
        # Half a period: replicas' schedules drift apart, and a run by any of them counts.
        every = self.intervals
        periods = {
            "poll": self.poll_interval(firm),
            "renew_webhooks": every.renew_webhooks,
            "payments": every.payments,
            "reconcile": every.reconcile if isinstance(every.reconcile, timedelta) else timedelta(hours=24),
            "report_snapshot": timedelta(hours=24),
        }
        period = periods.get(name)
        return period / 2 if period is not None else timedelta(0)

    def _apply_poll_mode(self, firm: str) -> None:
        healthy = self._health.healthy(firm)
        with self._mode_lock:
            if self._stopping.is_set() or firm not in self._poll_healthy or self._poll_healthy[firm] == healthy:
                return  # not started, stopping, or already right
            self._poll_healthy[firm] = healthy
            every = self._poll_every(healthy)
            self._scheduler.reschedule_job(self.job_id(firm, "poll"), trigger=_interval(every))
        self._log.info("poll interval", firm=firm, webhooks_healthy=healthy, seconds=every.total_seconds())


def _report_fields(report: StopReport) -> dict[str, object]:
    """A StopReport as log fields."""
    return {
        "seconds": round(report.seconds, 1),
        "finished": list(report.finished),
        "cut_short": list(report.cut_short),
        "failed": list(report.failed),
        "still_running": list(report.still_running),
        "writes_waiting": report.writes_waiting,
        "complete": report.complete,
    }
