"""The dashboard's hours chart tells a firm's timekeepers apart: no two series share a look.

Plotly's own colourway has ten colours, so in a firm of twelve the eleventh and twelfth
timekeepers were drawn in the first and second ones' colours (Ava and Kara Nguyen, Ben and Luis
Usman in the demo firm).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from core.reports.charts import series_style
from tests.reports.firm import ReportFirm

TIMEKEEPERS = 12


@pytest.fixture(scope="module")
def firm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportFirm]:
    made = ReportFirm(tmp_path_factory.mktemp("chart-series"), timekeepers=TIMEKEEPERS, activities=360)
    made.run_month()
    yield made
    made.close()


def hours_chart(page: str) -> list[dict[str, Any]]:
    found = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page, re.S)
    assert found is not None, "the dashboard embeds no chart data"
    traces: list[dict[str, Any]] = json.loads(found.group(1))["chart-hours"]["data"]
    return traces


def test_twelve_timekeepers_are_twelve_colours_on_the_hours_chart(firm: ReportFirm) -> None:
    with firm.app() as client:
        page = client.get("/reports/demo", params={"period": "2026-10"}, headers=firm.reader)
    assert page.status_code == 200
    traces = hours_chart(page.text)
    # Every one of the firm's twelve users in Clio worked billable hours in October.
    assert sorted(trace["name"] for trace in traces) == sorted(user["name"] for user in firm.seed["users"])
    looks = [(trace["line"]["color"], trace["line"]["dash"]) for trace in traces]
    assert len(looks) == TIMEKEEPERS and len(set(looks)) == TIMEKEEPERS
    assert len({colour for colour, _ in looks}) == TIMEKEEPERS  # twelve fit the palette: colour alone differs
    assert all(trace["marker"]["color"] == trace["line"]["color"] for trace in traces)


def test_past_the_palette_a_series_differs_by_its_dash_and_marker() -> None:
    styles = [series_style(index) for index in range(45)]
    assert len(set(styles)) == 45
    assert len({(colour, dash) for colour, dash, _ in styles}) == 45
    assert styles[20][0] == styles[0][0] and styles[20][1:] != styles[0][1:]  # the 21st: first colour, dashed
    assert len({colour for colour, _, _ in styles[:20]}) == 20
