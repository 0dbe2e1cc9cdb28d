"""End to end against the local PracticePanther: a real HTTP server, the real connector, the real store.

Each test runs whole sync cycles the way `billsync sync --once` does and checks what a firm
would check in PracticePanther afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from billsync_sandboxes.demo.data import SyntheticFirm
from billsync_sandboxes.practicepanther.seed import practicepanther_seed

from core.models import EntryState
from tests.e2e.pms_firm import (
    PmsFirm,
    check_a_deleted_entry_is_never_recreated,
    check_a_second_sync_creates_nothing,
    check_each_remote_entry_is_linked_to_one_activity,
    check_faults_give_the_same_final_state_as_none,
    check_no_canary_in_the_store,
)
from tests.store_reads import stored_payments

CANARY = "CANARY-e2e-privileged-pp-5127"
VENDOR = "practicepanther"
pytestmark = pytest.mark.e2e


class Firm(PmsFirm):
    """A small firm on its own PracticePanther sandbox, with billsync configured against it."""

    vendor = VENDOR
    canary = CANARY

    def __init__(self, tmp: Path, activities: int = 150) -> None:
        super().__init__(tmp, activities)
        self.default_rates = {tk.name: float(tk.default_rate) for tk in self.synthetic.timekeepers}

    def seed(self, synthetic: SyntheticFirm, *, now: datetime) -> Any:
        # Until the billsync.demo_seeds entry point exists: load(DEMO_SEEDS, VENDOR).
        return practicepanther_seed(synthetic, now=now)

    def remote_time_entries(self) -> list[dict]:
        """Time entries in PracticePanther that billsync wrote (its marker is in the private notes)."""
        return [e for e in self.admin("GET", "timeentries").json() if "[bs:" in (e.get("private_notes") or "")]


@pytest.fixture
def firm(tmp_path) -> Iterator[Firm]:
    f = Firm(tmp_path)
    yield f
    f.close()


def test_a_second_sync_creates_nothing(firm: Firm) -> None:
    check_a_second_sync_creates_nothing(firm)


def test_each_remote_entry_is_linked_to_one_activity(firm: Firm) -> None:
    remote = check_each_remote_entry_is_linked_to_one_activity(firm)
    assert all(e["is_billable"] is False for e in remote)  # review = all: non-billable


def test_entries_take_practicepanthers_default_rate_for_the_user(firm: Firm) -> None:
    # PP exposes no user rates, so billsync leaves the rate blank and PP applies its default
    # (before the fix every entry was written at an explicit $0).
    firm.runtime.runner.run_once()
    remote = firm.remote_time_entries()
    assert remote
    assert all(e["rate"] == firm.default_rates[e["billed_by_user_ref"]["display_name"]] > 0 for e in remote)


def test_a_deleted_entry_is_never_recreated_by_sync_or_backfill(firm: Firm) -> None:
    check_a_deleted_entry_is_never_recreated(firm, "timeentries")


def test_thirty_percent_faults_give_the_same_final_state_as_none(tmp_path: Path) -> None:
    check_faults_give_the_same_final_state_as_none(Firm, tmp_path, "/api/v2/*", lambda e: e["private_notes"])


def test_message_bodies_never_reach_practicepanther_or_the_store(firm: Firm) -> None:
    firm.runtime.runner.run_once()
    written = firm.remote_time_entries()
    assert written
    assert all(CANARY not in repr(e) for e in firm.admin("GET", "timeentries").json())
    check_no_canary_in_the_store(firm)


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
