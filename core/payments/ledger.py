"""The ledger: billed, paid, outstanding and trust per client and matter, exact to the cent.

Billed comes from the PMS's issued bills; paid from gateway payments matched to them plus
recorded trust transfers; trust from trust deposits less refunds and transfers out. Processing
fees are never netted off anything (the gateway takes them from operating, docs/vendors/lawpay.md §4).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from core.models import RemoteBill
from core.payments.models import Transfer
from core.payments.reconcile import ISSUED, Match, Target, bill_matter

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class InvoiceBalance:
    """One issued invoice: what it asks, what has paid it, what is left (negative: overpaid)."""

    bill: RemoteBill
    paid_by_card_or_bank: Decimal
    paid_from_trust: Decimal

    @property
    def paid(self) -> Decimal:
        """Everything applied to the invoice."""
        return self.paid_by_card_or_bank + self.paid_from_trust

    @property
    def balance(self) -> Decimal:
        """Total less paid; below zero the client has a credit."""
        return self.bill.total - self.paid


@dataclass(slots=True)
class LedgerRow:
    """One client and matter (matter None: client level, e.g. bills over several matters)."""

    client_id: str
    matter_id: str | None
    billed: Decimal = ZERO
    paid: Decimal = ZERO
    outstanding: Decimal = ZERO
    credit: Decimal = ZERO  # overpayments and unapplied operating money
    trust: Decimal = ZERO


@dataclass
class Ledger:
    """The whole firm."""

    rows: list[LedgerRow]
    invoices: dict[str, InvoiceBalance]  # by bill id
    unmatched: list[Match] = field(default_factory=list)

    def trust(self, client_id: str, matter_id: str | None = None) -> Decimal:
        """Trust held for a client's matter (matter None: the client's general pool)."""
        return sum((r.trust for r in self.rows if r.client_id == client_id and r.matter_id == matter_id), ZERO)

    def totals(self) -> LedgerRow:
        """Every row summed."""
        total = LedgerRow("*", None)
        for row in self.rows:
            total.billed += row.billed
            total.paid += row.paid
            total.outstanding += row.outstanding
            total.credit += row.credit
            total.trust += row.trust
        return total


def build_ledger(bills: Sequence[RemoteBill], matches: Sequence[Match], transfers: Sequence[Transfer]) -> Ledger:
    """Put bills, matched transactions and transfers together."""
    rows: dict[tuple[str, str | None], LedgerRow] = {}

    def row(client_id: str, matter_id: str | None) -> LedgerRow:
        return rows.setdefault((client_id, matter_id), LedgerRow(client_id, matter_id))

    gateway_paid: dict[str, Decimal] = defaultdict(lambda: ZERO)
    trust_paid: dict[str, Decimal] = defaultdict(lambda: ZERO)
    unmatched: list[Match] = []
    for match in matches:
        if match.target is Target.INVOICE and match.bill is not None:
            gateway_paid[match.bill.id] += match.signed
        elif match.target is Target.TRUST and match.client_id is not None:
            row(match.client_id, match.matter_id).trust += match.signed
        else:
            unmatched.append(match)
            if match.client_id is not None and match.transaction.account_kind.value == "operating":
                row(match.client_id, match.matter_id).credit += match.signed
    for transfer in transfers:
        trust_paid[transfer.bill_id] += transfer.amount
        row(transfer.client_id, transfer.matter_id).trust -= transfer.amount
    invoices: dict[str, InvoiceBalance] = {}
    for bill in bills:
        paid_elsewhere = gateway_paid.get(bill.id, ZERO) + trust_paid.get(bill.id, ZERO)
        if bill.state not in ISSUED:
            if paid_elsewhere:  # money matched to a draft, void or deleted bill is the client's credit
                row(bill.client_id, bill_matter(bill)).credit += paid_elsewhere
            continue
        balance = InvoiceBalance(bill, gateway_paid.get(bill.id, ZERO), trust_paid.get(bill.id, ZERO))
        invoices[bill.id] = balance
        r = row(bill.client_id, bill_matter(bill))
        r.billed += bill.total
        r.paid += balance.paid
        r.outstanding += max(balance.balance, ZERO)
        r.credit += max(-balance.balance, ZERO)
    ordered = sorted(rows.values(), key=lambda r: (r.client_id, r.matter_id or ""))
    return Ledger(rows=ordered, invoices=invoices, unmatched=unmatched)
