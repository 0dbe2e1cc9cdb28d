"""A PracticePantherConnector wired to the in-process sandbox through a requests transport adapter.

The adapter hands each PreparedRequest to Starlette's TestClient, so the connector runs its real
code path (core.http.HttpClient, requests.Session) with no network and no real sleeps.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import structlog
from billsync_sandboxes.kit import FakeClock
from billsync_sandboxes.practicepanther.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    PracticePantherSandbox,
    create_app,
)
from pydantic import SecretStr

from connectors.practicepanther.connector import PracticePantherConnector
from connectors.practicepanther.mapping import marker
from core.connector import Context
from core.models import ActivityKind, TimeEntry
from core.tokens import OAuthToken, TokenStore
from tests.connectors.in_process import in_process_http, token_store
from tests.connectors.practicepanther.seed import HOURLY, JANE, seed
from tests.sandbox_adapter import SandboxAdapter, SandboxAdmin

if TYPE_CHECKING:  # only a field type here: tests.connectors.in_process builds the client
    from fastapi.testclient import TestClient

FIRM = "firm-pp-test"
BASE = "http://testserver"


@dataclass
class PracticePantherEnv(SandboxAdmin):
    """A sandboxed PP firm and a connector pointed at it."""

    vendor: ClassVar[str] = "practicepanther"

    sandbox: PracticePantherSandbox
    clock: FakeClock
    app: TestClient
    tokens: TokenStore
    ctx: Context
    connector: PracticePantherConnector
    adapter: SandboxAdapter
    sleeps: list[float] = field(default_factory=list)

    def requests_log(self) -> list[dict[str, Any]]:
        return [e | {"path": e["path"].removeprefix("/practicepanther")} for e in self.admin("GET", "requests")]

    def entries(self) -> list[dict[str, Any]]:
        return self.sandbox.records("timeentries")


def make_env(
    data: dict[str, Any] | None = None, *, page_size: int = 100, rate_limit: int = 10_000, connected: bool = True
) -> PracticePantherEnv:
    clock = FakeClock()
    sandbox = PracticePantherSandbox(
        copy.deepcopy(data) if data is not None else seed(), clock=clock, rng_seed=1, rate_limit=rate_limit
    )
    wired = in_process_http(create_app(sandbox), clock, BASE)
    tokens = token_store(clock.now)
    if connected:
        tokens.save(FIRM, "practicepanther", OAuthToken.from_response(sandbox.issue_token(), clock.now()))
    ctx = Context(firm=FIRM, http=wired.http, tokens=tokens, log=structlog.get_logger().bind(firm=FIRM))
    settings = PracticePantherConnector.Settings(
        client_id=DEFAULT_CLIENT_ID,
        client_secret=SecretStr(DEFAULT_CLIENT_SECRET),
        base_url=f"{BASE}/practicepanther",
        page_size=page_size,
    )
    connector = PracticePantherConnector(settings, ctx, clock=clock.now)
    return PracticePantherEnv(sandbox, clock, wired.app, tokens, ctx, connector, wired.adapter, wired.sleeps)


def time_entry(**overrides: Any) -> TimeEntry:
    """A six-minute review entry for Jane Doe on the hourly matter."""
    base: dict[str, Any] = {
        "id": "entry-1",
        "activity_key": ("practicepanther", "email:7a7a7a7a-0000-4000-8000-000000000001"),
        "timekeeper_id": JANE,
        "matter_id": HOURLY,
        "client_id": "1a1a1a1a-0000-4000-8000-000000000001",
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
    }
    return TimeEntry(**(base | overrides))


class PracticePantherContractHarness:
    """What the shared contract suite needs from PracticePanther's sandbox (tests/contract)."""

    def __init__(self) -> None:
        self.env = make_env()
        self.connector = self.env.connector

    def reject_credentials(self) -> None:
        """Every API call and every refresh from now on gets PP's 401 / invalid_grant."""
        self.env.admin("POST", "tokens/revoke")

    def lose_write_answers(self, *, applied: bool) -> None:
        """Creates lose their answer: after PP stored the entry (applied) or before."""
        self.env.lose_create_answers("/api/v2/timeentries*", applied=applied)

    def now(self) -> datetime:
        """The sandbox clock's current time."""
        return self.env.clock.now()

    def restore(self) -> None:
        """Clear injected faults."""
        self.env.faults()

    def remote_entries_with_key(self, key: str) -> int:
        """How many entries at the vendor carry billsync's marker for `key`."""
        return sum(marker(key) in (e.get("private_notes") or "") for e in self.env.entries())

    def sample_entry(self) -> TimeEntry:
        """A time entry the vendor accepts."""
        return time_entry()

    def signed_delivery(self) -> tuple[Any, Any]:
        """PracticePanther has no webhooks (docs/vendors/practicepanther.md §7)."""
        raise NotImplementedError("PracticePanther has no webhooks")
