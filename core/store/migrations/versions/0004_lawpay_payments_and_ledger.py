"""LawPay payments and the ledger: intents, gateway transactions, events read, trust transfers,
payment plans, staff tasks and issued payment links.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_intents",
        sa.Column("firm_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("matter_id", sa.String(length=128), nullable=True),
        sa.Column("bill_id", sa.String(length=128), nullable=True),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("account_kind", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=128), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("firm_id", "reference", name=op.f("uq_payment_intents_firm_id_reference")),
        sa.PrimaryKeyConstraint("firm_id", "id", name=op.f("pk_payment_intents")),
    )
    with op.batch_alter_table("payment_intents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_intents_firm_id_status"), ["firm_id", "status"], unique=False)
    op.create_table(
        "payment_transactions",
        sa.Column("firm_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("account_kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("plan_id", sa.String(length=64), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_in_pms", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("firm_id", "id", name=op.f("pk_payment_transactions")),
    )
    with op.batch_alter_table("payment_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_transactions_firm_id_reference"), ["firm_id", "reference"], unique=False
        )
    op.create_table(
        "payment_events",
        sa.Column("firm_id", sa.String(length=64), nullable=False),
        sa.Column("gateway", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("firm_id", "gateway", "event_id", name=op.f("pk_payment_events")),
    )
    op.create_table(
        "trust_transfers",
        sa.Column("firm_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("bill_id", sa.String(length=128), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("matter_id", sa.String(length=128), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_in_pms", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("firm_id", "id", name=op.f("pk_trust_transfers")),
    )
    with op.batch_alter_table("trust_transfers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trust_transfers_firm_id_client_id"), ["firm_id", "client_id"], unique=False
        )
    op.create_table(
        "payment_plans",
        sa.Column("firm_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("bill_id", sa.String(length=128), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("intent_id", sa.String(length=32), nullable=False),
        sa.Column("instalment", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("instalments", sa.Integer(), nullable=False),
        sa.Column("interval", sa.String(length=16), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("gateway_plan_id", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("firm_id", "id", name=op.f("pk_payment_plans")),
    )
    with op.batch_alter_table("payment_plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_plans_firm_id_gateway_plan_id"), ["firm_id", "gateway_plan_id"], unique=False
        )
    op.create_table(
        "payment_tasks",
        sa.Column("firm_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("firm_id", "kind", "key", name=op.f("uq_payment_tasks_firm_id_kind_key")),
        sa.PrimaryKeyConstraint("firm_id", "id", name=op.f("pk_payment_tasks")),
    )
    op.create_table(
        "payment_links",
        sa.Column("firm_id", sa.String(length=64), nullable=False),
        sa.Column("bill_id", sa.String(length=128), nullable=False),
        sa.Column("invoice_number", sa.String(length=128), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("delivered_via", sa.String(length=16), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("firm_id", "bill_id", name=op.f("pk_payment_links")),
    )


def downgrade() -> None:
    op.drop_table("payment_links")
    op.drop_table("payment_tasks")
    with op.batch_alter_table("payment_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_plans_firm_id_gateway_plan_id"))
    op.drop_table("payment_plans")
    with op.batch_alter_table("trust_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trust_transfers_firm_id_client_id"))
    op.drop_table("trust_transfers")
    op.drop_table("payment_events")
    with op.batch_alter_table("payment_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_transactions_firm_id_reference"))
    op.drop_table("payment_transactions")
    with op.batch_alter_table("payment_intents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_intents_firm_id_status"))
    op.drop_table("payment_intents")
