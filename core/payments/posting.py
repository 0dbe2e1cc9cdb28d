"""What the billing staff must post by hand in the PMS, because its API cannot.

- Clio: the API has no endpoint that records a payment on a bill; payments reach bills only
  through Clio's own payment integrations or Clio Payments links (clio.md §3.14, lawpay.md §17.2).
  POST /bank_transactions (2026) has no bill or allocation field, so billsync does not use it.
- PracticePanther: payments are read-only in API v2 (GET and DELETE only, lawpay.md §17.1).
So every LawPay payment, refund, reversal and trust transfer billsync sees is listed here until a
person marks it posted (`billsync pay posted ID`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import MappingProxyType

from core.payments import references
from core.payments.models import Transfer
from core.payments.reconcile import Match, Target

WHY_BY_HAND: Mapping[str, str] = MappingProxyType(
    {
        "clio": (
            "Clio's API cannot record a payment on a bill (only Clio's own integrations and Clio Payments links can)"
        ),
        "practicepanther": "PracticePanther's API cannot create payments (payments are read-only)",
    }
)


@dataclass(frozen=True, slots=True)
class HandPosting:
    """One thing to post in the PMS."""

    record_id: str  # the gateway transaction id or billsync's transfer id
    on: date
    what: str
    client_id: str | None
    invoice: str | None
    account: str
    amount: Decimal


def why_by_hand(pms: str) -> str:
    """The sentence that says why the PMS needs a person for this."""
    return WHY_BY_HAND.get(pms, f"{pms}: recording payments through its API is not supported")


def hand_postings(matches: Sequence[Match], transfers: Sequence[Transfer]) -> list[HandPosting]:
    """Payments, refunds and trust movements not yet marked posted, oldest first."""
    todo: list[HandPosting] = []
    for m in matches:
        tx = m.transaction
        if tx.posted_in_pms or m.target is Target.UNMATCHED or tx.status not in ("authorized", "completed", "pending"):
            continue
        if m.target is Target.INVOICE and m.bill is not None:
            what = "refund of invoice payment" if tx.kind == "refund" else "invoice payment (operating)"
            invoice = references.invoice_key(m.bill)
        else:
            what = "trust refund" if tx.kind == "refund" else "trust deposit"
            invoice = None
        todo.append(HandPosting(tx.id, tx.created.date(), what, m.client_id, invoice, tx.account_kind.value, m.signed))
    for t in transfers:
        if not t.posted_in_pms:
            todo.append(
                HandPosting(
                    t.id, t.created_at.date(), "trust -> operating transfer", t.client_id, t.bill_id, "trust", t.amount
                )
            )
    return sorted(todo, key=lambda p: (p.on, p.record_id))
