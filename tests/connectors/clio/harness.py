"""A ClioConnector wired to the in-process Clio sandbox through a requests transport adapter.

The adapter hands each PreparedRequest to Starlette's TestClient, so the connector runs its real
code path (core.http.HttpClient, requests.Session) with no network and no real sleeps.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import structlog
import vcr
from billsync_sandboxes.clio.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, ClioSandbox, create_app
from billsync_sandboxes.kit import FakeClock
from pydantic import SecretStr

from connectors.clio.connector import ClioConnector
from core.connector import Context
from core.models import ActivityKind, TimeEntry
from core.tokens import OAuthToken, TokenStore
from tests.cassettes import vendor_vcr
from tests.connectors.in_process import in_process_http, token_store
from tests.sandbox_adapter import SandboxAdapter, SandboxAdmin

if TYPE_CHECKING:  # only a field type here: tests.connectors.in_process builds the client
    from fastapi.testclient import TestClient

SEED_FILE = Path(__file__).parent / "fixtures" / "clio_seed.json"
FIRM = "firm-clio-test"
BASE = "http://testserver"
CASSETTES = Path(__file__).parent / "cassettes"
# Set to 1 to record missing cassettes against the sandbox served by uvicorn on LIVE_PORT.
RECORD_ENV = "BILLSYNC_RECORD_CLIO_CASSETTES"
LIVE_PORT = 8765
# Planted in every privileged field of the seed; it must never reach a title, a write or a log.
CANARY = "CANARY-PRIVILEGED-7f3a91"


def seed() -> dict[str, Any]:
    """The shared Clio seed, plus what the connector needs and a privilege canary everywhere."""
    data: dict[str, Any] = json.loads(SEED_FILE.read_text())
    data["users"][0]["default_calendar_id"] = 11  # the calendar owner of entry 9001
    for record in data["communications"]:
        record["body"] = f"{record['body']} {CANARY}"
    for record in data["notes"]:
        record["detail"] = f"{record['detail']} {CANARY}"
    for record in data["calendar_entries"]:
        record["description"] = f"{record['description']} {CANARY}"
    for record in data["tasks"]:
        record["description"] = f"{record['description']} {CANARY}"
    for record in data["documents"]:
        record["creator"] = {"id": 345, "type": "ManageUser", "name": "Jane Doe"}
        record["content"] = f"Document text {CANARY}"  # stored, never served: documents are not downloaded
    return data


@dataclass
class ClioEnv(SandboxAdmin):
    """A sandboxed Clio account and a connector pointed at it."""

    vendor: ClassVar[str] = "clio"

    sandbox: ClioSandbox
    clock: FakeClock
    app: TestClient
    tokens: TokenStore
    ctx: Context
    connector: ClioConnector
    adapter: SandboxAdapter
    sleeps: list[float] = field(default_factory=list)

    def requests_log(self) -> list[dict[str, Any]]:
        """The sandbox's log of API and OAuth requests, paths without the /clio mount."""
        return [entry | {"path": entry["path"].removeprefix("/clio")} for entry in self.admin("GET", "requests")]

    def activities(self) -> list[dict[str, Any]]:
        """Every activity the sandbox holds, in Clio's full shape."""
        return self.sandbox.records("activities")


def make_env(
    data: dict[str, Any] | None = None,
    *,
    page_limit: int = 200,
    rate_limit_per_minute: int = 10_000,
    deliver: Callable[[str, Mapping[str, str], bytes], Any] | None = None,
    connected: bool = True,
) -> ClioEnv:
    """A fresh sandbox seeded with `data` (default: seed()) and a connected ClioConnector."""
    clock = FakeClock()
    sandbox = ClioSandbox(
        copy.deepcopy(data) if data is not None else seed(),
        clock=clock,
        rng_seed=1,
        rate_limit_per_minute=rate_limit_per_minute,
        deliver=deliver or (lambda url, headers, body: 200),
    )
    wired = in_process_http(create_app(sandbox), clock, BASE)
    tokens = token_store(clock.now)
    if connected:
        tokens.save(FIRM, "clio", OAuthToken.from_response(sandbox.issue_token(), clock.now()))
    ctx = Context(firm=FIRM, http=wired.http, tokens=tokens, log=structlog.get_logger().bind(firm=FIRM))
    settings = ClioConnector.Settings(
        client_id=DEFAULT_CLIENT_ID,
        client_secret=SecretStr(DEFAULT_CLIENT_SECRET),
        base_url=f"{BASE}/clio",
        page_limit=page_limit,
    )
    connector = ClioConnector(settings, ctx, clock=clock.now)
    return ClioEnv(sandbox, clock, wired.app, tokens, ctx, connector, wired.adapter, wired.sleeps)


def time_entry(**overrides: Any) -> TimeEntry:
    """A six-minute, non-billable review entry for Jane Doe's e-mail 4001 on matter 1001."""
    base: dict[str, Any] = {
        "id": "entry-1",
        "activity_key": ("clio", "communication:4001"),
        "timekeeper_id": "345",
        "matter_id": "1001",
        "client_id": "501",
        "work_date": date(2026, 3, 30),
        "started_at": datetime(2026, 3, 30, 16, 0, tzinfo=UTC),
        "ended_at": datetime(2026, 3, 30, 16, 6, tzinfo=UTC),
        "raw_seconds": 300,
        "billed_seconds": 360,
        "rate": Decimal("350.00"),
        "amount": Decimal("35.00"),
        "billable": True,
        "narrative": "Email to Acme Corp: Draft motion",
        "kind": ActivityKind.EMAIL,
        "category_id": "77",
    }
    return TimeEntry(**(base | overrides))


def clio_vcr(*, record: bool) -> vcr.VCR:
    """vcrpy for Clio cassettes: replay only (record_mode none) unless recording was asked for."""
    return vendor_vcr(CASSETTES, record=record)


class ClioContractHarness:
    """What the shared contract suite needs from Clio's sandbox (tests/contract)."""

    callback_url = "https://billsync.example.test/hooks/clio"

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.env = make_env(deliver=self._deliver)
        self.connector = self.env.connector

    def _deliver(self, url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        lowered = {k.lower(): v for k, v in headers.items()}
        if "x-hook-secret" in lowered:  # the handshake: echo, as a live receiver does
            return 200, {"X-Hook-Secret": lowered["x-hook-secret"]}
        self.deliveries.append((lowered, body))
        return 200, {}

    def reject_credentials(self) -> None:
        """Every API call and every refresh from now on gets Clio's 401."""
        from billsync_sandboxes.clio.errors import OAuthError

        def refuse(header: str | None) -> Any:
            raise OAuthError(
                401, "invalid_token", "The access token provided is expired, revoked, malformed or invalid"
            )

        self.env.sandbox.tokens.authenticate = refuse  # type: ignore[method-assign]

    def lose_write_answers(self, *, applied: bool) -> None:
        """Creates lose their answer: after Clio stored the entry (applied) or before."""
        self.env.lose_create_answers("/api/v4/activities*", applied=applied)

    def now(self) -> datetime:
        """The sandbox clock's current time."""
        return self.env.clock.now()

    def restore(self) -> None:
        """Clear injected faults."""
        self.env.faults()

    def remote_entries_with_key(self, key: str) -> int:
        """How many entries at the vendor carry billsync's marker for `key`."""
        from connectors.clio.mapping import marker

        return sum(marker(key) in (a.get("note") or "") for a in self.env.activities())

    def sample_entry(self) -> TimeEntry:
        """A time entry the vendor accepts."""
        return time_entry()

    def make_bill(self) -> str:
        """A draft bill a person generated in Clio (on matter 1001); its id."""
        return str(self.env.sandbox.generate_bill(1001)["id"])

    def bill_memo(self, bill_id: str) -> str | None:
        """The memo printed on the bill, as Clio holds it."""
        [bill] = [b for b in self.env.sandbox.records("bills") if str(b["id"]) == bill_id]
        return bill.get("memo")

    def signed_delivery(self) -> tuple[Any, Any]:
        """A genuine delivery from the sandbox, and the subscription that verifies it."""
        from core.connector import InboundRequest

        handler = self.connector.webhooks()
        subscription = handler.ensure(self.callback_url, None)
        self.env.sandbox.update("matters", 1002, {"status": "Open"})
        self.env.sandbox.flush_webhooks()
        headers, body = self.deliveries[-1]
        return InboundRequest(headers=headers, body=body), subscription
