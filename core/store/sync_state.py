"""Write-back and sync bookkeeping: stream cursors, the outbox, remote entry state, webhooks.

Kept apart from capture (store.py): capture decides entries; this module remembers what was
read from and written to the vendors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update

from core.ids import new_id
from core.models import EntryState
from core.store.schema import outbox, sync_cursors, time_entries, webhook_deliveries

# An outbox row in "sending" was attempted and its outcome is unknown: it must be looked up
# at the vendor before anything is sent again.
PENDING, SENDING, DONE, FAILED = "pending", "sending", "done", "failed"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One write waiting for the system of record."""

    id: str
    entry_id: str
    operation: str  # create, update
    idempotency_key: str
    status: str
    attempts: int


class SyncState:
    """Cursors, outbox and remote state for every firm, on the store's database."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self._engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))

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

    def due(self, firm: str, limit: int = 500) -> list[OutboxRow]:
        """Writes to attempt now, oldest first: pending ones past their wait, and unknown outcomes."""
        o = outbox.c
        now = self._clock()
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(o.id, o.entry_id, o.operation, o.idempotency_key, o.status, o.attempts)
                .where(
                    o.firm_id == firm,
                    o.status.in_([PENDING, SENDING]),
                    or_(o.next_attempt_at.is_(None), o.next_attempt_at <= now),
                )
                .order_by(o.created_at, o.id)
                .limit(limit)
            )
            return [OutboxRow(*row) for row in rows]

    def mark_sending(self, firm: str, row_id: str) -> None:
        """Record that an attempt starts (the recovery point: after this, look before re-sending)."""
        self._set(firm, row_id, status=SENDING, attempts=outbox.c.attempts + 1)

    def mark_retry(self, firm: str, row_id: str, error: str, at: datetime, *, outcome_known: bool) -> None:
        """A passing failure: try again at `at`; an unknown outcome keeps the row in "sending"."""
        self._set(firm, row_id, status=SENDING if not outcome_known else PENDING, next_attempt_at=at, last_error=error)

    def mark_failed(self, firm: str, row_id: str, error: str) -> None:
        """A write that can never succeed as it is: held for a person."""
        self._set(firm, row_id, status=FAILED, last_error=error)

    def complete(self, firm: str, row: OutboxRow, remote_id: str | None, state: EntryState | None) -> None:
        """The write is done: remember the remote id (and the entry's new state) with the row, atomically."""
        values: dict[str, Any] = {"updated_at": self._clock()}
        if remote_id is not None:
            values["remote_id"] = remote_id
        if state is not None:
            values["state"] = state.value
        t = time_entries.c
        with self._engine.begin() as conn:
            conn.execute(update(time_entries).where(t.firm_id == firm, t.id == row.entry_id).values(**values))
            conn.execute(
                update(outbox)
                .where(outbox.c.firm_id == firm, outbox.c.id == row.id)
                .values(status=DONE, last_error=None)
            )

    def enqueue_update(self, firm: str, entry_id: str) -> None:
        """Queue an update of an entry already in the system of record (unless one is waiting)."""
        o = outbox.c
        with self._engine.begin() as conn:
            waiting = conn.execute(
                select(o.id).where(
                    o.firm_id == firm, o.entry_id == entry_id, o.operation == "update", o.status == PENDING
                )
            ).first()
            if waiting is None:
                row_id = new_id()
                conn.execute(
                    outbox.insert().values(
                        firm_id=firm,
                        id=row_id,
                        entry_id=entry_id,
                        operation="update",
                        idempotency_key=f"update-{row_id}",
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

    def remote_refs(self, firm: str) -> dict[str, str]:
        """Entry id by remote id, for every live entry that exists in the system of record."""
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

    def apply_remote(self, firm: str, entry_id: str, changes: Mapping[str, Any]) -> None:
        """Take a person's edits from the system of record (the PMS is the user interface)."""
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

    def _set(self, firm: str, row_id: str, **values: Any) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.firm_id == firm, outbox.c.id == row_id).values(**values))
