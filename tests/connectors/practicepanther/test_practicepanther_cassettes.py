"""PracticePantherClient replayed from cassettes (record_mode="none": no network, no sandbox).

The traffic was recorded once against the sandbox served by uvicorn; set
BILLSYNC_RECORD_PP_CASSETTES=1 to record a missing cassette (delete the file to re-record).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import structlog
from billsync_sandboxes.kit import FakeClock
from billsync_sandboxes.practicepanther.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    PracticePantherSandbox,
    create_app,
)
from pydantic import SecretStr

from connectors.practicepanther.client import PracticePantherNotAllowed
from connectors.practicepanther.connector import PracticePantherConnector
from core.connector import Context
from core.http import HttpClient
from core.models import RemoteBill, Timekeeper
from tests.cassettes import cassette_tokens, serve_for_recording, vendor_vcr
from tests.connectors.practicepanther.harness import FIRM, time_entry
from tests.connectors.practicepanther.seed import HOURLY, seed

CASSETTES = Path(__file__).parent / "cassettes"
RECORDING = os.environ.get("BILLSYNC_RECORD_PP_CASSETTES") == "1"
LIVE_PORT = 8766
LIVE_BASE = f"http://127.0.0.1:{LIVE_PORT}"
KEY = "firm-pp-test|practicepanther|email:7a7a7a7a-0000-4000-8000-000000000001|create"


@pytest.fixture
def live() -> Iterator[PracticePantherSandbox | None]:
    """The sandbox on uvicorn, only while recording; replay needs nothing running."""
    if not RECORDING:
        yield None
        return
    sandbox = PracticePantherSandbox(seed(), clock=FakeClock(), rng_seed=1, rate_limit=10_000)
    with serve_for_recording(create_app(sandbox), LIVE_PORT):
        yield sandbox


def connector(live: PracticePantherSandbox | None, *, access: str | None = None) -> PracticePantherConnector:
    """A connector on a plain requests session (vcrpy intercepts it), with sandbox or placeholder tokens."""
    now = datetime(2026, 4, 6, 15, 0, tzinfo=UTC)
    tokens = cassette_tokens(live, FIRM, "practicepanther", lambda: now, access=access)
    ctx = Context(firm=FIRM, http=HttpClient(sleep=lambda s: None), tokens=tokens, log=structlog.get_logger())
    settings = PracticePantherConnector.Settings(
        client_id=DEFAULT_CLIENT_ID,
        client_secret=SecretStr(DEFAULT_CLIENT_SECRET),
        base_url=f"{LIVE_BASE}/practicepanther",
        page_size=1,
    )
    return PracticePantherConnector(settings, ctx, clock=lambda: now)


def stream(pp: PracticePantherConnector, name: str) -> list[object]:
    [found] = [s for s in pp.streams() if s.name == name]
    return [r for page in found.read(None) for r in page.records]


def test_cassette_check_and_top_skip_paging(live: PracticePantherSandbox | None) -> None:
    pp = connector(live)
    with vendor_vcr(CASSETTES, record=RECORDING).use_cassette("check_and_paging.yaml") as cassette:
        pp.check()
        users = stream(pp, "users")
    assert len(users) == 2 and all(isinstance(u, Timekeeper) for u in users)
    pages = [dict(r.query) for r in cassette.requests if r.path.endswith("/users")]
    assert [q["$skip"] for q in pages if "$skip" in q] == ["0", "1", "2"]  # one user a page, then a short page
    assert cassette.all_played or RECORDING


def test_cassette_refresh_after_a_401_saves_the_rotated_token(live: PracticePantherSandbox | None) -> None:
    pp = connector(live, access="revoked-access-token")
    with vendor_vcr(CASSETTES, record=RECORDING).use_cassette("refresh_after_401.yaml") as cassette:
        pp.check()
    assert [r.method for r in cassette.requests] == ["GET", "POST", "GET"]
    assert b"refresh_token=REDACTED" in cassette.requests[1].body  # scrubbed in the file


def test_cassette_write_find_update_read(live: PracticePantherSandbox | None) -> None:
    pp = connector(live)
    writer = pp.writer()
    entry = time_entry()
    with vendor_vcr(CASSETTES, record=RECORDING).use_cassette("write_find_update_read.yaml") as cassette:
        remote_id = writer.write_time_entry(entry, KEY, billable=False)
        assert writer.find_time_entry(KEY, entry) == remote_id
        writer.update_time_entry(
            remote_id, entry.model_copy(update={"narrative": "Email: Draft motion (reviewed)"}), billable=True
        )
        [remote] = writer.read_time_entries([remote_id])
    assert remote.narrative == "Email: Draft motion (reviewed)" and remote.billable and remote.billed_seconds == 360
    [posted] = [r for r in cassette.requests if r.method == "POST"]
    assert json.loads(posted.body)["hours"] == 0.1  # decimal hours, never minutes
    # POST; find walks the user's entries on the matter (two one-record pages); GET-merge-PUT; read
    assert [r.method for r in cassette.requests] == ["POST", "GET", "GET", "GET", "PUT", "GET"]


def test_cassette_invoices_are_read_and_cannot_be_created(live: PracticePantherSandbox | None) -> None:
    if live is not None:
        live.add(
            "timeentries",
            {
                "date": "2026-04-01T00:00:00",
                "hours": 1.5,
                "rate": 300,
                "is_billable": True,
                "description": "Hearing",
                "matter_ref": {"id": HOURLY},
                "billed_by_user_ref": {"id": "0b6c7a52-1f0e-4d5a-9d1e-000000000001"},
            },
        )
        from billsync_sandboxes.practicepanther.admin.billing import generate_invoice

        generate_invoice(live, HOURLY)
    pp = connector(live)
    with vendor_vcr(CASSETTES, record=RECORDING).use_cassette("invoices.yaml") as cassette:
        bills = stream(pp, "invoices")
        with pytest.raises(PracticePantherNotAllowed):
            pp.client.create("invoices", {"account_ref": {"id": "x"}})
    assert [type(b) for b in bills] == [RemoteBill]
    assert bills[0].total == Decimal("600.00")  # 1.5 h x 300 + the seeded 0.5 h x 300
    assert cassette.all_played or RECORDING
