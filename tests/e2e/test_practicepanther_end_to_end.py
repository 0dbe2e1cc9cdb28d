"""End to end against the local PracticePanther: a real HTTP server, the real connector, the real store.

Each test runs whole sync cycles the way `billsync sync --once` does and checks what a firm
would check in PracticePanther afterwards.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from billsync_sandboxes.practicepanther.seed import practicepanther_seed

from core.cli.vendors import connect_to_sandbox
from core.demo_data import generate_firm
from core.http import HttpClient, RetryPolicy
from core.models import EntryState
from core.plugins import SANDBOXES, load
from core.runtime import FirmRuntime
from core.sandbox.server import build_server_app
from core.serving import run_in_thread
from core.store.sync_state import PENDING, SENDING
from tests.store_reads import stored_payments

CANARY = "CANARY-e2e-privileged-pp-5127"
VENDOR = "practicepanther"
pytestmark = pytest.mark.e2e


class Firm:
    """A small firm on its own sandbox, with billsync configured against it."""

    def __init__(self, tmp: Path, activities: int = 150) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        synthetic = generate_firm(
            timekeepers=5,
            clients=8,
            matters=16,
            activities=activities,
            seed=11,
            month_start=datetime(2026, 10, 1, tzinfo=UTC),
            body=f"Client admitted: {CANARY}",
        )
        # Until the billsync.demo_seeds entry point exists: load(DEMO_SEEDS, VENDOR).
        seed = practicepanther_seed(synthetic, now=datetime(2026, 11, 1, tzinfo=UTC))
        self.default_rates = {tk.name: float(tk.default_rate) for tk in synthetic.timekeepers}
        self.sandbox = load(SANDBOXES, VENDOR)(seed, rate_limit_per_minute=100_000)
        self.port, self._stop = run_in_thread(build_server_app({VENDOR: self.sandbox}))
        self.base = f"http://127.0.0.1:{self.port}"
        # No real sleeping in tests: backoff waits are skipped, bounded attempts stay.
        http = HttpClient(policy=RetryPolicy(attempts=6), sleep=lambda _: None, timeout=(2.0, 5.0))
        self.runtime: FirmRuntime = connect_to_sandbox(
            tmp / "billsync.toml", self.base, [VENDOR], http=http, retry_delay=timedelta(0)
        )
        self.store = self.runtime.store

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        response = requests.request(method, f"{self.base}/_sandbox/{VENDOR}/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response

    def remote_time_entries(self) -> list[dict]:
        """Time entries in PracticePanther that billsync wrote (its marker is in the private notes)."""
        return [e for e in self.admin("GET", "timeentries").json() if "[bs:" in (e.get("private_notes") or "")]

    def sync_until_settled(self, cycles: int = 30) -> None:
        for _ in range(cycles):
            try:
                self.runtime.runner.run_once()
            except Exception:  # a cycle may fail on injected faults; the next one resumes
                continue
            if not any(status in (PENDING, SENDING) for status in self.runtime.runner.state.counts("demo")):
                return
        raise AssertionError(f"outbox did not drain: {self.runtime.runner.state.counts('demo')}")

    def close(self) -> None:
        self.store.close()
        self._stop()


@pytest.fixture
def firm(tmp_path) -> Iterator[Firm]:
    f = Firm(tmp_path)
    yield f
    f.close()


def snapshot(f: Firm) -> Counter:
    """What a person checks: which activities have entries, with what time and words, in which state."""
    return Counter((e.activity_key, e.billed_seconds, e.narrative, e.state) for e in f.store.entries("demo"))


def test_a_second_sync_creates_nothing(firm: Firm) -> None:
    first = firm.runtime.runner.run_once()
    assert first.written > 20 and first.ok
    written = len(firm.remote_time_entries())
    assert written == first.written
    second = firm.runtime.runner.run_once()
    assert sum(second.capture.states.values()) == 0 and second.written == 0
    assert len(firm.remote_time_entries()) == written


def test_each_remote_entry_is_linked_to_one_activity(firm: Firm) -> None:
    firm.runtime.runner.run_once()
    entries = firm.store.entries("demo")
    remote_ids = [e.remote_id for e in entries if e.remote_id]
    assert len(remote_ids) == len(set(remote_ids)) == len(firm.remote_time_entries())
    assert all(e["is_billable"] is False for e in firm.remote_time_entries())  # review = all: non-billable


def test_entries_take_practicepanthers_default_rate_for_the_user(firm: Firm) -> None:
    # PP exposes no user rates, so billsync leaves the rate blank and PP applies its default
    # (before the fix every entry was written at an explicit $0).
    firm.runtime.runner.run_once()
    remote = firm.remote_time_entries()
    assert remote
    assert all(e["rate"] == firm.default_rates[e["billed_by_user_ref"]["display_name"]] > 0 for e in remote)


def test_a_deleted_entry_is_never_recreated_by_sync_or_backfill(firm: Firm) -> None:
    firm.runtime.runner.run_once()
    victim = firm.store.entries("demo")[0]
    firm.admin("DELETE", f"timeentries/{victim.remote_id}")
    firm.runtime.runner.run_once()
    assert {e.id: e for e in firm.store.entries("demo")}[victim.id].state is EntryState.DELETED_REMOTELY
    before = len(firm.remote_time_entries())
    # A backfill reads all past activity again; then another ordinary sync.
    for stream in firm.runtime.runner.pms.streams():
        firm.runtime.runner.state.save_cursor("demo", VENDOR, stream.name, None)
    firm.runtime.runner.run_once()
    assert len(firm.remote_time_entries()) == before
    assert {e.id: e for e in firm.store.entries("demo")}[victim.id].state is EntryState.DELETED_REMOTELY


def test_thirty_percent_faults_give_the_same_final_state_as_none(tmp_path: Path) -> None:
    clean = Firm(tmp_path / "clean")
    try:
        clean.sync_until_settled()
        expected, expected_remote = snapshot(clean), len(clean.remote_time_entries())
    finally:
        clean.close()
    faulty = Firm(tmp_path / "faulty")
    try:
        rules = [
            {"route": "/api/v2/*", "kind": kind, "probability": 0.05, "delay_seconds": 0.05, "retry_after": 0}
            for kind in ("429", "500", "502", "timeout", "reset", "truncate")
        ]  # six kinds at 5 % each: 30 % of API requests fail
        faulty.admin("POST", "faults", json={"rules": rules, "seed": 7})
        faulty.sync_until_settled(cycles=60)
        log = faulty.admin("GET", "requests").json()
        faults = Counter(r["fault"] for r in log if r.get("fault"))
        assert sum(faults.values()) >= 0.2 * len(log) and len(faults) == 6, faults  # every kind, about 30 %
        faulty.admin("DELETE", "faults")
        faulty.sync_until_settled()
        assert snapshot(faulty) == expected
        remote = faulty.remote_time_entries()
        markers = Counter(e["private_notes"].rsplit("[bs:", 1)[1] for e in remote)
        assert len(remote) == expected_remote and max(markers.values()) == 1  # one remote entry per activity
    finally:
        faulty.close()


def test_message_bodies_never_reach_practicepanther_or_the_store(firm: Firm) -> None:
    firm.runtime.runner.run_once()
    written = firm.remote_time_entries()
    assert written
    assert all(CANARY not in repr(e) for e in firm.admin("GET", "timeentries").json())
    for _table, rows in firm.store.iter_tables():
        for row in rows:
            assert CANARY not in repr(row)


def test_invoices_and_payments_made_in_practicepanther_are_read_for_the_ledger(firm: Firm) -> None:
    from decimal import Decimal

    from core.models import BillState, PaymentAccount

    firm.runtime.runner.run_once()
    # An attorney approves some entries in PP (makes them billable); billing staff invoice the matter.
    entry = next(e for e in firm.store.entries("demo") if e.remote_id)
    approved = [e for e in firm.store.entries("demo") if e.remote_id and e.matter_id == entry.matter_id]
    for e in approved:
        firm.admin("PATCH", f"timeentries/{e.remote_id}", json={"is_billable": True})
    invoice = firm.admin("POST", "actions/generate_invoice", json={"matter_id": entry.matter_id}).json()
    total = Decimal(str(invoice["total"]))
    firm.admin("POST", "actions/record_payment", json={"account_id": entry.client_id, "amount": "100.00"})
    firm.admin(
        "POST",
        "actions/record_payment",
        json={"account_id": entry.client_id, "amount": "2500.00", "bank_account_type": "Trust"},
    )
    report = firm.runtime.runner.run_once()
    assert report.records_read["invoices"] == 1 and report.records_read["payments"] == 2
    [bill] = firm.store.load_bills("demo")
    assert bill.total == total > 0 and bill.state is BillState.AWAITING_PAYMENT
    assert (bill.paid, bill.outstanding) == (Decimal("100.00"), total - Decimal("100.00"))
    assert sum(line.amount for line in bill.lines) == bill.total
    by_account = {p.account: p for p in stored_payments(firm.store, "demo")}
    assert by_account[PaymentAccount.TRUST].unapplied == Decimal("2500.00")  # client money, not applied
    assert by_account[PaymentAccount.OPERATING].unapplied == Decimal("0.00")
    # The invoiced entries came back as billed, and billsync never changes them again.
    states = {e.id: e.state for e in firm.store.entries("demo")}
    assert {states[e.id] for e in approved} == {EntryState.BILLED}
