"""Lockup days: WIP days + debtor days.

Definition: WIP days = unbilled work ÷ revenue x the window's days, and debtor days = what clients
still owe ÷ revenue x the window's days: how many days of billing are tied up in work not billed
yet and in bills not paid yet. Daily revenue is what the bills issued in the window total, divided
by its days (the usual form uses a year: `lockup_window_days`, default 365).

- As of the period's last day (today for "all").
- Unbilled WIP: the standard value of approved billable entries worked on or before that day that
  are on no issued bill.
- Receivables: what is still owed on bills issued on or before that day (the ledger's outstanding).
- The window ends on that day and is cut at the start of the firm's history in billsync (its
  earliest record): a firm with 45 days of history has a 45-day window, and the report says so
  beside the figure, because a year's window over two months of bills would divide a few bills'
  revenue by 365 days and make lockup look many times longer than it is.
- By timekeeper the debtor side is undefined (bills are not one person's), so lockup is too.

Edge cases: no bill issued in the window, or fewer than `MIN_BILLING_DAYS` (30) days from the
firm's first bill to the as-of day, give undefined days ("—") and the report says "not enough
history" with the reason; WIP and receivables are still shown. Thirty days is one monthly billing
cycle: until a firm has billed and then lived one cycle past its first bill, what clients owe is
all of what was billed, and debtor days only restate how young the firm's billing is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

DAY = Decimal("0.1")
MIN_BILLING_DAYS = 30  # days from the firm's first bill to the as-of day, both counted, before lockup means anything


@dataclass(frozen=True, slots=True)
class LockupWindow:
    """The days whose bills give lockup its daily revenue: `configured_days` ending `end`, cut at `start`.

    `first_bill`: the day the firm's first bill was issued, on or before `end` (None: no bill yet).
    """

    start: date
    end: date
    configured_days: int
    first_bill: date | None = None

    @property
    def days(self) -> int:
        """Calendar days in the window, both ends included."""
        return (self.end - self.start).days + 1

    @property
    def bounded(self) -> bool:
        """The firm's history is shorter than the configured window, so the window was cut to it."""
        return self.days < self.configured_days

    @property
    def billing_days(self) -> int:
        """Days from the firm's first bill to `end`, both included (0: no bill yet)."""
        return 0 if self.first_bill is None else (self.end - self.first_bill).days + 1

    @property
    def enough_billing(self) -> bool:
        """The firm has billed for at least `MIN_BILLING_DAYS` days: lockup days mean something."""
        return self.billing_days >= MIN_BILLING_DAYS

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def lockup_window(
    as_of: date, history_start: date, configured_days: int, first_bill: date | None = None
) -> LockupWindow | None:
    """The window ending `as_of`, never reaching before `history_start`; None when the history starts later.

    `first_bill`: the firm's first bill issued on or before `as_of`, if any.
    """
    if history_start > as_of:
        return None
    start = max(as_of - timedelta(days=configured_days - 1), history_start)
    return LockupWindow(start, as_of, configured_days, first_bill)


def lockup_note(window: LockupWindow | None, revenue: Decimal, as_of: date) -> str:
    """What the firm's lockup figure rests on, in words, or why there is none ("not enough history: ...")."""
    if window is None:
        return f"not enough history: billsync holds no record of the firm dated on or before {as_of}"
    if revenue <= 0:
        return (
            f"not enough history: no bill was issued from {window.start} to {window.end}, "
            "so there is no revenue to count days of"
        )
    if not window.enough_billing:
        return (
            f"not enough history: the firm's first bill was issued on {window.first_bill}, "
            f"{window.billing_days} days to {window.end} counting both; lockup days need at least "
            f"{MIN_BILLING_DAYS} (one monthly billing cycle), as until then clients owe nearly all that was billed"
        )
    if window.bounded:
        return (
            f"daily revenue over the {window.days} days of the firm's history in billsync "
            f"({window.start} to {window.end}), not {window.configured_days} days: there are no earlier records"
        )
    return f"daily revenue over the {window.days} days from {window.start} to {window.end}"


@dataclass(frozen=True, slots=True)
class Lockup:
    """WIP and receivables against daily revenue."""

    wip: Decimal
    receivables: Decimal | None  # None where bills cannot be attributed (by timekeeper)
    revenue: Decimal  # billed in the window
    window_days: int  # 0: no window (no history on or before the as-of day)

    def _days(self, amount: Decimal | None) -> Decimal | None:
        if amount is None or self.revenue <= 0 or self.window_days <= 0:
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
