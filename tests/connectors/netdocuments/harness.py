"""A NetDocumentsConnector wired to the in-process sandbox through a requests transport adapter.

The adapter (shared with PracticePanther's tests) hands each PreparedRequest to Starlette's
TestClient, so the connector runs its real code path (core.http.HttpClient, requests.Session)
with no network and no real sleeps. Time is the sandbox's FakeClock for both sides.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import requests
import structlog
import vcr
from billsync_sandboxes.kit import FakeClock
from billsync_sandboxes.netdocuments.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REPOSITORY,
    NetDocumentsSandbox,
    create_app,
)
from pydantic import SecretStr

from connectors.netdocuments.connector import NetDocumentsConnector
from core.connector import Context
from core.tokens import TokenStore
from tests.connectors.in_process import in_process_http
from tests.connectors.in_process import token_store as in_memory_token_store
from tests.connectors.netdocuments.seed import seed
from tests.sandbox_adapter import SandboxAdapter, SandboxAdmin

if TYPE_CHECKING:  # only a field type here: tests.connectors.in_process builds the client
    from fastapi.testclient import TestClient

FIRM = "firm-nd-test"
BASE = "http://testserver"
CASSETTES = Path(__file__).parent / "cassettes"
RECORD_ENV = "BILLSYNC_RECORD_ND_CASSETTES"  # 1: record missing cassettes against a live sandbox
LIVE_PORT = 8766
SECRET_FIELDS = frozenset({"access_token", "refresh_token", "client_secret", "code"})


@dataclass
class NetDocumentsEnv(SandboxAdmin):
    """A sandboxed NetDocuments repository and a connector pointed at it."""

    vendor: ClassVar[str] = "netdocuments"

    sandbox: NetDocumentsSandbox
    clock: FakeClock
    app: TestClient
    tokens: TokenStore
    ctx: Context
    connector: NetDocumentsConnector
    adapter: SandboxAdapter
    sleeps: list[float] = field(default_factory=list)

    def requests_log(self) -> list[dict[str, Any]]:
        return self.admin("GET", "requests")

    def token_requests(self) -> list[requests.PreparedRequest]:
        return [r for r in self.adapter.sent if str(r.url).endswith("/v1/OAuth")]


def make_env(
    data: dict[str, Any] | None = None, *, rate_limit: int = 10_000, log_row_cap: int = 500, **settings: Any
) -> NetDocumentsEnv:
    clock = FakeClock()
    sandbox = NetDocumentsSandbox(
        copy.deepcopy(data) if data is not None else seed(),
        clock=clock,
        rng_seed=1,
        rate_limit=rate_limit,
        log_row_cap=log_row_cap,
    )
    wired = in_process_http(create_app(sandbox), clock, BASE)
    tokens = token_store(clock)
    ctx = Context(firm=FIRM, http=wired.http, tokens=tokens, log=structlog.get_logger().bind(firm=FIRM))
    connector = NetDocumentsConnector(
        NetDocumentsConnector.Settings(**connector_settings(f"{BASE}/netdocuments", **settings)), ctx, clock=clock.now
    )
    return NetDocumentsEnv(sandbox, clock, wired.app, tokens, ctx, connector, wired.adapter, wired.sleeps)


def connector_settings(base_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": SecretStr(DEFAULT_CLIENT_SECRET),
        "repository_id": DEFAULT_REPOSITORY,
        "base_url": base_url,
    } | overrides


def token_store(clock: FakeClock) -> TokenStore:
    return in_memory_token_store(clock.now)


# -- cassettes ---------------------------------------------------------------------------------


def _scrub(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: ("REDACTED" if k in SECRET_FIELDS else _scrub(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_scrub(item) for item in node]
    return node


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """Drop cookies and replace token values in JSON bodies (a log body keeps its BOM)."""
    response["headers"] = {k: v for k, v in response["headers"].items() if k.lower() not in ("set-cookie", "cookie")}
    raw = response["body"].get("string")
    if raw:
        try:
            decoded = json.loads(raw)
        except ValueError:
            return response  # the BOM makes a log body unreadable to json: it holds no secret
        if isinstance(decoded, dict):
            response["body"]["string"] = json.dumps(_scrub(decoded)).encode()
    return response


def netdocuments_vcr(*, record: bool) -> vcr.VCR:
    """vcrpy for NetDocuments cassettes: replay only (record_mode none) unless recording was asked for."""
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="once" if record else "none",
        filter_headers=[("authorization", "REDACTED"), ("cookie", None)],
        filter_post_data_parameters=[
            ("client_secret", "REDACTED"),
            ("refresh_token", "REDACTED"),
            ("code", "REDACTED"),
        ],
        before_record_response=scrub_response,
        decode_compressed_response=True,
        match_on=["method", "scheme", "host", "port", "path", "query"],
    )


class NetDocumentsContractHarness:
    """What the shared contract suite needs from NetDocuments' sandbox (tests/contract)."""

    def __init__(self) -> None:
        self.env = make_env()
        self.connector = self.env.connector

    def reject_credentials(self) -> None:
        """The app's secret is rotated at NetDocuments and every token revoked: nothing gets in."""
        with self.env.sandbox.lock:
            self.env.sandbox.client_secret = "rotated-by-the-administrator"
            self.env.sandbox.tokens.revoke_all()

    def lose_write_answers(self, *, applied: bool) -> None:
        raise NotImplementedError("NetDocuments is an activity source: billsync writes nothing there")

    def now(self) -> datetime:
        """The sandbox clock's current time."""
        return self.env.clock.now()

    def restore(self) -> None:
        """Clear injected faults."""
        self.env.faults()

    def remote_entries_with_key(self, key: str) -> int:
        raise NotImplementedError("NetDocuments is an activity source: billsync writes nothing there")

    def sample_entry(self) -> Any:
        raise NotImplementedError("NetDocuments is an activity source: billsync writes nothing there")

    def signed_delivery(self) -> tuple[Any, Any]:
        raise NotImplementedError("NetDocuments has no webhooks (docs/vendors/netdocuments.md §9)")
