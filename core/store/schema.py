"""Tables. Every table carries the firm id; one entry per activity is a database constraint.

The Alembic migrations under `migrations/versions/` create exactly these tables; a test
compares the two so they cannot drift.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

from core.units import cents

metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    }
)


class Money(TypeDecorator[Decimal]):
    """Decimal money stored as whole cents, so every database sums it exactly."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        """Decimal -> cents; refuses a value that is not already whole cents."""
        if value is None:
            return None
        if cents(value) != value:
            raise ValueError(f"{value} is not a whole number of cents")
        return int(value * 100)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        """Cents -> Decimal with two places."""
        return None if value is None else Decimal(value).scaleb(-2)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; naive datetimes are a bug upstream."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Give back aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _firm() -> Column[Any]:
    return Column("firm_id", String(64), nullable=False)


reference_records = Table(
    "reference_records",
    metadata,
    _firm(),
    Column("kind", String(32), nullable=False),  # timekeeper, client, matter, category
    Column("id", String(128), nullable=False),
    Column("data", JSON, nullable=False),  # the canonical model as JSON
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("firm_id", "kind", "id"),
)

activities = Table(
    "activities",
    metadata,
    _firm(),
    Column("id", String(32), nullable=False),
    Column("source", String(64), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Column("raw_seconds", Integer),
    Column("title", String(500), nullable=False),
    Column("status", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("timekeeper_id", String(128)),
    Column("matter_id", String(128)),
    Column("entry_id", String(32)),  # the entry it became, or the entry it was merged into
    # The activity as capture saw it, without its body: kept while it is parked, to decide it again.
    # Kept for every activity, body included, only if the firm asks (store_raw_payload).
    Column("payload", JSON(none_as_null=True)),
    Column("captured_at", UtcDateTime, nullable=False),  # when capture last decided what it is
    PrimaryKeyConstraint("firm_id", "id"),
    UniqueConstraint("firm_id", "source", "external_id"),
    Index(None, "firm_id", "status"),
)

time_entries = Table(
    "time_entries",
    metadata,
    _firm(),
    Column("id", String(32), nullable=False),
    Column("activity_id", String(32), nullable=False),
    Column("timekeeper_id", String(128), nullable=False),
    Column("matter_id", String(128), nullable=False),
    Column("client_id", String(128), nullable=False),
    Column("work_date", Date, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=False),
    Column("raw_seconds", Integer, nullable=False),
    Column("billed_seconds", Integer, nullable=False),
    Column("rate", Money, nullable=False),
    Column("amount", Money, nullable=False),
    Column("billable", Boolean, nullable=False),
    Column("narrative", String(500), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("category_id", String(128)),
    Column("task_code", String(16)),
    Column("activity_code", String(16)),
    Column("suggested_matter", Boolean, nullable=False),
    Column("state", String(32), nullable=False),
    Column("findings", JSON, nullable=False),
    Column("remote_id", String(128)),  # the entry's id in the PMS once posted
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("rejection_reason", Text),  # what the reviewer said when rejecting it (None: not rejected, or unsaid)
    PrimaryKeyConstraint("firm_id", "id"),
    # One entry per activity, ever: a tombstoned entry keeps its row so it is never recreated.
    UniqueConstraint("firm_id", "activity_id"),
    ForeignKeyConstraint(["firm_id", "activity_id"], ["activities.firm_id", "activities.id"]),
    Index(None, "firm_id", "work_date"),  # capture loads each batch's days with one range query
    Index(None, "firm_id", "matter_id"),
    Index(None, "firm_id", "state"),
)

outbox = Table(
    "outbox",
    metadata,
    _firm(),
    Column("id", String(32), nullable=False),
    Column("entry_id", String(32), nullable=False),
    Column("operation", String(16), nullable=False),  # create, update
    Column("idempotency_key", String(64), nullable=False),  # made before the first attempt
    Column("status", String(16), nullable=False),  # pending, sending (outcome unknown), done, failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime),  # a failed attempt waits until then
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    # A worker claims a row for a while; each claim bumps the fence, and every later change must
    # name the fence it holds, so a worker whose lease ran out is fenced out (several replicas).
    Column("claimed_by", String(64)),
    Column("lease_until", UtcDateTime),
    Column("fence", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("firm_id", "id"),
    UniqueConstraint("firm_id", "idempotency_key"),
    ForeignKeyConstraint(["firm_id", "entry_id"], ["time_entries.firm_id", "time_entries.id"]),
    Index(None, "firm_id", "status"),
)

sync_cursors = Table(
    "sync_cursors",
    metadata,
    _firm(),
    Column("connector", String(64), nullable=False),
    Column("stream", String(64), nullable=False),
    Column("cursor", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("firm_id", "connector", "stream"),
)

oauth_tokens = Table(
    "oauth_tokens",
    metadata,
    _firm(),
    Column("connector", String(64), nullable=False),
    Column("ciphertext", Text, nullable=False),  # Fernet token of the JSON credentials
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("firm_id", "connector"),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    _firm(),
    Column("connector", String(64), nullable=False),
    Column("subscription_id", String(128), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("secret_ciphertext", Text),  # the shared signing secret, encrypted
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("firm_id", "connector"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    _firm(),
    Column("connector", String(64), nullable=False),
    Column("delivery_id", String(255), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("firm_id", "connector", "delivery_id"),  # a redelivery is a no-op
)

job_leases = Table(
    "job_leases",
    metadata,
    _firm(),
    Column("job", String(64), nullable=False),
    Column("holder", String(64)),  # the replica running it now, or None
    Column("lease_until", UtcDateTime),  # a holder that dies loses the job when this passes
    Column("last_finished_at", UtcDateTime),  # the end of the last run, by any replica
    PrimaryKeyConstraint("firm_id", "job"),
)

rate_windows = Table(
    "rate_windows",
    metadata,
    _firm(),
    Column("rate_key", String(128), nullable=False),  # one vendor token, hashed: shared by every replica
    Column("remaining", Integer, nullable=False),  # requests left in the vendor's current window
    Column("reset_at", UtcDateTime, nullable=False),  # when the vendor's window resets
    Column("blocked_until", UtcDateTime),  # after a 429, nobody sends before it
    PrimaryKeyConstraint("firm_id", "rate_key"),
)

# Tables kept in modules of their own (billing, payments) register on the same metadata whenever
# this module is imported, so the migrations and the test comparing them always see every table.
from core.store import schema_billing, schema_payments  # noqa: E402, F401
