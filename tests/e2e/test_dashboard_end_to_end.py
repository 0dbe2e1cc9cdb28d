"""The dashboard in a real browser: headless Chromium (Debian's `chromium`) loads the page the CLI
writes and the page the daemon serves, with no console output at all, draws the four charts, lists
the entries behind a linked number, and leaves a screenshot in the test's temporary folder.

The served pages run under the daemon's Content-Security-Policy (a violation is a console
message, so "no console output" covers it), and the firm's first timekeeper is named like a link
to a phishing page: the chart legend must show that name as text.

Without a chromium binary the test is skipped, saying so; under CI, where `.ci/run` installs the
browser and exports BILLSYNC_CHROMIUM when it succeeds, a missing browser is a failure instead.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from core.server import BackgroundWork, build_app
from core.serving import run_in_thread
from tests.e2e.conftest import RUN
from tests.reports.firm import REVIEW_TOKEN, ReportFirm

pytestmark = pytest.mark.e2e
CHARTS = ("chart-hours", "chart-funnel", "chart-aging", "chart-collection")
HOSTILE_NAME = '<a href="https://evil.example/login">Session expired - sign in</a>'
LIVE_EVIL_LINK = re.compile(r"<a\b[^>]*evil\.example")  # an element; the escaped name is text (&lt;a ...)
_CONSOLE = re.compile(r":CONSOLE[:(]\d+\)?\] (.*)")


def chromium() -> str:
    """The browser binary, or a skip (a failure under CI once .ci/run installed it) with the reason."""
    for name in (os.environ.get("BILLSYNC_CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name) if name else None
        if found:
            return found
    if os.environ.get("CI") == "true" and os.environ.get("BILLSYNC_CHROMIUM"):
        pytest.fail(f"CI installed chromium at {os.environ['BILLSYNC_CHROMIUM']}, but it is not there")
    pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium); the browser test needs one")


@dataclass
class Loaded:
    dom: str
    console: list[str]


def load(url: str, profile: Path, *, screenshot: Path | None = None) -> Loaded:
    """Open `url` headless and return its DOM after scripts ran, and every console message."""
    args = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
        f"--user-data-dir={profile}", "--window-size=1400,2600", "--virtual-time-budget=8000",
        "--enable-logging=stderr", "--v=0",
    ]  # fmt: skip
    args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return Loaded(done.stdout, [m.group(1) for m in _CONSOLE.finditer(done.stderr)])


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def assert_charts_drawn(dom: str) -> None:
    """Every chart has plotly's SVG with at least one plotted trace (bars or lines with points)."""
    for chart, following in zip(CHARTS, [*CHARTS[1:], "</div></div>"], strict=True):
        section = dom.split(f'id="{chart}"', 1)[1].split(following, 1)[0]
        assert '<svg class="main-svg"' in section, f"{chart} was not drawn"
        assert 'class="trace' in section and 'class="point"' in section, f"{chart} has no plotted data"


@pytest.fixture(scope="module")
def firm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportFirm]:
    chromium()  # skip before building the firm when there is no browser
    made = ReportFirm(tmp_path_factory.mktemp("dashboard-firm"), first_user_name=HOSTILE_NAME)
    made.run_month()
    yield made
    made.close()


def test_the_console_check_sees_an_error(tmp_path: Path) -> None:
    """Guard against a check that cannot fail: a page that logs an error and throws is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('boom'); notDefined();</script></body></html>")
    found = load(page.as_uri(), tmp_path / "profile")
    assert any("boom" in m for m in found.console) and any("notDefined" in m for m in found.console)


def test_the_written_dashboard_draws_its_charts_offline_and_lists_entries_behind_a_number(
    firm: ReportFirm, tmp_path: Path
) -> None:
    page = tmp_path / "dashboard.html"
    done = subprocess.run(
        [*RUN, "report", "--html", str(page), "--format", "json", "--config", str(firm.config)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    report = json.loads(done.stdout)
    loaded = load(page.as_uri() + "#show/billable/%2A", tmp_path / "profile")
    assert loaded.console == []
    assert_charts_drawn(loaded.dom)
    listed = re.search(r'<p id="entries-caption"[^>]*>billable hours, firm total: (\d+) entries</p>', loaded.dom)
    assert listed is not None, "clicking a number's link did not list its entries"
    body = loaded.dom.split('<table id="entries-table"')[1].split("</table>")[0]
    assert int(listed.group(1)) == body.count("<tr>") - 1 > 0  # minus the header row
    assert report["total"]["billable_hours"] in loaded.dom

    shot = tmp_path / "dashboard.png"
    load(page.as_uri(), tmp_path / "profile", screenshot=shot)
    width, height = png_size(shot)
    assert (width, height) == (1400, 2600) and shot.stat().st_size > 50_000  # charts and tables, not a blank page


def signed_in(app: ASGIApp, token: str) -> ASGIApp:
    """The app behind a proxy that sends the firm's token with every request (a browser cannot be
    given a header on the command line; a person signs in at /reports/login instead)."""

    async def with_token(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "headers": [*scope["headers"], (b"authorization", f"Bearer {token}".encode())]}
        await app(scope, receive, send)

    return with_token


def legend_names(dom: str) -> list[str]:
    return re.findall(r'<text class="legendtext"[^>]*>(.*?)</text>', dom)


def test_the_served_dashboard_loads_plotly_from_the_daemon(firm: ReportFirm, tmp_path: Path) -> None:
    worker = BackgroundWork()
    runtime = replace(firm.runtime, settings=firm.settings.firm("demo"))
    app = build_app({"demo": runtime}, settings=firm.settings, worker=worker)
    port, stop = run_in_thread(signed_in(app, REVIEW_TOKEN))
    try:
        url = f"http://127.0.0.1:{port}/reports/demo?period=2026-Q4&by=client"
        loaded = load(url, tmp_path / "profile")
        shot = tmp_path / "served.png"
        load(url, tmp_path / "profile", screenshot=shot)
        review = load(f"http://127.0.0.1:{port}/reports/demo/review", tmp_path / "profile")
    finally:
        stop()
        worker.close()
    assert loaded.console == [] and review.console == []  # no script the page's policy refused
    assert_charts_drawn(loaded.dom)
    assert "Collection by month of issue" in loaded.dom
    assert png_size(shot)[0] == 1400 and shot.stat().st_size > 50_000
    assert "Unassigned activities" in review.dom
    # The hostile name is in the legend as the characters typed, and nowhere a link.
    as_typed = "&lt;a href=\"https://evil.example/login\"&gt;Session expired - sign in&lt;/a&gt;"  # the DOM's escaping
    assert as_typed in legend_names(loaded.dom)
    assert LIVE_EVIL_LINK.search(loaded.dom) is None and LIVE_EVIL_LINK.search(review.dom) is None


def test_the_pages_policy_stops_a_script_that_is_not_the_pages_own(firm: ReportFirm, tmp_path: Path) -> None:
    """Guard against a policy that cannot fail: an inline script without the answer's nonce, served
    through the same app, is refused by the browser."""
    worker = BackgroundWork()
    runtime = replace(firm.runtime, settings=firm.settings.firm("demo"))
    app = build_app({"demo": runtime}, settings=firm.settings, worker=worker)
    app.add_route("/probe", lambda _: HTMLResponse("<!doctype html><script>console.log('injected ran')</script>"))
    port, stop = run_in_thread(app)
    try:
        probed = load(f"http://127.0.0.1:{port}/probe", tmp_path / "profile")
    finally:
        stop()
        worker.close()
    assert not any("injected ran" in m for m in probed.console)
    assert any("Content Security Policy" in m for m in probed.console), probed.console


MEASURE = """<script>
(() => {
  const scroll = document.getElementById("metrics-scroll");
  const fits = {scrollWidth: scroll.scrollWidth, clientWidth: scroll.clientWidth, window: window.innerWidth};
  const cells = () => Array.from(document.querySelectorAll('#metrics [data-column="wip_days"]'));
  const hiddenAtFirst = cells().every((cell) => cell.hidden);
  document.querySelector('#column-chooser input[data-column="wip_days"]').click();  // a person ticks "WIP days"
  const shownAfterTicking = cells().length > 0 && cells().every((cell) => !cell.hidden);
  const counted = document.getElementById("columns-shown").textContent;
  document.body.setAttribute("data-measured", JSON.stringify({fits, hiddenAtFirst, shownAfterTicking, counted}));
})();
</script>"""


def test_the_metrics_table_fits_a_1400_pixel_window_and_a_person_chooses_columns(
    firm: ReportFirm, tmp_path: Path
) -> None:
    """No horizontal scrolling at 1,400 pixels; the chooser shows a column that was not shown."""
    page = tmp_path / "dashboard.html"
    subprocess.run(
        [*RUN, "report", "--html", str(page), "--by", "timekeeper", "--config", str(firm.config)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    measured_page = tmp_path / "measured.html"  # the same page, with a script that measures it after its own
    measured_page.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), "utf-8")
    loaded = load(measured_page.as_uri(), tmp_path / "profile")
    assert loaded.console == []
    found = re.search(r'data-measured="([^"]*)"', loaded.dom)
    assert found is not None, "the measuring script did not run"
    measured = json.loads(html.unescape(found.group(1)))
    assert measured["fits"]["window"] == 1400
    assert 0 < measured["fits"]["scrollWidth"] <= measured["fits"]["clientWidth"], measured
    assert measured["hiddenAtFirst"] and measured["shownAfterTicking"], measured
    assert measured["counted"] == "12"  # 11 columns at first, then "WIP days" as well


def test_the_definitions_are_written_for_the_firm(firm: ReportFirm, tmp_path: Path) -> None:
    """No section numbers or source file names a firm does not have; every metric is defined."""
    page = tmp_path / "dashboard.html"
    subprocess.run(
        [*RUN, "report", "--html", str(page), "--config", str(firm.config)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    dom = load(page.as_uri(), tmp_path / "profile").dom
    definitions = dom.split("<h2>Definitions</h2>")[1].split("</dl>")[0]
    terms = re.findall(r"<dt>([^<]*)</dt>", definitions)
    assert terms == [
        "Billable hours", "Capture rate", "Utilization", "Realization", "Collection rate", "Days to invoice",
        "Lockup days",
    ]  # fmt: skip
    for needle in ("§", ".py", ".md", "core/", "docstring"):
        assert needle not in definitions, needle
    assert re.search(r'<p id="lockup-note">Lockup days: daily revenue over the \d+ days', dom)


def test_a_chart_with_nothing_to_show_says_no_data_yet(firm: ReportFirm, tmp_path: Path) -> None:
    """January 2026 has no work and no bill: three charts say so; bills by month are still drawn."""
    page = tmp_path / "dashboard.html"
    subprocess.run(
        [*RUN, "report", "--period", "2026-01", "--html", str(page), "--config", str(firm.config)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    loaded = load(page.as_uri(), tmp_path / "profile")
    assert loaded.console == []
    for chart in ("chart-hours", "chart-funnel", "chart-aging"):
        block = loaded.dom.split(f'id="{chart}"')[1].split("</div></div></div>")[0]
        assert "no data yet" in block and "main-svg" not in block, chart
    drawn = loaded.dom.split('id="chart-collection"')[1].split("</div></div></div>")[0]
    assert "main-svg" in drawn and "no data yet" not in drawn
