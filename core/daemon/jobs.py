"""The work of each scheduled job, and the one summary line every run ends with.

A job is a plain function of one firm's runtime returning its counts; `run_job` binds the
run's context, times it and turns any exception into an `outcome=error` line, so a failing
job can never take the scheduler (or another firm) down with it. Per-record detail logged during
the run (core.logging.per_record) is DEBUG; the summary line counts it under `details`.
A run the shutdown stopped (core.http.ShuttingDown) ends `outcome=cut_short`: what it did not
reach stays in the store (outbox rows, cursors) and the next start resumes it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum

import structlog

from core.billing.cycle import run_scheduled_cycle
from core.errors import AuthFailed, ShuttingDown
from core.http import waits_told_to
from core.logging import tallied
from core.payments.cycle import run_payments_cycle
from core.payments.firm import FirmPayments
from core.progress import DEFAULT_EVERY_SECONDS, LogProgress, Progress
from core.reports.snapshot import run_report_snapshot
from core.runtime import FirmRuntime
from core.sync import SyncReport

Counts = dict[str, int]
Job = Callable[[FirmRuntime], Counts]


class Outcome(StrEnum):
    """How a run ended: the summary line's `outcome`."""

    OK = "ok"
    ERROR = "error"
    CUT_SHORT = "cut_short"  # the process began to stop; the rest resumes from the store


_MAX_ERROR_CHARS = 500  # an error message is for a person; a vendor's whole response body is not


def long_work(every_seconds: float) -> Progress:
    """The daemon's progress reporter for one run: `progress` log lines for long phases only, never a bar."""
    return LogProgress(structlog.get_logger(), every_seconds=every_seconds, long_only=True)


def poll(runtime: FirmRuntime, *, progress_every: float = DEFAULT_EVERY_SECONDS) -> Counts:
    """Read every stream from its cursor and capture what is new."""
    report = SyncReport()
    progress = long_work(progress_every)
    with waits_told_to(progress.waiting):
        runtime.runner.poll(report, progress=progress)
    return {
        "read": sum(report.records_read.values()),
        "record_errors": len(report.record_errors),
        "entries": sum(report.capture.states.values()),
    }


def drain(runtime: FirmRuntime, *, progress_every: float = DEFAULT_EVERY_SECONDS) -> Counts:
    """Attempt every due write in the firm's outbox once (a long drain logs its progress and ETA)."""
    writer = runtime.pms.writer()
    if writer is None:
        return {}
    report = SyncReport()
    progress = long_work(progress_every)
    with waits_told_to(progress.waiting):  # a wait for the vendor's limit is logged, not silent
        runtime.runner.drain_outbox(writer, report, progress=progress)
    return _write_counts(report)


def reconcile(runtime: FirmRuntime, *, progress_every: float = DEFAULT_EVERY_SECONDS) -> Counts:
    """Pull edits, approvals and deletions made in the PMS, then send any write that must go again."""
    writer = runtime.pms.writer()
    if writer is None:
        return {}
    report = SyncReport()
    progress = long_work(progress_every)
    with waits_told_to(progress.waiting):
        runtime.runner.reconcile(writer, report, progress=progress)
        # Reconciling can queue writes again (lost ones among them): send them now, not in a minute.
        runtime.runner.drain_outbox(writer, report, progress=progress)
    return {
        "remote_edits": report.remote_edits,
        "priced_by_pms": report.priced_by_pms,
        "tombstones": report.tombstones,
        "approvals_from_pms": report.approvals_from_pms,
        **_write_counts(report),
    }


def renew_webhooks(callback_url: Callable[[str], str]) -> Job:
    """A job that creates or renews the webhook subscription of each of the firm's connectors that has them.

    `callback_url` gives a connector's delivery address by connector name."""

    def renew(runtime: FirmRuntime) -> Counts:
        subscribed = 0
        for connector in runtime.runner.connectors:
            if connector.webhooks() is not None:
                subscription = runtime.runner.ensure_webhooks(callback_url(connector.name), connector.name)
                subscribed += int(subscription is not None)
        return {"subscribed": subscribed}

    return renew


def bill(runtime: FirmRuntime) -> Counts:
    """Run the billing cycle when the firm's schedule says it is due (a no-op on other hours)."""
    result = run_scheduled_cycle(runtime.store, runtime.firm_id, runtime.settings.billing, datetime.now(UTC))
    if result is None:
        return {"due": 0}
    return {"due": 1, "prebills": len(result.prebills), "kept": len(result.kept), "waiting": len(result.waiting)}


def snapshot_reports(runtime: FirmRuntime) -> Counts:
    """Write the firm's report snapshot (this month's metrics by timekeeper, client and matter)."""
    written = run_report_snapshot(runtime.store, runtime.firm_id, runtime.settings, datetime.now(UTC))
    return {"files": len(written)}


def collect_payments(build: Callable[[FirmRuntime], FirmPayments]) -> Job:
    """A job that polls the payment gateway's events and reconciles them (lookups only, never a charge)."""

    def collect(runtime: FirmRuntime) -> Counts:
        payments = build(runtime)
        # The run's lines name the gateway it talks to, not the firm's PMS (reset when the run ends).
        structlog.contextvars.bind_contextvars(connector=payments.gateway_name)
        run_payments_cycle(payments)  # its figures join the run's summary line (core.logging.figures)
        return {}

    return collect


def _write_counts(report: SyncReport) -> Counts:
    return {
        "written": report.written,
        "recovered": report.recovered,
        "already_written": report.already_written,
        "updated": report.updated,
        "deferred": report.deferred,
        "failures": len(report.write_failures),
    }


def run_job(runtime: FirmRuntime, name: str, job: Job) -> Outcome:
    """Run one job for one firm and log exactly one summary line; says how it ended."""
    run_id = secrets.token_hex(4)
    started = time.monotonic()
    # Bound through contextvars, so every line the runner and connector log during the run
    # carries the same firm, job and run id as the summary.
    with (
        structlog.contextvars.bound_contextvars(
            firm=runtime.firm_id, connector=runtime.pms.name, job=name, run_id=run_id
        ),
        tallied() as tally,
    ):
        log = structlog.get_logger()
        try:
            counts = job(runtime)
        except ShuttingDown:
            # No vendor request was started after the signal; the rest waits in the store.
            log.info("job", duration_ms=_elapsed_ms(started), outcome=Outcome.CUT_SHORT, **_details(tally.details()))
            return Outcome.CUT_SHORT
        except Exception as exc:  # a job's failure is reported, never allowed to reach the scheduler
            log.error(
                "job",
                duration_ms=_elapsed_ms(started),
                outcome=Outcome.ERROR,
                error_type=type(exc).__name__,
                # The message only, no traceback: tracebacks can quote request data.
                error=str(exc)[:_MAX_ERROR_CHARS],
                needs_reconnect=isinstance(exc, AuthFailed),
                **_details(tally.details()),
            )
            return Outcome.ERROR
        # A record a person should look at (a UTBMS code Clio cannot take) makes the summary a warning.
        emit = log.warning if tally.warnings else log.info
        counts = {**tally.figures, **counts}  # what its steps figured (bills followed), then its own
        emit("job", duration_ms=_elapsed_ms(started), outcome=Outcome.OK, **counts, **_details(tally.details()))
        return Outcome.OK


def _details(details: dict[str, int]) -> dict[str, dict[str, int]]:
    return {"details": details} if details else {}


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
