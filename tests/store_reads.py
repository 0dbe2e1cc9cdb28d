"""What the store holds, read straight from its tables: checks only tests make. Production reads
activities by id, by key or as the parked queue, never as counts, and reads no stored payments."""

from __future__ import annotations

from sqlalchemy import func, select

from core.models import RemotePayment
from core.store.schema import activities, reference_records
from core.store.store import Store


def activity_statuses(store: Store, firm: str) -> dict[str, int]:
    """How many of the firm's stored activities ended in each status."""
    a = activities.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(a.status, func.count()).where(a.firm_id == firm).group_by(a.status))
        return {status: count for status, count in rows}


def stored_payments(store: Store, firm: str) -> list[RemotePayment]:
    """The PMS's payments as its ledger stream stored them (PracticePanther's)."""
    r = reference_records.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(r.data).where(r.firm_id == firm, r.kind == "payment"))
        return [RemotePayment.model_validate(data) for (data,) in rows]
