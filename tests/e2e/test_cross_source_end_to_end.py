"""Several sources, one firm: Clio as PMS, NetDocuments and Microsoft 365 beside it.

The same stretch of work seen by two sources (a Teams call inside a calendar meeting; a call
logged twice in Clio) must give one entry, over real HTTP, through the configured `sources`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from billsync_sandboxes.cli.sandbox import connect_to_sandbox
from billsync_sandboxes.demo.data import PRIVILEGED_BODY, generate_firm
from billsync_sandboxes.kit.server import build_server_app
from sqlalchemy import select

from core.http import HttpClient, RetryPolicy
from core.plugins import DEMO_SEEDS, SANDBOXES, load
from core.runtime import FirmRuntime
from core.serving import run_in_thread
from core.store.schema import activities
from tests.clio_calls import logged_call

pytestmark = pytest.mark.e2e
SOURCES = ["netdocuments", "microsoft365"]


class Firm:
    def __init__(self, tmp: Path) -> None:
        self.synthetic = generate_firm(timekeepers=5, clients=8, matters=16, activities=200, seed=7)
        self.now = datetime.now(UTC)
        seeds = {
            "clio": load(DEMO_SEEDS, "clio")(self.synthetic, now=datetime(2026, 11, 1, tzinfo=UTC)),
            **{name: load(DEMO_SEEDS, name)(self.synthetic, now=self.now) for name in SOURCES},
        }
        self.seeds = seeds
        sandboxes = {name: load(SANDBOXES, name)(seed, rate_limit_per_minute=100_000) for name, seed in seeds.items()}
        self.port, self._stop = run_in_thread(build_server_app(sandboxes))
        self.base = f"http://127.0.0.1:{self.port}"
        http = HttpClient(policy=RetryPolicy(attempts=4), sleep=lambda _: None, timeout=(2.0, 10.0))
        self.config = tmp / "billsync.toml"
        self.runtime: FirmRuntime = connect_to_sandbox(
            self.config, self.base, ["clio", *SOURCES], http=http, retry_delay=timedelta(0), sources=SOURCES
        )
        self.store = self.runtime.store

    def activity_rows(self, source: str) -> list[dict]:
        a = activities.c
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(activities).where(a.firm_id == "demo", a.source == source))
            return [dict(row._mapping) for row in rows]

    def close(self) -> None:
        self.store.close()
        self._stop()


@pytest.fixture
def firm(tmp_path: Path) -> Iterator[Firm]:
    f = Firm(tmp_path)
    yield f
    f.close()


def test_every_source_feeds_the_pms_once(firm: Firm) -> None:
    first = firm.runtime.runner.run_once()
    read = first.records_read
    assert read["netdocuments:documents"] > 0 and read["microsoft365:calendar_events"] > 0
    assert read["microsoft365:teams_calls"] > 0 and read["communications"] > 0
    sources = {e.activity_key[0] for e in firm.store.entries("demo")}
    assert {"netdocuments", "microsoft365"} <= sources
    clio_entries = requests.get(f"{firm.base}/_sandbox/clio/activities", timeout=10).json()
    written = [e for e in firm.store.entries("demo") if e.remote_id]
    assert len(written) == first.written == len({e.remote_id for e in written})
    assert len([a for a in clio_entries if "[bs:" in (a.get("note") or "")]) == len(written)
    again = firm.runtime.runner.run_once()
    assert again.written == 0 and sum(again.capture.states.values()) == 0
    # Privilege: no body from any source reached an entry or the PMS.
    assert all(PRIVILEGED_BODY not in e.narrative for e in firm.store.entries("demo"))
    assert PRIVILEGED_BODY not in str(clio_entries)


def test_a_teams_call_during_a_calendar_meeting_gives_one_entry(firm: Firm) -> None:
    firm.runtime.runner.run_once()
    start = (firm.now - timedelta(days=2)).replace(hour=15, minute=0, second=0, microsecond=0)
    attorney = firm.synthetic.timekeepers[0].email  # the seed plants the overlap on the first mailbox
    stretch = [
        row
        for row in firm.activity_rows("microsoft365")
        if start <= row["started_at"] < start + timedelta(hours=1) and row["actor"] == attorney
    ]
    kinds = sorted(row["kind"] for row in stretch)
    assert kinds == ["call", "event"], stretch
    assert {row["status"] for row in stretch} == {"captured", "merged"}
    assert len({row["entry_id"] for row in stretch}) == 1  # the call was merged into the meeting's entry
    [entry] = [e for e in firm.store.entries("demo") if e.id == stretch[0]["entry_id"]]
    assert entry.started_at == start and entry.raw_seconds >= 3600


def test_a_call_logged_twice_in_clio_gives_one_entry(firm: Firm) -> None:
    firm.runtime.runner.run_once()
    call = logged_call(firm.seeds["clio"], "settlement position")
    for _ in range(2):  # the attorney logged it, then the assistant logged it again
        requests.post(f"{firm.base}/_sandbox/clio/communications", json=call, timeout=10).raise_for_status()
    before = len(firm.store.entries("demo"))
    report = firm.runtime.runner.run_once()
    assert report.records_read["communications"] >= 2
    assert len(firm.store.entries("demo")) == before + 1
    logged = [r for r in firm.activity_rows("clio") if r["started_at"] == datetime(2026, 10, 30, 15, tzinfo=UTC)]
    assert sorted(r["status"] for r in logged) == ["captured", "merged"]


def test_a_backfill_reads_every_source_again_and_creates_nothing_new(firm: Firm) -> None:
    from typer.testing import CliRunner

    from core.cli.common import app

    firm.runtime.runner.run_once()
    before = len(firm.store.entries("demo"))
    since = (firm.now - timedelta(days=60)).strftime("%Y-%m-%d")
    result = CliRunner().invoke(app, ["backfill", "--since", since, "--config", str(firm.config)])
    assert result.exit_code == 0, result.output
    assert "backfill created 0 entries" in result.output
    known = int(result.output.split("; ")[-1].split(" activities")[0])
    assert known >= len(firm.activity_rows("netdocuments")) + len(firm.activity_rows("microsoft365"))
    assert len(firm.store.entries("demo")) == before
