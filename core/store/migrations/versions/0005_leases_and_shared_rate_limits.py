"""Several replicas: outbox claims with leases and fences, job leases, rate windows shared by all.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("fence", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "job_leases",
        sa.Column("firm_id", sa.String(length=64), nullable=False),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("firm_id", "job", name=op.f("pk_job_leases")),
    )
    op.create_table(
        "rate_windows",
        sa.Column("firm_id", sa.String(length=64), nullable=False),
        sa.Column("rate_key", sa.String(length=128), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("reset_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("firm_id", "rate_key", name=op.f("pk_rate_windows")),
    )


def downgrade() -> None:
    op.drop_table("rate_windows")
    op.drop_table("job_leases")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("fence")
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
