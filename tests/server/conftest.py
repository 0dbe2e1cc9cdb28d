"""A small firm on the local Clio sandbox, with billsync's HTTP server in front of it on loopback."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from billsync_sandboxes.cli.sandbox import write_sandbox_config
from billsync_sandboxes.demo.data import generate_firm
from billsync_sandboxes.kit.server import build_server_app
from pydantic import SecretStr

from config.settings import BillsyncSettings, load_settings
from core.cli.vendors import connect_account
from core.http import HttpClient, RetryPolicy
from core.plugins import DEMO_SEEDS, SANDBOXES, load
from core.runtime import FirmRuntime, build_runtime
from core.server import BackgroundWork, build_app
from core.server.signing import sign
from core.serving import run_in_thread
from core.store.store import Store
from tests.clio_calls import logged_call

INGEST_KEY = bytes(range(32))
INGEST_SECRET = "whsec_" + base64.b64encode(INGEST_KEY).decode()


def with_ingest_secret(settings: BillsyncSettings, firm: str, secret: str | None) -> BillsyncSettings:
    """The same settings with the firm's ingest secret set (or removed)."""
    firm_settings = settings.firms[firm].model_copy(
        update={"ingest_secret": SecretStr(secret) if secret is not None else None}
    )
    return settings.model_copy(update={"firms": {**settings.firms, firm: firm_settings}})


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `condition` every few milliseconds until it holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class ServedFirm:
    """A Clio sandbox firm, synced once, with the billsync app served on 127.0.0.1 and subscribed."""

    def __init__(self, tmp: Path, activities: int = 30) -> None:
        synthetic = generate_firm(
            timekeepers=3,
            clients=4,
            matters=6,
            activities=activities,
            seed=11,
            month_start=datetime(2026, 10, 1, tzinfo=UTC),
        )
        self.seed = load(DEMO_SEEDS, "clio")(synthetic, now=datetime(2026, 11, 1, tzinfo=UTC))
        self.sandbox = load(SANDBOXES, "clio")(self.seed, rate_limit_per_minute=100_000)
        self.sandbox_port, self._stop_sandbox = run_in_thread(build_server_app({"clio": self.sandbox}))
        self.sandbox_base = f"http://127.0.0.1:{self.sandbox_port}"
        config = tmp / "billsync.toml"
        write_sandbox_config(config, self.sandbox_base, ["clio"])
        self.settings = with_ingest_secret(load_settings(config), "demo", INGEST_SECRET)
        self.store = Store.open(self.settings.database_url)
        http = HttpClient(policy=RetryPolicy(attempts=3), sleep=lambda _: None, timeout=(2.0, 5.0))
        self.runtime: FirmRuntime = build_runtime(
            self.settings, "demo", self.store, http=http, retry_delay=timedelta(0)
        )
        connect_account(self.runtime, auto_approve=True)
        self.runtime.runner.run_once()
        self.worker = BackgroundWork()
        self.app = build_app({"demo": self.runtime}, settings=self.settings, worker=self.worker)
        self.port, self._stop_app = run_in_thread(self.app)
        self.base = f"http://127.0.0.1:{self.port}"
        self.callback = f"{self.base}/hooks/clio/demo"
        self.session = requests.Session()

    def subscribe(self) -> None:
        """Create the Clio webhooks pointing at the served app (the sandbox shakes hands with it)."""
        assert self.runtime.runner.ensure_webhooks(self.callback) is not None
        # The handshake is delivered after the create answer: wait (bounded) until all are answered.
        assert wait_for(lambda: all(h["status"] == "enabled" for h in self.admin("GET", "webhooks").json()))

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = self.session.request(method, f"{self.sandbox_base}/_sandbox/clio/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(f"{self.base}{path}", timeout=10, **kwargs)

    def get(self, path: str) -> requests.Response:
        return self.session.get(f"{self.base}{path}", timeout=10)

    def metrics(self) -> str:
        """The app's metrics as `/metrics` exposes them (on a listener of its own in `billsync run`)."""
        text: str = self.app.state.metrics.render().decode()
        return text

    def log_call(self, subject: str) -> None:
        """A person logs a phone call in Clio (the sandbox then rings billsync's doorbell)."""
        self.admin("POST", "communications", json=logged_call(self.seed, subject, body="privileged"))

    def clio_secret(self, webhook_id: int) -> str:
        subscription = self.runtime.tokens.subscription("demo", "clio")
        assert subscription is not None
        return str(json.loads(subscription.secret)[str(webhook_id)])

    def close(self) -> None:
        self.session.close()
        self._stop_app()
        self.worker.close()
        self.store.close()
        self._stop_sandbox()


def signed_ingest(payload: Any, *, msg_id: str, timestamp: int | None = None, key: bytes = INGEST_KEY) -> dict:
    """requests kwargs for a Standard Webhooks-signed ingest POST."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    stamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(key, msg_id, stamp, body),
    }
    return {"data": body, "headers": headers}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedFirm]:
    firm = ServedFirm(tmp_path)
    yield firm
    firm.close()
