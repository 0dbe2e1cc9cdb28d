"""The numbers agree: `billsync report` as JSON and CSV, the dashboard the daemon serves, the HTML
file the CLI writes, and the ledger, on the demo firm after a month of capture, review, billing and
a payment."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.payments.ledger import build_ledger
from core.payments.reconcile import match_all
from core.reports.snapshot import run_report_snapshot
from core.store.billing import BillingStore
from core.store.payments import PaymentStore
from tests.e2e.conftest import RUN
from tests.reports.firm import ReportFirm

pytestmark = pytest.mark.e2e
EMBEDDED = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


@pytest.fixture(scope="module")
def firm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportFirm]:
    made = ReportFirm(tmp_path_factory.mktemp("report-firm"))
    made.run_month()
    yield made
    made.close()


def billsync(firm: ReportFirm, *args: str) -> str:
    done = subprocess.run(
        [*RUN, "report", *args, "--config", str(firm.config)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def embedded(html: str) -> dict[str, Any]:
    found = EMBEDDED.search(html)
    assert found is not None, "the dashboard embeds no report data"
    return json.loads(found.group(1))


def csv_as_json_rows(text: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """CSV lines as the JSON rows would be: empty cells are null; the "*" line is the total."""
    lines = list(csv.DictReader(io.StringIO(text)))

    def as_row(line: dict[str, str], key_column: str) -> dict[str, Any]:
        values = {k: (v if v != "" else None) for k, v in line.items() if k not in (key_column, "name")}
        return {"key": line[key_column] or None, "name": line["name"], **values}

    key_column = next(iter(lines[0]))
    rows = [as_row(line, key_column) for line in lines[:-1]]
    total = as_row(lines[-1], key_column)
    assert total["key"] == "*"
    total["key"] = None
    return rows, total


@pytest.mark.parametrize(("period", "by"), [("all", "matter"), ("2026-10", "timekeeper"), ("2026-11", "client")])
def test_cli_csv_dashboard_and_html_file_show_the_same_numbers(
    firm: ReportFirm, tmp_path: Path, period: str, by: str
) -> None:
    page = tmp_path / "dashboard.html"
    as_json = json.loads(billsync(firm, "--period", period, "--by", by, "--format", "json", "--html", str(page)))
    rows, total = csv_as_json_rows(billsync(firm, "--period", period, "--by", by, "--format", "csv"))
    assert rows == as_json["rows"] and total == as_json["total"]

    with firm.app() as client:
        served = client.get("/reports/demo", params={"period": period, "by": by}, headers=firm.reader)
    assert served.status_code == 200
    assert embedded(served.text)["report"] == as_json
    assert embedded(page.read_text(encoding="utf-8"))["report"] == as_json

    # The total row holds those values too ("—" where JSON has null); columns not chosen are hidden, not left out.
    cells = dict(
        re.findall(
            r'<td data-column="([a-z_0-9]+)"(?: hidden)?>(?:<a [^>]*>)?([^<]*)', served.text.split('class="total"')[1]
        )
    )
    assert cells == {k: (v if v is not None else "—") for k, v in as_json["total"].items() if k not in ("key", "name")}
    table = billsync(firm, "--period", period, "--by", by)
    for name in ("billable_hours", "capture_rate", "invoiced", "collected", "outstanding"):
        assert (as_json["total"][name] or "—") in table


def test_the_firm_total_equals_the_ledger_and_the_bills_in_the_pms(firm: ReportFirm) -> None:
    report = json.loads(billsync(firm, "--format", "json"))
    total = report["total"]
    payments = PaymentStore(firm.store.engine)
    bills = firm.store.load_bills("demo")
    ledger = build_ledger(
        bills, match_all(payments.transactions("demo"), bills, payments.plans("demo")), payments.transfers("demo")
    ).totals()
    assert (Decimal(total["invoiced"]), Decimal(total["collected"]), Decimal(total["outstanding"])) == (
        ledger.billed,
        ledger.paid,
        ledger.outstanding,
    )
    # ...and with what the PMS and the gateway hold, read independently of the ledger code.
    in_clio = sum(Decimal(str(firm.admin("GET", f"bills/{b['id']}").json()["total"])) for b in firm.bills)
    assert Decimal(total["invoiced"]) == in_clio > 0
    assert Decimal(total["collected"]) == firm.paid
    assert Decimal(total["outstanding"]) == in_clio - firm.paid
    assert total["collection_rate"] == str((firm.paid * 100 / in_clio).quantize(Decimal("0.1")))


def test_groupings_add_up_and_the_funnel_approved_is_the_billable_time(firm: ReportFirm) -> None:
    by_matter = json.loads(billsync(firm, "--by", "matter", "--format", "json"))
    total = by_matter["total"]
    for money in ("invoiced", "collected", "outstanding", "standard_value", "unbilled_wip"):
        assert sum(Decimal(r[money] or "0") for r in by_matter["rows"]) == Decimal(total[money]), money
    assert total["approved_hours"] == total["billable_hours"]
    leaks = (
        "awaiting_review_hours",
        "blocked_hours",
        "rejected_hours",
        "deleted_hours",
        "unassigned_hours",
        "not_timekeeper_hours",
    )
    assert (
        Decimal(total["blocked_hours"]) > 0
        and Decimal(total["rejected_hours"]) > 0
        and Decimal(total["unassigned_hours"]) > 0
    )
    parts = Decimal(total["approved_hours"]) + sum(Decimal(total[leak]) for leak in leaks)
    assert abs(parts - Decimal(total["judged_billable_hours"])) <= Decimal("0.01") * 7  # each part rounded to 0.01 h
    by_timekeeper = json.loads(billsync(firm, "--by", "timekeeper", "--format", "json"))
    assert all(r["invoiced"] is None and r["collection_rate"] is None for r in by_timekeeper["rows"])
    assert all(r["utilization"] is None for r in by_matter["rows"])  # available time belongs to people
    october = json.loads(billsync(firm, "--period", "2026-10", "--format", "json"))["total"]
    assert october["invoiced"] == "0.00" and october["collection_rate"] is None  # nothing issued in October


def test_a_bad_period_is_a_clear_error(firm: ReportFirm) -> None:
    done = subprocess.run(
        [*RUN, "report", "--period", "last month", "--config", str(firm.config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "is not a month (2026-10)" in done.stdout


def test_the_snapshot_writes_the_month_by_every_grouping_and_replaces_it_on_a_rerun(
    firm: ReportFirm, tmp_path: Path
) -> None:
    settings = firm.settings.firm("demo")
    folder = tmp_path / "snapshots"
    configured = settings.model_copy(
        update={"reports": settings.reports.model_copy(update={"snapshot_folder": folder})}
    )
    early_november = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)  # early in a month: October is written again too
    written = run_report_snapshot(firm.store, "demo", configured, early_november)
    names = sorted(p.name for p in written)
    assert names == sorted(
        f"demo-{month}-by-{by}.{ext}"
        for month in ("2026-10", "2026-11")
        for by in ("timekeeper", "client", "matter")
        for ext in ("json", "csv")
    )
    october = json.loads((folder / "demo-2026-10-by-matter.json").read_text())
    assert october == json.loads(billsync(firm, "--period", "2026-10", "--by", "matter", "--format", "json"))
    again = run_report_snapshot(firm.store, "demo", configured, datetime(2026, 11, 20, tzinfo=UTC))
    assert [p.name for p in again if "2026-10" in p.name] == []  # late in the month: only November
    assert sorted(p.name for p in folder.iterdir()) == names  # replaced in place, no temporary files left
    assert run_report_snapshot(firm.store, "demo", settings, early_november) == []  # no folder: nothing written


def test_files_holding_client_names_and_money_are_the_owners_alone(firm: ReportFirm, tmp_path: Path) -> None:
    """`report --html` and `bill show --html/--pdf` write mode 0600, even over a file others could read."""
    dashboard = tmp_path / "dashboard.html"
    dashboard.write_text("an old copy", encoding="utf-8")
    dashboard.chmod(0o644)
    billsync(firm, "--html", str(dashboard))
    assert dashboard.stat().st_mode & 0o777 == 0o600
    assert "an old copy" not in dashboard.read_text(encoding="utf-8")

    prebill = max(BillingStore(firm.store.engine).prebills("demo"), key=lambda p: len(p.lines))
    html, pdf = tmp_path / "prebill.html", tmp_path / "prebill.pdf"
    shown = subprocess.run(
        [*RUN, "bill", "show", prebill.number, "--html", str(html), "--pdf", str(pdf), "--config", str(firm.config)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert html.stat().st_mode & 0o777 == 0o600 and pdf.stat().st_mode & 0o777 == 0o600
    assert pdf.read_bytes().startswith(b"%PDF") and prebill.number in html.read_text(encoding="utf-8")

    missing = subprocess.run(
        [*RUN, "report", "--html", str(tmp_path / "no-such-folder" / "d.html"), "--config", str(firm.config)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert missing.returncode != 0, missing.stdout + missing.stderr
    assert missing.stdout.startswith("error: cannot write "), missing.stdout + missing.stderr


def test_the_table_says_what_lockup_rests_on(firm: ReportFirm) -> None:
    """The firm's history began in October 2026: lockup's window is cut to it, and the table says so.

    Its first bill is dated 2026-11-05: as of November's end that is 26 days of billing, too few
    for lockup days (30); as of today there are more than 30.
    """
    start = min(e.work_date for e in firm.store.entries("demo"))
    today = date.today()
    shown = billsync(firm)  # "all": as of today
    days = (today - start).days + 1
    assert f"Lockup days: daily revenue over the {days} days of the firm's history in billsync ({start} to" in shown
    november = billsync(firm, "--period", "2026-11")
    assert (
        "Lockup days: not enough history: the firm's first bill was issued on 2026-11-05, 26 days to 2026-11-30 "
        "counting both; lockup days need at least 30 (one monthly billing cycle)"
    ) in " ".join(november.split())  # the note may wrap
    as_json = json.loads(billsync(firm, "--period", "2026-11", "--format", "json"))
    assert as_json["total"]["lockup_days"] is None and as_json["total"]["receivables"] not in (None, "0.00")


def test_where_lockup_cannot_be_worked_out_the_table_the_json_and_the_dashboard_say_why(
    firm: ReportFirm, tmp_path: Path
) -> None:
    """October 2026: the firm's first bill is dated 2026-11-05, so no bill lies in October's window.

    Lockup days are "—" (JSON null), and each of the three says why beside them.
    """
    start = min(e.work_date for e in firm.store.entries("demo"))  # the firm's history in billsync begins here
    why = (
        f"not enough history: no bill was issued from {start} to 2026-10-31, "
        "so there is no revenue to count days of"
    )
    table = " ".join(billsync(firm, "--period", "2026-10").split())  # the note may wrap
    assert f"Lockup days: {why}." in table
    as_json = json.loads(billsync(firm, "--period", "2026-10", "--format", "json"))
    assert as_json["total"]["lockup_days"] is None and as_json["notes"]["lockup_days"] == why
    dashboard = tmp_path / "dashboard.html"
    billsync(firm, "--period", "2026-10", "--html", str(dashboard))
    assert f'<p id="lockup-note">Lockup days: {why}.</p>' in dashboard.read_text(encoding="utf-8")
    with firm.app() as client:
        served = client.get("/reports/demo", params={"period": "2026-10"}, headers=firm.reader)
    assert served.status_code == 200 and f'<p id="lockup-note">Lockup days: {why}.</p>' in served.text
