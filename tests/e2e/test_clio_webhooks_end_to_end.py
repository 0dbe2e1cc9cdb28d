"""Webhooks end to end: the local Clio subscribes, shakes hands, signs, and rings the doorbell.

The sandbox delivers straight into billsync's receiving path (what the daemon's HTTP endpoint
calls), so the handshake, the signature check, deduplication and the re-poll are all real.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from billsync_sandboxes.cli.sandbox import write_sandbox_config
from billsync_sandboxes.clio.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, ClioSandbox
from billsync_sandboxes.demo.data import generate_firm
from billsync_sandboxes.kit.server import build_server_app
from sqlalchemy import select

from config.settings import load_settings
from core.cli.vendors import connect_account
from core.connector import InboundRequest
from core.errors import InvalidSignature
from core.http import HttpClient, RetryPolicy
from core.plugins import DEMO_SEEDS, load
from core.runtime import build_runtime
from core.serving import run_in_thread
from core.store.schema import webhook_subscriptions
from core.store.store import Store
from core.sync import SyncReport
from tests.clio_calls import logged_call

pytestmark = pytest.mark.e2e
CALLBACK = "http://127.0.0.1:9/hooks/clio/demo"  # never dialled: the sandbox delivers in-process


def test_subscribe_handshake_signed_delivery_dedupe_and_repoll(tmp_path: Path) -> None:
    synthetic = generate_firm(timekeepers=4, clients=6, matters=10, activities=60, seed=5)
    seed = load(DEMO_SEEDS, "clio")(synthetic, now=datetime(2026, 11, 1, tzinfo=UTC))
    runner_box: dict[str, object] = {}
    delivered: list[tuple[dict[str, str], bytes, list[str]]] = []
    refused: list[str] = []

    def deliver(url: str, headers, body: bytes):
        request = InboundRequest(headers={k.lower(): v for k, v in headers.items()}, body=body)
        try:
            result, streams = runner_box["runner"].receive_webhook(request)  # type: ignore[attr-defined]
        except InvalidSignature as exc:
            refused.append(str(exc))
            return 401
        delivered.append((dict(headers), body, streams))
        return result.reply_status, dict(result.reply_headers)

    sandbox = ClioSandbox(
        seed,
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        rate_limit_per_minute=100_000,
        deliver=deliver,
        allow_http_webhooks=True,
    )
    port, stop = run_in_thread(build_server_app({"clio": sandbox}))
    base = f"http://127.0.0.1:{port}"
    try:
        config = tmp_path / "billsync.toml"
        write_sandbox_config(config, base, ["clio"])
        settings = load_settings(config)
        store = Store.open(settings.database_url)
        http = HttpClient(policy=RetryPolicy(attempts=3), sleep=lambda _: None)
        runtime = build_runtime(settings, "demo", store, http=http, retry_delay=timedelta(0))
        runner_box["runner"] = runtime.runner
        connect_account(runtime, auto_approve=True)
        runtime.runner.run_once()
        entries_before = len(store.entries("demo"))

        subscription = runtime.runner.ensure_webhooks(CALLBACK)
        assert subscription is not None and subscription.secret
        assert subscription.expires_at - datetime.now(UTC) <= timedelta(days=31)
        hooks = requests.get(f"{base}/_sandbox/clio/webhooks", timeout=10).json()
        assert hooks and all(h["status"] == "enabled" for h in hooks), hooks  # handshakes answered
        with store.engine.connect() as conn:
            stored = conn.execute(select(webhook_subscriptions.c.secret_ciphertext)).scalar_one()
        assert subscription.secret not in stored  # the signing secret is encrypted at rest

        # A person logs a call in Clio: Clio rings the doorbell, billsync re-polls.
        call = logged_call(seed, "settlement position", body="privileged")
        requests.post(f"{base}/_sandbox/clio/communications", json=call, timeout=10).raise_for_status()
        # The sandbox delivers after answering, as Clio does: wait (bounded) for the doorbell.
        deadline = time.monotonic() + 5
        while not any(d[2] for d in delivered) and time.monotonic() < deadline:
            time.sleep(0.02)
        rung = [d for d in delivered if d[2]]
        assert refused == []
        assert rung and "communications" in rung[-1][2]
        runtime.runner.poll(SyncReport(), only_streams=rung[-1][2])
        assert len(store.entries("demo")) == entries_before + 1

        # The same delivery again (Clio retries) asks for nothing; a forged one is refused.
        headers, body, _ = rung[-1]
        again = InboundRequest(headers={k.lower(): v for k, v in headers.items()}, body=body)
        assert runtime.runner.receive_webhook(again)[1] == []
        forged = InboundRequest(headers={**again.headers, "x-hook-signature": "0" * 64}, body=body)
        with pytest.raises(InvalidSignature):
            runtime.runner.receive_webhook(forged)
        tampered = InboundRequest(headers=again.headers, body=body.replace(b"created", b"deleted"))
        assert tampered.body != body
        with pytest.raises(InvalidSignature):
            runtime.runner.receive_webhook(tampered)
        store.close()
    finally:
        stop()
