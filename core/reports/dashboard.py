"""The HTML dashboard: the report's tables (sortable), its charts, and the entries behind each number.

The page embeds the same data `--format json` prints (`report_dict`), plus the entries the numbers
link to; its tables are rendered from those values, so the page, the CSV and the CLI agree.
plotly.js comes with the plotly package: inlined into a written file (which must work with no
network), or served by the daemon from `/reports/static/plotly.min.js`.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from jinja2 import Environment, PackageLoader
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from core.models import TimeEntry
from core.reports.charts import CHART_HEIGHT, all_charts, has_data
from core.reports.columns import COLUMNS, TABLE_COLUMNS, UNDEFINED, hours_text
from core.reports.compute import DIMENSIONS, Report
from core.reports.facts import FirmFacts
from core.reports.render import DEFINITION_TITLES, report_dict
from core.text import html_templates, without_controls

PLOTLY_PATH = "/reports/static/plotly.min.js"


@cache
def templates() -> Environment:
    """The package's jinja2 templates: values escaped, without control characters (core.text)."""
    return html_templates(PackageLoader("core.reports", "templates"))


@cache
def plotly_js() -> str:
    """plotly.js as the installed plotly package ships it."""
    script: str = get_plotlyjs()
    return script


def embedded_json(data: Any) -> Markup:
    """JSON safe inside a <script> element: no "</script>" or HTML comment can be formed.

    Every text in it (keys too) is without control characters first (core.text): JSON would
    escape a NUL or an ESC in a name, and the page's script would turn it back into the character.
    """
    text = json.dumps(_without_controls(data), ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))  # noqa: S704


def _without_controls(data: Any) -> Any:
    if isinstance(data, str):
        return without_controls(data)
    if isinstance(data, dict):
        return {_without_controls(key): _without_controls(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_without_controls(item) for item in data]
    return data


def dashboard_data(facts: FirmFacts, report: Report) -> dict[str, Any]:
    """What the page embeds: the report as JSON has it, the entry lists behind numbers, and the entries."""
    links = {_row_id(row.key, row is report.total): row.entry_ids for row in [*report.rows, report.total]}
    wanted = {entry_id for lists in links.values() for ids in lists.values() for entry_id in ids}
    entries = [_entry(facts, e) for e in facts.entries if e.id in wanted]
    return {"report": report_dict(report), "links": links, "entries": entries}


def render_dashboard(
    facts: FirmFacts, report: Report, *, served: bool, review_url: str | None = None, nonce: str | None = None
) -> str:
    """The whole page; `served` links plotly.js from the daemon, else inlines it.

    `nonce`: the one the answer's Content-Security-Policy allows inline scripts by (served pages).
    The charts are figures as data, drawn by the page's one script, not a script each.
    """
    data = dashboard_data(facts, report)
    figures = all_charts(facts, report)
    # A chart with nothing to plot would show bare axes (plotly's default range, a "$" axis from -1 to 4):
    # the page names it and says "no data yet" instead.
    charts = {div_id: json.loads(pio.to_json(figure, validate=False)) for div_id, figure in figures if has_data(figure)}
    empty = {div_id: _title(figure) for div_id, figure in figures if not has_data(figure)}
    rows = [(_row_id(r["key"], False), r) for r in data["report"]["rows"]]
    return (
        templates()
        .get_template("dashboard.html.j2")
        .render(
            report=data["report"],
            rows=rows,
            total=data["report"]["total"],
            columns=COLUMNS,
            shown_columns=TABLE_COLUMNS,
            definition_titles=DEFINITION_TITLES,
            undefined=UNDEFINED,
            data=embedded_json(data),
            chart_ids=[div_id for div_id, _ in figures],
            empty_charts=empty,
            chart_data=embedded_json(charts),
            chart_height=f"{CHART_HEIGHT}px",
            nonce=nonce,
            plotly_src=PLOTLY_PATH if served else None,
            plotly_inline=None if served else Markup(plotly_js().replace("</script", "<\\/script")),  # noqa: S704
            dimensions=DIMENSIONS,
            review_url=review_url,
            served=served,
        )
    )


def _title(figure: go.Figure) -> str:
    title = figure.layout.title.text
    return str(title) if title else "Chart"


def _row_id(key: str | None, total: bool) -> str:
    return "*" if total else (key if key is not None else "")


def _entry(facts: FirmFacts, entry: TimeEntry) -> dict[str, Any]:
    reference = facts.reference
    timekeeper = reference.timekeepers.get(entry.timekeeper_id)
    matter = reference.matters.get(entry.matter_id)
    billed = facts.billed.get(entry.id)
    return {
        "id": entry.id,
        "date": entry.work_date.isoformat(),
        "timekeeper": timekeeper.name if timekeeper else entry.timekeeper_id,
        "matter": matter.number if matter else entry.matter_id,
        "hours": hours_text(entry.raw_seconds),
        "billed_hours": hours_text(entry.billed_seconds),
        "amount": str(entry.amount),
        "state": entry.state.value,
        "bill": (billed.bill_number or billed.bill_id) if billed else None,
        "narrative": entry.narrative,
    }
