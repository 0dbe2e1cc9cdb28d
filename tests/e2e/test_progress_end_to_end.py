"""Long work shows progress, as IT staff see it: `backfill` and `sync --once` run as processes.

Off a terminal (a cron job, `| tee`) each phase is logged as a JSON `progress` line with its
totals; a drain that Clio's rate limit makes long is announced before it starts, with the time
the limit gives. On a terminal (a pty) a bar is drawn instead. The sandbox serves Clio records
in Clio's own shapes at a configured limit, and every figure is counted or worked out by hand.
"""

from __future__ import annotations

import itertools
import json
import os
import pty
import re
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RUN, serve_sandbox

pytestmark = pytest.mark.e2e

AVA, HARBOR = 1001, 2001
LEASE, DISPUTE = 3001, 3002
LEASE_CALLS, DISPUTE_CALLS = 25, 25  # 50 calls, each one entry (Ava is a timekeeper, the matters open)
RATE_LIMIT = 100  # Clio's requests a minute per token, as the sandbox is configured
STAMP = "2026-09-01T12:00:00+00:00"


def call(number: int, matter: int, received_at: str) -> dict[str, Any]:
    """A phone call as Clio's communications endpoint returns it, linked to its matter."""
    return {
        "id": number,
        "type": "PhoneCommunication",
        "subject": f"call {number}",
        "body": "",
        "date": received_at[:10],
        "received_at": received_at,
        "user": {"id": AVA},
        "senders": [{"id": AVA, "type": "User", "name": "Ava Nguyen", "identifier": "ava@firm.example"}],
        "receivers": [{"type": "Person", "name": "Pat Jones", "identifier": "pat@harbor.example"}],
        "matter": {"id": matter},
        "created_at": received_at,
        "updated_at": received_at,
    }


def matter(matter_id: int, number: str) -> dict[str, Any]:
    return {
        "id": matter_id,
        "number": matter_id,
        "display_number": number,
        "description": f"Harbor matter {number}",
        "status": "Open",
        "billable": True,
        "billing_method": "hourly",
        "open_date": "2026-08-01",
        "client": {"id": HARBOR},
        "responsible_attorney": {"id": AVA},
        "created_at": STAMP,
        "updated_at": STAMP,
    }


def seed(lease_calls: int, dispute_calls: int) -> dict[str, Any]:
    def when(n: int, minute: int) -> str:  # October 2026, a different hour or day for each call
        return f"2026-10-{1 + n % 28:02d}T{10 + n % 8:02d}:{minute:02d}:00+00:00"

    calls = [call(5000 + n, LEASE, when(n, 0)) for n in range(lease_calls)]
    calls += [call(6000 + n, DISPUTE, when(n, 30)) for n in range(dispute_calls)]
    return {
        "clio": {
            "users": [
                {
                    "id": AVA,
                    "name": "Ava Nguyen",
                    "first_name": "Ava",
                    "last_name": "Nguyen",
                    "email": "ava@firm.example",
                    "enabled": True,
                    "account_owner": True,
                    "clio_connect": False,
                    "rate": 400.0,
                    "roles": ["admin"],
                    "subscription_type": "Attorney",
                    "time_zone": "America/New_York",
                    "updated_at": STAMP,
                }
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
            "matters": [matter(LEASE, "HARB-0001"), matter(DISPUTE, "HARB-0002")],
            "communications": calls,
        }
    }


CAPTURE = "\n[firms.demo.capture.kinds.call]\nminutes = 12\n"  # Clio's calls carry no duration


def firm_at(tmp_path: Path, rate_limit: int, lease_calls: int, dispute_calls: int) -> Iterator[tuple[Path, str]]:
    """The sandbox serving the seed at `rate_limit`, and the firm's config; stopped with SIGTERM."""
    seed_file, config = tmp_path / "seed.json", tmp_path / "billsync.toml"
    seed_file.write_text(json.dumps(seed(lease_calls, dispute_calls)), encoding="utf-8")
    with serve_sandbox(seed_file, config, rate_limit=rate_limit) as base:
        config.write_text(config.read_text(encoding="utf-8") + CAPTURE, encoding="utf-8")
        yield config, f"{base}/_sandbox/clio"


@pytest.fixture
def firm(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    yield from firm_at(tmp_path, RATE_LIMIT, LEASE_CALLS, DISPUTE_CALLS)


def billsync(*args: str, every: float = 10.0) -> subprocess.CompletedProcess[str]:
    """The command as a cron job runs it: stdout and stderr to pipes, not a terminal."""
    env = {**os.environ, "COLUMNS": "200", "BILLSYNC_PROGRESS_EVERY_SECONDS": str(every)}
    run = subprocess.run([*RUN, *args], capture_output=True, text=True, timeout=300, check=False, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    return run


def progress_lines(stderr: str) -> list[dict[str, Any]]:
    """The `progress` log lines (every stderr line is a JSON log line off a terminal)."""
    logged = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    return [line for line in logged if line["event"] == "progress"]


def phase(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["phase"] == name]


def finals(lines: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    return {line["phase"]: (line["done"], line["total"]) for line in lines if line["final"]}


def entries_in_clio(admin: str) -> list[dict[str, Any]]:
    return [a for a in requests.get(f"{admin}/activities", timeout=10).json() if a.get("type") == "TimeEntry"]


def test_backfill_and_sync_log_their_totals_and_say_up_front_how_long_clio_makes_the_writes(
    firm: tuple[Path, str],
) -> None:
    config, admin = firm
    billsync("connect", "clio", "--config", str(config), "--auto-approve")

    backfilled = billsync("backfill", "--config", str(config), "--since", "2026-10-01")
    assert "backfill created 50 entries" in backfilled.stdout
    read = finals(progress_lines(backfilled.stderr))
    # One user, one client, two matters, 25 + 25 calls, each phase counted to its end.
    assert read["reading users"] == (1, 1)
    assert read["reading contacts"] == (1, 1)
    assert read["reading matters"] == (2, 2)
    assert read["capturing communications"] == (50, 50)

    # The 50 entries go to Clio, one POST each, after one listing per matter (the calls are older
    # than this store: an earlier store may have written them): 2 + 50 = 52 requests, 52 * 60 / 100
    # = 31.2 s at the sandbox's limit, said as 32 s (rounded up to the second).
    synced = billsync("sync", "--once", "--config", str(config), every=2)
    forecast = (
        "writing 50 entries to Clio (52 requests): at Clio's limit of 100 requests a minute this takes about 32 s"
    )
    assert forecast in synced.stdout.splitlines()
    lines = progress_lines(synced.stderr)
    writing = phase(lines, "writing to Clio")
    first, last = writing[0], writing[-1]
    assert (first["done"], first["total"], first["requests"], first["limit_per_minute"]) == (0, 50, 52, 100)
    assert first["eta_seconds"] == 31.2
    assert (last["done"], last["total"], last["final"]) == (50, 50, True)
    assert finals(lines)["reading back from Clio"] == (50, 50)
    assert "written 50," in synced.stdout
    assert len(entries_in_clio(admin)) == 50

    # A partner approves the dispute's 25 entries: each is a GET and a PATCH in Clio, 50 requests,
    # 50 * 60 / 100 = 30 s. Clio's window is mostly spent by now: the drain really waits for it.
    approved = billsync("review", "approve", "--matter", str(DISPUTE), "--config", str(config))
    assert approved.stdout.startswith(f"approved {DISPUTE_CALLS} entries"), approved.stdout
    again = billsync("sync", "--once", "--config", str(config), every=2)
    forecast = (
        "writing 25 entries to Clio (50 requests): at Clio's limit of 100 requests a minute this takes about 30 s"
    )
    assert forecast in again.stdout.splitlines()
    writing = phase(progress_lines(again.stderr), "writing to Clio")
    first, last = writing[0], writing[-1]
    assert (first["done"], first["total"], first["requests"], first["eta_seconds"]) == (0, 25, 50, 30.0)
    assert (last["done"], last["total"], last["final"]) == (25, 25, True)
    # At most one line every 2 s (elapsed is rounded to a tenth), besides the final one and a line
    # saying Clio's limit holds the writes back 2 s or more (nothing else is logged while it lasts).
    periodic = [line for line in writing[:-1] if line.get("waiting_seconds", 0) < 2]
    steps = [b["elapsed_seconds"] - a["elapsed_seconds"] for a, b in itertools.pairwise(periodic)]
    assert all(step >= 1.9 for step in steps), writing
    assert "updated 25," in again.stdout
    billable = [e for e in entries_in_clio(admin) if not e["non_billable"]]
    assert sorted(e["matter"]["id"] for e in billable) == [DISPUTE] * DISPUTE_CALLS


@pytest.fixture
def quick_firm(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    yield from firm_at(tmp_path, 100_000, 30, 0)


def on_a_terminal(*args: str) -> tuple[int, str]:
    """Run the command in a pseudo-terminal, as a person at a shell does; its whole output."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdout and stderr are the terminal
        os.environ["COLUMNS"] = "120"
        os.execv(sys.executable, [sys.executable, *RUN[1:], *args])
    out = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")


def test_on_a_terminal_backfill_and_sync_draw_a_bar_with_the_total(quick_firm: tuple[Path, str]) -> None:
    config, _ = quick_firm
    billsync("connect", "clio", "--config", str(config), "--auto-approve")

    code, shown = on_a_terminal("backfill", "--config", str(config), "--since", "2026-10-01")
    assert code == 0, shown
    assert "capturing communications" in shown and "━" in shown
    # No total is known before a stream is read: the bar counts what it read, and ends at the
    # count (the seed's 30 calls, 2 matters), never left at 0.
    assert re.search(r"capturing communications[^\r\n]*━[^\r\n]* 30 read", shown), shown
    assert re.search(r"reading matters[^\r\n]* 2 read", shown), shown
    assert not re.search(r"capturing communications[^\r\n]*━ 0\b", shown), shown
    assert "backfill created 30 entries" in shown  # 30 entries wait in the outbox
    assert '"event": "progress"' not in shown

    code, shown = on_a_terminal("sync", "--once", "--config", str(config))

    assert code == 0, shown
    assert "writing to Clio" in shown and "0/30" in shown  # drawn as the drain starts
    assert "━" in shown  # the bar
    # The 30 entries just written are read back, and the bar ends at all of them, not at 0/30.
    assert re.search(r"reading back from Clio[^\r\n]* 30/30", shown), shown
    assert "written 30," in shown
    assert '"event": "progress"' not in shown  # no JSON lines for a person
    # No log line at INFO is printed in among the bar; the command's own lines say what happened.
    assert "sync cycle" not in shown and "[info" not in shown, shown
