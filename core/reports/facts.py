"""Everything the metrics read, loaded from the store once per report: one consistent picture.

`billed` ties each time entry to the issued PMS bill line that bills it: by the line's entry
reference where the PMS gives one (Clio), else through the pre-bill matched to that bill
(PracticePanther's invoice lines name no entry). Only issued bills count (awaiting payment or
paid, as in the ledger): a draft bill has billed nothing yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from config.settings import FirmSettings
from core.billing.model import PreBill, PreBillStatus
from core.matching import ReferenceData
from core.models import RemoteBill, TimeEntry
from core.payments.ledger import Ledger, build_ledger
from core.payments.reconcile import ISSUED, match_all
from core.store.billing import BillingStore
from core.store.payments import PaymentStore
from core.store.reports import ActivityRow, ReportStore
from core.store.store import Store
from core.units import cents


@dataclass(frozen=True, slots=True)
class BilledLine:
    """The issued bill that bills one entry, and what its line charges for it."""

    entry_id: str
    bill_id: str
    bill_number: str | None
    issued_on: date | None
    amount: Decimal


@dataclass(frozen=True)
class FirmFacts:
    """One firm's capture, entries, bills and ledger, as of `today`."""

    firm_id: str
    firm_name: str
    settings: FirmSettings
    reference: ReferenceData
    activities: Sequence[ActivityRow]
    entries: Sequence[TimeEntry]
    bills: Sequence[RemoteBill]
    prebills: Sequence[PreBill]
    ledger: Ledger
    billed: dict[str, BilledLine]  # by entry id
    today: date

    def first_day(self) -> date:
        """The earliest work or activity date the firm has: where "all" starts."""
        days = [e.work_date for e in self.entries] + [a.started_at.date() for a in self.activities]
        days += [b.issued_on for b in self.bills if b.issued_on is not None]
        return min(days, default=self.today)


def load_facts(store: Store, firm_id: str, firm: FirmSettings, today: date) -> FirmFacts:
    """Read the firm's state from the store and put the ledger together exactly as `billsync pay ledger` does."""
    bills = store.load_bills(firm_id)
    payments = PaymentStore(store.engine)
    matches = match_all(payments.transactions(firm_id), bills, payments.plans(firm_id))
    ledger = build_ledger(bills, matches, payments.transfers(firm_id))
    entries = store.entries(firm_id)
    prebills = BillingStore(store.engine).prebills(firm_id)
    return FirmFacts(
        firm_id=firm_id,
        firm_name=firm.name,
        settings=firm,
        reference=store.load_reference(firm_id),
        activities=ReportStore(store.engine).activity_rows(firm_id),
        entries=entries,
        bills=bills,
        prebills=prebills,
        ledger=ledger,
        billed=billed_lines(entries, bills, prebills),
        today=today,
    )


def billed_lines(
    entries: Sequence[TimeEntry], bills: Sequence[RemoteBill], prebills: Sequence[PreBill]
) -> dict[str, BilledLine]:
    """Each billed entry's issued bill line (an entry on two issued bills counts on the first one)."""
    issued = {b.id: b for b in bills if b.state in ISSUED}
    by_remote = {e.remote_id: e.id for e in entries if e.remote_id}
    found: dict[str, BilledLine] = {}
    for bill in issued.values():
        for line in bill.lines:
            entry_id = by_remote.get(line.remote_id) if line.remote_id else None
            if entry_id is not None and entry_id not in found:
                found[entry_id] = BilledLine(entry_id, bill.id, bill.number, bill.issued_on, cents(line.amount))
    for prebill in prebills:
        matched = issued.get(prebill.pms_bill_id or "")
        if matched is None or prebill.status is PreBillStatus.VOID or any(ln.remote_id for ln in matched.lines):
            continue  # bills whose lines name entries were tied above, line by line
        for prebill_line in prebill.lines:
            entry_id = prebill_line.entry_id
            if entry_id is not None and entry_id not in found:
                amount = prebill_line.amount
                found[entry_id] = BilledLine(entry_id, matched.id, matched.number, matched.issued_on, amount)
    return found
