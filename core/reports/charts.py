"""The dashboard's four charts, as Plotly figures (drawn in the browser by plotly.js, shipped offline).

Chart values are for the eye; the exact figures are the tables beside them. Every series of a
chart has a style of its own (series_style): Plotly's own colourway has ten colours, so a firm's
eleventh timekeeper would be drawn in the first one's colour.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

import plotly.graph_objects as go

from core.payments.reconcile import ISSUED
from core.reports.compute import Report
from core.reports.facts import FirmFacts
from core.reports.metrics.capture import BUCKETS
from core.reports.metrics.hours import is_billable_work

AGE_BUCKETS = ((0, 30, "0-30 days"), (31, 60, "31-60 days"), (61, 90, "61-90 days"), (91, None, "over 90 days"))
CHART_HEIGHT = 340  # pixels
# The template's ten colours (D3's), then their light companions (D3's category20): twenty colours
# tell apart the timekeepers of a firm of twenty; past that the line's dash and marker change too.
SERIES_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)  # fmt: skip
SERIES_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
SERIES_MARKERS = ("circle", "square", "diamond", "triangle-up", "x", "cross")
_LAYOUT = {
    "template": "simple_white",
    "autosize": True,
    "height": CHART_HEIGHT,
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
    "legend": {"orientation": "h", "y": -0.2},
}


def hours_over_time(facts: FirmFacts, report: Report) -> go.Figure:
    """Billable hours (real time) per timekeeper per week (weeks start on Monday)."""
    period = report.period
    weekly: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for entry in facts.entries:
        if entry.work_date in period and is_billable_work(entry):
            week = entry.work_date - timedelta(days=entry.work_date.weekday())
            weekly[entry.timekeeper_id][week] += entry.raw_seconds
    figure = go.Figure()
    for index, timekeeper_id in enumerate(sorted(weekly, key=lambda t: _timekeeper_name(facts, t))):
        weeks = sorted(weekly[timekeeper_id])
        colour, dash, symbol = series_style(index)
        figure.add_trace(
            go.Scatter(
                x=[w.isoformat() for w in weeks],
                y=[float(Decimal(weekly[timekeeper_id][w]) / 3600) for w in weeks],
                mode="lines+markers",
                name=_timekeeper_name(facts, timekeeper_id),
                line={"color": colour, "dash": dash},
                marker={"color": colour, "symbol": symbol},
            )
        )
    figure.update_layout(title="Billable hours per week, by timekeeper", yaxis_title="hours", **_LAYOUT)
    return figure


def capture_funnel(report: Report) -> go.Figure:
    """Where the firm's activity time judged billable went."""
    seconds = report.total.funnel.seconds
    labels = [name.replace("_", " ") for name in BUCKETS]
    figure = go.Figure(go.Bar(x=labels, y=[float(Decimal(seconds[b]) / 3600) for b in BUCKETS], name="hours"))
    figure.update_layout(title="Capture funnel: activity hours judged billable", yaxis_title="hours", **_LAYOUT)
    return figure


def aging(facts: FirmFacts, report: Report) -> go.Figure:
    """Unbilled work (by work date) and receivables (by issue date), by age at the period's end."""
    as_of = report.period.end
    wip = [Decimal(0)] * len(AGE_BUCKETS)
    owed = [Decimal(0)] * len(AGE_BUCKETS)
    for entry in facts.entries:
        if entry.work_date <= as_of and is_billable_work(entry) and entry.id not in facts.billed:
            wip[_age_bucket((as_of - entry.work_date).days)] += entry.amount
    for invoice in facts.ledger.invoices.values():
        issued = invoice.bill.issued_on
        if issued is not None and issued <= as_of and invoice.balance > 0:
            owed[_age_bucket((as_of - issued).days)] += invoice.balance
    labels = [label for _, _, label in AGE_BUCKETS]
    figure = go.Figure(
        [
            go.Bar(x=labels, y=[float(v) for v in wip], name="unbilled work $"),
            go.Bar(x=labels, y=[float(v) for v in owed], name="receivables $"),
        ]
    )
    figure.update_layout(title=f"Aging at {as_of}", yaxis_title="$", barmode="group", **_LAYOUT)
    return figure


def collection_by_month(facts: FirmFacts) -> go.Figure:
    """Invoiced and collected so far, by the month the bills were issued."""
    invoiced: dict[str, Decimal] = defaultdict(Decimal)
    collected: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in facts.ledger.invoices.values():
        issued = invoice.bill.issued_on
        if issued is None or invoice.bill.state not in ISSUED:
            continue
        month = f"{issued.year:04d}-{issued.month:02d}"
        invoiced[month] += invoice.bill.total
        collected[month] += invoice.paid
    months = sorted(invoiced)
    figure = go.Figure(
        [
            go.Bar(x=months, y=[float(invoiced[m]) for m in months], name="invoiced $"),
            go.Bar(x=months, y=[float(collected[m]) for m in months], name="collected $"),
        ]
    )
    figure.update_layout(title="Collection by month of issue", yaxis_title="$", barmode="group", **_LAYOUT)
    figure.update_xaxes(type="category")  # "2026-11" is a month, not a date at midnight
    return figure


def all_charts(facts: FirmFacts, report: Report) -> Sequence[tuple[str, go.Figure]]:
    """Every chart with its element id."""
    return (
        ("chart-hours", hours_over_time(facts, report)),
        ("chart-funnel", capture_funnel(report)),
        ("chart-aging", aging(facts, report)),
        ("chart-collection", collection_by_month(facts)),
    )


def has_data(figure: go.Figure) -> bool:
    """Some trace plots a value other than zero: else the page says "no data yet" instead of drawing empty axes."""
    return any(value for trace in figure.data for value in (trace.y if trace.y is not None else ()))


def series_style(index: int) -> tuple[str, str, str]:
    """The colour, line dash and marker symbol of a chart's `index`-th series (from 0).

    Invariant: the first len(SERIES_COLOURS) series differ in colour, and the first
    len(SERIES_COLOURS) * len(SERIES_DASHES) (120) differ in colour or in dash and marker.
    """
    colours = len(SERIES_COLOURS)
    round_ = (index // colours) % len(SERIES_DASHES)
    return SERIES_COLOURS[index % colours], SERIES_DASHES[round_], SERIES_MARKERS[round_]


def _age_bucket(days: int) -> int:
    for index, (low, high, _) in enumerate(AGE_BUCKETS):
        if days >= low and (high is None or days <= high):
            return index
    return 0  # a date after the as-of day cannot occur: entries and bills are filtered to it


def _timekeeper_name(facts: FirmFacts, timekeeper_id: str) -> str:
    timekeeper = facts.reference.timekeepers.get(timekeeper_id)
    return plotly_text(timekeeper.name if timekeeper else timekeeper_id)


def plotly_text(text: str) -> str:
    """Vendor or user text fit for a Plotly label, legend or hover: shown as written, never as markup.

    plotly.js reads a subset of HTML in every text it draws (`<a href>` becomes a live link,
    `<b>`, `<br>`, `<span style>`...) and decodes entities after that; escaped, a name like
    `<a href="https://evil.example">Sign in</a>` is drawn as those characters.
    """
    return html.escape(text, quote=False)
