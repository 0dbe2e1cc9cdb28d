"""Billing periods: a calendar month named "2026-10", and which month a scheduled run bills."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from config.billing import BillingSchedule
from core.billing.model import BillingPeriod
from core.errors import BillsyncError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def month(label: str) -> BillingPeriod:
    """The calendar month "YYYY-MM"; anything else is a clear error."""
    found = _MONTH.match(label.strip())
    if found is None or not 1 <= int(found.group(2)) <= 12:
        raise BillsyncError(f"billing period {label!r} is not a month like 2026-10")
    year, number = int(found.group(1)), int(found.group(2))
    last = calendar.monthrange(year, number)[1]
    return BillingPeriod(date(year, number, 1), date(year, number, last), f"{year:04d}-{number:02d}")


def previous_month(today: date) -> BillingPeriod:
    """The calendar month before `today`'s."""
    year, number = (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)
    return month(f"{year:04d}-{number:02d}")


def due_period(schedule: BillingSchedule, now: datetime) -> BillingPeriod | None:
    """The period a scheduled run at `now` bills: the month before, on the schedule's day; else None."""
    if not schedule.enabled:
        return None
    local = now.astimezone(ZoneInfo(schedule.time_zone))
    if local.day != schedule.day_of_month or local.hour < schedule.hour:
        return None
    return previous_month(local.date())
