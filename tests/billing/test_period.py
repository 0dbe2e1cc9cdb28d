"""Billing periods: months by name, and when the schedule runs which month."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from config.billing import BillingSchedule
from core.billing.period import due_period, month, previous_month
from core.errors import BillsyncError


def test_a_month_by_name_runs_first_to_last_day() -> None:
    feb = month("2028-02")
    assert (feb.start, feb.end, feb.label) == (date(2028, 2, 1), date(2028, 2, 29), "2028-02")
    assert previous_month(date(2027, 1, 15)).label == "2026-12"


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "october", ""])
def test_a_bad_month_is_a_clear_error(bad: str) -> None:
    with pytest.raises(BillsyncError, match="not a month like 2026-10"):
        month(bad)


def test_the_schedule_bills_last_month_on_its_day_from_its_hour_in_the_firms_zone() -> None:
    schedule = BillingSchedule(enabled=True, day_of_month=1, hour=6, time_zone="America/New_York")
    assert due_period(schedule, datetime(2026, 11, 1, 10, 59, tzinfo=UTC)) is None  # 05:59 in New York
    assert due_period(schedule, datetime(2026, 11, 1, 11, 0, tzinfo=UTC)).label == "2026-10"
    assert due_period(schedule, datetime(2026, 11, 2, 11, 0, tzinfo=UTC)) is None
    assert due_period(BillingSchedule(), datetime(2026, 11, 1, 11, 0, tzinfo=UTC)) is None  # off by default
