"""A firm's first run, as processes: backfill before any sync, then a user added in Clio later.

The firm turns capture on and backfills last month before its first sync, on a fresh store; the
people, clients and matters must be read first, or every activity would wait as "not a
timekeeper" for good. Later an attorney who made calls before being given a Clio account is
added; the next sync captures those calls and writes them to Clio. The sandbox is seeded with
records in Clio's own shapes, and every figure below is worked out by hand.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import serve_sandbox

pytestmark = pytest.mark.e2e

BILLSYNC = str(Path(sys.executable).with_name("billsync"))  # the installed command, as IT staff run it
AVA, BEN = 1001, 1002  # Ava has a Clio account from the start; Ben is given one later
HARBOR, MATTER = 2001, 3001


def call(number: int, user: int, received_at: str, subject: str) -> dict[str, Any]:
    """A phone call as Clio's communications endpoint returns it, linked to the matter."""
    return {
        "id": number,
        "type": "PhoneCommunication",
        "subject": subject,
        "body": "",
        "date": received_at[:10],
        "received_at": received_at,
        "user": {"id": user},
        "senders": [{"id": user, "type": "User", "name": "Firm user", "identifier": f"{user}@firm.example"}],
        "receivers": [{"type": "Person", "name": "Pat Jones", "identifier": "pat@harbor.example"}],
        "matter": {"id": MATTER},
        "created_at": received_at,
        "updated_at": received_at,
    }


def user(user_id: int, name: str, email: str, rate: float, time_zone: str, *, owner: bool) -> dict[str, Any]:
    """A Clio user (docs/vendors/clio.md §3.7 fields)."""
    first, last = name.split()
    return {
        "id": user_id,
        "name": name,
        "first_name": first,
        "last_name": last,
        "email": email,
        "enabled": True,
        "account_owner": owner,
        "clio_connect": False,
        "rate": rate,
        "roles": ["admin"] if owner else [],
        "subscription_type": "Attorney",
        "time_zone": time_zone,
    }


STAMP = "2026-09-01T12:00:00+00:00"
SEED = {
    "clio": {
        "users": [
            {**user(AVA, "Ava Nguyen", "ava@firm.example", 400.0, "America/New_York", owner=True), "updated_at": STAMP}
        ],
        "contacts": [
            {
                "id": HARBOR,
                "name": "Harbor Insurance",
                "type": "Company",
                "is_client": True,
                "primary_email_address": "gc@harbor.example",
                "created_at": STAMP,
                "updated_at": STAMP,
            }
        ],
        "matters": [
            {
                "id": MATTER,
                "number": MATTER,
                "display_number": "HARB-0001",
                "description": "Harbor v. Smith",
                "status": "Open",
                "billable": True,
                "billing_method": "hourly",
                "open_date": "2026-08-01",
                "client": {"id": HARBOR},
                "responsible_attorney": {"id": AVA},
                "created_at": STAMP,
                "updated_at": STAMP,
            }
        ],
        "communications": [
            call(4001, AVA, "2026-10-05T14:00:00+00:00", "settlement terms"),
            call(4002, BEN, "2026-10-06T02:30:00+00:00", "lease renewal"),  # 22:30 on the 5th in New York
            call(4003, BEN, "2026-10-07T15:00:00+00:00", "deposition dates"),
        ],
    }
}
# Calls are billed as a fixed 12 minutes here (Clio's calls carry no duration): 720 s, a whole
# number of any increment the firm or Clio may round to, so the figures below hold either way.
CAPTURE = "\n[firms.demo.capture.kinds.call]\nminutes = 12\n"


@pytest.fixture
def firm(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """`billsync sandbox` serving the seed above, and the config it wrote; stopped with SIGTERM."""
    seed, config = tmp_path / "seed.json", tmp_path / "billsync.toml"
    seed.write_text(json.dumps(SEED), encoding="utf-8")
    with serve_sandbox(seed, config, serving="clio", command=[BILLSYNC]) as base:
        config.write_text(config.read_text(encoding="utf-8") + CAPTURE, encoding="utf-8")
        yield config, f"{base}/_sandbox/clio"


def billsync(*args: str) -> str:
    run = subprocess.run(
        [BILLSYNC, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    return run.stdout


def time_entries_in_clio(admin: str) -> list[dict[str, Any]]:
    activities = requests.get(f"{admin}/activities", timeout=10).json()
    return sorted((a for a in activities if a.get("type") == "TimeEntry"), key=lambda a: a["communication"]["id"])


def test_backfill_before_the_first_sync_then_a_user_added_later(firm: tuple[Path, str]) -> None:
    config, admin = firm
    billsync("connect", "clio", "--config", str(config), "--auto-approve")

    backfilled = billsync("backfill", "--config", str(config), "--since", "2026-10-01")
    # Ava's call is captured; Ben's two wait: Clio does not know him yet.
    assert "backfill created 1 entries" in backfilled
    assert re.search(r"activity not_timekeeper\s*│\s*2", backfilled), backfilled

    synced = billsync("sync", "--once", "--config", str(config))
    assert "written 1," in synced
    assert [e["user"]["id"] for e in time_entries_in_clio(admin)] == [AVA]

    # Ben gets a Clio account; Clio's UI names his zone the Rails way. A paralegal's zone is a
    # name no table knows: named as a record problem, the sync goes on (she logged nothing).
    ben = user(BEN, "Ben Ortiz", "ben@firm.example", 250.0, "Eastern Time (US & Canada)", owner=False)
    requests.post(f"{admin}/users", json=ben, timeout=10).raise_for_status()
    odd = user(1003, "Dee Moss", "dee@firm.example", 90.0, "Olympus Mons Time", owner=False)
    requests.post(f"{admin}/users", json=odd, timeout=10).raise_for_status()

    after = billsync("sync", "--once", "--config", str(config))
    assert "written 2," in after
    assert "record problem users: user 1003: time zone 'Olympus Mons Time' is not an IANA, Rails or Windows" in after
    entries = time_entries_in_clio(admin)
    assert len(entries) == 3
    bens = [
        (e["communication"]["id"], e["date"], e["quantity"], e["price"], e["matter"]["id"], e["non_billable"])
        for e in entries
        if e["user"]["id"] == BEN
    ]
    assert bens == [
        (4002, "2026-10-05", 720, 250.0, MATTER, True),  # 02:30 UTC on the 6th is the 5th in New York
        (4003, "2026-10-07", 720, 250.0, MATTER, True),  # not billable until someone reviews it
    ]
    notes = [e["note"] for e in entries if e["user"]["id"] == BEN]
    assert notes[0].startswith("Telephone call with P. Jones re: lease renewal [bs:")
    assert notes[1].startswith("Telephone call with P. Jones re: deposition dates [bs:")

    # Once, ever: neither another sync nor another backfill writes them again.
    assert "written 0," in billsync("sync", "--once", "--config", str(config))
    assert "backfill created 0 entries" in billsync("backfill", "--config", str(config), "--since", "2026-10-01")
    assert len(time_entries_in_clio(admin)) == 3


def test_a_store_rebuilt_from_nothing_does_not_write_billsyncs_entries_again(firm: tuple[Path, str]) -> None:
    """IT rebuilds billsync's database (a lost disk, a move to PostgreSQL) against the same Clio: the
    entries billsync wrote before are time already logged on those calls, never written twice."""
    config, admin = firm
    billsync("connect", "clio", "--config", str(config), "--auto-approve")
    assert "written 1," in billsync("sync", "--once", "--config", str(config))
    assert [e["user"]["id"] for e in time_entries_in_clio(admin)] == [AVA]

    rebuilt = config.with_name("rebuilt.toml")
    text = config.read_text(encoding="utf-8")
    old_url = next(line for line in text.splitlines() if line.startswith("database_url"))
    rebuilt.write_text(text.replace(old_url, f'database_url = "sqlite:///{config.with_name("rebuilt.db")}"'))
    billsync("connect", "clio", "--config", str(rebuilt), "--auto-approve")
    # The call's entry in Clio carries the marker of this call's own write: the call is captured
    # again, and its entry found in Clio and taken over, never written a second time.
    assert "backfill created 1 entries" in billsync("backfill", "--config", str(rebuilt), "--since", "2026-10-01")
    synced = billsync("sync", "--once", "--config", str(rebuilt))
    assert "written 0," in synced and "taken over from an earlier store 1" in synced, synced
    assert [e["user"]["id"] for e in time_entries_in_clio(admin)] == [AVA]  # Ava's call still has one entry
