"""Approved, unbilled entries -> one pre-bill per client matter, with its arrangement applied.

- Hourly matters bill each entry as approved: units x rate, with the agreed discount or cap that
  rating applied shown as the line's adjustment (never folded into the rate). An entry in a
  flat-rate activity category is one unit at its flat rate, whatever its time.
- Flat-fee matters bill their flat fee and never incremental entries.
- Hybrid matters (configured) bill the flat fee, show entries in its scope at no charge, and bill
  the rest hourly.
- A matter's not-to-exceed cap is checked again over the whole invoice: what earlier pre-bills
  billed plus this one may not pass it (an invoice-level adjustment line takes off the excess).
- Tax, where configured, is computed per line so the invoice total is the sum of line totals.
- Earlier unbilled work is billed, never hidden in a period that leaves it out: an approved entry
  dated before the period (approved late, or left off an earlier bill) goes on this period's
  pre-bill, whose declared period then starts at that entry's date, the way the PMS's own bill
  for the matter would (Clio's bill starts at its earliest line). An `earlier_work` finding says
  so on the pre-bill. Every line's date is inside the period the pre-bill (and its LEDES file)
  declares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from config.billing import Arrangement, BillingSettings, MatterBilling
from core.billing.model import (
    AGREED_NOTE,
    CAP_NOTE,
    COVERED_NOTE,
    ROUNDING_NOTE,
    UNITS,
    ZERO,
    BillingPeriod,
    GuidelineFinding,
    LineType,
    PreBill,
    PreBillLine,
)
from core.matching import ReferenceData
from core.models import BillingMethod, Matter, Severity, TimeEntry
from core.units import SECONDS_PER_HOUR, amount_for, cents


@dataclass(frozen=True, slots=True)
class History:
    """What earlier live pre-bills billed on a matter: fees (for its cap) and whether a flat fee went out."""

    fees: Decimal = ZERO
    flat_fee_billed: bool = False


@dataclass(frozen=True, slots=True)
class _Draft:
    """A line before numbering and tax."""

    type: LineType
    work_date: date
    narrative: str
    units: Decimal
    unit_cost: Decimal
    adjustment: Decimal
    timekeeper_id: str | None = None
    timekeeper_name: str = ""
    classification: str = ""
    task_code: str | None = None
    activity_code: str | None = None
    entry_id: str | None = None
    remote_id: str | None = None
    note: str = ""

    @property
    def amount(self) -> Decimal:
        return cents(self.units * self.unit_cost) + self.adjustment


def arrangement_of(matter: Matter, cfg: MatterBilling) -> Arrangement | None:
    """How a matter bills; None when billsync bills nothing for it (contingency, non-billable)."""
    if not matter.billable:
        return None
    if cfg.arrangement is not Arrangement.PMS:
        return cfg.arrangement
    return {
        BillingMethod.HOURLY: Arrangement.HOURLY,
        BillingMethod.FLAT: Arrangement.FLAT,
        BillingMethod.CONTINGENCY: None,
    }[matter.billing_method]


def build_prebills(
    entries: Iterable[TimeEntry],
    *,
    matters_with_flat_fees: Iterable[str] = (),
    reference: ReferenceData,
    settings: BillingSettings,
    period: BillingPeriod,
    invoice_date: date,
    history: Callable[[str], History],
    make_id: Callable[[], str],
) -> list[PreBill]:
    """One pre-bill per matter with something to bill, ordered by client then matter number.

    `entries` are the approved, unbilled entries up to the period's end; `matters_with_flat_fees`
    names further matters to consider for a flat fee even without entries this period.
    """
    by_matter: dict[str, list[TimeEntry]] = {}
    for entry in entries:
        by_matter.setdefault(entry.matter_id, []).append(entry)
    for matter_id in matters_with_flat_fees:
        by_matter.setdefault(matter_id, [])
    prebills = []
    for matter_id, matter_entries in by_matter.items():
        matter = reference.matters.get(matter_id)
        if matter is None:
            continue  # an entry on a matter the PMS no longer lists: capture already flagged it
        prebill = _prebill(
            matter,
            matter_entries,
            reference=reference,
            settings=settings,
            period=period,
            invoice_date=invoice_date,
            history=history(matter_id),
        )
        if prebill is not None:
            prebills.append(_with_id(prebill, make_id()))
    return sorted(prebills, key=lambda p: (p.client_id, p.number))


def _prebill(
    matter: Matter,
    entries: Sequence[TimeEntry],
    *,
    reference: ReferenceData,
    settings: BillingSettings,
    period: BillingPeriod,
    invoice_date: date,
    history: History,
) -> PreBill | None:
    cfg = settings.matter(matter.id)
    arrangement = arrangement_of(matter, cfg)
    if arrangement is None:
        return None
    drafts: list[_Draft] = []
    findings: list[GuidelineFinding] = []
    if arrangement in (Arrangement.FLAT, Arrangement.HYBRID):
        flat, problem = _flat_fee(matter, cfg, period, history)
        drafts.extend(flat)
        if problem:
            findings.append(GuidelineFinding("flat_fee", Severity.BLOCK, problem))
    if arrangement is not Arrangement.FLAT:
        for entry in sorted(entries, key=lambda e: (e.work_date, e.started_at, e.id)):
            if arrangement is Arrangement.HOURLY and not entry.billable:
                continue
            drafts.append(_entry_line(entry, reference, cfg if arrangement is Arrangement.HYBRID else None))
    if not drafts and not findings:
        return None
    cap = _cap_adjustment(matter, drafts, history, period)
    if cap is not None:
        drafts.append(cap)
    rate = settings.tax_rate(matter.client_id)
    lines = tuple(_numbered(number, draft, rate) for number, draft in enumerate(drafts, start=1))
    earlier = [line for line in lines if line.work_date < period.start]
    starts = min((line.work_date for line in earlier), default=period.start)
    if earlier:
        numbers = ", ".join(str(line.number) for line in earlier)
        findings.append(
            GuidelineFinding(
                "earlier_work",
                Severity.WARN,
                f"billing period starts {starts}, not {period.start}: line(s) {numbers} bill earlier unbilled work",
            )
        )
    client = reference.clients.get(matter.client_id)
    return PreBill(
        id="",
        client_id=matter.client_id,
        matter_id=matter.id,
        period_start=starts,
        period_end=period.end,
        invoice_date=invoice_date,
        number=f"PB-{period.label or period.end.isoformat()}-{matter.number}",
        currency=settings.currency,
        lines=lines,
        findings=tuple(findings),
        description=f"{client.name if client else matter.client_id}: {matter.number} {matter.name}".strip(),
    )


def _entry_line(entry: TimeEntry, reference: ReferenceData, hybrid: MatterBilling | None) -> _Draft:
    timekeeper = reference.timekeepers.get(entry.timekeeper_id)
    category = reference.categories.get(entry.category_id) if entry.category_id else None
    if category is not None and category.flat:
        units = Decimal("1.0000")  # a flat-rate activity: its rate is the whole price, whatever the time
    else:
        units = (Decimal(entry.billed_seconds) / SECONDS_PER_HOUR).quantize(UNITS)
    base = cents(units * entry.rate)
    # The entry is priced on its exact seconds (core.units.amount_for), as the PMS prices it; the
    # line shows hours to four places, so 40 minutes at 350.00 is 0.6667 h x 350.00 = 233.35 on
    # the line against 233.33 for the work. That cent is rounding, not an agreement.
    exact = base if category is not None and category.flat else amount_for(entry.billed_seconds, entry.rate)
    covered = hybrid is not None and (
        (entry.task_code is not None and entry.task_code in hybrid.covered_task_codes)
        or (entry.category_id is not None and entry.category_id in hybrid.covered_category_ids)
    )
    # The entry's amount already carries the agreed discount and any cap rating applied.
    adjustment = -base if covered else entry.amount - base
    if covered:
        note = COVERED_NOTE
    elif entry.amount != exact:
        note = AGREED_NOTE
    elif adjustment:
        note = ROUNDING_NOTE
    else:
        note = ""
    return _Draft(
        type=LineType.FEE,
        work_date=entry.work_date,
        narrative=entry.narrative,
        units=units,
        unit_cost=entry.rate,
        adjustment=adjustment,
        timekeeper_id=entry.timekeeper_id,
        timekeeper_name=timekeeper.name if timekeeper else entry.timekeeper_id,
        # As the firm configured it or the PMS says it; "" when neither does: the LEDES writer
        # then asks for billing.timekeepers.<id>.classification rather than guess.
        classification=(timekeeper.classification if timekeeper else None) or "",
        task_code=entry.task_code,
        activity_code=entry.activity_code,
        entry_id=entry.id,
        remote_id=entry.remote_id,
        note=note,
    )


def _flat_fee(
    matter: Matter, cfg: MatterBilling, period: BillingPeriod, history: History
) -> tuple[list[_Draft], str | None]:
    if cfg.flat_fee is None:
        return [], f"matter {matter.number} bills a flat fee but none is configured (billing.matters.{matter.id})"
    if cfg.flat_fee_schedule == "once" and history.flat_fee_billed:
        return [], None
    line = _Draft(
        type=LineType.FEE,
        work_date=period.end,
        narrative=f"Flat fee: {matter.name or matter.number}",
        units=Decimal("1.0000"),
        unit_cost=cfg.flat_fee,
        adjustment=ZERO,
        timekeeper_name="Flat fee",
        classification="FLTFEE",  # docs/billing-domain.md §1: a fee-support entry, not a person
        task_code=matter.task_code,
    )
    return [line], None


def _cap_adjustment(matter: Matter, drafts: Sequence[_Draft], history: History, period: BillingPeriod) -> _Draft | None:
    if matter.cap_amount is None:
        return None
    fees = sum((d.amount for d in drafts), ZERO)
    room = max(matter.cap_amount - history.fees, ZERO)
    if fees <= room:
        return None
    return _Draft(
        type=LineType.FEE_ADJUSTMENT,
        work_date=period.end,
        narrative=f"Not-to-exceed cap of {matter.cap_amount} on matter {matter.number}",
        units=Decimal("0.0000"),
        unit_cost=ZERO,
        adjustment=room - fees,
        timekeeper_name="Adjustment",
        classification="ADJSMT",
        note=CAP_NOTE,
    )


def _numbered(number: int, draft: _Draft, tax_rate: Decimal) -> PreBillLine:
    amount = draft.amount
    return PreBillLine(
        number=number,
        type=draft.type,
        work_date=draft.work_date,
        narrative=draft.narrative,
        units=draft.units,
        unit_cost=draft.unit_cost,
        adjustment=draft.adjustment,
        amount=amount,
        timekeeper_id=draft.timekeeper_id,
        timekeeper_name=draft.timekeeper_name,
        classification=draft.classification,
        task_code=draft.task_code,
        activity_code=draft.activity_code,
        tax_rate=tax_rate,
        tax=cents(amount * tax_rate),
        entry_id=draft.entry_id,
        remote_id=draft.remote_id,
        note=draft.note,
    )


def _with_id(prebill: PreBill, prebill_id: str) -> PreBill:
    return replace(prebill, id=prebill_id)
