"""Scheduled runs that did not happen: counted, and said at most once per job per interval.

APScheduler skips a run while the job's previous run is still going (`max_instances=1`) and drops
one that is too late (past its misfire grace), logging a warning each time: every 30 s for a poll
held up by a slow vendor, in the middle of the JSON lines. Here each skip is counted (the caller's
metric) and one line per job per `every` says how many runs were skipped since the previous line;
APScheduler's own per-run warnings are filtered out (`QuietApscheduler`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog

STILL_RUNNING = "still running"  # the previous run had not finished
LATE = "late"  # due longer ago than the job's misfire grace (a stalled or suspended host)
DEFAULT_EVERY = timedelta(minutes=10)

# The exact formats APScheduler 3 logs these with (apscheduler/schedulers/base.py, executors/base.py).
_APSCHEDULER_SKIP_FORMATS = (
    'Execution of job "%s" skipped: maximum number of running instances reached (%d)',
    'Run time of job "%s" was missed by %s',
)


class QuietApscheduler(logging.Filter):
    """Drops APScheduler's per-run skip and misfire warnings: SkippedRuns says them, counted."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in _APSCHEDULER_SKIP_FORMATS


def quiet_apscheduler() -> None:
    """Install the filter on the loggers APScheduler says them on (once per process)."""
    for name in ("apscheduler.scheduler", "apscheduler.executors.default"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, QuietApscheduler) for f in logger.filters):
            logger.addFilter(QuietApscheduler())


@dataclass
class _Pending:
    skipped: int = 0
    reasons: dict[str, int] | None = None
    last_line: float | None = None  # monotonic time of the job's last line


class SkippedRuns:
    """Counts every skipped run and logs, per job, at most one line per `every`.

    The first skip of a job is said at once; later ones are gathered until `every` has passed
    since that job's last line, then said in one line with their number. `flush` says what is
    still gathered (at stop). Thread-safe: APScheduler reports from its own threads."""

    def __init__(
        self,
        count: Callable[[str, str, str], None] | None = None,
        *,
        every: timedelta = DEFAULT_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._count = count  # the metric: (firm, job, reason)
        self._every = every.total_seconds()
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._log = structlog.get_logger()

    def skipped(self, firm: str, job: str, reason: str) -> None:
        """One scheduled run of the firm's job did not happen, for `reason`."""
        if self._count is not None:
            self._count(firm, job, reason)
        now = self._clock()
        with self._lock:
            pending = self._pending.setdefault((firm, job), _Pending())
            pending.skipped += 1
            pending.reasons = pending.reasons or {}
            pending.reasons[reason] = pending.reasons.get(reason, 0) + 1
            if pending.last_line is not None and now - pending.last_line < self._every:
                return
            said = self._take(pending, now)
        self._say(firm, job, *said)

    def flush(self) -> None:
        """Say every skip not said yet (the daemon is stopping)."""
        with self._lock:
            due = [(key, self._take(p, self._clock())) for key, p in self._pending.items() if p.skipped]
        for (firm, job), said in due:
            self._say(firm, job, *said)

    def _take(self, pending: _Pending, now: float) -> tuple[int, dict[str, int], float | None]:
        said = (pending.skipped, dict(pending.reasons or {}), pending.last_line)
        pending.skipped, pending.reasons, pending.last_line = 0, None, now
        return said

    def _say(self, firm: str, job: str, skipped: int, reasons: dict[str, int], last_line: float | None) -> None:
        since = None if last_line is None else round(self._clock() - last_line)
        self._log.warning(
            "job runs skipped",
            firm=firm,
            job=job,
            skipped=skipped,
            reasons=reasons,
            # None: the first line for this job; else seconds since its previous line.
            since_last_line_seconds=since,
            next_line_after_seconds=round(self._every),
        )
