"""A firm's first day, from an empty folder, as processes: the demo firm in the local vendors,
connect, **backfill before the first sync**, sync; then an attorney who made calls before he had a
Clio account is added, and the next sync captures those earlier calls, once.

The two calls and the user are Clio records in Clio's own shapes; the figures are worked out by
hand: 12-minute calls are 720 s (a whole number of any increment), at Ben's rate of 250.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e

BILLSYNC = str(Path(sys.executable).with_name("billsync"))
BEN = 9901  # no Clio user yet


@pytest.fixture
def empty_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """`billsync sandbox --demo-firm` started in an empty folder, writing the firm's config there."""
    assert list(tmp_path.iterdir()) == []
    process = subprocess.Popen(
        [BILLSYNC, "sandbox", "--demo-firm", "--activities", "60", "--port", "0", "--write-config", "billsync.toml"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200"},
    )
    line, deadline = "", time.monotonic() + 120
    while "sandboxes " not in line and time.monotonic() < deadline:
        line = process.stdout.readline() if process.stdout else ""
    found = re.search(r"(http://127\.0\.0\.1:\d+)", line)
    assert found is not None, line
    config = tmp_path / "billsync.toml"
    config.write_text(config.read_text() + "\n[firms.demo.capture.kinds.call]\nminutes = 12\n")
    yield config, f"{found[1]}/_sandbox/clio"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def billsync(folder: Path, *args: str) -> str:
    run = subprocess.run(
        [BILLSYNC, *args, "--config", "billsync.toml"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=folder,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert run.returncode == 0 and "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr
    return run.stdout


def bens_entries(admin: str) -> list[tuple[Any, ...]]:
    entries = [a for a in requests.get(f"{admin}/activities", timeout=30).json() if a.get("type") == "TimeEntry"]
    return sorted(
        (e["communication"]["id"], e["date"], e["quantity"], e["price"], e["non_billable"])
        for e in entries
        if e["user"]["id"] == BEN
    )


def test_backfill_first_then_a_user_added_later_on_the_demo_firm(empty_folder: tuple[Path, str]) -> None:
    config, admin = empty_folder
    folder = config.parent
    matter = next(m for m in requests.get(f"{admin}/matters", timeout=10).json() if m["status"] == "Open")
    for number, at, subject in (
        (88001, "2026-10-06T02:30:00+00:00", "lease renewal"),
        (88002, "2026-10-07T15:00:00+00:00", "deposition dates"),
    ):
        call = {
            "id": number,
            "type": "PhoneCommunication",
            "subject": subject,
            "body": "",
            "date": at[:10],
            "received_at": at,
            "user": {"id": BEN},
            "senders": [{"id": BEN, "type": "User", "name": "Ben Ortiz", "identifier": "ben@firm.example"}],
            "receivers": [],
            "matter": {"id": matter["id"]},
            "created_at": at,
            "updated_at": at,
        }
        requests.post(f"{admin}/communications", json=call, timeout=10).raise_for_status()

    billsync(folder, "connect", "clio", "--auto-approve")
    backfilled = billsync(folder, "backfill", "--since", "2026-10-01")
    assert re.search(r"activity not_timekeeper\s*│\s*[1-9]", backfilled), backfilled  # Ben's calls wait
    billsync(folder, "sync", "--once")
    assert bens_entries(admin) == []
    written_before = len(requests.get(f"{admin}/activities", timeout=30).json())
    assert written_before > 0  # the demo firm's own work reached Clio

    ben = {
        "id": BEN,
        "name": "Ben Ortiz",
        "first_name": "Ben",
        "last_name": "Ortiz",
        "email": "ben@firm.example",
        "enabled": True,
        "rate": 250.0,
        "subscription_type": "Attorney",
        "time_zone": "Eastern Time (US & Canada)",  # as Clio's UI names it
        "updated_at": "2026-11-02T09:00:00+00:00",
    }
    requests.post(f"{admin}/users", json=ben, timeout=10).raise_for_status()
    billsync(folder, "sync", "--once")

    # 02:30 UTC on the 6th is the evening of the 5th in New York; 12 minutes = 720 s; 250 an hour.
    assert bens_entries(admin) == [(88001, "2026-10-05", 720, 250.0, True), (88002, "2026-10-07", 720, 250.0, True)]
    billsync(folder, "sync", "--once")
    assert len(bens_entries(admin)) == 2  # once, ever
