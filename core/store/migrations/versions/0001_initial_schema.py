"""Initial schema: reference data, activities, time entries, outbox, sync cursors.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 11:55:14.060039
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "activities",
        sa.Column("firm_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw_seconds", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("timekeeper_id", sa.String(length=128), nullable=True),
        sa.Column("matter_id", sa.String(length=128), nullable=True),
        sa.Column("entry_id", sa.String(length=32), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("firm_id", "id", name=op.f("pk_activities")),
        sa.UniqueConstraint(
            "firm_id",
            "source",
            "external_id",
            name=op.f("uq_activities_firm_id_source_external_id"),
        ),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activities_firm_id_status"), ["firm_id", "status"], unique=False)

    op.create_table(
        "reference_records",
        sa.Column("firm_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("firm_id", "kind", "id", name=op.f("pk_reference_records")),
    )
    op.create_table(
        "sync_cursors",
        sa.Column("firm_id", sa.String(length=64), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("firm_id", "connector", "stream", name=op.f("pk_sync_cursors")),
    )
    op.create_table(
        "time_entries",
        sa.Column("firm_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("activity_id", sa.String(length=32), nullable=False),
        sa.Column("timekeeper_id", sa.String(length=128), nullable=False),
        sa.Column("matter_id", sa.String(length=128), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("work_date", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raw_seconds", sa.Integer(), nullable=False),
        sa.Column("billed_seconds", sa.Integer(), nullable=False),
        sa.Column("rate", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("billable", sa.Boolean(), nullable=False),
        sa.Column("narrative", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("category_id", sa.String(length=128), nullable=True),
        sa.Column("task_code", sa.String(length=16), nullable=True),
        sa.Column("activity_code", sa.String(length=16), nullable=True),
        sa.Column("suggested_matter", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("remote_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["firm_id", "activity_id"],
            ["activities.firm_id", "activities.id"],
            name=op.f("fk_time_entries_firm_id_activities"),
        ),
        sa.PrimaryKeyConstraint("firm_id", "id", name=op.f("pk_time_entries")),
        sa.UniqueConstraint("firm_id", "activity_id", name=op.f("uq_time_entries_firm_id_activity_id")),
    )
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_time_entries_firm_id_matter_id"), ["firm_id", "matter_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_time_entries_firm_id_state"), ["firm_id", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_time_entries_firm_id_work_date"), ["firm_id", "work_date"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("firm_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["firm_id", "entry_id"],
            ["time_entries.firm_id", "time_entries.id"],
            name=op.f("fk_outbox_firm_id_time_entries"),
        ),
        sa.PrimaryKeyConstraint("firm_id", "id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("firm_id", "idempotency_key", name=op.f("uq_outbox_firm_id_idempotency_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_firm_id_status"), ["firm_id", "status"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_firm_id_status"))

    op.drop_table("outbox")
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_time_entries_firm_id_work_date"))
        batch_op.drop_index(batch_op.f("ix_time_entries_firm_id_state"))
        batch_op.drop_index(batch_op.f("ix_time_entries_firm_id_matter_id"))

    op.drop_table("time_entries")
    op.drop_table("sync_cursors")
    op.drop_table("reference_records")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activities_firm_id_status"))

    op.drop_table("activities")
