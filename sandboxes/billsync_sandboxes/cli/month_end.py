"""The demo firm's month end: review, pre-bills, bills a person makes in the PMS, payment, reports.

As at a firm: every clean pre-bill (no Block finding, at least one line) is approved and billed,
dated the day the month closed; a pre-bill with a Block finding waits for a person. Only some
clients pay straight away (`PAID`), so the firm has receivables, and its lockup days are a figure
a managing partner would recognise (the demo firm's one month is all billed, so they are nearly
all debtor days).

Each step goes through the same code the CLI and the daemon use; where a person acts in a vendor's
UI (generating a bill in Clio, a client paying the LawPay page), the sandboxes' admin API and the
hosted payment page stand in for them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import requests

from billsync_sandboxes.demo.firm import MONTH_END
from config.settings import BillsyncSettings
from core.billing.cycle import run_billing_cycle
from core.billing.model import PreBill, PreBillStatus
from core.billing.period import month
from core.cli.common import console, say
from core.cli.payments import print_ledger
from core.models import BillState, EntryState, Severity
from core.payments.collection import invoice_link
from core.payments.cycle import run_payments_cycle
from core.payments.firm import build_firm_payments
from core.private_files import write_private
from core.reports.build import build_report
from core.reports.dashboard import render_dashboard
from core.reports.render import print_report
from core.reports.review import approve_entries
from core.runtime import FirmRuntime
from core.store.billing import BillingStore

FIRM = "demo"
PERIOD = "2026-10"
BILL_DATE = MONTH_END.date().isoformat()  # the bills' date: the day October closed
PAID = 4  # clients who pay their invoice through its LawPay link during the demo; the rest still owe
TEST_CARD = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2030", "name": "Pat Client"}
# The demo firm lets billsync move a bill that matches its approved pre-bill to awaiting payment,
# and collects through LawPay's hosted pages (the sandbox's merchant "sandbox-law").
MONTH_END_SETTINGS = """
[firms.demo.billing]
advance = "awaiting_payment"

[firms.demo.payments]
operating_account = "acct_operating_card"
operating_bank_account = "acct_operating_bank"
trust_account = "acct_trust_card"
trust_bank_account = "acct_trust_bank"
operating_page_url = "{lawpay}/pages/sandbox-law/operating"
trust_page_url = "{lawpay}/pages/sandbox-law/trust"
delivery = "pms_memo"
"""


def month_end(runtime: FirmRuntime, settings: BillsyncSettings, base_url: str, folder: Path | None) -> None:
    """Run the demo firm's month end against the sandboxes at `base_url` and print each step."""
    store = runtime.store
    _approve_waiting(runtime)
    result = run_billing_cycle(store, FIRM, runtime.settings.billing, month(PERIOD))
    clean = [p for p in result.prebills if _clean(p)]
    say(
        (f"Month end {PERIOD}", "bold"),
        f": {len(result.prebills)} pre-bills; "
        f"{sum(1 for p in result.prebills if p.worst is Severity.BLOCK)} with a Block finding wait for a person",
    )
    billing = BillingStore(store.engine)
    for prebill in clean:
        billing.approve(FIRM, prebill.id, datetime.now(UTC))
        # A person generates the bill in Clio's UI from the approved entries (Clio has no POST /bills).
        remote_ids = [line.remote_id for line in prebill.lines if line.remote_id]
        response = requests.post(
            f"{base_url}/_sandbox/clio/bills/generate",
            json={"matter_id": int(prebill.matter_id), "activity_ids": remote_ids, "issued_at": BILL_DATE},
            timeout=10,
        )
        response.raise_for_status()
    runtime.runner.run_once()  # reads the bills; each is matched to its pre-bill and moved if it matches
    followed = [billing.prebill(FIRM, p.id) for p in clean]
    moved = [p for p in followed if p is not None and p.pms_state == BillState.AWAITING_PAYMENT.value]
    say(
        f"{len(clean)} pre-bills approved and billed in Clio by a person; {len(moved)} matched and moved to "
        f"awaiting payment by billsync (the bills are dated {BILL_DATE}, the day October closed)"
    )
    _collect(runtime, settings, moved)
    _report(runtime, folder)


def _approve_waiting(runtime: FirmRuntime) -> None:
    """The attorneys approve what waits for review (as in Clio or with `billsync review approve`)."""
    waiting = runtime.store.entries(FIRM, [EntryState.NEEDS_REVIEW])
    approve_entries(runtime.store, FIRM, [entry.id for entry in waiting], via="demo")
    report = runtime.runner.run_once()
    say(f"Review: {len(waiting)} entries approved; {report.updated} made billable in Clio")


def _clean(prebill: PreBill) -> bool:
    return prebill.worst is not Severity.BLOCK and prebill.status is PreBillStatus.DRAFT and len(prebill.lines) >= 1


def _collect(runtime: FirmRuntime, settings: BillsyncSettings, moved: list[PreBill]) -> None:
    """The first `PAID` clients pay their invoice through the LawPay link billsync made; events reconcile it."""
    fp = build_firm_payments(settings, FIRM, runtime.store)
    paid = 0
    for prebill in moved[:PAID]:
        link = invoice_link(fp, str(prebill.pms_bill_number))
        requests.post(link.url, data=TEST_CARD, timeout=10).raise_for_status()
        paid += 1
    lawpay = str((settings.firm(FIRM).connector_settings("lawpay") or {})["base_url"])
    requests.post(f"{lawpay.removesuffix('/lawpay')}/_sandbox/lawpay/capture", timeout=10).raise_for_status()
    cycle = run_payments_cycle(fp)
    say(
        f"Collection: {paid} of {len(moved)} invoices paid through their LawPay links; {cycle.events.events} "
        "gateway events reconciled by reference" + ("; the other clients still owe" if paid < len(moved) else "")
    )
    payments = build_firm_payments(settings, FIRM, runtime.store)
    print_ledger(payments.ledger(), runtime.store.load_reference(FIRM), payments.gateway_vendor)


def _report(runtime: FirmRuntime, folder: Path | None) -> None:
    """The firm's numbers so far ("all": October's work, its bills, and today's payments)."""
    today = date.today()
    facts, result = build_report(runtime.store, FIRM, runtime.settings, period="all", by="timekeeper", today=today)
    print_report(result, console)
    if folder is None:
        say("the HTML dashboard: `billsync report --html FILE`, or /reports on the daemon")
        return
    dashboard = folder / "dashboard.html"
    write_private(dashboard, render_dashboard(facts, result, served=False))  # client names and money: 0600
    say(f"dashboard written to {dashboard}")
