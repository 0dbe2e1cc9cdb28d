"""A Microsoft365Connector wired to the in-process Graph sandbox through a requests transport adapter.

Graph and Entra (msal's token requests too) are answered by Starlette's TestClient, so the
connector runs its real code path (msal, core.http.HttpClient, requests) with no network and no
real sleeps. Webhook deliveries from the sandbox go straight to the connector's handler, the way
the daemon's endpoint would pass them on.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import structlog
from billsync_sandboxes.kit import FakeClock
from billsync_sandboxes.microsoft365.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TENANT,
    Microsoft365Sandbox,
)
from fastapi import FastAPI
from pydantic import SecretStr

from connectors.microsoft365.connector import Microsoft365Connector
from core.connector import Context, InboundRequest, Subscription
from core.tokens import TokenStore
from tests.connectors.in_process import in_process_http
from tests.sandbox_adapter import SandboxAdapter, SandboxAdmin

if TYPE_CHECKING:  # only a field type here: tests.connectors.in_process builds the client
    from fastapi.testclient import TestClient

FIRM = "firm-m365-test"
BASE = "http://127.0.0.1:9"  # nothing listens there: the adapter answers in-process
NOW = datetime(2026, 4, 6, 15, 0, tzinfo=UTC)
CALLBACK = "https://billsync.example.test/hooks/microsoft365/firm-m365-test"
# Planted in every body of the seed: it must never reach an activity, a log or a cassette.
CANARY = "CANARY-PRIVILEGED-3c9e"
JANE = "jane.doe@firm.example"
JOHN = "john.roe@firm.example"
ACME = "gc@acme.example.com"


def graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000")


def event(
    key: str, organizer: str, attendees: list[str], start: datetime, minutes: int = 60, **extra: Any
) -> dict[str, Any]:
    return {
        "id": f"AAMkAD-{key}",
        "subject": extra.pop("subject", f"Meeting {key}"),
        "body": {"contentType": "html", "content": f"<p>{CANARY} settlement terms</p>"},
        "bodyPreview": f"{CANARY} settlement terms",
        "start": {"dateTime": graph_time(start), "timeZone": "UTC"},
        "end": {"dateTime": graph_time(start + timedelta(minutes=minutes)), "timeZone": "UTC"},
        "isAllDay": False,
        "isCancelled": False,
        "sensitivity": "normal",
        "categories": [],
        "organizer": {"emailAddress": {"name": organizer.split("@")[0], "address": organizer}},
        "attendees": [
            {"type": "required", "status": {"response": "accepted"}, "emailAddress": {"name": a, "address": a}}
            for a in attendees
        ],
        **extra,
    }


def message(key: str, sender: str, to: list[str], sent: datetime, **extra: Any) -> dict[str, Any]:
    stamp = sent.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": f"AAMkAG-{key}",
        "internetMessageId": f"<{key}@firm.example>",
        "subject": extra.pop("subject", f"Mail {key}"),
        "body": {"contentType": "text", "content": f"{CANARY} the client admits it"},
        "bodyPreview": f"{CANARY} the client admits it",
        "sentDateTime": stamp,
        "receivedDateTime": stamp,
        "isDraft": False,
        "parentFolderId": "sentitems",
        "from": {"emailAddress": {"address": sender}},
        "toRecipients": [{"emailAddress": {"name": a, "address": a}} for a in to],
        "ccRecipients": [],
        "bccRecipients": [],
        **extra,
    }


def user(upn: str) -> dict[str, Any]:
    return {
        "id": f"id-{upn.split('@')[0]}",
        "displayName": upn,
        "userPrincipalName": upn,
        "mail": upn,
        "accountEnabled": True,
    }


def call_record(key: str, who: str, phone: str, start: datetime, minutes: int) -> dict[str, Any]:
    organizer = {"id": f"p-{who}", "identity": {"user": {"id": f"id-{who.split('@')[0]}", "displayName": who}}}
    return {
        "id": f"call-{key}",
        "version": 1,
        "type": "groupCall",
        "modalities": ["audio"],
        "startDateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endDateTime": (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "organizer_v2": organizer,
        "participants_v2": [organizer, {"id": f"p-{key}", "identity": {"phone": {"id": phone}}}],
    }


def seed() -> dict[str, Any]:
    """Two attorneys, a client at acme.example.com, three meetings, two sent mails, one call."""
    day = NOW - timedelta(days=3)
    return {
        "users": [user(JANE), user(JOHN)],
        "events": {
            JANE: [
                event("1", JANE, [ACME], day.replace(hour=14), subject="Client meeting [0001-0001]"),
                event("private", JANE, [ACME], day.replace(hour=16), sensitivity="private"),
                event("future", JANE, [ACME], NOW + timedelta(hours=2)),
            ],
            JOHN: [event("2", JOHN, [ACME, JANE], day.replace(hour=18), minutes=30, categories=["0001-0002"])],
        },
        "messages": {
            JANE: [message("1", JANE, [ACME], day.replace(hour=15), subject="Draft agreement")],
            JOHN: [message("2", JOHN, ["someone@unknown.example.org"], day.replace(hour=19))],
        },
        "callRecords": [call_record("1", JANE, "+1 555 100 1000", day.replace(hour=14, minute=5), 40)],
    }


@dataclass
class Microsoft365Env(SandboxAdmin):
    """A sandboxed tenant and a connector pointed at it."""

    vendor: ClassVar[str] = "microsoft365"

    sandbox: Microsoft365Sandbox
    clock: FakeClock
    app: TestClient
    ctx: Context
    connector: Microsoft365Connector
    adapter: SandboxAdapter
    sleeps: list[float] = field(default_factory=list)
    subscription: Subscription | None = None
    deliveries: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    repolls: list[list[str]] = field(default_factory=list)

    def graph_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.admin("GET", "requests") if "/graph/v1.0/" in r["path"]]

    def receive(self, url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        """The daemon's webhook endpoint: pass the delivery to the connector's handler and answer."""
        query = dict(parse_qsl(urlsplit(url).query))
        self.deliveries.append((url, dict(headers), body))
        inbound = InboundRequest(headers={k.lower(): v for k, v in headers.items()}, body=body, query=query)
        try:
            result = self.connector.webhooks().handle(inbound, self.subscription)
        except Exception:  # InvalidSignature and friends: what the server answers
            return 401, {}, b""
        if result.streams:
            self.repolls.append(list(result.streams))
        return result.reply_status, dict(result.reply_headers), result.reply_body

    def read_all(self, stream_name: str, cursor: Any = None) -> tuple[list[Any], Any]:
        stream = next(s for s in self.connector.streams() if s.name == stream_name)
        records: list[Any] = []
        for page in stream.read(cursor):
            records.extend(page.records)
            cursor = page.cursor
        return records, cursor


def make_env(
    data: dict[str, Any] | None = None,
    *,
    mailboxes: list[str] | None = None,
    page_size: int = 100,
    **sandbox_options: Any,
) -> Microsoft365Env:
    clock = FakeClock(NOW)
    holder: dict[str, Microsoft365Env] = {}
    sandbox = Microsoft365Sandbox(
        copy.deepcopy(data) if data is not None else seed(),
        clock=clock,
        post=lambda url, headers, body: holder["env"].receive(url, headers, body),
        **sandbox_options,
    )
    wired = in_process_http(create_app(sandbox), clock, BASE)
    ctx = Context(firm=FIRM, http=wired.http, tokens=_no_tokens(), log=structlog.get_logger().bind(firm=FIRM))
    settings = Microsoft365Connector.Settings(
        tenant_id=DEFAULT_TENANT,
        client_id=DEFAULT_CLIENT_ID,
        client_secret=SecretStr(DEFAULT_CLIENT_SECRET),
        mailboxes=[JANE, JOHN] if mailboxes is None else mailboxes,
        graph_base_url=f"{BASE}/microsoft365/graph/v1.0",
        authority_host=f"{BASE}/microsoft365/login",
        page_size=page_size,
    )
    connector = Microsoft365Connector(settings, ctx, clock=clock.now)
    env = Microsoft365Env(sandbox, clock, wired.app, ctx, connector, wired.adapter, wired.sleeps)
    holder["env"] = env
    return env


def create_app(sandbox: Microsoft365Sandbox) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.mount("/_sandbox/microsoft365", sandbox.admin_app())
    app.mount("/microsoft365", sandbox.api_app())
    return app


def _no_tokens() -> TokenStore:
    # The connector keeps msal's cache in memory and never touches the token store.
    from cryptography.fernet import Fernet
    from sqlalchemy import create_engine

    return TokenStore(create_engine("sqlite://"), Fernet(Fernet.generate_key()))


class Microsoft365ContractHarness:
    """What the shared contract suite needs from the Graph sandbox (tests/contract)."""

    def __init__(self) -> None:
        self.env = make_env()
        self.connector = self.env.connector

    def reject_credentials(self) -> None:
        """The app's consent is withdrawn: Graph answers 401 and Entra refuses the client."""
        self.env.admin("POST", "consent/revoke")

    def lose_write_answers(self, *, applied: bool) -> None:
        raise NotImplementedError("Microsoft 365 is an activity source: it writes nothing")

    def now(self) -> datetime:
        """The sandbox clock's current time."""
        return self.env.clock.now()

    def restore(self) -> None:
        self.env.faults()

    def remote_entries_with_key(self, key: str) -> int:
        raise NotImplementedError("Microsoft 365 is an activity source: it writes nothing")

    def sample_entry(self) -> Any:
        raise NotImplementedError("Microsoft 365 is an activity source: it writes nothing")

    def signed_delivery(self) -> tuple[InboundRequest, Subscription | None]:
        """A genuine change notification: Graph signs nothing, it carries the subscription's clientState (§7)."""
        env = self.env
        env.subscription = env.connector.webhooks().ensure(CALLBACK, None)
        env.admin("POST", f"events/{JANE}", event("contract", JANE, [ACME], NOW - timedelta(hours=2)))
        _url, headers, body = env.deliveries[-1]
        return InboundRequest(headers={k.lower(): v for k, v in headers.items()}, body=body), env.subscription

    def forged_deliveries(self, genuine: InboundRequest) -> list[InboundRequest]:
        """What a forger can send: a guessed clientState, none at all, or no notification."""
        notification = json.loads(genuine.body)["value"][0]
        guessed = {"value": [notification | {"clientState": "guessed"}]}
        missing = {"value": [{k: v for k, v in notification.items() if k != "clientState"}]}
        bodies = [json.dumps(guessed).encode(), json.dumps(missing).encode(), b'{"value": []}', b"not json"]
        return [InboundRequest(headers=genuine.headers, body=body) for body in bodies]
