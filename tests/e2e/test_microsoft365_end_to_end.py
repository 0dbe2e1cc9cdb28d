"""End to end against `billsync sandbox` serving Microsoft Graph: real HTTP, real msal, real connector.

The demo firm's tenant (sandboxes/billsync_sandboxes/microsoft365/seed.py) is read into activities, then the
webhook handshake and a change notification travel over real HTTP to a loopback receiver that
hands them to the connector, as the daemon's endpoint does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import structlog
from billsync_sandboxes.demo.data import PRIVILEGED_BODY, generate_firm
from billsync_sandboxes.microsoft365.seed import microsoft365_seed

from config.settings import load_settings
from connectors.microsoft365.connector import Microsoft365Connector
from core.connector import Context, InboundRequest, Subscription
from core.http import HttpClient
from core.models import ActivityKind
from tests.connectors.microsoft365.harness import _no_tokens
from tests.e2e.conftest import serve_sandbox

pytestmark = pytest.mark.e2e


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[tuple[Path, dict[str, Any], str]]:
    """`billsync sandbox` with the demo firm's Microsoft 365 tenant, seeded relative to the real clock."""
    firm = generate_firm(timekeepers=5, clients=8, matters=16, activities=150, seed=2)
    seed = microsoft365_seed(firm, now=datetime.now(UTC))
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps({"microsoft365": seed}), encoding="utf-8")
    config = tmp_path / "sandbox.toml"
    with serve_sandbox(seed_file, config, rate_limit=None, serving="microsoft365") as base:
        yield config, seed, base


def connector_from(config: Path) -> Microsoft365Connector:
    settings = load_settings(config)
    raw = settings.firm("demo").connector_settings("microsoft365") or {}
    ctx = Context(firm="demo", http=HttpClient(), tokens=_no_tokens(), log=structlog.get_logger())
    return Microsoft365Connector(Microsoft365Connector.Settings(**raw), ctx)


def test_the_demo_tenant_becomes_activities_over_http(graph: tuple[Path, dict[str, Any], str]) -> None:
    config, seed, _ = graph
    connector = connector_from(config)
    connector.check()
    found = {}
    for stream in connector.streams():
        found[stream.name] = [r for page in stream.read(None) for r in page.records]
    attorneys = set(seed["events"])
    events, mails, calls = found["calendar_events"], found["sent_mail"], found["teams_calls"]
    assert len(events) == sum(len(v) for v in seed["events"].values())  # all ended, all with a client
    assert len(mails) == sum(len(v) for v in seed["messages"].values())
    assert len(calls) == len(seed["callRecords"])
    assert {a.kind for a in events} == {ActivityKind.EVENT} and {a.kind for a in calls} == {ActivityKind.CALL}
    assert {a.actor for a in events + mails + calls} <= {m.lower() for m in attorneys}
    assert all(a.counterpart_addresses for a in events + mails + calls)
    everything = json.dumps([a.model_dump(mode="json") for a in events + mails + calls])
    assert PRIVILEGED_BODY not in everything  # the seed's bodies stayed in the sandbox
    # The Teams call inside the meeting with the same client: same attorney, overlapping time.
    first = next(iter(seed["events"]))  # the first attorney's last meeting holds the call
    meeting = next(a for a in events if a.external_id == f"event:{seed['events'][first][-1]['id']}")
    assert meeting.ended_at is not None
    inside = [c for c in calls if c.actor == meeting.actor and meeting.started_at <= c.started_at]
    call = next(c for c in inside if c.ended_at is not None and c.ended_at <= meeting.ended_at)
    assert call.duration_seconds == 45 * 60


class Receiver(BaseHTTPRequestHandler):
    """The daemon's webhook endpoint in miniature: hand the delivery to the connector, answer its reply."""

    connector: Microsoft365Connector
    subscription: Subscription | None = None
    rang: ClassVar[list[list[str]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        inbound = InboundRequest(
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            query=dict(parse_qsl(urlsplit(self.path).query)),
        )
        try:
            result = self.connector.webhooks().handle(inbound, type(self).subscription)
        except Exception:
            self.send_response(401)
            self.end_headers()
            return
        if result.streams:
            type(self).rang.append(list(result.streams))
        self.send_response(result.reply_status)
        for name, value in result.reply_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(result.reply_body)))
        self.end_headers()
        self.wfile.write(result.reply_body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_the_handshake_and_a_notification_over_http(graph: tuple[Path, dict[str, Any], str]) -> None:
    config, seed, base = graph
    connector = connector_from(config)
    Receiver.connector = connector
    Receiver.rang = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        callback = f"http://127.0.0.1:{server.server_address[1]}/hooks/microsoft365/demo"
        subscription = connector.webhooks().ensure(callback, None)
        assert subscription is not None  # every create passed Graph's validation handshake
        Receiver.subscription = subscription
        live = requests.get(f"{base}/_sandbox/microsoft365/subscriptions", timeout=10).json()
        assert len(live) == 2 * len(seed["events"]) + 1 and all(s["notificationUrl"] == callback for s in live)
        mailbox = next(iter(seed["events"]))
        start = datetime.now(UTC) - timedelta(hours=2)
        new_event = dict(seed["events"][mailbox][0]) | {
            "id": "AAMkAD-e2e-new",
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        }
        added = requests.post(f"{base}/_sandbox/microsoft365/events/{mailbox}", json=new_event, timeout=10)
        assert added.status_code == 200
        assert Receiver.rang == [["calendar_events"]]  # the doorbell, verified by its clientState
        stream = next(s for s in connector.streams() if s.name == "calendar_events")
        read = [r.external_id for page in stream.read(None) for r in page.records]
        assert "event:AAMkAD-e2e-new" in read
    finally:
        server.shutdown()
