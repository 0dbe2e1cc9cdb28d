"""A small firm's October for billing tests: two clients, four matters, approved entries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from config.billing import BillingSettings
from core.billing.model import BillingPeriod
from core.billing.period import month
from core.billing.prebill import History, build_prebills
from core.matching import ReferenceData
from core.models import ActivityKind, BillingMethod, Client, Discount, EntryState, Matter, TimeEntry, Timekeeper
from core.units import amount_for

OCTOBER: BillingPeriod = month("2026-10")
_ids = count(1)

PARTNER = Timekeeper(id="u1", name="Jane Smith", default_rate=Decimal("400"), classification="PARTNR")
ASSOCIATE = Timekeeper(id="u2", name="Omar Reyes", default_rate=Decimal("250"), classification="ASSOC")
HARBOR = Client(id="c1", name="Harbor Insurance", ledes_client_id="HARB-LEDES-01")
SMITH = Client(id="c2", name="Ana Smith")
UPDATED = datetime(2026, 9, 1, tzinfo=UTC)
LITIGATION = Matter(
    id="m1", client_id="c1", number="HARB-0001", name="Harbor v. Beta", updated_at=UPDATED, task_code="L120"
)
DIVORCE = Matter(id="m2", client_id="c2", number="SMITH-0002", name="Smith divorce", updated_at=UPDATED)
WILL = Matter(
    id="m3", client_id="c2", number="SMITH-0003", name="Smith will", updated_at=UPDATED,
    billing_method=BillingMethod.FLAT,
)  # fmt: skip
INJURY = Matter(
    id="m4", client_id="c2", number="SMITH-0004", name="Smith injury", updated_at=UPDATED,
    billing_method=BillingMethod.CONTINGENCY,
)  # fmt: skip


def reference(*matters: Matter, clients: tuple[Client, ...] = (HARBOR, SMITH)) -> ReferenceData:
    return ReferenceData([PARTNER, ASSOCIATE], clients, matters or (LITIGATION, DIVORCE, WILL, INJURY))


def entry(**kw: Any) -> TimeEntry:
    """An approved, posted 0.5 h entry by the partner on the litigation matter on 5 October."""
    n = next(_ids)
    seconds = kw.pop("billed_seconds", 1800)
    rate = kw.pop("rate", Decimal("400"))
    work_date = kw.pop("work_date", date(2026, 10, 5))
    started = datetime(work_date.year, work_date.month, work_date.day, 14, tzinfo=UTC) + timedelta(minutes=n)
    base: dict[str, Any] = {
        "id": f"e{n}",
        "activity_key": ("clio", f"communication:{n}"),
        "timekeeper_id": "u1",
        "matter_id": "m1",
        "client_id": "c1",
        "work_date": work_date,
        "started_at": started,
        "ended_at": started + timedelta(seconds=seconds),
        "raw_seconds": seconds,
        "billed_seconds": seconds,
        "rate": rate,
        "amount": amount_for(seconds, rate),
        "billable": True,
        "narrative": f"Drafted motion to compel production of claim file {n}",
        "kind": ActivityKind.DOCUMENT,
        "task_code": "L120",
        "activity_code": "A103",
        "state": EntryState.POSTED,
        "remote_id": str(900000 + n),
    }
    return TimeEntry(**(base | kw))


def build(entries: list[TimeEntry], settings: BillingSettings | None = None, **kw: Any) -> list[Any]:
    """Pre-bills for October, with no earlier history unless given."""
    history = kw.pop("history", lambda _matter: History())
    reference_data = kw.pop("reference", reference())
    ids = count(1)
    return build_prebills(
        entries,
        reference=reference_data,
        settings=settings or BillingSettings(),
        period=kw.pop("period", OCTOBER),
        invoice_date=date(2026, 11, 1),
        history=history,
        make_id=lambda: f"pb{next(ids)}",
        **kw,
    )


def percent_off(value: str) -> Discount:
    return Discount(kind="percent", value=Decimal(value))
