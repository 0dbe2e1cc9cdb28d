"""The Graph client on recorded traffic: msal's discovery and token request, a batch, delta rounds.

The cassette was recorded once against the sandbox served by uvicorn (set
BILLSYNC_RECORD_M365_CASSETTES=1 to record a missing one) and is replayed with record_mode="none":
no network. Tokens and the client secret are scrubbed before anything is written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import vcr
from billsync_sandboxes.kit import FakeClock
from billsync_sandboxes.microsoft365.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TENANT,
    Microsoft365Sandbox,
)
from pydantic import SecretStr

from connectors.microsoft365.connector import Microsoft365Connector
from core.connector import Context
from core.http import HttpClient
from tests.cassettes import serve_for_recording
from tests.connectors.microsoft365.harness import CANARY, JANE, JOHN, NOW, _no_tokens, create_app, seed

CASSETTES = Path(__file__).parent / "cassettes"
RECORDING = os.environ.get("BILLSYNC_RECORD_M365_CASSETTES") == "1"
LIVE_PORT = 8766
LIVE_BASE = f"http://127.0.0.1:{LIVE_PORT}"
SECRETS = frozenset({"access_token", "client_secret", "client_assertion", "refresh_token", "id_token"})
BODIES = frozenset({"body", "bodyPreview", "uniqueBody"})


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    raw = response["body"]["string"]
    try:
        decoded = json.loads(raw)
    except ValueError:
        return response
    response["body"]["string"] = json.dumps(_scrub(decoded)).encode()
    response["headers"] = {k: v for k, v in response["headers"].items() if k.lower() != "set-cookie"}
    return response


def _scrub(value: Any) -> Any:
    # Secrets, and the bodies Graph sends with events: neither may be committed.
    if isinstance(value, dict):
        is_item = "subject" in value  # an event or message (a $batch member's "body" is its page)
        return {k: ("REDACTED" if k in SECRETS or (is_item and k in BODIES) else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def microsoft365_vcr() -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="once" if RECORDING else "none",
        filter_headers=[("authorization", "REDACTED"), ("cookie", None)],
        filter_post_data_parameters=[(name, "REDACTED") for name in sorted(SECRETS)],
        before_record_response=scrub_response,
        decode_compressed_response=True,
        match_on=["method", "scheme", "host", "port", "path", "query"],
    )


@pytest.fixture(scope="module")
def live() -> Iterator[None]:
    """The sandbox on uvicorn, only while recording."""
    if not RECORDING:
        yield None
        return
    sandbox = Microsoft365Sandbox(seed(), clock=FakeClock(NOW))
    with serve_for_recording(create_app(sandbox), LIVE_PORT):
        yield None


def cassette_connector() -> Microsoft365Connector:
    ctx = Context(
        firm="firm-m365-test", http=HttpClient(sleep=lambda s: None), tokens=_no_tokens(), log=structlog.get_logger()
    )
    settings = Microsoft365Connector.Settings(
        tenant_id=DEFAULT_TENANT,
        client_id=DEFAULT_CLIENT_ID,
        client_secret=SecretStr(DEFAULT_CLIENT_SECRET),
        mailboxes=[JANE, JOHN],
        graph_base_url=f"{LIVE_BASE}/microsoft365/graph/v1.0",
        authority_host=f"{LIVE_BASE}/microsoft365/login",
    )
    return Microsoft365Connector(settings, ctx, clock=lambda: NOW)


def test_cassette_token_check_and_calendar_delta(live: None) -> None:
    connector = cassette_connector()
    with microsoft365_vcr().use_cassette("test_microsoft365_client/check_and_calendar.yaml") as cassette:
        connector.check()
        stream = next(s for s in connector.streams() if s.name == "calendar_events")
        records = [r for page in stream.read(None) for r in page.records]
    assert sorted(r.external_id for r in records) == ["event:AAMkAD-1", "event:AAMkAD-2"]
    paths = [r.path for r in cassette.requests]
    assert paths[0].endswith("/v2.0/.well-known/openid-configuration")  # msal's tenant discovery
    assert paths[1].endswith("/oauth2/v2.0/token")  # one token for everything after: msal's cache
    assert sum(p.endswith("/oauth2/v2.0/token") for p in paths) == 1
    assert any(p.endswith("/$batch") for p in paths)
    assert cassette.all_played or RECORDING
    text = (CASSETTES / "test_microsoft365_client/check_and_calendar.yaml").read_text()
    assert DEFAULT_CLIENT_SECRET not in text and CANARY not in text
