"""What the billing staff must post by hand in the PMS, because its API cannot.

No PMS billsync writes to lets an API client record a payment on a bill; each says why in its own
terms (core.connector.PaymentsByHand). So every gateway payment, refund, reversal and trust
transfer billsync sees is listed here until a person marks it posted (`billsync pay posted ID`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.payments import references
from core.payments.models import Transfer
from core.payments.reconcile import Match, Target


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
