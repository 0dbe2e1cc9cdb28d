"""Rejection reasons: a rejected entry keeps the reason the reviewer gave.

`billsync review reject --reason` and the review page's reject store it; `review reopen`
clears it with the rejection. Entries rejected before this migration have none (NULL).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("time_entries") as batch:
        batch.add_column(sa.Column("rejection_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("time_entries") as batch:
        batch.drop_column("rejection_reason")
