"""Pre-bills and their lines, with the PMS bill each became.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pre_bills",
        sa.Column("firm_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=128), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("matter_id", sa.String(length=128), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("invoice_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("subtotal", sa.BigInteger(), nullable=False),
        sa.Column("tax", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pms_bill_id", sa.String(length=128), nullable=True),
        sa.Column("pms_bill_number", sa.String(length=128), nullable=True),
        sa.Column("pms_state", sa.String(length=32), nullable=True),
        sa.Column("differences", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("firm_id", "id", name=op.f("pk_pre_bills")),
        sa.UniqueConstraint(
            "firm_id", "matter_id", "period_start", name=op.f("uq_pre_bills_firm_id_matter_id_period_start")
        ),
    )
    op.create_index(op.f("ix_pre_bills_firm_id_pms_bill_id"), "pre_bills", ["firm_id", "pms_bill_id"], unique=False)
    op.create_index(op.f("ix_pre_bills_firm_id_status"), "pre_bills", ["firm_id", "status"], unique=False)
    op.create_table(
        "pre_bill_lines",
        sa.Column("firm_id", sa.String(length=64), nullable=False),
        sa.Column("pre_bill_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=2), nullable=False),
        sa.Column("work_date", sa.Date(), nullable=False),
        sa.Column("narrative", sa.String(length=500), nullable=False),
        sa.Column("units", sa.String(length=24), nullable=False),
        sa.Column("unit_cost", sa.BigInteger(), nullable=False),
        sa.Column("adjustment", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("tax_rate", sa.String(length=24), nullable=False),
        sa.Column("tax", sa.BigInteger(), nullable=False),
        sa.Column("timekeeper_id", sa.String(length=128), nullable=True),
        sa.Column("timekeeper_name", sa.String(length=200), nullable=False),
        sa.Column("classification", sa.String(length=16), nullable=False),
        sa.Column("task_code", sa.String(length=16), nullable=True),
        sa.Column("activity_code", sa.String(length=16), nullable=True),
        sa.Column("expense_code", sa.String(length=16), nullable=True),
        sa.Column("entry_id", sa.String(length=32), nullable=True),
        sa.Column("entry_ref", sa.String(length=128), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["firm_id", "pre_bill_id"],
            ["pre_bills.firm_id", "pre_bills.id"],
            name=op.f("fk_pre_bill_lines_firm_id_pre_bills"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("firm_id", "pre_bill_id", "number", name=op.f("pk_pre_bill_lines")),
    )
    op.create_index(
        op.f("ix_pre_bill_lines_firm_id_entry_id"), "pre_bill_lines", ["firm_id", "entry_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_pre_bill_lines_firm_id_entry_id"), table_name="pre_bill_lines")
    op.drop_table("pre_bill_lines")
    op.drop_index(op.f("ix_pre_bills_firm_id_status"), table_name="pre_bills")
    op.drop_index(op.f("ix_pre_bills_firm_id_pms_bill_id"), table_name="pre_bills")
    op.drop_table("pre_bills")
