"""Each metric's definition on small inputs worked out by hand, with its edge cases."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from config.reports import ReportsSettings
from core.errors import BillsyncError
from core.models import ActivityKind, ActivityStatus, EntryState, TimeEntry
from core.policy import CapturePolicy
from core.reports.columns import hours_text, rate_text
from core.reports.facts import BilledLine
from core.reports.metrics.capture import funnel
from core.reports.metrics.hours import billable_seconds
from core.reports.metrics.lockup import Lockup
from core.reports.metrics.ratio import Ratio
from core.reports.metrics.realization import realization
from core.reports.metrics.time_to_invoice import days_to_invoice, lag
from core.reports.metrics.utilization import available_seconds, utilization
from core.reports.period import parse_period
from core.store.reports import ActivityRow

TODAY = date(2026, 11, 23)


def entry(
    entry_id: str, state: EntryState, raw: int, *, billable: bool = True, amount: str = "100.00", **kw
) -> TimeEntry:
    start = datetime(2026, 10, 5, 14, tzinfo=UTC)
    base = {
        "id": entry_id, "activity_key": ("src", entry_id), "timekeeper_id": "u1", "matter_id": "m1",
        "client_id": "c1", "work_date": date(2026, 10, 5), "started_at": start, "ended_at": start,
        "raw_seconds": raw, "billed_seconds": raw, "rate": Decimal("400.00"), "amount": Decimal(amount),
        "billable": billable, "narrative": "Call", "kind": ActivityKind.CALL, "state": state,
    }  # fmt: skip
    return TimeEntry(**(base | kw))


def row(
    row_id: str, status: ActivityStatus, *, entry_id: str | None = None, raw: int | None = None, kind=ActivityKind.CALL
) -> ActivityRow:
    return ActivityRow(
        id=row_id, source="src", external_id=row_id, kind=kind, actor="a@x",
        started_at=datetime(2026, 10, 5, tzinfo=UTC), raw_seconds=raw, title="t", status=status, reason="",
        timekeeper_id="u1", matter_id="m1", entry_id=entry_id,
    )  # fmt: skip


def test_billable_hours_count_real_time_of_approved_billable_entries_only() -> None:
    entries = [
        entry("a", EntryState.APPROVED, 600),
        entry("b", EntryState.POSTED, 900),
        entry("c", EntryState.BILLED, 300),
        entry("d", EntryState.NEEDS_REVIEW, 5000),
        entry("e", EntryState.APPROVED, 7000, billable=False),  # flat-fee work
        entry("f", EntryState.REJECTED, 7000),
    ]
    assert billable_seconds(entries) == 1800
    assert hours_text(1800) == "0.50" and hours_text(1) == "0.00" and hours_text(18) == "0.01"


def test_the_capture_funnel_sorts_every_judged_second_into_one_bucket() -> None:
    entries = {
        "e1": entry("e1", EntryState.POSTED, 900),
        "e2": entry("e2", EntryState.BLOCKED, 600),
        "e3": entry("e3", EntryState.REJECTED, 300),
        "e4": entry("e4", EntryState.DELETED_REMOTELY, 360),
        "e5": entry("e5", EntryState.NEEDS_REVIEW, 420),
        "e6": entry("e6", EntryState.APPROVED, 9999, billable=False),
    }
    rows = [row(f"a{i}", ActivityStatus.CAPTURED, entry_id=f"e{i}") for i in range(1, 7)]
    rows += [
        row("u", ActivityStatus.UNASSIGNED, raw=1200),  # a call keeps its real length by default
        row("n", ActivityStatus.NOT_TIMEKEEPER, kind=ActivityKind.EMAIL),  # an e-mail: 15 minutes
        row("m", ActivityStatus.MERGED, entry_id="e1"),  # the same work as e1: not counted twice
        row("k", ActivityStatus.KIND_DISABLED),
        row("c", ActivityStatus.COVERED),
    ]
    result = funnel(rows, entries, CapturePolicy())
    assert result.seconds == {
        "approved": 900, "awaiting_review": 420, "blocked": 600, "rejected": 300, "deleted": 360,
        "unassigned": 1200, "not_timekeeper": 900,
    }  # fmt: skip
    assert result.judged == 4680
    assert rate_text(result.rate) == "19.2"  # 900 / 4680 = 19.23 %


def test_a_fixed_duration_kind_counts_its_minutes_not_the_sources_length() -> None:
    policy = CapturePolicy.model_validate({"kinds": {"call": {"duration": "fixed", "minutes": 6}}})
    result = funnel([row("u", ActivityStatus.UNASSIGNED, raw=1234)], {}, policy)
    assert result.seconds["unassigned"] == 360


def test_nothing_to_divide_by_is_undefined_not_zero_or_a_hundred() -> None:
    assert funnel([], {}, CapturePolicy()).rate.percent is None
    assert Ratio(Decimal(0), Decimal(0)).percent is None
    assert rate_text(Ratio(Decimal(5), Decimal(0))) is None
    assert rate_text(Ratio(Decimal(0), Decimal(7))) == "0.0"
    assert realization([], {}).rate.percent is None
    assert lag([]).median is None and lag([]).p90 is None
    assert Lockup(Decimal("500.00"), Decimal("10.00"), Decimal("0.00"), 365).days is None


def test_utilization_divides_by_working_days_times_each_persons_hours() -> None:
    period = parse_period("2026-10", first=TODAY, today=TODAY)
    assert period.working_days() == 22  # October 2026: 31 days, 9 of them weekend days
    settings = ReportsSettings(timekeeper_hours_per_day={"u2": Decimal("6")})
    worked = [entry("a", EntryState.APPROVED, 60), entry("b", EntryState.REJECTED, 60, timekeeper_id="u2")]
    available = available_seconds(worked, period, settings)
    assert available == (8 + 6) * 3600 * 22
    assert str(utilization(14 * 3600 * 11, available).percent) == "50.0"
    # A quarter counts each person only in the months they have an entry: u1 in October (22 days),
    # u2 in October and November (22 + 21 days); nobody in December.
    november = entry("c", EntryState.DRAFT, 60, timekeeper_id="u2", work_date=date(2026, 11, 3))
    quarter = parse_period("2026-Q4", first=TODAY, today=TODAY)
    assert available_seconds([*worked, november], quarter, settings) == (8 * 22 + 6 * (22 + 21)) * 3600


def test_periods_parse_and_bad_ones_are_clear_errors() -> None:
    quarter = parse_period("2026-Q4", first=TODAY, today=TODAY)
    assert (quarter.start, quarter.end) == (date(2026, 10, 1), date(2026, 12, 31))
    everything = parse_period("all", first=date(2026, 9, 3), today=TODAY)  # from the first month with data
    assert (everything.start, everything.end, everything.everything) == (date(2026, 9, 1), TODAY, True)
    span = parse_period("2026-10-01..2026-10-15", first=TODAY, today=TODAY)
    assert span.days == 15
    for bad in ("2026-13", "last month", "2026-10-15..2026-10-01"):
        with pytest.raises(BillsyncError):
            parse_period(bad, first=TODAY, today=TODAY)


def test_realization_and_time_to_invoice_read_the_billed_lines() -> None:
    entries = [
        entry("a", EntryState.BILLED, 3600, amount="400.00", work_date=date(2026, 10, 1)),
        entry("b", EntryState.BILLED, 3600, amount="400.00", work_date=date(2026, 10, 11)),
        entry("c", EntryState.POSTED, 3600, amount="400.00"),  # not billed yet: WIP, in neither side
    ]
    billed = {
        "a": BilledLine("a", "b1", "7", date(2026, 11, 5), Decimal("400.00")),
        "b": BilledLine("b", "b1", "7", date(2026, 11, 5), Decimal("300.00")),  # written down on the bill
    }
    result = realization(entries, billed)
    assert (result.standard_value, result.billed_amount) == (Decimal("800.00"), Decimal("700.00"))
    assert str(result.rate.percent) == "87.5"
    assert days_to_invoice(entries, billed) == [25, 35]
    assert lag([25, 35]).median == Decimal(30)


def test_median_and_nearest_rank_p90() -> None:
    days = list(range(1, 11))  # 1..10
    assert lag(days).median == Decimal("5.5") and lag(days).p90 == 9
    assert lag([4]).median == 4 and lag([4]).p90 == 4
    assert lag([1, 2, 3]).median == 2 and lag([1, 2, 3]).p90 == 3


def test_lockup_adds_wip_and_debtor_days_over_daily_revenue() -> None:
    lockup = Lockup(wip=Decimal("1000.00"), receivables=Decimal("500.00"), revenue=Decimal("36500.00"), window_days=365)
    assert (lockup.wip_days, lockup.debtor_days, lockup.days) == (Decimal("10.0"), Decimal("5.0"), Decimal("15.0"))
    by_person = Lockup(wip=Decimal("1000.00"), receivables=None, revenue=Decimal("36500.00"), window_days=365)
    assert by_person.debtor_days is None and by_person.days is None
