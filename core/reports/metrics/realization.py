"""Realization (billing realization, in dollars).

Definition (docs/billing-domain.md §7, "billed ÷ billable work done"; the report says which variant it
uses, as §7 asks): of the approved billable entries worked in the period that are on an issued
PMS bill, what the bills charge for them ÷ their standard value.

- Standard value: the entry's amount as billsync rated it (hours rounded up per entry x rate,
  after agreed discounts and caps), updated when a person edits the entry in the PMS.
- Billed: the issued bill's line for that entry (Clio: the line naming the entry; PracticePanther:
  the matched pre-bill's line). Write-downs made on the bill lower it; nothing raises it but a
  person in the PMS.
- Work not billed yet is not in either side: it is unbilled WIP (see `lockup.py`), so a recent
  period is not pulled down merely because its bills are not out.

Edge case: nothing billed from the period's work gives an undefined rate ("—").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from core.models import TimeEntry
from core.reports.facts import BilledLine
from core.reports.metrics.ratio import Ratio

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Realization:
    """Billed amount against the standard value of the same work."""

    standard_value: Decimal
    billed_amount: Decimal

    @property
    def rate(self) -> Ratio:
        """Billed ÷ standard value."""
        return Ratio(self.billed_amount, self.standard_value)


def realization(entries: Iterable[TimeEntry], billed: Mapping[str, BilledLine]) -> Realization:
    """Over the billed, billable entries among `entries`."""
    on_bills = [e for e in entries if e.billable and e.id in billed]
    return Realization(
        standard_value=sum((e.amount for e in on_bills), ZERO),
        billed_amount=sum((billed[e.id].amount for e in on_bills), ZERO),
    )
