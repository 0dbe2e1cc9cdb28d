"""Payment tables: intents, gateway transactions, events read, trust transfers, plans, tasks, links.

Registered on the shared `metadata` (schema.py imports this module), created by migration 0004.
Money is whole cents (the Money type); every table carries the firm id.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from core.store.schema import Money, UtcDateTime, metadata


def _firm() -> Column[str]:
    return Column("firm_id", String(64), nullable=False)


payment_intents = Table(
    "payment_intents",
    metadata,
    _firm(),
    Column("id", String(32), nullable=False),
    Column("reference", String(128), nullable=False),  # sent with the charge; how a lost answer is found
    Column("purpose", String(16), nullable=False),
    Column("client_id", String(128), nullable=False),
    Column("matter_id", String(128)),
    Column("bill_id", String(128)),
    Column("account_id", String(128), nullable=False),
    Column("account_kind", String(16), nullable=False),
    Column("method", String(128)),  # a saved method or one-time token id: never card data
    Column("amount", Money, nullable=False),
    Column("status", String(16), nullable=False),
    Column("transaction_id", String(64)),
    Column("error", Text),
    Column("parent_id", String(64)),  # a refund's charge (migration 0006)
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("firm_id", "id"),
    UniqueConstraint("firm_id", "reference"),
    Index(None, "firm_id", "status"),
)

payment_transactions = Table(
    "payment_transactions",
    metadata,
    _firm(),
    Column("id", String(64), nullable=False),  # the gateway's transaction id
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("account_kind", String(16), nullable=False),
    Column("amount", Money, nullable=False),
    Column("reference", String(128)),
    Column("parent_id", String(64)),
    Column("plan_id", String(64)),
    Column("failure_code", String(64)),
    Column("created", UtcDateTime, nullable=False),
    Column("posted_in_pms", Boolean, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("firm_id", "id"),
    Index(None, "firm_id", "reference"),
)

payment_events = Table(
    "payment_events",
    metadata,
    _firm(),
    Column("gateway", String(64), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("processed_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("firm_id", "gateway", "event_id"),  # an event is applied once
)

trust_transfers = Table(
    "trust_transfers",
    metadata,
    _firm(),
    Column("id", String(32), nullable=False),
    Column("bill_id", String(128), nullable=False),
    Column("client_id", String(128), nullable=False),
    Column("matter_id", String(128)),
    Column("amount", Money, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("posted_in_pms", Boolean, nullable=False),
    PrimaryKeyConstraint("firm_id", "id"),
    Index(None, "firm_id", "client_id"),
)

payment_plans = Table(
    "payment_plans",
    metadata,
    _firm(),
    Column("id", String(32), nullable=False),
    Column("bill_id", String(128), nullable=False),
    Column("client_id", String(128), nullable=False),
    Column("intent_id", String(32), nullable=False),
    Column("instalment", Money, nullable=False),
    Column("total", Money, nullable=False),
    Column("instalments", Integer, nullable=False),
    Column("interval", String(16), nullable=False),
    Column("start", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("gateway_plan_id", String(64)),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("firm_id", "id"),
    Index(None, "firm_id", "gateway_plan_id"),
)

payment_tasks = Table(
    "payment_tasks",
    metadata,
    _firm(),
    Column("id", String(32), nullable=False),
    Column("kind", String(48), nullable=False),
    Column("key", String(255), nullable=False),
    Column("message", Text, nullable=False),
    Column("status", String(16), nullable=False),  # open, done
    Column("created_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime),
    PrimaryKeyConstraint("firm_id", "id"),
    UniqueConstraint("firm_id", "kind", "key"),  # the same problem raises one task
)

payment_links = Table(
    "payment_links",
    metadata,
    _firm(),
    Column("bill_id", String(128), nullable=False),
    Column("invoice_number", String(128), nullable=False),
    Column("amount", Money, nullable=False),
    Column("url", Text, nullable=False),
    Column("delivered_via", String(16), nullable=False),
    Column("delivered_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("firm_id", "bill_id"),
)

PAYMENT_TABLES = (
    payment_intents,
    payment_transactions,
    payment_events,
    trust_transfers,
    payment_plans,
    payment_tasks,
    payment_links,
)
