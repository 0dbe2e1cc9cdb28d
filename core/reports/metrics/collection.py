"""Collection rate.

Definition (docs/billing-domain.md §7): collected $ ÷ billed $, over the invoices issued in the period,
exactly as the ledger counts them (`core/payments/ledger.py`):

- Billed: the total of each issued bill (awaiting payment or paid in the PMS) with its issue
  date in the period; draft, void and deleted bills are not billed.
- Collected: what has paid those bills so far: gateway payments matched to them by reference,
  less refunds, plus recorded trust-to-operating transfers. Processing fees are not netted off.
- Outstanding: what is still owed on them (an overpaid bill owes nothing; the excess is credit).

Payments recorded only in the PMS by hand (a cheque keyed into Clio) are not in billsync's
ledger and so not collected here: the ledger is the one source of these figures.
By timekeeper collection is undefined (a bill is not one person's).

Edge case: nothing billed in the period gives an undefined rate ("—").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from core.payments.ledger import InvoiceBalance
from core.reports.metrics.ratio import Ratio

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Collection:
    """Billed, collected and outstanding on a set of issued invoices."""

    billed: Decimal
    collected: Decimal
    outstanding: Decimal

    @property
    def rate(self) -> Ratio:
        """Collected ÷ billed."""
        return Ratio(self.collected, self.billed)


def collection(invoices: Iterable[InvoiceBalance]) -> Collection:
    """Sum the ledger's invoice balances."""
    billed = collected = outstanding = ZERO
    for invoice in invoices:
        billed += invoice.bill.total
        collected += invoice.paid
        outstanding += max(invoice.balance, ZERO)
    return Collection(billed, collected, outstanding)
