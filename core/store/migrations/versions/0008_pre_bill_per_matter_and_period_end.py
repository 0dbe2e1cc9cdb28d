"""One pre-bill per matter and billing cycle, told apart by the day its period ends.

A pre-bill's period may now start before its month (it declares the earliest line of earlier
unbilled work it carries), so the day it starts no longer names its cycle: the day it ends does.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pre_bills") as batch:
        batch.drop_constraint(op.f("uq_pre_bills_firm_id_matter_id_period_start"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_pre_bills_firm_id_matter_id_period_end"), ["firm_id", "matter_id", "period_end"]
        )


def downgrade() -> None:
    with op.batch_alter_table("pre_bills") as batch:
        batch.drop_constraint(op.f("uq_pre_bills_firm_id_matter_id_period_end"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_pre_bills_firm_id_matter_id_period_start"), ["firm_id", "matter_id", "period_start"]
        )
