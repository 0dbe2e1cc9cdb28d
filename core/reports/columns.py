"""The report's columns and how each value is written: one formatting for every output.

Values are exact decimal strings (hours to 0.01 from whole seconds, money to the cent, rates in
percent to 0.1, days to 0.1), or None where a metric is undefined or does not apply: JSON writes
null, CSV an empty cell, the table and the dashboard "—".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from core.reports.compute import MetricRow
from core.reports.metrics.ratio import Ratio

UNDEFINED = "—"
_HOURS = Decimal("0.01")
_SECONDS_PER_HOUR = Decimal(3600)


def hours_text(seconds: int | Decimal | None) -> str | None:
    """Seconds as hours to two places, half-up."""
    if seconds is None:
        return None
    return str((Decimal(seconds) / _SECONDS_PER_HOUR).quantize(_HOURS, rounding=ROUND_HALF_UP))


def money_text(amount: Decimal | None) -> str | None:
    """Money as it is stored: whole cents."""
    return None if amount is None else str(amount.quantize(Decimal("0.01")))


def rate_text(ratio: Ratio | None) -> str | None:
    """A rate in percent to one place, or None when undefined."""
    percent = None if ratio is None else ratio.percent
    return None if percent is None else str(percent)


def plain_text(value: Decimal | int | None) -> str | None:
    """A count or a number of days as it is."""
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its key in JSON/CSV, its header, its unit, how to read it off a row, its entries."""

    name: str
    header: str
    unit: str  # hours, money, percent, days, count
    value: Callable[[MetricRow], str | None]
    entries: str | None = None  # which of the row's entry lists is behind the number


def _leak(bucket: str) -> Callable[[MetricRow], str | None]:
    return lambda r: hours_text(r.funnel.seconds[bucket])


COLUMNS: tuple[Column, ...] = (
    Column("billable_hours", "Billable h", "hours", lambda r: hours_text(r.billable_seconds), "billable"),
    Column("capture_rate", "Capture %", "percent", lambda r: rate_text(r.funnel.rate)),
    Column("judged_billable_hours", "Judged billable h", "hours", lambda r: hours_text(r.funnel.judged)),
    Column("approved_hours", "Approved h", "hours", _leak("approved"), "approved"),
    Column("awaiting_review_hours", "Awaiting review h", "hours", _leak("awaiting_review"), "awaiting_review"),
    Column("blocked_hours", "Blocked h", "hours", _leak("blocked"), "blocked"),
    Column("rejected_hours", "Rejected h", "hours", _leak("rejected"), "rejected"),
    Column("deleted_hours", "Deleted h", "hours", _leak("deleted"), "deleted"),
    Column("unassigned_hours", "Unassigned h", "hours", _leak("unassigned")),
    Column("not_timekeeper_hours", "Not a timekeeper h", "hours", _leak("not_timekeeper")),
    Column("available_hours", "Available h", "hours", lambda r: hours_text(r.available_seconds)),
    Column("utilization", "Utilization %", "percent", lambda r: rate_text(r.utilization)),
    Column("standard_value", "Standard value", "money", lambda r: money_text(r.realization.standard_value), "billed"),
    Column("billed_amount", "Billed for it", "money", lambda r: money_text(r.realization.billed_amount), "billed"),
    Column("realization", "Realization %", "percent", lambda r: rate_text(r.realization.rate)),
    Column("invoiced", "Invoiced", "money", lambda r: money_text(r.collection.billed if r.collection else None)),
    Column("collected", "Collected", "money", lambda r: money_text(r.collection.collected if r.collection else None)),
    Column(
        "outstanding", "Outstanding", "money", lambda r: money_text(r.collection.outstanding if r.collection else None)
    ),
    Column(
        "collection_rate", "Collection %", "percent", lambda r: rate_text(r.collection.rate if r.collection else None)
    ),
    Column("days_to_invoice_median", "Days to invoice (median)", "days", lambda r: plain_text(r.lag.median), "billed"),
    Column("days_to_invoice_p90", "Days to invoice (p90)", "days", lambda r: plain_text(r.lag.p90), "billed"),
    Column("unbilled_wip", "Unbilled WIP", "money", lambda r: money_text(r.lockup.wip), "wip"),
    Column("receivables", "Receivables", "money", lambda r: money_text(r.lockup.receivables)),
    Column("wip_days", "WIP days", "days", lambda r: plain_text(r.lockup.wip_days)),
    Column("debtor_days", "Debtor days", "days", lambda r: plain_text(r.lockup.debtor_days)),
    Column("lockup_days", "Lockup days", "days", lambda r: plain_text(r.lockup.days)),
)
# The CLI table shows these, and so does the dashboard at first (its chooser adds any other column,
# so the table fits a 1,400-pixel window); CSV and JSON hold every column.
TABLE_COLUMNS = (
    "billable_hours", "capture_rate", "utilization", "realization", "invoiced", "collected", "outstanding",
    "collection_rate", "days_to_invoice_median", "days_to_invoice_p90", "lockup_days",
)  # fmt: skip


def values(row: MetricRow) -> dict[str, str | None]:
    """Every column's value for one row."""
    return {column.name: column.value(row) for column in COLUMNS}
