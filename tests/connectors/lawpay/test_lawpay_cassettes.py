"""The LawPay gateway client replayed from cassettes (record_mode="none": no network, no sandbox).

Recorded once against the sandbox served by uvicorn; set BILLSYNC_RECORD_LAWPAY_CASSETTES=1 to
record a missing cassette (delete the file to re-record). The Authorization header (the secret
key, Basic-encoded) is replaced before anything is written.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import structlog
from billsync_sandboxes.kit import FakeClock
from billsync_sandboxes.lawpay.state import PUBLIC_KEY, TEST_SECRET_KEY, LawPaySandbox, create_app
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from connectors.lawpay.connector import LawPayConnector, LawPaySettings
from core.connector import Context
from core.gateway import PaymentDeclined
from core.http import HttpClient
from core.store.schema import metadata
from core.tokens import TokenStore
from tests.cassettes import serve_for_recording, vendor_vcr
from tests.connectors.lawpay.harness import START, seed

CASSETTES = Path(__file__).parent / "cassettes"
RECORDING = os.environ.get("BILLSYNC_RECORD_LAWPAY_CASSETTES") == "1"
PORT = 8767
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture
def live() -> Iterator[LawPaySandbox | None]:
    if not RECORDING:
        yield None
        return
    sandbox = LawPaySandbox(seed(), clock=FakeClock(START), rng_seed=7)
    with serve_for_recording(create_app(sandbox), PORT):
        yield sandbox


def gateway():
    engine = create_engine("sqlite://", poolclass=StaticPool)
    metadata.create_all(engine)
    ctx = Context(
        firm="f",
        http=HttpClient(),
        tokens=TokenStore(engine, Fernet(Fernet.generate_key())),
        log=structlog.get_logger(),
    )
    settings = LawPaySettings(
        secret_key=SecretStr(TEST_SECRET_KEY), base_url=f"{BASE}/lawpay", events_since=datetime(2026, 1, 1, tzinfo=UTC)
    )
    return LawPayConnector(settings, ctx).payments()


def _without_cookies(response: dict) -> dict:
    response["headers"] = {k: v for k, v in response["headers"].items() if k.lower() not in ("set-cookie", "cookie")}
    return response


def _token(live: LawPaySandbox | None, number: str, fallback: str) -> str:
    if live is None:
        return fallback
    return str(live.create_token(PUBLIC_KEY, {"number": number, "exp_month": 12, "exp_year": 2030})["id"])


def test_charge_decline_lookup_and_events_replay(live) -> None:
    recorder = vendor_vcr(CASSETTES, record=RECORDING)
    # The gateway's error bodies carry a `code` that is a decline reason, not an OAuth code:
    # keep bodies as they are (they hold no secret) and only drop cookies.
    with recorder.use_cassette("charge_lookup_events.yaml", before_record_response=_without_cookies) as cassette:
        gw = gateway()
        tx = gw.charge(
            account_id="acct_operating_card",
            method=_token(live, "4242424242424242", "b2U6gUUmvcwh2ytn0FA_Yg"),
            amount=Decimal("1250.00"),
            reference="INV-77",
        )
        assert (tx.amount, tx.status, tx.reference) == (Decimal("1250.00"), "authorized", "INV-77")
        with pytest.raises(PaymentDeclined) as declined:
            gw.charge(
                account_id="acct_operating_card",
                method=_token(live, "4000000000000002", "HiTlgA0FRMQFDXvjBAr_Hg"),
                amount=Decimal("1.00"),
                reference="INV-78",
            )
        assert declined.value.code == "card_declined"
        if live is not None:
            live.clock.advance(2)  # type: ignore[attr-defined]
        assert [t.id for t in gw.find_by_reference("INV-77")] == [tx.id]
        events = [e for batch in gw.events(None) for e in batch.events]
        assert [(e.type, e.transaction.id if e.transaction else None) for e in events] == [
            ("transaction.authorized", tx.id)
        ]
    text = (CASSETTES / "charge_lookup_events.yaml").read_text()
    assert TEST_SECRET_KEY not in text
    assert base64.b64encode(f"{TEST_SECRET_KEY}:".encode()).decode() not in text
    assert RECORDING or cassette.all_played
