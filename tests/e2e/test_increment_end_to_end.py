"""A firm's fixed block and its PMS's own rounding, as IT staff run billsync: processes and a Clio sandbox.

The firm logs a fixed 15-minute block per call. Clio rounds time itself (settings/billing
`rounding`); billsync defaults to that increment, so the entry reaches Clio as 15 minutes and
Clio's rounding leaves it there. When the firm's Clio rounds to 6 minutes instead, the block
cannot be billed as 15: `check` and `check-config` say so, with the figure it will bill.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RUN, serve_sandbox

pytestmark = pytest.mark.e2e

FIXED_15_MINUTE_CALLS = '\n[firms.demo.capture.kinds.call]\nduration = "fixed"\nminutes = 15\n'


def clio_firm(rounding: int) -> dict[str, Any]:
    """One attorney ($400/h), one client, one open matter, one phone call: Clio's own record shapes."""
    stamp = "2026-10-01T09:00:00+00:00"
    return {
        "clio": {
            "users": [
                {"id": 345, "name": "Jane Doe", "first_name": "Jane", "last_name": "Doe", "email": "jane@firm.test",
                 "enabled": True, "rate": 400.0, "roles": ["admin"], "subscription_type": "Attorney",
                 "time_zone": "America/New_York", "created_at": stamp, "updated_at": stamp},
            ],
            "contacts": [
                {"id": 501, "name": "Acme Corp", "type": "Company", "is_client": True, "created_at": stamp,
                 "updated_at": stamp},
            ],
            "matters": [
                {"id": 1001, "number": 12, "display_number": "00012-Acme", "description": "Acme v. Beta",
                 "status": "Open", "billable": True, "billing_method": "hourly", "client": {"id": 501},
                 "responsible_attorney": {"id": 345}, "created_at": stamp, "updated_at": stamp},
            ],
            "communications": [
                {"id": 4002, "type": "PhoneCommunication", "subject": "Settlement terms", "date": "2026-10-05",
                 "received_at": "2026-10-05T14:00:00+00:00", "user": {"id": 345}, "matter": {"id": 1001},
                 "created_at": "2026-10-05T14:20:00+00:00", "updated_at": "2026-10-05T14:20:00+00:00"},
            ],
            # GET /settings/billing answers {"data": {...}} with these fields (docs/vendors/clio.md §3.15).
            "billing_settings": {"rounding": rounding, "use_decimal_rounding": False, "currency": "USD"},
        }
    }  # fmt: skip


def billsync(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RUN, *args], capture_output=True, text=True, timeout=300, check=False)


def ok(*args: str) -> str:
    run = billsync(*args)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    return run.stdout


def time_entries_in_clio(base: str) -> list[dict[str, Any]]:
    """What the firm sees in Clio: the sandbox's activities, read through its admin API."""
    answer = requests.get(f"{base}/_sandbox/clio/activities", timeout=10)
    answer.raise_for_status()
    body = answer.json()
    records = body["data"] if isinstance(body, dict) else body
    return [r for r in records if r["type"] == "TimeEntry"]


def test_clio_rounding_to_quarter_hours_gets_the_15_minute_block_as_900_seconds(tmp_path: Path) -> None:
    seed, config = tmp_path / "seed.json", tmp_path / "firm.toml"
    seed.write_text(json.dumps(clio_firm(rounding=15)))
    with serve_sandbox(seed, config) as base:
        with config.open("a", encoding="utf-8") as toml:
            toml.write(FIXED_15_MINUTE_CALLS)
        ok("connect", "clio", "--config", str(config), "--auto-approve")
        synced = ok("sync", "--once", "--config", str(config))
        assert "written 1," in synced
        [entry] = time_entries_in_clio(base)
        # By hand: 15 minutes = 900 s = 0.25 h at $400 = $100.00. Clio's rounding keeps it.
        assert (entry["quantity"], entry["rounded_quantity"], entry["price"]) == (900.0, 900.0, 400.0)
        assert entry["total"] == 100.0 or entry["non_billable_total"] == 100.0  # non-billable until reviewed
        checked = ok("check", "--config", str(config))
        assert "firm demo: increment 15 min (clio's own time rounding, read " in checked
        assert "not a whole number" not in checked and "rounds billsync's entries up again" not in checked
        configured = ok("check-config", "--config", str(config))
        assert "firm demo: increment 15 min (clio's own time rounding, read " in configured
        assert "not a whole number" not in configured


def test_clio_rounding_to_6_minutes_and_a_15_minute_block_are_named_with_what_will_be_billed(tmp_path: Path) -> None:
    seed, config = tmp_path / "seed.json", tmp_path / "firm.toml"
    seed.write_text(json.dumps(clio_firm(rounding=6)))
    warning = (
        "firm demo: capture.kinds.call: 15 minutes is not a whole number of 6-minute increments: "
        "it will bill 18 minutes (0.3 h)"
    )
    with serve_sandbox(seed, config) as base:
        with config.open("a", encoding="utf-8") as toml:
            toml.write(FIXED_15_MINUTE_CALLS)
        before = ok("check-config", "--config", str(config))  # offline, and Clio was never asked
        assert "firm demo: increment follows clio's own time rounding, not read yet" in before
        assert "not a whole number" not in before
        ok("connect", "clio", "--config", str(config), "--auto-approve")
        checked = ok("check", "--config", str(config))  # reads Clio's settings/billing now
        assert "firm demo: increment 6 min (clio's own time rounding, read " in checked
        assert warning in checked
        assert warning in ok("check-config", "--config", str(config))  # what check read is kept
        ok("sync", "--once", "--config", str(config))
        [entry] = time_entries_in_clio(base)
        # What check-config said: 18 minutes = 1,080 s, and Clio's own rounding leaves it there.
        assert (entry["quantity"], entry["rounded_quantity"]) == (1080.0, 1080.0)


def test_a_backfill_reads_clios_rounding_before_it_captures(tmp_path: Path) -> None:
    # A firm's first command may be a backfill: it must round to Clio's increment too, not to 6.
    seed, config = tmp_path / "seed.json", tmp_path / "firm.toml"
    seed.write_text(json.dumps(clio_firm(rounding=15)))
    with serve_sandbox(seed, config):
        ok("connect", "clio", "--config", str(config), "--auto-approve")
        ok("backfill", "--config", str(config), "--since", "2026-10-01", "--dry-run")
        assert "firm demo: increment 15 min (clio's own time rounding, read " in ok(
            "check-config", "--config", str(config)
        )
