"""Utilization.

Definition (billing-domain.md §7): billable hours ÷ available hours.

- Billable hours: see `hours.py` (real time of approved billable entries in the period).
- Available hours: the timekeeper's available hours per working day (`[firms.<id>.reports]`
  `hours_per_day`, default 8 h as Clio assumes, or `timekeeper_hours_per_day` for one person)
  times the Monday-to-Friday days in the period. Public holidays and leave are not known to
  billsync and are not taken off.
- Who counts: as in Clio, a timekeeper is anyone with at least one entry (in any state) dated in
  the period; the firm's available hours are the sum over them.
- By client or matter utilization is undefined (available time belongs to people, not matters).

Edge case: nobody with an entry in the period gives an undefined rate ("—").
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from config.reports import ReportsSettings
from core.models import TimeEntry
from core.reports.metrics.ratio import Ratio
from core.reports.period import ReportPeriod

SECONDS_PER_HOUR = Decimal(3600)


def timekeepers_with_entries(entries: Iterable[TimeEntry]) -> set[str]:
    """Everyone with at least one entry among `entries`."""
    return {e.timekeeper_id for e in entries}


def available_seconds(timekeeper_ids: Iterable[str], period: ReportPeriod, settings: ReportsSettings) -> Decimal:
    """The available time of these timekeepers over the period, in seconds."""
    days = period.working_days()
    return sum((settings.available_per_day(t) * SECONDS_PER_HOUR * days for t in timekeeper_ids), Decimal(0))


def utilization(billable_seconds: int, available: Decimal) -> Ratio:
    """Billable ÷ available."""
    return Ratio(Decimal(billable_seconds), available)
