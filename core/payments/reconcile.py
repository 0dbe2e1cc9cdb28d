"""Match every gateway transaction to what it pays, by reference: an invoice, a trust pool, or nothing.

Pure functions over stored rows; run again whenever bills or transactions change. A trust
deposit never pays an invoice, even when its reference names one: it lands in the client's trust
pool, and only a recorded transfer applies it (ABA Model Rule 1.15).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.models import BillState, RemoteBill
from core.payments import references
from core.payments.models import COUNTED, AccountKind, Plan, Transaction

ISSUED = frozenset({BillState.AWAITING_PAYMENT, BillState.PAID})


class Target(enum.StrEnum):
    """What a transaction's money is for."""

    INVOICE = "invoice"  # operating money paying an invoice
    TRUST = "trust"  # client money held in trust
    UNMATCHED = "unmatched"  # nobody can tell: a person decides


@dataclass(frozen=True, slots=True)
class Match:
    """One transaction, what it pays, and its signed effect in dollars (refunds negative)."""

    transaction: Transaction
    target: Target
    signed: Decimal
    bill: RemoteBill | None = None
    client_id: str | None = None
    matter_id: str | None = None
    note: str = ""


def bills_by_key(bills: Sequence[RemoteBill]) -> dict[str, RemoteBill]:
    """Bills by the key references use (number, else id)."""
    return {references.invoice_key(b): b for b in bills}


def bill_matter(bill: RemoteBill) -> str | None:
    """The matter a bill belongs to in the ledger; a bill over several matters stays at client level."""
    return bill.matter_ids[0] if len(bill.matter_ids) == 1 else None


def signed_amount(tx: Transaction) -> Decimal:
    """What a transaction holds now: + for a live charge, - for a live refund, 0 when voided or failed."""
    if tx.status not in COUNTED:
        return Decimal("0.00")
    return -tx.amount if tx.kind == "refund" else tx.amount


def match_all(transactions: Sequence[Transaction], bills: Sequence[RemoteBill], plans: Sequence[Plan]) -> list[Match]:
    """Every transaction matched; refunds follow their charge."""
    by_key = bills_by_key(bills)
    by_id = {b.id: b for b in bills}
    plan_bills = {p.gateway_plan_id: by_id.get(p.bill_id) for p in plans if p.gateway_plan_id}
    charges: dict[str, Match] = {}
    matched: list[Match] = []
    for tx in sorted(transactions, key=lambda t: (t.kind == "refund", t.created, t.id)):
        if tx.kind == "refund" and tx.parent_id in charges:
            parent = charges[tx.parent_id]
            matched.append(
                Match(tx, parent.target, signed_amount(tx), parent.bill, parent.client_id, parent.matter_id, "refund")
            )
            continue
        match = _match_one(tx, by_key, plan_bills)
        charges[tx.id] = match
        matched.append(match)
    return matched


def _match_one(tx: Transaction, by_key: Mapping[str, RemoteBill], plan_bills: Mapping[str, RemoteBill | None]) -> Match:
    signed = signed_amount(tx)
    parsed = references.parse(tx.reference)
    bill = plan_bills.get(tx.plan_id) if tx.plan_id else None
    if bill is None and parsed is not None and parsed.invoice is not None:
        bill = by_key.get(parsed.invoice)
    if tx.account_kind is AccountKind.TRUST:
        if parsed is not None and parsed.is_trust:
            return Match(tx, Target.TRUST, signed, None, parsed.client_id, parsed.matter_id)
        if bill is not None:
            note = (
                f"trust deposit names invoice {references.invoice_key(bill)}: held in trust, not applied; "
                "apply it only with `billsync pay transfer`"
            )
            return Match(tx, Target.TRUST, signed, None, bill.client_id, bill_matter(bill), note)
        return Match(tx, Target.UNMATCHED, signed, note="trust deposit with no client in its reference")
    if tx.account_kind is AccountKind.OPERATING:
        if bill is not None:
            return Match(tx, Target.INVOICE, signed, bill, bill.client_id, bill_matter(bill))
        if parsed is not None and parsed.is_trust:
            note = "a retainer reached the operating account: move it to trust and post it by hand"
            return Match(tx, Target.UNMATCHED, signed, None, parsed.client_id, parsed.matter_id, note)
        return Match(tx, Target.UNMATCHED, signed, note=f"no invoice has reference {tx.reference!r}")
    return Match(tx, Target.UNMATCHED, signed, note=f"account {tx.account_id} is not in the payments settings")
