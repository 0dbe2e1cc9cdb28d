"""A small firm's October billed through the CLI against the local Clio, as its billing staff would.

Clio holds the firm's records in Clio's own shapes (below, by hand): calls, e-mails and a
mediation on four matters. Entries are captured by `billsync sync --once`, approved with
`billsync review approve`, and billed with `billsync bill run`, `show`, `ledes` and `follow`, each
run as a process. Every figure is worked out by hand from the records: Clio rounds to the minute
(its default), a call or e-mail Clio gives no length for is the 15-minute block the firm
captures, and a calendar entry bills its length.

What it proves, point by point (issue 16):
- Periods: an approved, unbilled call of 30 September is billed in October, and the October
  pre-bill (and its LEDES file) declares its period from 30 September; `bill run` says so.
- An approval still waiting in the outbox is counted by `bill run`, and `bill follow` tells
  the bill that lacks it (`waiting_for_pms`) apart from a bill that really differs (`mismatch`).
- LEDES as the client receives it: control characters never reach the file, "10½" stays
  "10 1/2", a matter number or LEDES client id the format cannot carry is one clear error naming
  the record, and an empty pre-bill says why it is empty.
- Rules: a call and an e-mail of the same length on the same day are not duplicates, and
  "Attended: Mediation" is not vague, while "Telephone call with D. Ruiz" still is.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from billsync_sandboxes.cli.sandbox import connect_to_sandbox
from billsync_sandboxes.demo.data import generate_firm
from billsync_sandboxes.kit.server import build_server_app

from config.settings import load_settings
from core.billing.ledes_parser import parse_ledes
from core.http import HttpClient, RetryPolicy
from core.models import EntryState
from core.plugins import DEMO_SEEDS, SANDBOXES, load
from core.serving import run_in_thread
from core.store.store import Store
from tests.e2e.conftest import RUN

pytestmark = pytest.mark.e2e

BILLING = """
[firms.demo.billing.firm]
ledes_id = "12-3456789"
"""
STAMP = "2024-01-02T09:00:00Z"  # reference data predates the month
JANE = {"id": 1, "type": "User", "name": "Jane Smith", "identifier": "jane@firm.example"}
OMAR = {"id": 2, "type": "User", "name": "Omar Reyes", "identifier": "omar@firm.example"}
DANA = {"type": "Person", "name": "Dana Ruiz", "identifier": "dana@harbor.example"}  # the adjuster: no contact


def user(user_id: int, name: str, rate: float, *, owner: bool = False) -> dict[str, Any]:
    first, last = name.split()
    return {
        "id": user_id, "name": name, "first_name": first, "last_name": last, "email": f"{first.lower()}@firm.example",
        "enabled": True, "account_owner": owner, "clio_connect": False, "rate": rate,
        "job_title": {"id": 70 + user_id, "name": "Partner" if owner else "Associate"},  # LEDES PARTNR / ASSOC
        "roles": ["admin"] if owner else [], "subscription_type": "Attorney", "time_zone": "America/New_York",
        "default_calendar_id": 1000 + user_id, "created_at": STAMP, "updated_at": STAMP,
    }  # fmt: skip


def company(contact_id: int, name: str, email: str, ledes_client_id: str) -> dict[str, Any]:
    return {
        "id": contact_id, "name": name, "type": "Company", "is_client": True, "primary_email_address": email,
        "email_addresses": [{"id": contact_id * 100, "address": email, "name": "Work", "primary": True}],
        "ledes_client_id": ledes_client_id, "created_at": STAMP, "updated_at": STAMP,
    }  # fmt: skip


def matter(matter_id: int, number: str, description: str, client: int, method: str = "hourly") -> dict[str, Any]:
    return {
        "id": matter_id, "number": matter_id, "display_number": number, "description": description,
        "status": "Open", "billable": True, "billing_method": method, "open_date": "2024-01-02",
        "client": {"id": client}, "responsible_attorney": {"id": 1}, "created_at": STAMP, "updated_at": STAMP,
    }  # fmt: skip


def call(record_id: int, at: str, who: dict[str, Any], subject: str, matter_id: int) -> dict[str, Any]:
    """A phone call Clio logged: no length of its own, so the firm's 15-minute block."""
    return {
        "id": record_id, "type": "PhoneCommunication", "subject": subject, "body": "", "date": at[:10],
        "received_at": at, "user": {"id": who["id"]}, "senders": [who], "receivers": [DANA],
        "matter": {"id": matter_id}, "created_at": at, "updated_at": at,
    }  # fmt: skip


def email(record_id: int, at: str, who: dict[str, Any], subject: str, matter_id: int) -> dict[str, Any]:
    """An e-mail a firm user sent: the firm's 15-minute block."""
    return {**call(record_id, at, who, subject, matter_id), "type": "EmailCommunication"}


def meeting(record_id: int, start: str, end: str, summary: str, matter_id: int) -> dict[str, Any]:
    owner = {"id": 1001, "name": "Jane Smith", "type": "UserCalendar"}
    return {
        "id": str(record_id), "summary": summary, "start_at": start, "end_at": end, "all_day": False,
        "start_at_time_zone": "America/New_York", "court_rule": False, "calendar_owner": owner,
        "calendar_owner_id": 1001, "attendees": [], "matter": {"id": matter_id}, "created_at": end, "updated_at": end,
    }  # fmt: skip


SEED: dict[str, list[dict[str, Any]]] = {
    "users": [user(1, "Jane Smith", 400.0, owner=True), user(2, "Omar Reyes", 250.0)],
    "contacts": [
        company(1, "Harbor Insurance Co", "claims@harbor.example", "HARB-01"),
        company(2, "Beta Holdings LLC", "legal@beta.example", "BETA-7"),
        company(3, "Gamma Corp", "legal@gamma.example", "C|1[]"),  # a LEDES file cannot carry this id
    ],
    "matters": [
        matter(11, "HARB-0001", "Harbor v. Acme", 1),
        matter(12, "0001|0001", "Beta lease", 2),  # nor this matter number
        matter(13, "GAM-0001", "Gamma supply dispute", 3),
        matter(14, "HARB-0002", "Harbor policy wording", 1, method="flat"),  # no flat fee configured in billsync
    ],
    "communications": [
        # Harbor v. Acme. Times are UTC; the firm works in New York (EDT, UTC-4): dates as written.
        call(101, "2026-09-30T14:00:00Z", JANE, "Coverage position under the 2025 policy", 11),
        call(102, "2026-10-05T14:00:00Z", JANE, "Claim file production", 11),
        email(103, "2026-10-05T15:00:00Z", JANE, "Claim file production schedule", 11),
        call(104, "2026-10-14T14:00:00Z", OMAR, "", 11),
        email(105, "2026-10-20T14:00:00Z", JANE, "Lease\x1b summary of 10½ pages\x07\x7f", 11),
        call(106, "2026-10-22T14:00:00Z", JANE, "Settlement authority", 11),
        # Beta lease, Gamma supply dispute, Harbor policy wording (flat).
        call(121, "2026-10-07T14:00:00Z", JANE, "Lease renewal terms", 12),
        call(122, "2026-10-08T14:00:00Z", OMAR, "Landlord estoppel certificate", 12),
        call(131, "2026-10-09T14:00:00Z", JANE, "Supply agreement indemnity", 13),
        call(141, "2026-10-15T14:00:00Z", JANE, "Policy wording endorsement", 14),
    ],
    "calendar_entries": [meeting(201, "2026-10-12T13:00:00Z", "2026-10-12T16:00:00Z", "Mediation", 11)],
}
LATE = "communication:106"  # approved after the last sync: its approval waits in the outbox

# Harbor v. Acme, by hand: Jane 400.00/h, Omar 250.00/h; a call or e-mail 0.25 h, the mediation 3 h.
HARBOR_LINES = [
    # date, timekeeper, narrative as the client reads it, hours, amount, activity code
    ("20260930", "Jane Smith", "Telephone call with D. Ruiz re: Coverage position under the 2025 policy",
     "0.25", "100.00", "A106"),
    ("20261005", "Jane Smith", "Telephone call with D. Ruiz re: Claim file production", "0.25", "100.00", "A106"),
    ("20261005", "Jane Smith", "E-mail to D. Ruiz re: Claim file production schedule", "0.25", "100.00", "A106"),
    ("20261012", "Jane Smith", "Attended: Mediation", "3.00", "1200.00", "A109"),
    ("20261014", "Omar Reyes", "Telephone call with D. Ruiz", "0.25", "62.50", "A106"),
    ("20261020", "Jane Smith", "E-mail to D. Ruiz re: Lease summary of 10 1/2 pages", "0.25", "100.00", "A106"),
    ("20261022", "Jane Smith", "Telephone call with D. Ruiz re: Settlement authority", "0.25", "100.00", "A106"),
]  # fmt: skip
HARBOR_TOTAL = "1762.50"  # five 0.25 h lines of Jane (500.00), her 3 h mediation (1,200.00), Omar's 0.25 h (62.50)


class Firm:
    """The firm on its own sandbox (its Clio unless told); billsync's commands run as processes against it."""

    def __init__(self, tmp: Path, vendor: str = "clio", seed: dict[str, Any] = SEED) -> None:
        self.vendor = vendor
        self.sandbox = load(SANDBOXES, vendor)(seed, rate_limit_per_minute=100_000)
        self.port, self._stop = run_in_thread(build_server_app({vendor: self.sandbox}))
        self.base = f"http://127.0.0.1:{self.port}"
        self.config = tmp / "billsync.toml"
        http = HttpClient(policy=RetryPolicy(attempts=6), sleep=lambda _: None, timeout=(2.0, 5.0))
        connected = connect_to_sandbox(
            self.config, self.base, [vendor], extra=BILLING, http=http, retry_delay=timedelta(0)
        )
        connected.store.close()  # from here on, only billsync's own commands touch the firm

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*RUN, *args, "--config", str(self.config)],
            capture_output=True, text=True, timeout=300, check=False, env={**os.environ, "COLUMNS": "400"},
        )  # fmt: skip

    def billsync(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def refused(self, *args: str) -> str:
        """A refusal is exactly one line starting `error:`, and never a traceback."""
        done = self.run(*args)
        text = (done.stdout + done.stderr).strip()
        assert done.returncode != 0 and "Traceback" not in text and len(text.splitlines()) == 1, text
        assert text.startswith("error: "), text
        return text

    def entries(self) -> dict[str, Any]:
        """billsync's entries by the Clio record they came from ("communication:101")."""
        store = Store.open(load_settings(self.config).database_url)
        try:
            return {e.activity_key[1]: e for e in store.entries("demo")}
        finally:
            store.close()

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.base}/_sandbox/{self.vendor}/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self._stop()


@pytest.fixture
def firm(tmp_path: Path) -> Iterator[Firm]:
    made = Firm(tmp_path)
    yield made
    made.close()


def test_a_month_billed_as_the_client_receives_it(firm: Firm, tmp_path: Path) -> None:
    firm.billsync("sync", "--once")
    captured = firm.entries()
    assert len(captured) == 11 and all(e.state is EntryState.NEEDS_REVIEW for e in captured.values())
    firm.billsync("review", "approve", *(e.id for key, e in captured.items() if key != LATE))
    firm.billsync("sync", "--once")  # the approvals are written to Clio: billable there
    firm.billsync("review", "approve", captured[LATE].id)  # approved after the sync: still in the outbox
    states = {key: e.state for key, e in firm.entries().items()}
    assert states.pop(LATE) is EntryState.APPROVED and set(states.values()) == {EntryState.POSTED}

    ran = firm.billsync("bill", "run", "--period", "2026-10")
    assert "PB-2026-10-HARB-0001 declares 2026-09-30 to 2026-10-31: it bills earlier unbilled work" in ran
    assert "1 approved entries on these pre-bills are not in clio yet" in ran

    # The Harbor pre-bill, as the reviewing partner reads it.
    shown = firm.billsync("bill", "show", "PB-2026-10-HARB-0001")
    assert "period 2026-09-30 to 2026-10-31" in shown and "total 1,762.50 USD" in shown
    assert "warn billing period starts 2026-09-30, not 2026-10-01: line(s) 1 bill earlier unbilled work" in shown
    findings = [line for line in shown.splitlines() if line.startswith(("warn ", "review ", "block "))]
    assert findings == [
        "warn billing period starts 2026-09-30, not 2026-10-01: line(s) 1 bill earlier unbilled work (earlier_work)",
        "warn line 5: narrative is vague: 'Telephone call with D. Ruiz' (vague_narrative)",
    ]  # neither a duplicate (lines 2 and 3: a call and an e-mail) nor a vague mediation (line 4)

    # Its LEDES file: the period it declares holds every line, and each line says what was done.
    out = tmp_path / "harbor.ledes"
    firm.billsync("bill", "ledes", "PB-2026-10-HARB-0001", "--out", str(out))
    raw = out.read_bytes()
    assert raw.isascii() and not any((b < 32 and b != 10) or b == 127 for b in raw)
    [invoice] = parse_ledes(raw.decode("ascii")).invoices
    assert (invoice.fields["BILLING_START_DATE"], invoice.fields["BILLING_END_DATE"]) == ("20260930", "20261031")
    assert (invoice.fields["CLIENT_ID"], invoice.fields["LAW_FIRM_MATTER_ID"]) == ("HARB-01", "HARB-0001")
    assert invoice.total == Decimal(HARBOR_TOTAL)
    written = [
        (ln["LINE_ITEM_DATE"], ln["TIMEKEEPER_NAME"], ln["LINE_ITEM_DESCRIPTION"], ln["LINE_ITEM_NUMBER_OF_UNITS"],
         ln["LINE_ITEM_TOTAL"], ln["LINE_ITEM_ACTIVITY_CODE"])
        for ln in invoice.lines
    ]  # fmt: skip
    assert written == HARBOR_LINES

    # Identifiers the client matches invoices by are written as they are, or refused by name.
    piped = firm.refused("bill", "ledes", "PB-2026-10-0001|0001")
    assert piped == (
        "error: matter 'Beta lease' (12): its number '0001|0001' cannot be written into a LEDES file as it is "
        "('|' separates LEDES fields): change the matter number in the PMS"
    )
    gamma = firm.refused("bill", "ledes", "PB-2026-10-GAM-0001")
    assert gamma == (
        "error: client 'Gamma Corp' (3): its LEDES client id 'C|1[]' cannot be written into a LEDES file as it is "
        "('|' separates LEDES fields): correct the client's LEDES client ID in the PMS"
    )
    empty = firm.refused("bill", "ledes", "PB-2026-10-HARB-0002")
    assert empty == (
        "error: pre-bill PB-2026-10-HARB-0002 has no lines, so there is no LEDES file to write: matter HARB-0002 "
        "bills a flat fee but none is configured (billing.matters.14) (flat_fee)"
    )

    # A person bills both hourly matters in Clio. Harbor: everything Clio has as billable, which
    # cannot include the late approval. Beta: one of its two written entries is left off.
    entries = firm.entries()
    harbor = firm.admin("POST", "bills/generate", json={"matter_id": 11})
    assert Decimal(str(harbor["total"])) == Decimal(HARBOR_TOTAL) - Decimal("100.00")
    beta = firm.admin(
        "POST", "bills/generate", json={"matter_id": 12, "activity_ids": [entries["communication:121"].remote_id]}
    )
    assert Decimal(str(beta["total"])) == Decimal("100.00")
    followed = firm.billsync("bill", "follow")
    rows = {line.split("│")[1].strip(): line for line in followed.splitlines() if line.count("│") > 5}
    assert "waiting_for_pms" in rows[harbor["number"]] and "mismatch" not in rows[harbor["number"]]
    assert "mismatch" in rows[beta["number"]] and "waiting_for_pms" not in rows[beta["number"]]
    words = " ".join(followed.replace("│", " ").split())  # the table folds long cells onto more lines
    assert "1 approved entries are not in the PMS yet: run `billsync sync`, then update the bill" in words
    assert "missing from the bill: line 2 (2026-10-08, Omar Reyes, 0.25 h, 62.50)" in words
    listed = firm.billsync("bill", "list", "--period", "2026-10")
    assert "2026-10 (from 2026-09-30)" in listed and "waiting_for_pms" in listed and "mismatch" in listed


def test_a_practicepanther_invoice_made_before_an_approval_is_written_waits_for_the_pms(tmp_path: Path) -> None:
    """PracticePanther invoice lines carry no remote ids: the pre-bill is matched by content, and an
    approval still in the outbox must not look like a wrong invoice there either."""
    synthetic = generate_firm(
        timekeepers=3, clients=4, matters=6, activities=60, seed=11, month_start=datetime(2026, 10, 1, tzinfo=UTC)
    )
    seed = load(DEMO_SEEDS, "practicepanther")(synthetic, now=datetime(2026, 11, 1, tzinfo=UTC))
    firm = Firm(tmp_path, vendor="practicepanther", seed=seed)
    try:
        firm.billsync("sync", "--once")
        captured = [e for e in firm.entries().values() if e.remote_id and e.billable]
        matter_id, on_matter = max(
            (
                (m, sorted((e for e in captured if e.matter_id == m), key=lambda e: e.started_at))
                for m in {e.matter_id for e in captured}
            ),
            key=lambda item: len(item[1]),
        )
        assert len(on_matter) >= 3
        *early, late = on_matter
        firm.billsync("review", "approve", *(e.id for e in early))
        firm.billsync("sync", "--once")  # billable in PracticePanther now
        firm.billsync("review", "approve", late.id)  # not yet
        assert "1 approved entries on these pre-bills are not in practicepanther yet" in firm.billsync(
            "bill", "run", "--period", "2026-10"
        )
        invoice = firm.admin("POST", "actions/generate_invoice", json={"matter_id": matter_id})
        # What the person reads in PracticePanther: each written entry's hours x rate, to the cent.
        written = {e.remote_id for e in early}
        in_pp = [t for t in firm.admin("GET", "timeentries") if t["id"] in written]
        by_hand = sum((Decimal(str(t["hours"])) * Decimal(str(t["rate"]))).quantize(Decimal("0.01")) for t in in_pp)
        assert len(in_pp) == len(early) and Decimal(str(invoice["total"])) == by_hand
        followed = " ".join(firm.billsync("bill", "follow").replace("│", " ").split())
        assert "waiting_for_pms" in followed and "mismatch" not in followed
        assert "approved in billsync, not written to the PMS yet" in followed
    finally:
        firm.close()
