"""A `Report` as JSON, CSV or a terminal table; all three read the same column values."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from core.reports.columns import COLUMNS, TABLE_COLUMNS, UNDEFINED, values
from core.reports.compute import MetricRow, Report
from core.reports.metrics import capture
from core.reports.metrics.lockup import LockupWindow
from core.text import Cell, csv_text, without_controls

# How each metric is defined, in words a firm reads (no file names or section numbers it does not
# have): in the JSON and on the dashboard. Each agrees with its module's docstring in metrics/.
DEFINITIONS = {
    "billable_hours": (
        "The time the work actually took (before rounding up to the billing increment) on entries that are "
        "billable and approved: approved in billsync, made billable in the practice-management system, or "
        "billed. Entries waiting for review, blocked, rejected or deleted are not counted yet."
    ),
    "capture_rate": (
        "Of the calls, e-mails, documents and meetings billsync judged to be billable work, the share of their "
        "time that became approved entries. The rest is shown by where it stopped: waiting for review, blocked "
        "by a rule, rejected by a reviewer, deleted, not placed on a matter, or done by someone who does not "
        "record time. Work the firm does not capture, or already logged by hand, is left out."
    ),
    "utilization": (
        "Billable hours divided by available hours. Available hours are counted month by month: each person "
        "with at least one entry in a month counts 8 hours (or the firm's own figure for them) for every "
        "Monday-to-Friday day of that month within the period. A month in which someone recorded nothing adds "
        "none of their time. Public holidays and leave are not taken off."
    ),
    "realization": (
        "For billable work done in the period that is already on an issued bill: what the bills charge for it "
        "divided by its standard value (hours times rate, after agreed discounts and caps). Write-downs on the "
        "bill lower it. Work not billed yet is left out here; it is unbilled WIP."
    ),
    "collection_rate": (
        "Of the bills issued in the period (awaiting payment or paid), the share of their total that has been "
        "paid so far through the payment gateway or from trust. Payments keyed into the practice-management "
        "system by hand, such as a cheque, are not counted. Processing fees are not taken off."
    ),
    "days_to_invoice": (
        "For billable work done in the period that is on an issued bill, the days from the day the work was "
        "done to the bill's issue date: the median (the middle value) and the 90th percentile (90 % of the "
        "work was billed within that many days)."
    ),
    "lockup_days": (
        "How many days of billing are tied up in work not billed yet (WIP days) and in bills not paid yet "
        "(debtor days): each amount divided by the firm's average daily revenue, which is what the bills "
        "issued in the window total divided by its days. The window is a year ending on the period's last day, "
        "shortened to the firm's history when billsync holds less than that; the report gives the window it "
        "used. With no bill issued in the window there is not enough history for a figure."
    ),
}
# The name a person reads for each definition.
DEFINITION_TITLES = {
    "billable_hours": "Billable hours",
    "capture_rate": "Capture rate",
    "utilization": "Utilization",
    "realization": "Realization",
    "collection_rate": "Collection rate",
    "days_to_invoice": "Days to invoice",
    "lockup_days": "Lockup days",
}


def report_dict(report: Report) -> dict[str, Any]:
    """The report as plain data: what `--format json` prints and the dashboard embeds."""
    return {
        "firm": report.firm_id,
        "firm_name": report.firm_name,
        "period": {
            "label": report.period.label,
            "start": report.period.start.isoformat(),
            "end": report.period.end.isoformat(),
        },
        "by": report.by,
        "columns": [{"name": c.name, "header": c.header, "unit": c.unit} for c in COLUMNS],
        "definitions": DEFINITIONS,
        "lockup_window": None if report.lockup_window is None else _window_dict(report.lockup_window),
        "notes": {"lockup_days": report.lockup_note},
        "total": _row_dict(report.total),
        "rows": [_row_dict(row) for row in report.rows],
    }


def _window_dict(window: LockupWindow) -> dict[str, Any]:
    return {
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "days": window.days,
        "configured_days": window.configured_days,
        "first_bill": None if window.first_bill is None else window.first_bill.isoformat(),
        "billing_days": window.billing_days,
    }


def _row_dict(row: MetricRow) -> dict[str, Any]:
    return {"key": row.key, "name": row.name, **values(row)}


def report_json(report: Report) -> str:
    """Indented JSON."""
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"


def report_csv(report: Report) -> str:
    """One line per group, then the firm's total (key "*"); undefined values are empty cells.

    Keys and names are text (no spreadsheet reads one as a formula: core.text); the metrics are
    numbers, written exactly as columns.py formats them.
    """
    lines: list[list[Cell]] = [[report.by, "name", *(c.name for c in COLUMNS)]]
    for row in [*report.rows, report.total]:
        shown = values(row)
        key = "*" if row is report.total else (row.key or "")
        lines.append([key, row.name, *(_number(shown[c.name]) for c in COLUMNS)])
    return csv_text(lines)


def _number(value: str | None) -> Decimal | None:
    # Decimal keeps every digit and the sign as formatted: "-12.50" is written back as "-12.50".
    return None if value is None else Decimal(value)


def print_report(report: Report, console: Console) -> None:
    """The main metrics as a table, then the firm's capture funnel."""
    period = report.period
    # Names are text, whichever console prints the table: a string cell could be read as Rich markup.
    title = f"{report.firm_name}: {period.label} ({period.start} to {period.end}), by {report.by}"
    table = Table(title=Text(without_controls(title)))
    shown = [c for c in COLUMNS if c.name in TABLE_COLUMNS]
    table.add_column(report.by)
    for column in shown:
        table.add_column(column.header, justify="right")
    for row in [*report.rows, report.total]:
        cells = values(row)
        group = Text("firm total", style="bold") if row is report.total else Text(without_controls(row.name))
        table.add_row(group, *(cells[c.name] or UNDEFINED for c in shown))
    console.print(table)
    console.print(Text(without_controls(f"Lockup days: {report.lockup_note}.")))
    funnel = Table(title="Capture funnel (firm): activity time judged billable, in hours")
    funnel.add_column("where it is")
    funnel.add_column("hours", justify="right")
    total = values(report.total)
    for name in ("approved_hours", *(f"{leak}_hours" for leak in capture.LEAKS), "judged_billable_hours"):
        column = next(c for c in COLUMNS if c.name == name)
        funnel.add_row(column.header.removesuffix(" h"), total[name] or UNDEFINED)
    funnel.add_row("capture rate %", total["capture_rate"] or UNDEFINED)
    console.print(funnel)
