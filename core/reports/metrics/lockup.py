"""Lockup days: WIP days + debtor days.

Definition (billing-domain.md §7): WIP days = unbilled WIP ÷ revenue x 365 and debtor days =
uncollected receivables ÷ revenue x 365; billsync uses the variant §7 allows with average daily
revenue as the divisor, over a configurable window (`lockup_window_days`, default 365, which is
exactly the annual form):

- As of the period's last day (today for "all").
- Unbilled WIP: the standard value of approved billable entries worked on or before that day that
  are on no issued bill.
- Receivables: what is still owed on bills issued on or before that day (the ledger's outstanding).
- Daily revenue: the totals of bills issued in the window ending that day ÷ the window's days.
- By timekeeper the debtor side is undefined (bills are not one person's), so lockup is too.

Edge case: no bill issued in the window gives undefined days ("—"); WIP and receivables are
still shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

DAY = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class Lockup:
    """WIP and receivables against daily revenue."""

    wip: Decimal
    receivables: Decimal | None  # None where bills cannot be attributed (by timekeeper)
    revenue: Decimal  # billed in the window
    window_days: int

    def _days(self, amount: Decimal | None) -> Decimal | None:
        if amount is None or self.revenue <= 0:
            return None
        return (amount * self.window_days / self.revenue).quantize(DAY, rounding=ROUND_HALF_UP)

    @property
    def wip_days(self) -> Decimal | None:
        """Unbilled WIP in days of revenue."""
        return self._days(self.wip)

    @property
    def debtor_days(self) -> Decimal | None:
        """Receivables in days of revenue."""
        return self._days(self.receivables)

    @property
    def days(self) -> Decimal | None:
        """WIP days + debtor days (each rounded to 0.1 first, so the parts add up to the whole)."""
        wip, debtor = self.wip_days, self.debtor_days
        return None if wip is None or debtor is None else wip + debtor
