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
from core.reports.metrics import capture, collection, hours, lockup, realization, time_to_invoice, utilization
from core.text import Cell, csv_text, without_controls


def _definition(doc: str | None) -> str:
    """A metric module's "Definition ..." paragraph, with the list that follows it when it ends in a colon."""
    paragraphs = (doc or "").strip().split("\n\n")
    text = paragraphs[1]
    if text.endswith(":") and len(paragraphs) > 2:
        text += " " + paragraphs[2]
    return " ".join(text.split())


# How each metric is defined, from its module's docstring: in the JSON and on the dashboard.
DEFINITIONS = {
    name: _definition(module.__doc__)
    for name, module in (
        ("billable_hours", hours),
        ("capture_rate", capture),
        ("utilization", utilization),
        ("realization", realization),
        ("collection_rate", collection),
        ("days_to_invoice", time_to_invoice),
        ("lockup_days", lockup),
    )
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
        "total": _row_dict(report.total),
        "rows": [_row_dict(row) for row in report.rows],
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
    funnel = Table(title="Capture funnel (firm): activity time judged billable, in hours")
    funnel.add_column("where it is")
    funnel.add_column("hours", justify="right")
    total = values(report.total)
    for name in ("approved_hours", *(f"{leak}_hours" for leak in capture.LEAKS), "judged_billable_hours"):
        column = next(c for c in COLUMNS if c.name == name)
        funnel.add_row(column.header.removesuffix(" h"), total[name] or UNDEFINED)
    funnel.add_row("capture rate %", total["capture_rate"] or UNDEFINED)
    console.print(funnel)
