"""Write-back and sync bookkeeping: stream cursors, the outbox, remote entry state, webhooks.

Kept apart from capture (store.py): capture decides entries; this module remembers what was
read from and written to the vendors.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, update
from sqlalchemy.engine import Connection

from core.ids import new_id
from core.models import EntryState
from core.store.schema import outbox, sync_cursors, time_entries, webhook_deliveries

# An outbox row in "sending" was attempted and its outcome is unknown: it must be looked up
# at the vendor before anything is sent again.
PENDING, SENDING, DONE, FAILED = "pending", "sending", "done", "failed"
# How long a claimed outbox row stays a worker's. It must be far longer than one write can take
# (the HTTP timeouts times the retry attempts): a vendor cannot be fenced, so a worker must never
# still be sending when its lease runs out and another worker looks the write up.
DEFAULT_LEASE = timedelta(minutes=10)


_RELEASED: Mapping[str, Any] = {"claimed_by": None, "lease_until": None}


class LeaseLost(Exception):
    """Another worker claimed the row after this worker's lease ran out: leave it alone."""


def worker_name() -> str:
    """This process's name in claims and leases: host, pid and a random part (pids get reused)."""
    return f"{socket.gethostname()[:32]}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One write waiting for the PMS."""

    id: str
    entry_id: str
    operation: str  # create, update
    idempotency_key: str
    status: str
    attempts: int
    fence: int = 0  # the claim this worker holds; every change names it


class SyncState:
    """Cursors, outbox and remote state for every firm, on the store's database."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime] | None = None,
        *,
        worker: str | None = None,
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        self._engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))
        self.worker = worker or worker_name()
        self._lease = lease

    # Cursors ---------------------------------------------------------------------------------

    def cursor(self, firm: str, connector: str, stream: str) -> Mapping[str, Any] | None:
        """The stream's stored resume point, or None before its first read."""
        c = sync_cursors.c
        with self._engine.connect() as conn:
            found: Mapping[str, Any] | None = conn.execute(
                select(c.cursor).where(c.firm_id == firm, c.connector == connector, c.stream == stream)
            ).scalar_one_or_none()
        return found

    def save_cursor(self, firm: str, connector: str, stream: str, cursor: Mapping[str, Any] | None) -> None:
        """Store a stream's resume point (after the records it covers are stored)."""
        key = {"firm_id": firm, "connector": connector, "stream": stream}
        with self._engine.begin() as conn:
            conn.execute(sync_cursors.delete().filter_by(**key))
            if cursor is not None:
                conn.execute(sync_cursors.insert().values(**key, cursor=dict(cursor), updated_at=self._clock()))

    # Outbox ----------------------------------------------------------------------------------

    def claim(self, firm: str, limit: int = 25) -> list[OutboxRow]:
        """Claim due writes for this worker, oldest first, skipping rows another worker holds.

        On PostgreSQL the rows are locked with FOR UPDATE SKIP LOCKED while the claim is made, so
        replicas never claim the same row; a claim whose lease ran out may be taken over, and
        taking it bumps the fence, which shuts the old holder out. SQLite runs one writer at a time.
        """
        o = outbox.c
        now = self._clock()
        with self._engine.begin() as conn:
            found = conn.execute(
                select(o.id, o.entry_id, o.operation, o.idempotency_key, o.status, o.attempts, o.fence)
                .where(
                    o.firm_id == firm,
                    o.status.in_([PENDING, SENDING]),
                    or_(o.next_attempt_at.is_(None), o.next_attempt_at <= now),
                    or_(o.lease_until.is_(None), o.lease_until <= now),
                )
                .order_by(o.created_at, o.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not found:
                return []
            conn.execute(
                update(outbox)
                .where(o.firm_id == firm, o.id.in_([row.id for row in found]))
                .values(claimed_by=self.worker, lease_until=now + self._lease, fence=o.fence + 1)
            )
        return [OutboxRow(*row[:6], fence=row.fence + 1) for row in found]

    def due(self, firm: str) -> Counter[tuple[str, bool]]:
        """The writes a drain would attempt now, by (operation, outcome unknown): one grouped count.

        The same rows `claim` would take (pending or sending, due, not held by a live claim); for
        the totals and the ETA shown before a drain."""
        o = outbox.c
        now = self._clock()
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(o.operation, o.status, func.count())
                .where(
                    o.firm_id == firm,
                    o.status.in_([PENDING, SENDING]),
                    or_(o.next_attempt_at.is_(None), o.next_attempt_at <= now),
                    or_(o.lease_until.is_(None), o.lease_until <= now),
                )
                .group_by(o.operation, o.status)
            ).all()
        return Counter({(operation, status == SENDING): count for operation, status, count in rows})

    def due_creates(self, firm: str) -> list[tuple[str, str]]:
        """(entry id, idempotency key) of the due creates whose outcome is known (none was sent, or none
        arrived): the rows `claim` would take that are not in "sending", oldest first.

        For the grouped lookups of entries an earlier store may have written (core.sync); a row in
        "sending" is looked up on its own right before it is sent again."""
        o = outbox.c
        now = self._clock()
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(o.entry_id, o.idempotency_key)
                .where(
                    o.firm_id == firm,
                    o.operation == "create",
                    o.status == PENDING,
                    or_(o.next_attempt_at.is_(None), o.next_attempt_at <= now),
                    or_(o.lease_until.is_(None), o.lease_until <= now),
                )
                .order_by(o.created_at, o.id)
            ).all()
        return [(entry_id, key) for entry_id, key in rows]

    def release(self, firm: str, rows: list[OutboxRow]) -> None:
        """Hand back claims this worker still holds (rows settled since then are left alone)."""
        with self._engine.begin() as conn:
            for row in rows:
                conn.execute(update(outbox).where(*self._held(firm, row)).values(**_RELEASED))

    def release_unsent(self, firm: str) -> int:
        """Hand back this worker's claims on rows it has not begun to send; returns how many.

        For a process leaving with a request still in flight: the row being sent keeps its claim
        until the lease ends (the vendor may still act on it; only then may another worker look it
        up), while the rows claimed behind it are due again at once."""
        o = outbox.c
        with self._engine.begin() as conn:
            done = conn.execute(
                update(outbox)
                .where(o.firm_id == firm, o.claimed_by == self.worker, o.status == PENDING)
                .values(**_RELEASED)
            )
        return int(done.rowcount)

    def sending_now(self, firm: str) -> int:
        """How many writes this worker has begun to send and not heard back on (rows in "sending").

        What a process leaving mid-request must own up to: only such a write is looked up at the
        vendor once its claim ends; a read in flight leaves nothing behind."""
        o = outbox.c
        query = select(func.count()).where(o.firm_id == firm, o.claimed_by == self.worker, o.status == SENDING)
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def mark_sending(self, firm: str, row: OutboxRow) -> None:
        """Record that an attempt starts (the recovery point: after this, look before re-sending).

        Raises LeaseLost when the claim is gone: then nothing may be sent."""
        now = self._clock()
        self._set_claimed(firm, row, status=SENDING, attempts=outbox.c.attempts + 1, lease_until=now + self._lease)

    def mark_retry(self, firm: str, row: OutboxRow, error: str, at: datetime, *, outcome_known: bool) -> None:
        """A passing failure: try again at `at`; an unknown outcome keeps the row in "sending"."""
        status = SENDING if not outcome_known else PENDING
        self._set_claimed(firm, row, status=status, next_attempt_at=at, last_error=error, **_RELEASED)

    def mark_failed(self, firm: str, row: OutboxRow, error: str) -> None:
        """A write that can never succeed as it is: held for a person."""
        self._set_claimed(firm, row, status=FAILED, last_error=error, **_RELEASED)

    def complete(self, firm: str, row: OutboxRow, remote_id: str | None, state: EntryState | None) -> None:
        """The write is done: remember the remote id (and the entry's new state) with the row, atomically."""
        values: dict[str, Any] = {"updated_at": self._clock()}
        if remote_id is not None:
            values["remote_id"] = remote_id
        if state is not None:
            values["state"] = state.value
        t = time_entries.c
        with self._engine.begin() as conn:
            self._update_held(conn, firm, row, status=DONE, last_error=None, **_RELEASED)  # LeaseLost rolls back
            conn.execute(update(time_entries).where(t.firm_id == firm, t.id == row.entry_id).values(**values))

    def _set_claimed(self, firm: str, row: OutboxRow, **values: Any) -> None:
        with self._engine.begin() as conn:
            self._update_held(conn, firm, row, **values)

    def _update_held(self, conn: Connection, firm: str, row: OutboxRow, **values: Any) -> None:
        """Change a row this worker still holds under this claim; LeaseLost when it holds it no more."""
        changed = conn.execute(update(outbox).where(*self._held(firm, row)).values(**values))
        if changed.rowcount != 1:
            raise LeaseLost(f"outbox row {row.id} was claimed by another worker")

    def _held(self, firm: str, row: OutboxRow) -> tuple[Any, ...]:
        o = outbox.c
        return (o.firm_id == firm, o.id == row.id, o.claimed_by == self.worker, o.fence == row.fence)

    def enqueue_update(self, firm: str, entry_id: str) -> None:
        """Queue an update of an entry already in the PMS (unless one is waiting)."""
        self._enqueue(firm, entry_id, "update", (PENDING,))

    def enqueue_create(self, firm: str, entry_id: str) -> None:
        """Queue the write of an entry not in the PMS yet (unless one is on its way).

        For an entry that had no write, or whose write ended with nothing sent (it was blocked
        or rejected when its turn came) and that a person has since made postable again.
        """
        self._enqueue(firm, entry_id, "create", (PENDING, SENDING))

    def _enqueue(self, firm: str, entry_id: str, operation: str, waiting_in: tuple[str, ...]) -> None:
        o = outbox.c
        with self._engine.begin() as conn:
            waiting = conn.execute(
                select(o.id).where(
                    o.firm_id == firm, o.entry_id == entry_id, o.operation == operation, o.status.in_(waiting_in)
                )
            ).first()
            if waiting is None:
                row_id = new_id()
                conn.execute(
                    outbox.insert().values(
                        firm_id=firm,
                        id=row_id,
                        entry_id=entry_id,
                        operation=operation,
                        idempotency_key=f"{operation}-{row_id}",
                        status=PENDING,
                        attempts=0,
                        next_attempt_at=None,
                        last_error=None,
                        created_at=self._clock(),
                    )
                )

    def counts(self, firm: str) -> dict[str, int]:
        """Outbox rows by status."""
        o = outbox.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(o.status, o.id).where(o.firm_id == firm))
            counts: dict[str, int] = {}
            for status, _ in rows:
                counts[status] = counts.get(status, 0) + 1
            return counts

    # Remote entries --------------------------------------------------------------------------

    def remote_ids(self, firm: str) -> dict[str, str]:
        """Entry id by remote id, for every live entry that exists in the PMS."""
        t = time_entries.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(t.remote_id, t.id).where(
                    t.firm_id == firm,
                    t.remote_id.is_not(None),
                    t.state.not_in([EntryState.DELETED_REMOTELY.value, EntryState.BILLED.value]),
                )
            )
            return {remote_id: entry_id for remote_id, entry_id in rows}

    def updates_waiting(self, firm: str) -> set[str]:
        """Entries with an update queued or on its way: the PMS does not hold billsync's change yet."""
        o = outbox.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(o.entry_id).where(o.firm_id == firm, o.operation == "update", o.status.in_((PENDING, SENDING)))
            )
            return {entry_id for (entry_id,) in rows}

    def first_entry_at(self, firm: str) -> datetime | None:
        """When this store made its first time entry for the firm; None before it made any.

        Entries are never deleted (a tombstone keeps its row), so once set this never changes."""
        t = time_entries.c
        with self._engine.connect() as conn:
            first: datetime | None = conn.execute(select(func.min(t.created_at)).where(t.firm_id == firm)).scalar()
            return first

    def apply_remote(self, firm: str, entry_id: str, changes: Mapping[str, Any]) -> None:
        """Take a person's edits from the PMS (the PMS is the user interface)."""
        t = time_entries.c
        with self._engine.begin() as conn:
            conn.execute(
                update(time_entries)
                .where(and_(t.firm_id == firm, t.id == entry_id, t.state != EntryState.DELETED_REMOTELY.value))
                .values(**changes, updated_at=self._clock())
            )

    # Webhook deliveries ----------------------------------------------------------------------

    def first_delivery(self, firm: str, connector: str, delivery_id: str) -> bool:
        """Record a delivery id; False when it was seen before (a redelivery to ignore)."""
        d = webhook_deliveries.c
        with self._engine.begin() as conn:
            seen = conn.execute(
                select(d.delivery_id).where(d.firm_id == firm, d.connector == connector, d.delivery_id == delivery_id)
            ).first()
            if seen is not None:
                return False
            conn.execute(
                webhook_deliveries.insert().values(
                    firm_id=firm, connector=connector, delivery_id=delivery_id, received_at=self._clock()
                )
            )
            return True
