"""What a person does about money in PracticePanther's UI, which the API cannot do
(docs/vendors/practicepanther.md §11).

Generating an invoice bills a matter's billable, unbilled time entries (they become `is_billed`,
docs/vendors/practicepanther.md §9); recording a payment lands in a bank account (Operating, Trust or CreditCard) and,
for operating and card money, is applied to the account's open invoices, oldest first. Trust money
stays unapplied until someone transfers it: it is the client's money (ABA Model Rule 1.15).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from billsync_sandboxes.kit import Record
from billsync_sandboxes.practicepanther.errors import PracticePantherError

if TYPE_CHECKING:
    from billsync_sandboxes.practicepanther.state import PracticePantherSandbox

CENT = Decimal("0.01")
BANK_TYPES = ("Operating", "Trust", "CreditCard")


def generate_invoice(
    sandbox: PracticePantherSandbox, matter_id: str, *, issue_date: date | None = None, due_days: int = 30
) -> Record:
    """Bill every billable, unbilled time entry of a matter, as a person clicking "Invoice" would."""
    with sandbox.lock:
        matter = sandbox.collections["matters"].peek(matter_id.lower())
        if matter is None:
            raise PracticePantherError(404, f"matters {matter_id} was not found.")
        entries = [
            e
            for e in sandbox.collections["timeentries"].all()
            if (e.get("matter_ref") or {}).get("id") == matter["id"] and e.get("is_billable") and not e.get("is_billed")
        ]
        if not entries:
            raise PracticePantherError(400, "There are no unbilled billable items for this matter.")
        issued = issue_date or sandbox.clock.now().date()
        lines = [_line(sandbox, e) for e in entries]
        total = sum((Decimal(str(line["total"])) for line in lines), Decimal("0"))
        invoice = sandbox.collections["invoices"].insert(
            {
                "id": sandbox.new_id(),
                "account_ref": {"id": matter["account_ref"]["id"]},
                "matter_ref": {"id": matter["id"]},
                "issue_date": f"{issued.isoformat()}T00:00:00",
                "due_date": f"{(issued + timedelta(days=due_days)).isoformat()}T00:00:00",
                "items_time_entries": lines,
                "items_expenses": [],
                "items_flat_fees": [],
                "subtotal": float(total),
                "tax": 0.0,
                "discount": 0.0,
                "total": float(total),
                "total_paid": 0.0,
                "total_outstanding": float(total),
                "invoice_type": "Sale",
            }
        )
        for entry in entries:
            sandbox.collections["timeentries"].update(entry["id"], {"is_billed": True})
        return sandbox.render(invoice)


def record_payment(sandbox: PracticePantherSandbox, payload: Mapping[str, Any]) -> Record:
    """Record a payment received; operating and card money pays open invoices oldest first."""
    account_id = str(payload.get("account_id") or "").lower()
    bank_type = str(payload.get("bank_account_type") or "Operating")
    if bank_type not in BANK_TYPES:
        raise PracticePantherError(
            400, "The request is invalid.", {"value.bank_account.type": [f"Unknown type {bank_type}."]}
        )
    amount = _cents(payload.get("amount"))
    if amount <= 0:
        raise PracticePantherError(
            400, "The request is invalid.", {"value.total_amount": ["The amount must be positive."]}
        )
    with sandbox.lock:
        account = sandbox.collections["accounts"].peek(account_id)
        if account is None:
            raise PracticePantherError(404, f"accounts {account_id} was not found.")
        unapplied = amount if bank_type == "Trust" else _apply(sandbox, account["id"], amount)
        received = payload.get("date") or f"{sandbox.clock.now().date().isoformat()}T00:00:00"
        payment = sandbox.collections["payments"].insert(
            {
                "id": sandbox.new_id(),
                "account_ref": {"id": account["id"]},
                "matter_ref": {"id": payload["matter_id"]} if payload.get("matter_id") else None,
                "number": str(payload.get("number") or ""),
                "date": received,
                "total_amount": float(amount),
                "unapplied_amount": float(unapplied),
                "notes": "",
                "bank_account": {"id": f"bank-{bank_type.lower()}", "type": bank_type, "name": bank_type},
                "status": "Success",
            }
        )
        return sandbox.render(payment)


def _apply(sandbox: PracticePantherSandbox, account_id: str, amount: Decimal) -> Decimal:
    """Pay the account's open invoices oldest first; returns what is left unapplied."""
    left = amount
    invoices = [
        i
        for i in sandbox.collections["invoices"].all()
        if (i.get("account_ref") or {}).get("id") == account_id and _cents(i.get("total_outstanding")) > 0
    ]
    for invoice in sorted(invoices, key=lambda i: (str(i.get("issue_date")), str(i["id"]))):
        if left <= 0:
            break
        outstanding = _cents(invoice.get("total_outstanding"))
        paid_now = min(outstanding, left)
        left -= paid_now
        sandbox.collections["invoices"].update(
            invoice["id"],
            {
                "total_paid": float(_cents(invoice.get("total_paid")) + paid_now),
                "total_outstanding": float(outstanding - paid_now),
            },
        )
    return left


def _line(sandbox: PracticePantherSandbox, entry: Record) -> dict[str, Any]:
    hours = Decimal(str(entry.get("hours") or 0))
    rate = Decimal(str(entry.get("rate") or 0))
    total = (hours * rate).quantize(CENT, rounding=ROUND_HALF_UP)
    user = sandbox.collections["users"].peek((entry.get("billed_by_user_ref") or {}).get("id"))
    return {
        "quantity": float(hours),
        "rate": float(rate),
        "discount": 0.0,
        "subtotal": float(total),
        "total": float(total),
        "date": entry.get("date"),
        "billed_by": (user or {}).get("display_name") or "",
        "item_name": "Time entry",
        "item_description": entry.get("description") or "",
    }


def _cents(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)
