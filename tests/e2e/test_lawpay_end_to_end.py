"""End to end over real HTTP against `billsync sandbox` (Clio + LawPay) and the `billsync pay` commands:
payment link -> the client pays the hosted page -> events polled -> reconciled -> ledger exact."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from config.settings import load_settings
from core.models import BillState, RemoteBill
from core.payments.firm import build_firm_payments
from core.store.store import Store
from tests.e2e.conftest import serve_sandbox

pytestmark = pytest.mark.e2e
RUN = [sys.executable, "-c", "from core.cli import main; main()"]
SEED = (
    "import json, sys; from datetime import datetime, UTC;"
    "from billsync_sandboxes.demo.data import generate_firm; from core.plugins import load, DEMO_SEEDS;"
    "firm = generate_firm(timekeepers=3, clients=4, matters=6, activities=20, seed=5);"
    "now = datetime(2026, 11, 1, tzinfo=UTC);"
    "json.dump({v: load(DEMO_SEEDS, v)(firm, now=now) for v in ('clio', 'lawpay')}, open(sys.argv[1], 'w'))"
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """`billsync sandbox` serving Clio and LawPay; the config it writes has the payments section."""
    seed = tmp_path / "seed.json"
    subprocess.run([sys.executable, "-c", SEED, str(seed)], check=True, timeout=120)
    config = tmp_path / "sandbox.toml"
    with serve_sandbox(seed, config, rate_limit=None, serving="clio, lawpay"):
        firm = tomllib.loads(config.read_text())["firms"]["demo"]
        base = firm["connectors"]["lawpay"]["base_url"]
        pages = f"{base}/pages/sandbox-law"
        # The written config takes payments from the merchant's accounts (by trust flag) and hosted pages.
        assert firm["payments"] == {
            "gateway": "lawpay",
            "operating_account": "acct_operating_card",
            "operating_bank_account": "acct_operating_bank",
            "trust_account": "acct_trust_card",
            "trust_bank_account": "acct_trust_bank",
            "operating_page_url": f"{pages}/operating",
            "trust_page_url": f"{pages}/trust",
        }
        yield config, base.removesuffix("/lawpay")


def billsync(config: Path, *args: str) -> str:
    done = subprocess.run(
        [*RUN, *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_an_invoice_is_paid_through_its_link_and_the_ledger_is_exact(served) -> None:
    config, base = served
    settings = load_settings(config)
    store = Store.open(settings.database_url)
    invoice = RemoteBill(
        id="9001",
        number="1042",
        client_id="c7",
        matter_ids=("m3",),
        state=BillState.AWAITING_PAYMENT,
        issued_on=date(2026, 11, 1),
        due_on=date(2026, 12, 1),
        total=Decimal("1234.57"),
        outstanding=Decimal("1234.57"),
        updated_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    store.save_reference("demo", [invoice])

    shown = billsync(config, "pay", "link", "1042")
    url = re.search(r"(http://\S+)", shown)[1]  # type: ignore[index]
    assert "amount=123457" in url and "reference=1042" in url and "/pages/sandbox-law/operating" in url

    # The client opens the page and pays it with a card, over HTTP.
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and 'value="123457" readonly' in page.text
    receipt = requests.post(
        url,
        data={"number": "4242424242424242", "exp_month": "12", "exp_year": "2030", "name": "Pat Client"},
        timeout=10,
    )
    assert receipt.status_code == 200 and "Paid $1234.57" in receipt.text
    requests.post(f"{base}/_sandbox/lawpay/capture", timeout=10).raise_for_status()

    polled = billsync(config, "pay", "events")
    assert polled.startswith("2 events applied (2 transactions)")  # authorized, then completed at capture
    ledger = billsync(config, "pay", "ledger")
    assert re.search(r"c7\s+.*m3\s+.*1,234\.57\s+.*1,234\.57\s+.*0\.00", ledger), ledger

    charge_id = build_firm_payments(settings, "demo", store).payments.transactions("demo")[0].id
    billsync(config, "pay", "refund", charge_id, "--amount", "0.57")
    billsync(config, "pay", "events")
    fp = build_firm_payments(settings, "demo", store)
    balance = fp.ledger().invoices["9001"]
    assert (balance.paid, balance.balance) == (Decimal("1234.00"), Decimal("0.57"))
    assert billsync(config, "pay", "events").startswith("0 events applied")  # nothing applied twice
    posting = billsync(config, "pay", "post-list")
    assert "Clio's API cannot record a payment on a bill" in posting and "1,234.57" in posting and "-0.57" in posting
    relink = billsync(config, "pay", "link", "1042")
    assert "amount=57&" in relink
