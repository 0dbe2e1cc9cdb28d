"""Pre-bills and their lines: what billsync prepared, and which PMS bill each became.

Registered on `core.store.schema.metadata` (schema.py imports this module at its end), so the
migrations test sees these tables too. Money is whole cents (`Money`); hours and tax rates are
exact decimal text, never floats.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)

from core.store.schema import Money, UtcDateTime, metadata

pre_bills = Table(
    "pre_bills",
    metadata,
    Column("firm_id", String(64), nullable=False),
    Column("id", String(32), nullable=False),
    Column("number", String(128), nullable=False),  # billsync's own invoice number
    Column("client_id", String(128), nullable=False),
    Column("matter_id", String(128), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("invoice_date", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("description", String(500), nullable=False),
    Column("status", String(16), nullable=False),  # draft, matched, mismatch, void
    Column("subtotal", Money, nullable=False),  # kept for listing; always the sum of the lines
    Column("tax", Money, nullable=False),
    Column("total", Money, nullable=False),
    Column("findings", JSON, nullable=False),  # guideline findings: rule, severity, message, line
    Column("approved_at", UtcDateTime),
    Column("pms_bill_id", String(128)),
    Column("pms_bill_number", String(128)),
    Column("pms_state", String(32)),
    Column("differences", JSON, nullable=False),  # how the PMS bill differs, in words
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("firm_id", "id"),
    # One pre-bill per matter and billing cycle. The cycle is named by the day its period ends: the
    # period may start earlier, at the first line of earlier unbilled work it carries.
    UniqueConstraint("firm_id", "matter_id", "period_end"),
    Index(None, "firm_id", "status"),
    Index(None, "firm_id", "pms_bill_id"),
)

pre_bill_lines = Table(
    "pre_bill_lines",
    metadata,
    Column("firm_id", String(64), nullable=False),
    Column("pre_bill_id", String(32), nullable=False),
    Column("number", Integer, nullable=False),
    Column("type", String(2), nullable=False),  # LEDES F, E, IF, IE
    Column("work_date", Date, nullable=False),
    Column("narrative", String(500), nullable=False),
    Column("units", String(24), nullable=False),  # exact decimal hours, e.g. "1.5000"
    Column("unit_cost", Money, nullable=False),
    Column("adjustment", Money, nullable=False),
    Column("amount", Money, nullable=False),
    Column("tax_rate", String(24), nullable=False),  # exact decimal fraction, e.g. "0.0825"
    Column("tax", Money, nullable=False),
    Column("timekeeper_id", String(128)),
    Column("timekeeper_name", String(200), nullable=False),
    Column("classification", String(16), nullable=False),
    Column("task_code", String(16)),
    Column("activity_code", String(16)),
    Column("expense_code", String(16)),
    Column("entry_id", String(32)),  # billsync's time entry, for fee lines that bill one
    Column("remote_id", String(128)),  # that entry's id in the PMS
    Column("note", String(200), nullable=False),
    PrimaryKeyConstraint("firm_id", "pre_bill_id", "number"),
    ForeignKeyConstraint(["firm_id", "pre_bill_id"], ["pre_bills.firm_id", "pre_bills.id"], ondelete="CASCADE"),
    Index(None, "firm_id", "entry_id"),
)
