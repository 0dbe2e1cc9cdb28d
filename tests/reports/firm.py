"""The demo firm for report tests, built in-process on the local Clio sandbox over real HTTP.

A month of captured work; the reviewers approve most of what waits for them and reject one
entry; the billing cycle makes pre-bills; a person bills two matters in Clio (one bill issued in
full, one leaving an entry off, so its pre-bill mismatches); the bills are read back by a sync;
the client pays part of the first bill through the gateway (a stored LawPay transaction with the
invoice number as its reference, as a hosted page leaves it), and one payment names no invoice.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from billsync_sandboxes.cli.demo import DEMO_RULES
from billsync_sandboxes.cli.sandbox import connect_to_sandbox
from billsync_sandboxes.demo.data import generate_firm
from billsync_sandboxes.kit.server import build_server_app
from fastapi.testclient import TestClient

from config.billing import BillingSettings
from config.settings import BillsyncSettings, load_settings
from core.billing.cycle import run_billing_cycle
from core.billing.lifecycle import follow_bills
from core.billing.period import month
from core.http import HttpClient, RetryPolicy
from core.models import EntryState
from core.payments.models import AccountKind, Transaction
from core.plugins import DEMO_SEEDS, SANDBOXES, load
from core.server import BackgroundWork, build_app
from core.serving import run_in_thread
from core.store.billing import BillingStore
from core.store.payments import PaymentStore
from core.store.sync_state import SyncState

REVIEW_TOKEN = "review-token-for-tests-0123456789"
REPORTS = (
    DEMO_RULES
    + f"""
[firms.demo.reports]
hours_per_day = "8"
timekeeper_hours_per_day = {{ }}
review_token = "{REVIEW_TOKEN}"
"""
)
ISSUED = "2026-11-05"


class ReportFirm:
    """The demo firm with capture, review, billing and a payment behind it."""

    def __init__(
        self,
        tmp: Path,
        *,
        activities: int = 220,
        seed: int = 5,
        first_user_name: str | None = None,
        timekeepers: int = 4,
    ) -> None:
        synthetic = generate_firm(
            timekeepers=timekeepers, clients=6, matters=12, activities=activities, seed=seed,
            month_start=datetime(2026, 10, 1, tzinfo=UTC),
        )  # fmt: skip
        self.seed = load(DEMO_SEEDS, "clio")(synthetic, now=datetime(2026, 11, 1, tzinfo=UTC))
        if first_user_name is not None:  # as the firm typed it into Clio's user settings
            self.seed["users"][0]["name"] = first_user_name
        self.sandbox = load(SANDBOXES, "clio")(self.seed, rate_limit_per_minute=100_000)
        self.port, self._stop = run_in_thread(build_server_app({"clio": self.sandbox}))
        self.base = f"http://127.0.0.1:{self.port}"
        http = HttpClient(policy=RetryPolicy(attempts=6), sleep=lambda _: None, timeout=(2.0, 5.0))
        self.config = tmp / "billsync.toml"
        self.runtime = connect_to_sandbox(
            self.config, self.base, ["clio"], extra=REPORTS, http=http, retry_delay=timedelta(0)
        )
        self.settings = load_settings(self.config)
        self.store = self.runtime.store
        self.bills: list[dict[str, Any]] = []

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = requests.request(method, f"{self.base}/_sandbox/clio/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response

    def run_month(self) -> None:
        """Capture, review, bill, pay: everything the reports read."""
        self.runtime.runner.run_once()
        waiting = self.store.entries("demo", [EntryState.NEEDS_REVIEW])
        state = SyncState(self.store.engine)
        self.store.set_entry_state("demo", waiting[0].id, EntryState.REJECTED)
        for entry in waiting[1:]:
            self.store.set_entry_state("demo", entry.id, EntryState.APPROVED)
            state.enqueue_update("demo", entry.id)
        self.runtime.runner.run_once()  # approvals reach Clio: the entries become billable there

        billing = BillingSettings()
        run_billing_cycle(self.store, "demo", billing, month("2026-10"), today=lambda: date(2026, 11, 2))
        prebills = sorted(BillingStore(self.store.engine).prebills("demo"), key=lambda p: -len(p.lines))
        whole, partial = [p for p in prebills if len(p.lines) >= 2 and p.adjustments == 0][:2]
        for prebill, remote_ids in (
            (whole, [ln.remote_id for ln in whole.lines]),
            (partial, [ln.remote_id for ln in partial.lines][1:]),  # a person leaves one entry off
        ):
            generate = {
                "matter_id": int(prebill.matter_id),
                "activity_ids": remote_ids,
                "state": "awaiting_payment",
                "issued_at": ISSUED,
            }
            self.bills.append(self.admin("POST", "bills/generate", json=generate).json())
        self.runtime.runner.run_once()  # reads the bills back
        follow_bills(self.store, "demo", billing, None)

        first = next(b for b in self.store.load_bills("demo") if b.id == str(self.bills[0]["id"]))
        self.paid = (first.total / 2).quantize(Decimal("0.01"))
        created = datetime(2026, 11, 10, tzinfo=UTC)
        operating = ("acct_operating_card", AccountKind.OPERATING)
        PaymentStore(self.store.engine).save_transactions(
            "demo",
            [
                Transaction("tx-1", "charge", "completed", *operating, self.paid, created, reference=first.number),
                Transaction("tx-2", "charge", "completed", *operating, Decimal("75.00"), created, reference="nothing"),
            ],
        )

    @property
    def reader(self) -> dict[str, str]:
        """Headers that open the firm's report pages (its review token opens them too)."""
        return {"Authorization": f"Bearer {REVIEW_TOKEN}"}

    def app(self, settings: BillsyncSettings | None = None) -> TestClient:
        """The daemon's HTTP app over this firm, as a test client (the caller closes it)."""
        settings = settings or self.settings
        runtime = replace(self.runtime, settings=settings.firm("demo"))
        self.worker = BackgroundWork()
        return TestClient(build_app({"demo": runtime}, settings=settings, worker=self.worker))

    def close(self) -> None:
        if hasattr(self, "worker"):
            self.worker.close()
        self.store.close()
        self._stop()
