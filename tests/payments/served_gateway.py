"""The LawPay sandbox served over real HTTP on loopback, and workers that each have their own
database engine, HTTP client and gateway, as separate processes or replicas would.

For tests where money moves at once from several threads: the in-process test client of
tests/connectors/lawpay/harness.py is not meant to be shared by threads, a real server is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests
import structlog
from billsync_sandboxes.kit.server import build_server_app
from billsync_sandboxes.lawpay.state import TEST_SECRET_KEY, LawPaySandbox
from cryptography.fernet import Fernet
from pydantic import SecretStr

from config.payments import ClientPayments
from connectors.lawpay.connector import LawPayConnector, LawPaySettings
from core.connector import Context
from core.http import HttpClient, RetryPolicy
from core.models import RemoteBill
from core.payments.firm import FirmPayments
from core.serving import run_in_thread
from core.store.payments import PaymentStore
from core.store.store import Store
from core.tokens import TokenStore
from tests.connectors.lawpay.harness import bill, firm_clients, payments_settings, seed


@dataclass
class ServedGateway:
    """One merchant at the LawPay sandbox and one firm's database; `worker()` makes a payments worker."""

    sandbox: LawPaySandbox
    base: str
    database_url: str
    firm: str
    clients: dict[str, ClientPayments]
    _stop: Callable[[], None]

    def worker(self, *, attempts: int = 3) -> FirmPayments:
        """A worker of its own: store engine, HTTP session and gateway connector (close its store after)."""
        store = Store.open(self.database_url)
        http = HttpClient(policy=RetryPolicy(attempts=attempts, base_seconds=0.0), sleep=lambda _: None, timeout=5.0)
        ctx = Context(
            firm=self.firm,
            http=http,
            tokens=TokenStore(store.engine, Fernet(Fernet.generate_key())),
            log=structlog.get_logger(),
        )
        connector = LawPayConnector(
            LawPaySettings(
                secret_key=SecretStr(TEST_SECRET_KEY),
                base_url=f"{self.base}/lawpay",
                events_since=datetime.now(UTC) - timedelta(days=1),
            ),
            ctx,
        )
        base = payments_settings(**self.clients)
        return FirmPayments(
            firm=self.firm,
            settings=base.model_copy(update={"operating_page_url": f"{self.base}/lawpay/pages/sandbox-law/operating"}),
            gateway=connector.payments(),
            gateway_name="lawpay",
            gateway_vendor=LawPayConnector.vendor,
            store=store,
            payments=PaymentStore(store.engine),
            firm_name="Test Law",
        )

    def issue(self, *bills: RemoteBill) -> None:
        """Bills as read from the PMS, issued and awaiting payment."""
        store = Store.open(self.database_url)
        try:
            store.save_reference(self.firm, list(bills))
        finally:
            store.close()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """The sandbox's admin API (what happens at LawPay outside billsync; faults)."""
        answer = requests.request(method, f"{self.base}/_sandbox/lawpay/{path}", json=body, timeout=30)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def at_gateway(self) -> list[dict[str, Any]]:
        """Every transaction LawPay holds, as the merchant's own reports would list it."""
        return list(self.admin("GET", "transactions"))

    def cents(self, kind: str, **where: str) -> Decimal:
        """The sum of the gateway's live transactions of a kind, in dollars (voided and failed hold nothing)."""
        total = sum(
            t["amount"]
            for t in self.at_gateway()
            if t["type"] == kind
            and t["status"] not in ("VOIDED", "FAILED")
            and all(str(t.get(k) or "").startswith(v) for k, v in where.items())
        )
        return Decimal(total) / 100


def serve_gateway(database_url: str, firm: str, **clients: ClientPayments) -> Iterator[ServedGateway]:
    """A fixture body: the sandbox on a real port, stopped afterwards."""
    sandbox = LawPaySandbox(seed(), rng_seed=7)
    port, stop = run_in_thread(build_server_app({"lawpay": sandbox}))
    served = ServedGateway(sandbox, f"http://127.0.0.1:{port}", database_url, firm, dict(clients), stop)
    store = Store.open(database_url)
    store.save_reference(firm, firm_clients({"m1": "c1", **{f"m-c{n}": f"c{n}" for n in (1, 2, 3)}}))
    store.close()
    try:
        yield served
    finally:
        stop()


__all__ = ["ServedGateway", "bill", "serve_gateway"]
