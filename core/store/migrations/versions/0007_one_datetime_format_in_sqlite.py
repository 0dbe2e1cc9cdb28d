"""SQLite: every stored datetime in the one format SQLAlchemy writes, 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC).

Until now the capture batch insert let sqlite3's default adapter store its datetimes
('2026-10-01 13:00:00+00:00') while every other statement stored SQLAlchemy's format
('2026-10-01 13:00:00.000000'). SQLite compares that text as text, so a range filter or an
ORDER BY on such a column could skip or misorder rows at the same second. This rewrites every
value not already in SQLAlchemy's format; the instant it names does not change. PostgreSQL
stores real timestamps: nothing to do there.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Every DateTime column at revision 0005 (a migration names its tables as they were then).
DATETIME_COLUMNS: dict[str, tuple[str, ...]] = {
    "activities": ("started_at", "ended_at", "captured_at"),
    "time_entries": ("started_at", "ended_at", "created_at", "updated_at"),
    "outbox": ("next_attempt_at", "created_at", "lease_until"),
    "reference_records": ("updated_at",),
    "sync_cursors": ("updated_at",),
    "oauth_tokens": ("updated_at",),
    "webhook_subscriptions": ("expires_at", "updated_at"),
    "webhook_deliveries": ("received_at",),
    "job_leases": ("lease_until", "last_finished_at"),
    "rate_windows": ("reset_at", "blocked_until"),
    "pre_bills": ("approved_at", "created_at", "updated_at"),
    "payment_intents": ("created_at", "updated_at"),
    "payment_transactions": ("created", "updated_at"),
    "payment_events": ("created", "processed_at"),
    "payment_links": ("delivered_at",),
    "payment_plans": ("updated_at",),
    "payment_tasks": ("created_at", "closed_at"),
    "trust_transfers": ("created_at",),
}

# SQLAlchemy's SQLite DATETIME storage format, exactly 26 characters.
_D = "[0-9]"
_CANONICAL = f"{_D * 4}-{_D * 2}-{_D * 2} {_D * 2}:{_D * 2}:{_D * 2}.{_D * 6}"


def canonical(text: str) -> str:
    """One stored value in SQLAlchemy's format: UTC, microseconds always written, no offset."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    for table, columns in DATETIME_COLUMNS.items():
        for column in columns:
            # Our own table and column names, never input. Only the rows in another format are read.
            odd = conn.exec_driver_sql(
                f"SELECT rowid, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} NOT GLOB ?",  # noqa: S608
                (_CANONICAL,),
            ).fetchall()
            if odd:
                conn.exec_driver_sql(
                    f"UPDATE {table} SET {column} = ? WHERE rowid = ?",  # noqa: S608
                    [(canonical(value), rowid) for rowid, value in odd],
                )


def downgrade() -> None:
    # The old mixture was an accident, and SQLAlchemy reads the one format as well as it read
    # the mixture: nothing to undo.
    pass
