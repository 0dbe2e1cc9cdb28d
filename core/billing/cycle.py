"""One billing cycle for one firm and period: approved, unbilled entries -> checked pre-bills, stored.

Run it as often as you like for the same period: draft pre-bills nobody approved yet are rebuilt
from the entries as they are now; approved, matched or mismatched ones stay as they are, and an
entry is never on two live pre-bills. A cycle is named by the day its period ends: its pre-bills
may declare an earlier start when they carry earlier unbilled work (core.billing.prebill).

An entry approved in billsync is billed at once, though its approval may still wait in the
outbox to be written to the PMS; the result names those entries (`not_in_pms`), because a bill
a person generates in the PMS before they are written cannot include them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

import structlog

from config.billing import Arrangement, BillingSettings
from core.agreements import agreed_price, with_agreements
from core.billing.guidelines import check_invoice
from core.billing.model import BillingPeriod, PreBill, PreBillStatus
from core.billing.period import due_period
from core.billing.prebill import arrangement_of, build_prebills
from core.ids import new_id
from core.matching import ReferenceData
from core.models import EntryState, MatterStatus, TimeEntry
from core.store.billing import BillingStore
from core.store.store import Store

# Approved entries: approved in billsync, or approved and already posted to the PMS.
BILLABLE_STATES = (EntryState.APPROVED, EntryState.POSTED)


@dataclass
class CycleResult:
    """What a cycle made, and what it left alone."""

    period: BillingPeriod
    prebills: list[PreBill] = field(default_factory=list)
    kept: list[PreBill] = field(default_factory=list)  # approved or tied to a PMS bill: not rebuilt
    waiting: list[str] = field(default_factory=list)  # entries that wait because their pre-bill is kept
    not_in_pms: list[str] = field(default_factory=list)  # billed entries whose approval is not in the PMS yet


def run_billing_cycle(
    store: Store,
    firm_id: str,
    settings: BillingSettings,
    period: BillingPeriod,
    *,
    today: Callable[[], date] = lambda: datetime.now(UTC).date(),
) -> CycleResult:
    """Build, check and store the period's pre-bills; the plain function the scheduler calls."""
    billing = BillingStore(store.engine)
    reference = with_agreements(store.load_reference(firm_id), settings)
    existing = billing.prebills(firm_id, period_end=period.end)
    kept = [p for p in existing if p.status is not PreBillStatus.DRAFT or p.approved_at is not None]
    rebuilt = [p for p in existing if p not in kept]
    kept_matters = {p.matter_id for p in kept}
    on_kept = {entry_id for p in kept for entry_id in p.entry_ids}
    taken = billing.billed_entry_ids(firm_id) - {e for p in rebuilt for e in p.entry_ids}
    result = CycleResult(period, kept=kept)
    entries = []
    for entry in store.entries(firm_id, BILLABLE_STATES):
        if entry.work_date > period.end or entry.id in taken or entry.id in on_kept:
            continue
        if entry.matter_id in kept_matters:
            result.waiting.append(entry.id)  # its matter's pre-bill for this period is already out
            continue
        entries.append(under_current_terms(entry, reference))
    flat_matters = [
        matter.id
        for matter in reference.matters.values()
        if matter.id not in kept_matters
        and matter.status is MatterStatus.OPEN
        and settings.matter(matter.id).flat_fee is not None
        and arrangement_of(matter, settings.matter(matter.id)) in (Arrangement.FLAT, Arrangement.HYBRID)
    ]
    prebills = build_prebills(
        entries,
        matters_with_flat_fees=flat_matters,
        reference=reference,
        settings=settings,
        period=period,
        invoice_date=today(),
        history=lambda matter_id: billing.history(firm_id, matter_id, period.start),
        make_id=new_id,
    )
    checked = [replace(p, findings=p.findings + check_invoice(p, reference, settings)) for p in prebills]
    billing.replace_prebills(firm_id, [p.id for p in rebuilt], checked)
    result.prebills = checked
    unwritten = {entry.id for entry in entries if entry.state is EntryState.APPROVED}
    result.not_in_pms = [entry_id for p in checked for entry_id in p.entry_ids if entry_id in unwritten]
    structlog.get_logger().info(
        "billing cycle",
        firm=firm_id,
        period=period.label,
        prebills=len(checked),
        kept=len(kept),
        lines=sum(len(p.lines) for p in checked),
        not_in_pms=len(result.not_in_pms),
        blocked=sum(1 for p in checked if p.worst is not None and p.worst.value == "block"),
    )
    return result


def run_scheduled_cycle(store: Store, firm_id: str, settings: BillingSettings, now: datetime) -> CycleResult | None:
    """The cycle the firm's schedule asks for at `now` (last month's, on its day), else None.

    Safe to call more than once that day: a re-run rebuilds only the drafts nobody approved.
    """
    period = due_period(settings.schedule, now)
    if period is None:
        return None
    return run_billing_cycle(store, firm_id, settings, period, today=now.date)


def under_current_terms(entry: TimeEntry, reference: ReferenceData) -> TimeEntry:
    """The entry priced under its matter's (or client's) agreement as configured now.

    A discount agreed after the work was captured still comes off the bill; rate and time stay as
    they are. A matter's cap is held by the pre-bill's cap line over the whole period.
    """
    if entry.matter_id not in reference.matters:
        return entry
    agreed = agreed_price(entry, reference, rate=entry.rate, billed_seconds=entry.billed_seconds)
    return entry if agreed == entry.amount else entry.model_copy(update={"amount": agreed})

