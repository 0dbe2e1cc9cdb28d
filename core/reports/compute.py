"""The one place metrics are computed: a firm, a period and a grouping in, a `Report` out.

Every output (table, CSV, JSON, the dashboard) is rendered from the same `Report` through the same
formatting (`columns.py`), so their numbers cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from core.models import TimeEntry
from core.payments.ledger import InvoiceBalance
from core.payments.reconcile import bill_matter
from core.reports.facts import FirmFacts
from core.reports.metrics.capture import Funnel, bucket_of, funnel
from core.reports.metrics.collection import Collection, collection
from core.reports.metrics.hours import billable_seconds, is_billable_work
from core.reports.metrics.lockup import Lockup, LockupWindow, lockup_note, lockup_window
from core.reports.metrics.ratio import Ratio
from core.reports.metrics.realization import ZERO, Realization, realization
from core.reports.metrics.time_to_invoice import Lag, days_to_invoice, lag
from core.reports.metrics.utilization import available_seconds, utilization
from core.reports.period import ReportPeriod
from core.store.reports import ActivityRow
from core.timezones import zone

Dimension = Literal["timekeeper", "client", "matter"]
DIMENSIONS: tuple[Dimension, ...] = ("timekeeper", "client", "matter")
_NO_GROUP = {"timekeeper": "(no timekeeper)", "client": "(no client)", "matter": "(no matter)"}


@dataclass(frozen=True)
class MetricRow:
    """Every metric for one group (a timekeeper, client or matter) or for the whole firm."""

    key: str | None
    name: str
    billable_seconds: int
    funnel: Funnel
    available_seconds: Decimal | None  # None: not defined for this grouping
    realization: Realization
    collection: Collection | None  # None: not defined for this grouping
    lag: Lag
    lockup: Lockup
    entry_ids: dict[str, list[str]] = field(default_factory=dict)  # the entries behind each number

    @property
    def utilization(self) -> Ratio | None:
        """Billable ÷ available, where available time is defined."""
        return None if self.available_seconds is None else utilization(self.billable_seconds, self.available_seconds)


@dataclass(frozen=True)
class Report:
    """One firm's metrics for one period, grouped one way, with the firm's total."""

    firm_id: str
    firm_name: str
    period: ReportPeriod
    by: Dimension
    total: MetricRow
    rows: list[MetricRow]
    lockup_window: LockupWindow | None  # None: no history on or before the period's end

    @property
    def lockup_note(self) -> str:
        """What the lockup figures rest on, or "not enough history" and why: shown beside them."""
        return lockup_note(self.lockup_window, self.total.lockup.revenue, self.period.end)


@dataclass(frozen=True)
class _Slice:
    """The inputs of one row."""

    entries: list[TimeEntry]
    activities: list[ActivityRow]
    invoices: list[InvoiceBalance] | None  # None: bills do not divide this way


def compute_report(facts: FirmFacts, period: ReportPeriod, by: Dimension) -> Report:
    """Every metric, for the firm and for each group."""
    by_id = {e.id: e for e in facts.entries}
    keys = _keys(facts, by)
    issued = [i.bill.issued_on for i in facts.ledger.invoices.values() if i.bill.issued_on is not None]
    first_bill = min((day for day in issued if day <= period.end), default=None)
    window = lockup_window(period.end, facts.first_day(), facts.settings.reports.lockup_window_days, first_bill)
    everything = _Slice(list(facts.entries), list(facts.activities), list(facts.ledger.invoices.values()))
    firm_available = available_seconds(facts.entries, period, facts.settings.reports)
    total = _row(facts, period, None, facts.firm_name, everything, window=window, available_for=firm_available)
    groups: dict[str | None, _Slice] = {}

    def group(key: str | None) -> _Slice:
        return groups.setdefault(key, _Slice([], [], None if by == "timekeeper" else []))

    for entry in facts.entries:
        group(keys.entry(entry)).entries.append(entry)
    for activity in facts.activities:
        group(keys.activity(activity, by_id)).activities.append(activity)
    if by != "timekeeper":  # a bill is not one person's
        for invoice in facts.ledger.invoices.values():
            invoices = group(keys.invoice(invoice)).invoices
            assert invoices is not None
            invoices.append(invoice)
    rows = []
    for key, sliced in groups.items():
        available = None
        if by == "timekeeper" and key is not None:
            available = available_seconds(sliced.entries, period, facts.settings.reports)
        rows.append(_row(facts, period, key, _name(facts, by, key), sliced, window=window, available_for=available))
    rows = [r for r in rows if _has_anything(r)]
    rows.sort(key=lambda r: (r.key is None, r.name.lower(), r.key or ""))
    return Report(facts.firm_id, facts.firm_name, period, by, total, rows, window)


def _row(
    facts: FirmFacts,
    period: ReportPeriod,
    key: str | None,
    name: str,
    sliced: _Slice,
    *,
    window: LockupWindow | None,
    available_for: Decimal | None,
) -> MetricRow:
    by_id = {e.id: e for e in facts.entries}
    in_period = [e for e in sliced.entries if e.work_date in period]
    activities = [a for a in sliced.activities if activity_day(a, by_id, facts) in period]
    captured = funnel(activities, by_id, facts.settings.capture)
    billed = facts.billed
    wip_entries = [
        e for e in sliced.entries if e.work_date <= period.end and is_billable_work(e) and e.id not in billed
    ]
    invoices = sliced.invoices
    in_period_invoices = None if invoices is None else [i for i in invoices if _issued_in(i, period)]
    revenue = sum((i.bill.total for i in invoices or [] if window is not None and i.bill.issued_on in window), ZERO)
    receivables = None
    if invoices is not None:
        owed = [i for i in invoices if i.bill.issued_on is None or i.bill.issued_on <= period.end]
        receivables = sum((max(i.balance, ZERO) for i in owed), ZERO)
    ids: dict[str, list[str]] = {"billable": [e.id for e in in_period if is_billable_work(e)]}
    for activity in activities:
        entry = by_id.get(activity.entry_id or "")
        bucket = bucket_of(activity, entry)
        if entry is not None and bucket is not None and activity.entry_id:
            ids.setdefault(bucket, []).append(activity.entry_id)
    ids["billed"] = [e.id for e in in_period if e.billable and e.id in billed]
    ids["wip"] = [e.id for e in wip_entries]
    return MetricRow(
        key=key,
        name=name,
        billable_seconds=billable_seconds(in_period),
        funnel=captured,
        available_seconds=available_for,
        realization=realization(in_period, billed),
        collection=None if in_period_invoices is None else collection(in_period_invoices),
        lag=lag(days_to_invoice(in_period, billed)),
        lockup=Lockup(
            wip=sum((e.amount for e in wip_entries), ZERO),
            receivables=receivables,
            revenue=revenue,
            window_days=window.days if window is not None and window.enough_billing else 0,
        ),
        entry_ids=ids,
    )


def activity_day(activity: ActivityRow, entries: dict[str, TimeEntry], facts: FirmFacts) -> date:
    """The day an activity counts on: its entry's work date, else its start in its timekeeper's (or the firm's) zone."""
    entry = entries.get(activity.entry_id or "")
    if entry is not None:
        return entry.work_date
    timekeeper = facts.reference.timekeepers.get(activity.timekeeper_id or "")
    local = zone(timekeeper.time_zone if timekeeper is not None else None, ZoneInfo(facts.settings.capture.time_zone))
    return activity.started_at.astimezone(local).date()


def _issued_in(invoice: InvoiceBalance, period: ReportPeriod) -> bool:
    issued = invoice.bill.issued_on
    return period.everything if issued is None else issued in period or period.everything


def _has_anything(row: MetricRow) -> bool:
    return bool(
        row.funnel.judged
        or row.billable_seconds
        or row.lockup.wip
        or (row.collection is not None and row.collection.billed)
        or row.realization.standard_value
    )


@dataclass(frozen=True)
class _Keys:
    entry: Callable[[TimeEntry], str | None]
    activity: Callable[[ActivityRow, dict[str, TimeEntry]], str | None]
    invoice: Callable[[InvoiceBalance], str | None]


def _keys(facts: FirmFacts, by: Dimension) -> _Keys:
    matters = facts.reference.matters

    def client_of_activity(a: ActivityRow, entries: dict[str, TimeEntry]) -> str | None:
        entry = entries.get(a.entry_id or "")
        if entry is not None:
            return entry.client_id
        matter = matters.get(a.matter_id or "")
        return matter.client_id if matter is not None else None

    def matter_of_activity(a: ActivityRow, entries: dict[str, TimeEntry]) -> str | None:
        entry = entries.get(a.entry_id or "")
        return entry.matter_id if entry is not None else a.matter_id

    if by == "timekeeper":
        return _Keys(lambda e: e.timekeeper_id, lambda a, _: a.timekeeper_id, lambda _: None)
    if by == "client":
        return _Keys(lambda e: e.client_id, client_of_activity, lambda i: i.bill.client_id)
    return _Keys(lambda e: e.matter_id, matter_of_activity, lambda i: bill_matter(i.bill))


def _name(facts: FirmFacts, by: Dimension, key: str | None) -> str:
    reference = facts.reference
    if key is None:
        return _NO_GROUP[by]
    if by == "timekeeper":
        timekeeper = reference.timekeepers.get(key)
        return timekeeper.name if timekeeper else key
    if by == "client":
        client = reference.clients.get(key)
        return client.name if client else key
    matter = reference.matters.get(key)
    return f"{matter.number} {matter.name}".strip() if matter else key
