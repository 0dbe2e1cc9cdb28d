"""Time to invoice.

Definition (docs/billing-domain.md §7, a derived definition): for each approved billable entry worked in
the period that is on an issued bill, the days from its work date (LEDES `LINE_ITEM_DATE`) to the
bill's issue date; reported as the median and the 90th percentile over those entries.

- The issue date stands in for "invoice approval": it is the date the PMS gives the bill.
- Median: the middle value, or the mean of the two middle values (so it may end in .5).
- 90th percentile: nearest rank, the smallest value with at least 90 % of entries at or below it.
- Entries not billed yet are not counted (their lag is still growing: see WIP in `lockup.py`).

Edge case: no billed entries gives undefined figures ("—").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.models import TimeEntry
from core.reports.facts import BilledLine


@dataclass(frozen=True, slots=True)
class Lag:
    """Median and 90th percentile of days from work to invoice, and how many entries they cover."""

    median: Decimal | None
    p90: int | None
    entries: int


def days_to_invoice(entries: Iterable[TimeEntry], billed: Mapping[str, BilledLine]) -> list[int]:
    """Each billed, billable entry's days from work to the bill's issue date."""
    lags = []
    for entry in entries:
        line = billed.get(entry.id)
        if entry.billable and line is not None and line.issued_on is not None:
            lags.append((line.issued_on - entry.work_date).days)
    return sorted(lags)


def lag(days: Sequence[int]) -> Lag:
    """Median and nearest-rank 90th percentile of sorted `days`."""
    if not days:
        return Lag(None, None, 0)
    n = len(days)
    middle = n // 2
    median = Decimal(days[middle]) if n % 2 else (Decimal(days[middle - 1]) + Decimal(days[middle])) / 2
    return Lag(median, days[math.ceil(0.9 * n) - 1], n)
