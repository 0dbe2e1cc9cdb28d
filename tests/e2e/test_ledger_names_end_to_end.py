"""`billsync pay ledger` as billing staff read it: the client's name and the matter's number, as the
PMS shows them (a name typed into Clio is printed as text, whatever it holds), and `pay link --help`
that is true on a Clio firm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from config.settings import load_settings
from core.models import BillState, RemoteBill
from core.store.store import Store
from tests.e2e.conftest import RUN, serve_sandbox

pytestmark = pytest.mark.e2e
HOSTILE = '[/bold]Harbor =HYPERLINK("http://evil.example") <script>alert(1)</script>'
SEED = (
    "import json, sys; from datetime import datetime, UTC;"
    "from billsync_sandboxes.demo.data import generate_firm; from core.plugins import load, DEMO_SEEDS;"
    "firm = generate_firm(timekeepers=3, clients=4, matters=6, activities=20, seed=5);"
    "now = datetime(2026, 11, 1, tzinfo=UTC);"
    "json.dump({v: load(DEMO_SEEDS, v)(firm, now=now) for v in ('clio', 'lawpay')}, open(sys.argv[1], 'w'))"
)


def billsync(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUN, *args, "--config", str(config)],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, "COLUMNS": "220"},
    )  # fmt: skip


def test_the_ledger_names_the_client_and_the_matter_number(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    subprocess.run([sys.executable, "-c", SEED, str(seed)], check=True, timeout=120)
    records = json.loads(seed.read_text())
    contact = next(c for c in records["clio"]["contacts"] if c["id"] == 2)
    contact["name"] = HOSTILE  # as someone typed it into Clio
    matter = next(m for m in records["clio"]["matters"] if m["client"]["id"] == 2)
    seed.write_text(json.dumps(records))
    config = tmp_path / "sandbox.toml"
    with serve_sandbox(seed, config):
        assert billsync(config, "connect", "clio", "--auto-approve").returncode == 0
        synced = billsync(config, "sync", "--once")
        assert synced.returncode == 0, synced.stdout + synced.stderr
        store = Store.open(load_settings(config).database_url)
        reference = store.load_reference("demo")
        client = next(c for c in reference.clients.values() if c.name == HOSTILE)
        on_matter = next(m for m in reference.matters.values() if m.number == matter["display_number"])
        store.save_reference(
            "demo",
            [
                RemoteBill(
                    id="9001", number="1042", client_id=client.id, matter_ids=(on_matter.id,),
                    state=BillState.AWAITING_PAYMENT, issued_on=date(2026, 11, 1), total=Decimal("1234.57"),
                    outstanding=Decimal("1234.57"), updated_at=datetime(2026, 11, 1, tzinfo=UTC),
                )
            ],
        )  # fmt: skip
        store.close()

        shown = billsync(config, "pay", "ledger")
        assert shown.returncode == 0, shown.stdout + shown.stderr
        line = next(row for row in shown.stdout.splitlines() if "1,234.57" in row and "total" not in row)
        cells = [cell.strip() for cell in line.split("│") if cell.strip()]
        assert cells[:3] == [HOSTILE, matter["display_number"], "1,234.57"], shown.stdout

        one = billsync(config, "pay", "ledger", "--client", HOSTILE)  # as the person reads it on screen
        assert one.returncode == 0 and HOSTILE in one.stdout and "1,234.57" in one.stdout, one.stdout + one.stderr

        helped = billsync(config, "pay", "link", "--help")
        assert helped.returncode == 0
        assert "PracticePanther" not in helped.stdout
        assert "number as the PMS shows it" in " ".join(helped.stdout.replace("│", " ").split())
