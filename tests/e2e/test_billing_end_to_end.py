"""The billing cycle end to end against the local Clio over real HTTP, with the CLI as IT staff run it.

Entries are approved and written billable to Clio; `billsync bill run` makes the pre-bills; the
reviewing partner approves them; a person generates bills in Clio (the sandbox's admin API, since
Clio has no POST /bills); `billsync bill follow` reads the bills, matches them, records Clio's
number and moves the matching bill to awaiting payment as the firm allows. A bill that leaves an
entry off is reported and left alone.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from billsync_sandboxes.cli.sandbox import connect_to_sandbox
from billsync_sandboxes.demo.data import generate_firm
from billsync_sandboxes.kit.server import build_server_app

from core.billing.ledes_parser import parse_ledes
from core.billing.model import PreBill, PreBillStatus
from core.http import HttpClient, RetryPolicy
from core.models import EntryState, Severity
from core.plugins import DEMO_SEEDS, SANDBOXES, load
from core.serving import run_in_thread
from core.store.billing import BillingStore
from core.store.sync_state import SyncState
from tests.e2e.conftest import RUN

pytestmark = pytest.mark.e2e
CANARY = "CANARY-billing-privileged-5120"  # in every message body: must never reach a pre-bill

BILLING = """
[firms.demo.billing]
advance = "awaiting_payment"      # a matching, approved bill may be moved to awaiting payment

[firms.demo.billing.firm]
ledes_id = "12-3456789"
"""


class BillingFirm:
    """The demo firm on its own Clio sandbox, configured to move matching bills."""

    def __init__(self, tmp: Path) -> None:
        synthetic = generate_firm(
            timekeepers=4,
            clients=6,
            matters=12,
            activities=160,
            seed=5,
            month_start=datetime(2026, 10, 1, tzinfo=UTC),
            body=f"Privileged: {CANARY}",
        )
        seed = load(DEMO_SEEDS, "clio")(synthetic, now=datetime(2026, 11, 1, tzinfo=UTC))
        self.sandbox = load(SANDBOXES, "clio")(seed, rate_limit_per_minute=100_000)
        self.port, self._stop = run_in_thread(build_server_app({"clio": self.sandbox}))
        self.base = f"http://127.0.0.1:{self.port}"
        http = HttpClient(policy=RetryPolicy(attempts=6), sleep=lambda _: None, timeout=(2.0, 5.0))
        self.config = tmp / "billsync.toml"
        self.runtime = connect_to_sandbox(
            self.config, self.base, ["clio"], extra=BILLING, http=http, retry_delay=timedelta(0)
        )
        self.store = self.runtime.store
        self.billing = BillingStore(self.store.engine)

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        response = requests.request(method, f"{self.base}/_sandbox/clio/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response

    def billsync(self, *args: str) -> str:
        done = subprocess.run(
            [*RUN, *args, "--config", str(self.config)], capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def close(self) -> None:
        self.store.close()
        self._stop()


@pytest.fixture
def firm(tmp_path: Path) -> Iterator[BillingFirm]:
    made = BillingFirm(tmp_path)
    yield made
    made.close()


def approve_everything_waiting(firm: BillingFirm) -> None:
    """The reviewers approve every entry that waits for them; the next sync makes them billable in Clio."""
    state = SyncState(firm.store.engine)
    for entry in firm.store.entries("demo", [EntryState.NEEDS_REVIEW]):
        firm.store.set_entry_state("demo", entry.id, EntryState.APPROVED)
        state.enqueue_update("demo", entry.id)
    firm.runtime.runner.run_once()


def clean(prebill: PreBill) -> bool:
    """A pre-bill a partner can approve and Clio can reproduce line for line (no agreed discount)."""
    return prebill.worst is not Severity.BLOCK and prebill.adjustments == 0 and len(prebill.lines) >= 2


def test_prebills_follow_the_bills_a_person_generates_in_clio(firm: BillingFirm, tmp_path: Path) -> None:
    firm.runtime.runner.run_once()
    approve_everything_waiting(firm)
    assert firm.store.entries("demo", [EntryState.POSTED])

    ran = firm.billsync("bill", "run", "--period", "2026-10")
    assert "pre-bills for 2026-10" in ran
    prebills = firm.billing.prebills("demo")
    assert prebills and all(p.status is PreBillStatus.DRAFT for p in prebills)
    matching, partial = [p for p in prebills if clean(p)][:2]
    firm.billsync("bill", "approve", matching.number, partial.number)

    # A person bills both matters in Clio's UI: all of the first matter's entries, and the second
    # matter's entries but one.
    remote_ids = [ln.remote_id for ln in matching.lines]
    whole = firm.admin(
        "POST", "bills/generate", json={"matter_id": int(matching.matter_id), "activity_ids": remote_ids}
    ).json()
    kept = [ln.remote_id for ln in partial.lines][1:]
    short = firm.admin(
        "POST", "bills/generate", json={"matter_id": int(partial.matter_id), "activity_ids": kept}
    ).json()
    assert whole["state"] == short["state"] == "draft"

    followed = firm.billsync("bill", "follow")
    assert "matched" in followed and "mismatch" in followed

    after = {b["id"]: b for b in firm.admin("GET", "bills").json()}
    assert after[whole["id"]]["state"] == "awaiting_payment"  # matched, approved, allowed: moved
    assert after[short["id"]]["state"] == "draft"  # differs: reported, never moved

    done = firm.billing.prebill("demo", matching.id)
    assert done is not None and done.status is PreBillStatus.MATCHED
    assert (done.pms_bill_id, done.pms_bill_number) == (str(whole["id"]), whole["number"])
    assert done.pms_state == "awaiting_payment" and done.differences == ()
    differs = firm.billing.prebill("demo", partial.id)
    assert differs is not None and differs.status is PreBillStatus.MISMATCH and differs.pms_state == "draft"
    assert differs.differences[0].startswith("missing from the bill: line 1")
    assert any(d.startswith("the bill's total is") for d in differs.differences)

    # The LEDES file now carries Clio's bill number, and a strict reader accepts it.
    out = tmp_path / "bill.ledes"
    firm.billsync("bill", "ledes", whole["number"], "--out", str(out))
    [invoice] = parse_ledes(out.read_text(encoding="ascii")).invoices
    assert out.stat().st_mode & 0o777 == 0o600  # the client's name, the work and the money: the owner's alone
    assert invoice.fields["INVOICE_NUMBER"] == whole["number"]
    assert invoice.total == done.total == Decimal(str(whole["total"])).quantize(Decimal("0.01"))

    # The readable pre-bill for the partner, as HTML and PDF.
    html, pdf = tmp_path / "prebill.html", tmp_path / "prebill.pdf"
    shown = firm.billsync("bill", "show", matching.number, "--html", str(html), "--pdf", str(pdf))
    assert whole["number"] in shown and "awaiting_payment" in shown
    assert matching.number in html.read_text(encoding="utf-8") and pdf.read_bytes().startswith(b"%PDF-")
    # Privilege: no message body reaches a pre-bill, its LEDES file or its HTML.
    assert CANARY not in html.read_text(encoding="utf-8") + out.read_text(encoding="ascii") + shown
    assert all(CANARY not in f"{p}" for p in firm.billing.prebills("demo"))

    # The next sync sees the bills: entries on them are billed and locked in billsync too, and the
    # entry the person left off is still open for the next cycle.
    firm.runtime.runner.run_once()
    billed = {e.id for e in firm.store.entries("demo", [EntryState.BILLED])}
    assert set(matching.entry_ids) <= billed
    left_off = partial.lines[0].entry_id
    assert left_off not in billed and set(partial.entry_ids) - {left_off} <= billed
