"""A call first seen through a webhook, before any full poll, still becomes an entry.

Found by the reliability suite (the stateful test) and fixed in SyncRunner.poll: a re-poll of
only the streams a webhook names used to capture activity against reference data not yet read,
storing it as "not a timekeeper" for good. This keeps that fixed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from config.settings import FirmSettings
from core.capture import engine_for
from core.connector import InboundRequest
from core.policy import CapturePolicy
from core.store.store import Store
from core.sync import SyncReport, SyncRunner
from core.tokens import TokenStore
from tests.connectors.clio.harness import FIRM, make_env

pytestmark = pytest.mark.reliability


def test_a_call_first_seen_through_a_webhook_before_any_full_poll_still_becomes_an_entry() -> None:
    deliveries: list[tuple[dict[str, str], bytes]] = []

    def deliver(_url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        lowered = {k.lower(): v for k, v in headers.items()}
        if "x-hook-secret" in lowered:
            return 200, {"X-Hook-Secret": lowered["x-hook-secret"]}
        deliveries.append((lowered, body))
        return 200, {}

    env = make_env(deliver=deliver)
    tmp = Path(tempfile.mkdtemp(prefix="billsync-known-"))
    store = Store.open(f"sqlite:///{tmp / 'state.db'}")
    try:
        firm = FirmSettings(name="Known LLP", capture=CapturePolicy(enabled=True))
        runner = SyncRunner(
            firm=FIRM,
            pms=env.connector,
            store=store,
            make_engine=lambda: engine_for(FIRM, firm, store),
            clock=env.clock.now,
            retry_delay=timedelta(0),
            tokens=TokenStore(store.engine, Fernet(Fernet.generate_key()), clock=env.clock.now),
        )
        assert runner.ensure_webhooks("https://billsync.example.test/hooks/clio/firm") is not None
        deliveries.clear()
        env.admin(
            "POST",
            "communications",
            {
                "id": 900001,
                "type": "PhoneCommunication",
                "subject": "call",
                "date": "2026-03-30",
                "received_at": "2026-03-30T10:00:00+00:00",
                "user": {"id": 345},  # Jane Doe: a timekeeper in Clio all along
                "matter": {"id": 1001},
                "senders": [],
                "receivers": [],
            },
        )
        env.sandbox.flush_webhooks()
        for headers, body in deliveries:
            _, streams = runner.receive_webhook(InboundRequest(headers=headers, body=body))
            runner.poll(SyncReport(), only_streams=streams)  # what the server's background re-poll does
        runner.run_once()  # the scheduled full poll: users and matters are read now
        keys = {e.activity_key for e in store.entries(FIRM)}
        assert ("clio", "communication:900001") in keys
    finally:
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)
