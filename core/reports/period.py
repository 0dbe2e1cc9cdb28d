"""Report periods: a month ("2026-10"), a quarter ("2026-Q4"), a year ("2026"), a range, or everything.

"all" is the span of the firm's data: from the first day of the first month that holds any record
(work, activity or bill) to today. It starts on a month's first day so that a firm whose data lies
in one month gets that month's figures; the months in between that hold no work add no available
time (see `metrics/utilization.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from core.billing.period import month
from core.errors import BillsyncError

_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    """Days from `start` to `end`, both included; `everything` when no period was asked for."""

    start: date
    end: date
    label: str
    everything: bool = False

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    @property
    def days(self) -> int:
        """Calendar days in the period."""
        return (self.end - self.start).days + 1

    def month_parts(self) -> list[ReportPeriod]:
        """The period cut at month boundaries: each calendar month it touches, clipped to it, oldest first."""
        parts = []
        start = self.start
        while start <= self.end:
            month_end = month(f"{start.year:04d}-{start.month:02d}").end
            end = min(month_end, self.end)
            parts.append(ReportPeriod(start, end, f"{start.year:04d}-{start.month:02d}"))
            start = end + timedelta(days=1)
        return parts

    def working_days(self) -> int:
        """Monday-to-Friday days in the period (public holidays are not known: see the README)."""
        weeks, extra = divmod(self.days, 7)
        count = weeks * 5
        for offset in range(extra):
            if (self.start + timedelta(days=weeks * 7 + offset)).weekday() < 5:
                count += 1
        return count


def parse_period(text: str | None, *, first: date, today: date) -> ReportPeriod:
    """The period a user named; `first` (the firm's earliest record) and `today` bound "all"."""
    label = (text or "all").strip()
    if label == "all":
        earliest = min(first, today)
        return ReportPeriod(earliest.replace(day=1), today, "all", everything=True)
    if found := _QUARTER.match(label):
        year, quarter = int(found.group(1)), int(found.group(2))
        start = month(f"{year:04d}-{quarter * 3 - 2:02d}").start
        return ReportPeriod(start, month(f"{year:04d}-{quarter * 3:02d}").end, label)
    if _YEAR.match(label):
        return ReportPeriod(date(int(label), 1, 1), date(int(label), 12, 31), label)
    if found := _RANGE.match(label):
        try:
            start, end = date.fromisoformat(found.group(1)), date.fromisoformat(found.group(2))
        except ValueError as exc:
            raise BillsyncError(f"report period {label!r}: {exc}") from None
        if end < start:
            raise BillsyncError(f"report period {label!r} ends before it starts")
        return ReportPeriod(start, end, label)
    try:
        billing_month = month(label)
    except BillsyncError:
        raise BillsyncError(
            f"report period {label!r} is not a month (2026-10), quarter (2026-Q4), year (2026), "
            "range (2026-10-01..2026-10-15) or 'all'"
        ) from None
    return ReportPeriod(billing_month.start, billing_month.end, billing_month.label)
