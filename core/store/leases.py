"""Job leases: a firm's periodic job runs on one replica at a time, and once per period across them.

Every replica schedules every job (APScheduler's job stores are never shared); before a run it
takes the job's lease row. A replica that dies holding a lease loses it when the lease runs out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from core.store.schema import job_leases


class JobLeases:
    """Take and give back job leases on the store's database (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, worker: str, clock: Callable[[], datetime] | None = None) -> None:
        self._engine = engine
        self.worker = worker
        self._clock = clock or (lambda: datetime.now(UTC))

    def try_start(self, firm: str, job: str, *, lease: timedelta, min_gap: timedelta = timedelta(0)) -> bool:
        """Take the job unless another replica holds it, or any replica finished it under `min_gap` ago.

        The check and the take are one conditional UPDATE: of two replicas asking at once, one wins.
        """
        self._ensure_row(firm, job)
        now = self._clock()
        j = job_leases.c
        with self._engine.begin() as conn:
            taken = conn.execute(
                update(job_leases)
                .where(
                    j.firm_id == firm,
                    j.job == job,
                    or_(j.holder.is_(None), j.lease_until <= now, j.holder == self.worker),
                    or_(j.last_finished_at.is_(None), j.last_finished_at <= now - min_gap),
                )
                .values(holder=self.worker, lease_until=now + lease)
            )
            return taken.rowcount == 1

    def finish(self, firm: str, job: str) -> None:
        """Give the job back and remember when it finished (only if this replica still holds it)."""
        j = job_leases.c
        with self._engine.begin() as conn:
            conn.execute(
                update(job_leases)
                .where(and_(j.firm_id == firm, j.job == job, j.holder == self.worker))
                .values(holder=None, lease_until=None, last_finished_at=self._clock())
            )

    def holder(self, firm: str, job: str) -> str | None:
        """Who holds the job now (None when nobody does or the lease ran out)."""
        j = job_leases.c
        with self._engine.connect() as conn:
            row = conn.execute(select(j.holder, j.lease_until).where(j.firm_id == firm, j.job == job)).first()
        if row is None or row.holder is None or row.lease_until is None or row.lease_until <= self._clock():
            return None
        return str(row.holder)

    def _ensure_row(self, firm: str, job: str) -> None:
        j = job_leases.c
        with self._engine.connect() as conn:
            if conn.execute(select(j.job).where(j.firm_id == firm, j.job == job)).first() is not None:
                return
        try:
            with self._engine.begin() as conn:
                conn.execute(job_leases.insert().values(firm_id=firm, job=job))
        except IntegrityError:
            pass  # another replica made it first: the same row
