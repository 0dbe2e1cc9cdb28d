"""A LawPay firm for tests: the in-process sandbox, the real connector over a requests adapter, a
migrated store and the firm's payments wired together. No network and no real sleeps.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
import structlog
from billsync_sandboxes.kit import FakeClock
from billsync_sandboxes.lawpay.seed import OPERATING_BANK, OPERATING_CARD, TRUST_BANK, TRUST_CARD
from billsync_sandboxes.lawpay.state import PUBLIC_KEY, TEST_SECRET_KEY, LawPaySandbox, create_app
from cryptography.fernet import Fernet
from pydantic import SecretStr

from config.payments import ClientPayments, PaymentsSettings
from connectors.lawpay.connector import LawPayConnector, LawPaySettings
from core.connector import Context
from core.http import HttpClient, RateLimiter, RetryPolicy
from core.models import BillState, Client, Matter, RemoteBill
from core.payments.firm import FirmPayments
from core.store.payments import PaymentStore
from core.store.store import Store
from core.tokens import TokenStore
from tests.sandbox_adapter import SandboxAdapter, SandboxAdmin

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

FIRM = "firm-lawpay-test"
BASE = "http://testserver"
PAGES = f"{BASE}/lawpay/pages/sandbox-law"
GOOD_CARD = "4242424242424242"
START = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def seed() -> dict[str, Any]:
    """A merchant with operating and trust accounts (card and eCheck), two pages and saved cards."""
    from billsync_sandboxes.lawpay.seed import _account

    accounts = [
        _account(OPERATING_CARD, "Operating (card)", trust=False, method="card", primary=True),
        _account(OPERATING_BANK, "Operating (eCheck)", trust=False, method="bank", primary=True),
        _account(TRUST_CARD, "IOLTA (card)", trust=True, method="card", primary=False),
        _account(TRUST_BANK, "IOLTA (eCheck)", trust=True, method="bank", primary=False),
        _account("live_operating", "Operating (card)", trust=False, method="card", primary=True, mode="live"),
    ]
    pages = [
        {"slug": "operating", "card_account_id": OPERATING_CARD, "bank_account_id": OPERATING_BANK, "mode": "test"},
        {"slug": "trust", "card_account_id": TRUST_CARD, "bank_account_id": TRUST_BANK, "mode": "test"},
    ]
    card = {"type": "card", "exp_month": 12, "exp_year": 2029, "name": "Pat Client", "mode": "test"}
    methods = [
        {**card, "id": "card_good", "number": GOOD_CARD},
        {**card, "id": "card_declines", "number": "4000000000000002"},
        {**card, "id": "card_expires_soon", "number": "5105105105105100", "exp_month": 1, "exp_year": 2027},
    ]
    merchant = {"id": "m-1", "name": "Test Law", "slug": "sandbox-law"}
    return {"merchant": merchant, "accounts": accounts, "pages": pages, "saved_methods": methods}


def payments_settings(**clients: ClientPayments) -> PaymentsSettings:
    """The firm's payments section for the sandbox merchant."""
    return PaymentsSettings(
        operating_account=OPERATING_CARD,
        trust_account=TRUST_CARD,
        operating_bank_account=OPERATING_BANK,
        trust_bank_account=TRUST_BANK,
        operating_page_url=f"{PAGES}/operating",
        trust_page_url=f"{PAGES}/trust",
        delivery="email",
        clients=clients,
    )


@dataclass
class LawPayEnv(SandboxAdmin):
    """A sandboxed merchant, the connector pointed at it and the firm's payments."""

    vendor: ClassVar[str] = "lawpay"

    sandbox: LawPaySandbox
    clock: FakeClock
    app: TestClient
    connector: LawPayConnector
    adapter: SandboxAdapter
    store: Store
    fp: FirmPayments
    log_lines: list[str] = field(default_factory=list)

    def gateway_charges(self) -> list[dict[str, Any]]:
        return [t for t in self.admin("GET", "transactions") if t["type"] == "CHARGE"]

    def pay_link(self, url: str, card: str = GOOD_CARD, **fields: str) -> dict[str, Any]:
        """What a client does: open the link and submit the page with a card."""
        parts = urlsplit(url)
        page = self.app.get(f"{parts.path}?{parts.query}")
        assert page.status_code == 200, page.text
        form = {"number": card, "exp_month": "12", "exp_year": "2030", "name": "Pat Client", **fields}
        paid = self.app.post(f"{parts.path}?{parts.query}", data=form, headers={"accept": "application/json"})
        assert paid.status_code == 200, paid.text
        return dict(paid.json())

    def token(self, card: str = GOOD_CARD) -> str:
        """A one-time token, as Hosted Fields would make in the browser."""
        answer = self.app.post(
            "/lawpay/v1/tokens",
            json={"public_key": PUBLIC_KEY, "type": "card", "number": card, "exp_month": 12, "exp_year": 2030},
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["id"])

    def settle(self) -> None:
        """The gateway's daily capture, then a second so search has indexed everything."""
        self.admin("POST", "capture")
        self.clock.advance(2)


def firm_clients(matters: dict[str, str] | None = None) -> list[Client | Matter]:
    """The clients and matters as read from the PMS (matter id -> client id); trust is held only for them."""
    owned = matters or {"m1": "c1", "m2": "c2", "m3": "c3"}
    clients = [Client(id=c, name=f"Client {c}") for c in sorted(set(owned.values()))]
    return [*clients, *(Matter(id=m, client_id=c, number=m.upper(), updated_at=START) for m, c in owned.items())]


def bill(
    number: str,
    total: str,
    *,
    client_id: str = "c1",
    matter_id: str = "m1",
    state: BillState = BillState.AWAITING_PAYMENT,
    bill_id: str | None = None,
) -> RemoteBill:
    """An issued invoice as read from the PMS."""
    amount = Decimal(total)
    return RemoteBill(
        id=bill_id or f"b-{number}",
        number=number,
        client_id=client_id,
        matter_ids=(matter_id,),
        state=state,
        issued_on=date(2026, 11, 1),
        due_on=date(2026, 12, 1),
        subtotal=amount,
        total=amount,
        outstanding=amount,
        updated_at=START,
    )


def make_env(
    tmp_path: Path,
    *,
    settings: PaymentsSettings | None = None,
    secret: str = TEST_SECRET_KEY,
    data: dict[str, Any] | None = None,
) -> LawPayEnv:
    clock = FakeClock(START)
    sandbox = LawPaySandbox(data or seed(), clock=clock, rng_seed=1)
    app = TestClient(create_app(sandbox), base_url=BASE)
    session = requests.Session()
    adapter = SandboxAdapter(app)
    session.mount(BASE, adapter)
    http = HttpClient(
        session=session,
        policy=RetryPolicy(attempts=3, base_seconds=0.0),
        limiter=RateLimiter(),
        sleep=clock.sleep,
        clock=lambda: clock.now().timestamp(),
    )
    store = Store.open(f"sqlite:///{tmp_path / 'billsync.db'}")
    store.save_reference(FIRM, firm_clients())
    log_lines: list[str] = []
    logger = structlog.wrap_logger(
        structlog.PrintLogger(file=_Lines(log_lines)),
        processors=[structlog.processors.JSONRenderer()],
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    ctx = Context(firm=FIRM, http=http, tokens=TokenStore(store.engine, Fernet(Fernet.generate_key())), log=logger)
    connector = LawPayConnector(
        LawPaySettings(secret_key=SecretStr(secret), base_url=f"{BASE}/lawpay", events_since=START - timedelta(days=1)),
        ctx,
    )
    fp = FirmPayments(
        firm=FIRM,
        settings=settings or payments_settings(),
        gateway=connector.payments(),
        gateway_name="lawpay",
        gateway_vendor=LawPayConnector.vendor,
        store=store,
        payments=PaymentStore(store.engine, clock=clock.now),
        firm_name="Test Law",
        log=logger,
        clock=clock.now,
    )
    return LawPayEnv(sandbox, clock, app, connector, adapter, store, fp, log_lines)


class LawPayGatewayHarness:
    """What the payment gateway contract suite needs from LawPay's sandbox (tests/contract)."""

    charging_method = "card_good"  # a saved card the gateway charges
    declining_method = "card_declines"  # a saved card the gateway always declines

    def __init__(self, tmp_path: Path) -> None:
        self.env = make_env(tmp_path)
        self.connector = self.env.connector
        self.gateway = self.connector.payments()

    def lose_charge_answers(self, *, applied: bool) -> None:
        """Charges lose their answer: after LawPay made the charge (applied) or before it saw the request."""
        kind = "truncate" if applied else "reset"
        self.env.faults({"route": "/lawpay/v1/charges", "methods": ["POST"], "kind": kind})

    def restore(self) -> None:
        """Clear injected faults."""
        self.env.faults()

    def catch_up(self) -> None:
        """Let time pass: LawPay's search indexes a transaction about a second late (docs/vendors/lawpay.md §10)."""
        self.env.clock.advance(2)

    def charges_with_reference(self, reference: str) -> int:
        """How many charges the gateway holds under `reference`."""
        return sum(1 for t in self.env.gateway_charges() if t.get("reference") == reference)

    def close(self) -> None:
        """Release the store."""
        self.env.store.close()


class _Lines:
    """A file-like sink keeping each log line (for the secret canary)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def write(self, text: str) -> None:
        self.lines.append(text)

    def flush(self) -> None:
        """Nothing buffered."""
