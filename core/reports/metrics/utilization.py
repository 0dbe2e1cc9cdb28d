"""Utilization.

Definition: billable hours ÷ available hours (Clio's: 8 hours a working day for each timekeeper
with at least one entry in the month).

- Billable hours: see `hours.py` (real time of approved billable entries in the period).
- Available hours, month by month: in each calendar month of the period (clipped to the period),
  every timekeeper with at least one entry (in any state) dated in that part counts their hours per
  working day (`[firms.<id>.reports]` `hours_per_day`, default 8 h as Clio assumes, or
  `timekeeper_hours_per_day` for one person) times its Monday-to-Friday days. A month in which a
  person recorded nothing adds none of their time, so a quarter, a year or "all" is the sum of its
  months' figures, and "all" on a firm whose work lies in one month is that month's figure.
  Public holidays and leave are not known to billsync and are not taken off.
- By client or matter utilization is undefined (available time belongs to people, not matters).

Edge case: nobody with an entry in the period gives an undefined rate ("—").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from config.reports import ReportsSettings
from core.models import TimeEntry
from core.reports.metrics.ratio import Ratio
from core.reports.period import ReportPeriod

SECONDS_PER_HOUR = Decimal(3600)


def available_seconds(entries: Iterable[TimeEntry], period: ReportPeriod, settings: ReportsSettings) -> Decimal:
    """The available time, in seconds, of whoever has entries among `entries`, month by month over the period."""
    parts = period.month_parts()
    worked: dict[int, set[str]] = defaultdict(set)  # by index into parts
    for entry in entries:
        for index, part in enumerate(parts):
            if entry.work_date in part:
                worked[index].add(entry.timekeeper_id)
                break
    total = Decimal(0)
    for index, timekeepers in worked.items():
        days = parts[index].working_days()
        total += sum((settings.available_per_day(t) * SECONDS_PER_HOUR * days for t in timekeepers), Decimal(0))
    return total


def utilization(billable_seconds: int, available: Decimal) -> Ratio:
    """Billable ÷ available."""
    return Ratio(Decimal(billable_seconds), available)
