"""The demo's month is one calendar month: Clio, NetDocuments and Microsoft 365 all date the firm's
work in October 2026, the banner names it, and the report for "all" is October's."""

from __future__ import annotations

import json
import re
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from billsync_sandboxes.demo.firm import demo_firm, demo_seeds

from config.settings import load_settings
from core.models import ActivityKind, ActivityStatus
from core.store.reports import ReportStore
from core.store.store import Store
from tests.e2e.conftest import RUN

pytestmark = pytest.mark.e2e
MONTH = "2026-10"


def test_every_vendors_seed_dates_the_work_in_the_demo_month() -> None:
    seeds = demo_seeds(demo_firm(400), sources=("netdocuments", "microsoft365"))
    clio, nd, graph = seeds["clio"], seeds["netdocuments"], seeds["microsoft365"]
    dated = {
        "clio communications": [r["received_at"] for r in clio["communications"]],
        "clio calendar entries": [r["start_at"] for r in clio["calendar_entries"]],
        "clio documents": [r["received_at"] for r in clio["documents"]],
        "clio time entries": [r["date"] for r in clio["activities"]],
        "netdocuments log": [e["activity"]["date"] for e in nd["log"]],
        "microsoft365 events": [e["start"]["dateTime"] for events in graph["events"].values() for e in events],
        "microsoft365 mail": [m["sentDateTime"] for messages in graph["messages"].values() for m in messages],
        "microsoft365 calls": [c["startDateTime"] for c in graph["callRecords"]],
    }
    for what, stamps in dated.items():
        assert stamps, f"the demo seeds no {what}"
        outside = sorted({s[:10] for s in stamps if not s.startswith(MONTH)})
        assert outside == [], f"{what} dated outside {MONTH}: {outside}"


def test_the_demo_banner_names_the_month_every_source_read_and_all_is_that_month(tmp_path: Path) -> None:
    kept = tmp_path / "demo"
    run = subprocess.run([*RUN, "demo", "--activities", "300", "--keep", str(kept)], capture_output=True, text=True,
                         timeout=600, check=False)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "a month of activity (October 2026)" in run.stdout
    config = kept / "billsync.toml"
    store = Store.open(load_settings(config).database_url)
    try:
        months: dict[str, set[str]] = defaultdict(set)
        rows = ReportStore(store.engine).activity_rows("demo")
        for row in rows:
            months[row.source].add(row.started_at.strftime("%Y-%m"))
        entry_months = {e.work_date.strftime("%Y-%m") for e in store.entries("demo")}
    finally:
        store.close()
    assert {"netdocuments", "microsoft365"} <= set(months), months  # both sources were read
    assert all(found == {MONTH} for found in months.values()), dict(months)
    assert entry_months == {MONTH}

    # Teams calls from October are read: Microsoft 365 keeps them 30 days from the month's end,
    # where the demo's tenant stands, not from today (months later).
    read = re.search(r"microsoft365:teams_calls (\d+)", run.stdout)
    calls = [r for r in rows if r.source == "microsoft365" and r.kind is ActivityKind.CALL]
    assert read and int(read[1]) == len(calls) > 0, run.stdout[:2000]
    assert {c.started_at.strftime("%Y-%m") for c in calls} == {MONTH}
    # The first attorney's Teams call inside a meeting with the same client is one entry for both.
    merged = [c for c in calls if c.status is ActivityStatus.MERGED]
    assert len(merged) == 1 and merged[0].reason.startswith("overlaps entry "), merged
    meeting = [r for r in rows if r.entry_id == merged[0].entry_id and r.kind is ActivityKind.EVENT]
    assert len(meeting) == 1 and meeting[0].started_at < merged[0].started_at, meeting

    def report(period: str) -> dict:
        done = subprocess.run([*RUN, "report", "--period", period, "--format", "json", "--config", str(config)],
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)

    everything, october = report("all"), report(MONTH)
    assert everything["period"]["start"] == "2026-10-01"
    for figure in ("billable_hours", "available_hours", "utilization"):
        assert everything["total"][figure] == october["total"][figure] is not None, figure
