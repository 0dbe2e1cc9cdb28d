"""Rates and agreements as the firm set them up, through the CLI as processes and the vendors' sandboxes.

One Clio firm exercises every level of Clio's rate hierarchy (a price a person types on the entry,
a flat-rate category, the matter's rate for the timekeeper, the client's rate from Clio's activity
rates, for the user and through a group, the category's hourly rate, the user's default). The same
firm then bills under agreements Clio has no field for (discounts, a not-to-exceed cap, the
matter's UTBMS phase, LEDES classifications), set in billsync's configuration. A PracticePanther
firm gets PracticePanther's own rates (matter rules per user, role, everyone; else the user's).
Every expected figure is worked out by hand below, from the seeded records.
"""

from __future__ import annotations

import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from config.settings import load_settings
from core.billing.ledes_parser import parse_ledes
from core.models import TimeEntry
from core.store.billing import BillingStore
from core.store.store import Store
from tests.e2e.conftest import RUN, serve_sandbox

pytestmark = pytest.mark.e2e
D = Decimal
STAMP = "2026-09-01T09:00:00+00:00"
JANE, SAM, PAT, ALEX = 345, 346, 347, 348
ACME, BETA = 501, 502
ACME_LITIGATION, ACME_GENERAL, BETA_MATTER = 1001, 1002, 1003
CALLS, FILING = 77, 78
L120, L140, L310, A106 = 9120, 9140, 9310, 9506


def _user(user_id: int, name: str, rate: float, subscription: str, title: str | None, groups: list[int]) -> dict:
    first, last = name.split()
    return {
        "id": user_id, "name": name, "first_name": first, "last_name": last, "email": f"{first.lower()}@firm.test",
        "enabled": True, "rate": rate, "roles": [], "subscription_type": subscription, "time_zone": "UTC",
        "job_title": {"id": user_id, "name": title} if title else None,
        "groups": [{"id": g, "name": f"group {g}"} for g in groups], "created_at": STAMP, "updated_at": STAMP,
    }  # fmt: skip


def _call(call_id: int, user: int, matter: int, at: str, subject: str) -> dict:
    return {
        "id": call_id, "type": "PhoneCommunication", "subject": subject, "date": at[:10], "received_at": at,
        "user": {"id": user}, "matter": {"id": matter}, "senders": [], "receivers": [],
        "created_at": at, "updated_at": at,
    }  # fmt: skip


def clio_firm() -> dict[str, Any]:
    """A small firm in Clio's own record shapes (docs/vendors/clio.md §3; the OpenAPI spec's field names)."""
    return {
        "clio": {
            "users": [
                # Group 1 is the whole firm, group 2 the litigation team.
                _user(JANE, "Jane Doe", 400.0, "Attorney", "Partner", [1, 2]),
                _user(SAM, "Sam Lee", 250.0, "Attorney", "Senior Associate", [1, 2]),
                _user(PAT, "Pat Kim", 150.0, "NonAttorney", "Paralegal", [1]),
                _user(ALEX, "Alex Roe", 300.0, "Attorney", None, [1]),  # Clio says only "Attorney"
            ],
            "activity_descriptions": [
                {"id": CALLS, "name": "Telephone call", "category_type": "hourly",
                 "rate": {"amount": 180.0, "type": "Custom", "hierarchy": "Activity", "non_billable_amount": 0.0},
                 "created_at": STAMP, "updated_at": STAMP},
                {"id": FILING, "name": "Court filing", "category_type": "flat fee",
                 "rate": {"amount": 95.0, "type": "FlatRate", "hierarchy": "Activity", "non_billable_amount": 0.0},
                 "created_at": STAMP, "updated_at": STAMP},
            ],
            "contacts": [
                {"id": ACME, "name": "Acme Corp", "type": "Company", "is_client": True, "created_at": STAMP,
                 "updated_at": STAMP},
                {"id": BETA, "name": "Beta LLC", "type": "Company", "is_client": True, "is_co_counsel": True,
                 "created_at": STAMP, "updated_at": STAMP},
            ],
            # GET /activity_rates rows (docs/vendors/clio.md §3.3): Acme agreed 275 for Jane and 210 for the
            # litigation group; Beta is also co-counsel at 500, which prices Beta's own users' time.
            "activity_rates": [
                {"id": 1, "rate": 275.0, "flat_rate": False, "contact_id": ACME, "user": {"id": JANE},
                 "created_at": STAMP, "updated_at": STAMP},
                {"id": 2, "rate": 210.0, "flat_rate": False, "contact_id": ACME, "group": {"id": 2},
                 "created_at": STAMP, "updated_at": STAMP},
                {"id": 3, "rate": 500.0, "flat_rate": False, "co_counsel_contact_id": BETA,
                 "created_at": STAMP, "updated_at": STAMP},
            ],
            "matters": [
                {"id": ACME_LITIGATION, "number": 12, "display_number": "00012-Acme", "description": "Acme v. Gamma",
                 "status": "Open", "billable": True, "billing_method": "hourly", "client": {"id": ACME},
                 "custom_rate": {"type": "HourlyRate", "on_invoice": False,
                                 "rates": [{"id": 11, "rate": 320.0, "user": {"id": JANE}}]},
                 "created_at": STAMP, "updated_at": STAMP},
                {"id": ACME_GENERAL, "number": 13, "display_number": "00013-Acme", "description": "Acme general",
                 "status": "Open", "billable": True, "billing_method": "hourly", "client": {"id": ACME},
                 "created_at": STAMP, "updated_at": STAMP},
                {"id": BETA_MATTER, "number": 20, "display_number": "00020-Beta", "description": "Beta lease",
                 "status": "Open", "billable": True, "billing_method": "hourly", "client": {"id": BETA},
                 "created_at": STAMP, "updated_at": STAMP},
            ],
            "communications": [
                _call(4001, JANE, ACME_LITIGATION, "2026-10-05T14:00:00+00:00", "Strategy for the hearing"),
                _call(4002, JANE, ACME_GENERAL, "2026-10-06T14:00:00+00:00", "Supplier contract terms"),
                _call(4003, SAM, ACME_GENERAL, "2026-10-07T14:00:00+00:00", "Board minutes review"),
                _call(4004, PAT, ACME_GENERAL, "2026-10-08T14:00:00+00:00", "Exhibit list for the filing"),
                {"id": 4005, "type": "EmailCommunication", "subject": "Lease schedule", "date": "2026-10-09",
                 "received_at": "2026-10-09T14:00:00+00:00", "matter": {"id": BETA_MATTER},
                 "senders": [{"id": PAT, "type": "User", "name": "Pat Kim"}],
                 "receivers": [{"id": 9, "type": "Person", "name": "Bo Beta", "identifier": "bo@beta.test"}],
                 "created_at": "2026-10-09T14:00:00+00:00", "updated_at": "2026-10-09T14:00:00+00:00"},
                _call(4006, SAM, BETA_MATTER, "2026-10-12T14:00:00+00:00", "Landlord's counter-offer"),
                _call(4007, ALEX, BETA_MATTER, "2026-10-13T14:00:00+00:00", "Zoning question"),
            ],
            "tasks": [
                {"id": 6001, "name": "File the motion to compel", "description": "e-filing", "status": "complete",
                 "completed_at": "2026-10-14T16:00:00+00:00", "assignee": {"id": JANE, "type": "User"},
                 "matter": {"id": ACME_LITIGATION}, "created_at": STAMP, "updated_at": "2026-10-14T16:00:00+00:00"},
            ],
            "utbms_codes": [
                {"id": L120, "code": "L120", "name": "Analysis/Strategy", "type": "UtbmsTask", "utbms_set_id": 1},
                {"id": L140, "code": "L140", "name": "Document/File Management", "type": "UtbmsTask",
                 "utbms_set_id": 1},
                {"id": L310, "code": "L310", "name": "Written Discovery", "type": "UtbmsTask", "utbms_set_id": 1},
                {"id": A106, "code": "A106", "name": "Communicate (with client)", "type": "UtbmsActivity",
                 "utbms_set_id": 1},
            ],
            # Clio rounds to tenths of an hour (6 minutes), so billsync's blocks below stay as they are.
            "billing_settings": {"rounding": 6, "use_decimal_rounding": False, "currency": "USD"},
        }
    }  # fmt: skip


# Calls: half-hour blocks in the "Telephone call" category; e-mails 12 minutes.
CAPTURE = """
[firms.demo.capture.kinds.call]
minutes = 30
category_id = "77"

[firms.demo.capture.kinds.email]
minutes = 12
"""
# Completed tasks are court filings (the flat-rate category); elsewhere tasks are not captured.
TASKS_AS_FILINGS = '\n[firms.demo.capture.kinds.task]\ncategory_id = "78"\n'
TASKS_OFF = "\n[firms.demo.capture.kinds.task]\nenabled = false\n"


class Firm:
    """The firm's config, its processes, and what the firm sees in Clio and in billsync's store."""

    def __init__(self, config: Path, base: str, env: dict[str, str] | None = None) -> None:
        self.config, self.base = config, base
        self.env = {**os.environ, "COLUMNS": "250", **(env or {})}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*RUN, *args, "--config", str(self.config)],
            capture_output=True, text=True, timeout=300, check=False, env=self.env,
        )  # fmt: skip

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        return done.stdout

    def add_config(self, toml: str) -> None:
        with self.config.open("a", encoding="utf-8") as file:
            file.write(toml)

    def admin(self, vendor: str, method: str, path: str, **kwargs: Any) -> Any:
        answer = requests.request(method, f"{self.base}/_sandbox/{vendor}/{path}", timeout=10, **kwargs)
        answer.raise_for_status()
        body = answer.json()
        return body["data"] if isinstance(body, dict) and "data" in body else body

    def clio_entries(self) -> dict[str, dict[str, Any]]:
        """Clio's time entries by the record each was logged from ("communication:4001", "task:6001")."""
        found = {}
        for activity in self.admin("clio", "GET", "activities"):
            for link in ("communication", "task"):
                if activity["type"] == "TimeEntry" and activity.get(link):
                    found[f"{link}:{activity[link]['id']}"] = activity
        return found

    def entries(self) -> dict[str, TimeEntry]:
        """billsync's entries by the source record, read from its store."""
        store = Store.open(load_settings(self.config).database_url)
        try:
            return {e.activity_key[1]: e for e in store.entries("demo")}
        finally:
            store.close()


@pytest.fixture
def clio(tmp_path: Path):
    seed, config = tmp_path / "seed.json", tmp_path / "firm.toml"
    seed.write_text(json.dumps(clio_firm()))
    with serve_sandbox(seed, config) as base:
        firm = Firm(config, base)
        firm.add_config(CAPTURE)
        firm.ok("connect", "clio", "--config", str(config), "--auto-approve")
        yield firm


def charged(activity: dict[str, Any]) -> float:
    """What Clio charges for an entry: its total, or while it waits for review, its non-billable total."""
    return activity["total"] or activity["non_billable_total"]


def test_every_level_of_clios_rate_hierarchy_holds_on_one_firm(clio: Firm) -> None:
    clio.add_config(TASKS_AS_FILINGS)
    assert "written 8," in clio.ok("sync", "--once")
    # A reviewer types a custom rate of 400 on Sam's call with Beta, and approves it with billsync
    # before the next sync: the approval's write must not reset the price.
    sams_beta_call = clio.entries()["communication:4006"]
    clio.admin("clio", "PATCH", f"activities/{clio.clio_entries()['communication:4006']['id']}", json={"price": 400.0})
    clio.ok("review", "approve", sams_beta_call.id)
    clio.ok("sync", "--once")

    # By hand, hours x rate (30-minute calls = 0.5 h, 12-minute e-mails = 0.2 h):
    expected = {
        # custom: the 400 typed on the entry beats the category's 180: 0.5 x 400
        "communication:4006": (D("400"), D("200.00")),
        # flat: the filing category's 95 beats Jane's matter rate, whatever the time
        "task:6001": (D("95"), D("95.00")),
        # matter: Jane's 320 on Acme v. Gamma beats Acme's 275 and the category: 0.5 x 320
        "communication:4001": (D("320"), D("160.00")),
        # client: Acme's 275 for Jane beats the category's 180 (the rate that used to win): 0.5 x 275
        "communication:4002": (D("275"), D("137.50")),
        # client, through a group: Sam has no rate of his own at Acme, his litigation group 210
        "communication:4003": (D("210"), D("105.00")),
        # category: Pat has no Acme rate and no group rate there: the category's 180, 0.5 x 180
        "communication:4004": (D("180"), D("90.00")),
        # timekeeper default: an e-mail has no category; Beta's co-counsel 500 is not a client rate
        "communication:4005": (D("150"), D("30.00")),
        # category again, for Alex on Beta: 0.5 x 180
        "communication:4007": (D("180"), D("90.00")),
    }
    in_clio, ours = clio.clio_entries(), clio.entries()
    assert set(in_clio) == set(ours) == set(expected)
    for source, (rate, amount) in expected.items():
        assert (D(str(in_clio[source]["price"])), D(str(charged(in_clio[source])))) == (rate, amount), source
        assert (ours[source].rate, ours[source].amount) == (rate, amount), source
    assert in_clio["task:6001"]["flat_rate"] is True
    assert in_clio["communication:4006"]["non_billable"] is False  # approved, billable, price kept


def test_agreements_discounts_caps_phases_and_classifications_bill_as_configured(clio: Firm, tmp_path: Path) -> None:
    clio.env["BILLSYNC_FIRMS__DEMO__CAPTURE__REVIEW"] = "none"  # entries without findings are approved
    clio.add_config(
        TASKS_OFF
        + """
[firms.demo.billing.clients.501]
discount = { kind = "percent", value = "10" }

[firms.demo.billing.matters.1001]
cap_amount = "100.00"
task_code = "L310"

[firms.demo.billing.matters.1002]
discount = { kind = "fixed_per_hour", value = "25" }
task_code = "L120"
"""
    )
    clio.ok("sync", "--once")
    # A paralegal sets the UTBMS task code L140 on her call in Clio, through its activity description.
    pats_call = clio.clio_entries()["communication:4004"]
    coded = {"activity_description": {"id": CALLS, "utbms_task_id": L140}}
    clio.admin("clio", "PATCH", f"activities/{pats_call['id']}", json=coded)
    # Jane's call on the capped matter waits for review (the cap cut it); a partner approves it.
    capped = clio.entries()["communication:4001"]
    assert capped.state.value == "needs_review" and any(f.rule == "matter_cap" for f in capped.findings)
    clio.ok("review", "approve", capped.id)
    clio.ok("sync", "--once")

    ours = clio.entries()
    # By hand:
    # 00012-Acme: Jane 0.5 h x 320 = 160.00, less Acme's 10 % = 144.00, capped at 100.00.
    # 00013-Acme: its own fixed 25 off each hour beats Acme's 10 %: Jane 0.5 x (275 - 25) = 125.00,
    #   Sam 0.5 x (210 - 25) = 92.50, Pat 0.5 x (180 - 25) = 77.50; total 295.00.
    # 00020-Beta: no agreement: Pat 0.2 x 150 = 30.00, Sam 0.5 x 180 = 90.00, Alex 0.5 x 180 = 90.00; 210.00.
    assert {k: (e.rate, e.amount) for k, e in ours.items()} == {
        "communication:4001": (D("320"), D("100.00")),
        "communication:4002": (D("275"), D("125.00")),
        "communication:4003": (D("210"), D("92.50")),
        "communication:4004": (D("180"), D("77.50")),
        "communication:4005": (D("150"), D("30.00")),
        "communication:4006": (D("180"), D("90.00")),
        "communication:4007": (D("180"), D("90.00")),
    }
    # The matter's phase, except where a person set a code on the entry in Clio.
    assert {k: e.task_code for k, e in ours.items()} == {
        "communication:4001": "L310",
        "communication:4002": "L120",
        "communication:4003": "L120",
        "communication:4004": "L140",
        "communication:4005": None,
        "communication:4006": None,
        "communication:4007": None,
    }

    clio.ok("bill", "run", "--period", "2026-10")
    store = Store.open(load_settings(clio.config).database_url)
    try:
        prebills = {p.matter_id: p for p in BillingStore(store.engine).prebills("demo")}
    finally:
        store.close()
    assert {m: p.total for m, p in prebills.items()} == {
        str(ACME_LITIGATION): D("100.00"),
        str(ACME_GENERAL): D("295.00"),
        str(BETA_MATTER): D("210.00"),
    }
    general = prebills[str(ACME_GENERAL)]
    # Each line: hours x the rate Clio shows, the agreed discount as the line's adjustment.
    assert [(ln.units, ln.unit_cost, ln.adjustment, ln.amount, ln.task_code) for ln in general.lines] == [
        (D("0.5000"), D("275"), D("-12.50"), D("125.00"), "L120"),
        (D("0.5000"), D("210"), D("-12.50"), D("92.50"), "L120"),
        (D("0.5000"), D("180"), D("-12.50"), D("77.50"), "L140"),
    ]

    # LEDES: partner, senior associate and paralegal as Clio's job titles say; never OTH for them.
    out = tmp_path / "general.ledes"
    clio.ok("bill", "ledes", general.number, "--out", str(out))
    text = out.read_text(encoding="ascii")
    parse_ledes(text)
    rows = [line.split("|") for line in text.splitlines()[2:]]
    header = text.splitlines()[1].removesuffix("[]").split("|")
    column = header.index("TIMEKEEPER_CLASSIFICATION")
    assert [(row[header.index("TIMEKEEPER_ID")], row[column]) for row in rows] == [
        ("345", "PARTNR"),
        ("346", "ASSOC"),
        ("347", "PRLGL"),
    ]

    # Alex is an attorney with no job title in Clio: partner, associate or of counsel cannot be told,
    # so the file is refused with the key to set, in one line.
    beta = prebills[str(BETA_MATTER)]
    refused = clio.run("bill", "ledes", beta.number)
    assert refused.returncode != 0 and "Traceback" not in refused.stdout + refused.stderr
    message = (refused.stdout + refused.stderr).strip()
    assert "timekeeper Alex Roe (user 348)" in message, message
    assert "set firms.demo.billing.timekeepers.348.classification to one of PARTNR, ASSOC, OFCNSL" in message
    assert len(message.splitlines()) == 1, message
    clio.add_config('\n[firms.demo.billing.timekeepers.348]\nclassification = "OFCNSL"\n')
    written = clio.ok("bill", "ledes", beta.number)
    assert "|348|" in written and "|Alex Roe|OFCNSL|" in written


@pytest.mark.parametrize(
    ("table", "setting", "key"),
    [
        ("timekeepers.345", 'classification = "Partner"', "timekeepers.345.classification"),
        ("matters.1001", 'task_code = "A106"', "matters.1001.task_code"),  # an activity code, not a task code
        ("matters.1001", 'cap_amount = "1e3"', "matters.1001.cap_amount"),
        ("clients.501", 'discount = { kind = "percent", value = "110" }', "clients.501.discount"),
        ("clients.501", 'discount = { kind = "half", value = "10" }', "clients.501.discount.kind"),
    ],
    ids=["classification", "task-code", "cap", "percent", "kind"],
)
def test_a_wrong_agreement_is_one_line_naming_its_key(tmp_path: Path, table: str, setting: str, key: str) -> None:
    config = tmp_path / "firm.toml"
    toml = f'[firms.demo]\nname = "Sandbox Law LLP"\n\n[firms.demo.billing.{table}]\n{setting}\n'
    config.write_text(toml, encoding="utf-8")
    done = subprocess.run([*RUN, "check-config", "--config", str(config)], capture_output=True, text=True, timeout=120)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode != 0 and "Traceback" not in output
    assert len(output.splitlines()) == 1 and f"firms.demo.billing.{key}:" in output, output


# -- PracticePanther ------------------------------------------------------------------------------

PRACTICEPANTHER_JANE = "0b6c7a52-1f0e-4d5a-9d1e-000000000001"
PRACTICEPANTHER_SAM = "0b6c7a52-1f0e-4d5a-9d1e-000000000002"
PRACTICEPANTHER_PAT = "0b6c7a52-1f0e-4d5a-9d1e-000000000003"
PRACTICEPANTHER_KIM = "0b6c7a52-1f0e-4d5a-9d1e-000000000004"
PRACTICEPANTHER_ACME = "1a1a1a1a-0000-4000-8000-000000000001"
PRACTICEPANTHER_BETA = "1a1a1a1a-0000-4000-8000-000000000002"
PRACTICEPANTHER_RULED = "2b2b2b2b-0000-4000-8000-000000000001"
PRACTICEPANTHER_PLAIN = "2b2b2b2b-0000-4000-8000-000000000002"
PRACTICEPANTHER_STAMP = "2026-09-01T09:00:00"


def _practicepanther_user(user_id: str, name: str, role: str, default_rate: float) -> dict:
    first, last = name.split()
    # `role` and `default_rate` are PracticePanther's own settings, which its API never shows
    # (docs/vendors/practicepanther.md §9): sandbox bookkeeping, used when an entry comes in without a rate.
    return {"id": user_id, "display_name": name, "first_name": first, "last_name": last,
            "email": f"{first.lower()}@firm.test", "is_active": True, "role": role, "default_rate": default_rate,
            "updated_at": PRACTICEPANTHER_STAMP}  # fmt: skip


def _practicepanther_call(number: int, user: str, matter: str, account: str, day: int, subject: str) -> dict:
    at = f"2026-10-{day:02d}T14:00:00"
    return {"id": f"5e5e5e5e-0000-4000-8000-{number:012d}", "subject": subject, "date": at,
            "call_direction": "Outbound", "assigned_to_users": [{"id": user}], "matter_ref": {"id": matter},
            "account_ref": {"id": account}, "updated_at": at}  # fmt: skip


def practicepanther_firm() -> dict[str, Any]:
    """A small firm in PracticePanther's own record shapes (docs/vendors/practicepanther.md §9)."""
    return {
        "practicepanther": {
            "users": [
                _practicepanther_user(PRACTICEPANTHER_JANE, "Jane Doe", "Partner", 300.0),
                _practicepanther_user(PRACTICEPANTHER_SAM, "Sam Lee", "Associate", 200.0),
                _practicepanther_user(PRACTICEPANTHER_PAT, "Pat Kim", "Paralegal", 120.0),
                _practicepanther_user(PRACTICEPANTHER_KIM, "Kim Park", "Associate", 180.0),
            ],
            "accounts": [
                {"id": PRACTICEPANTHER_ACME, "display_name": "Acme Corp", "company_name": "Acme Corp", "number": 7,
                 "primary_contact": {"id": "4d4d4d4d-0000-4000-8000-000000000001", "email": "ann@acme.test"},
                 "updated_at": PRACTICEPANTHER_STAMP},
                {"id": PRACTICEPANTHER_BETA, "display_name": "Beta LLC", "company_name": "Beta LLC", "number": 8,
                 "primary_contact": {"id": "4d4d4d4d-0000-4000-8000-000000000002", "email": "bo@beta.test"},
                 "updated_at": PRACTICEPANTHER_STAMP},
            ],
            "matters": [
                # The matter's hourly rates as set in PracticePanther: Jane 350, associates 240,
                # everyone else 160 (sandbox bookkeeping, as above).
                {"id": PRACTICEPANTHER_RULED, "account_ref": {"id": PRACTICEPANTHER_ACME}, "number": 1001,
                 "name": "Acme v. Gamma", "status": "Open", "rate": "User Hourly Rate",
                 "assigned_to_users": [{"id": PRACTICEPANTHER_JANE}],
                 "rate_rules": [{"user_id": PRACTICEPANTHER_JANE, "rate": 350}, {"role": "Associate", "rate": 240},
                                {"rate": 160}],
                 "updated_at": PRACTICEPANTHER_STAMP},
                {"id": PRACTICEPANTHER_PLAIN, "account_ref": {"id": PRACTICEPANTHER_BETA}, "number": 1002,
                 "name": "Beta lease",
                 "status": "Open", "rate": "User Hourly Rate", "assigned_to_users": [{"id": PRACTICEPANTHER_KIM}],
                 "updated_at": PRACTICEPANTHER_STAMP},
            ],
            "calllogs": [
                _practicepanther_call(1, PRACTICEPANTHER_JANE, PRACTICEPANTHER_RULED, PRACTICEPANTHER_ACME, 5,
                                      "Strategy for the hearing"),
                _practicepanther_call(2, PRACTICEPANTHER_SAM, PRACTICEPANTHER_RULED, PRACTICEPANTHER_ACME, 6,
                                      "Deposition outline"),
                _practicepanther_call(3, PRACTICEPANTHER_PAT, PRACTICEPANTHER_RULED, PRACTICEPANTHER_ACME, 7,
                                      "Exhibit binder"),
                _practicepanther_call(4, PRACTICEPANTHER_KIM, PRACTICEPANTHER_PLAIN, PRACTICEPANTHER_BETA, 8,
                                      "Landlord's counter-offer"),
            ],
        }
    }  # fmt: skip


def test_a_practicepanther_firm_bills_practicepanthers_own_rate_rules(tmp_path: Path) -> None:
    seed, config = tmp_path / "seed.json", tmp_path / "firm.toml"
    seed.write_text(json.dumps(practicepanther_firm()))
    with serve_sandbox(seed, config) as base:
        firm = Firm(config, base)
        firm.add_config(
            '\n[firms.demo.capture.kinds.call]\nminutes = 30\n'
            f'\n[firms.demo.billing.clients."{PRACTICEPANTHER_BETA}"]\n'
            'discount = { kind = "fixed_per_hour", value = "30" }\n'
        )
        firm.ok("connect", "practicepanther", "--config", str(config), "--auto-approve")
        firm.ok("sync", "--once")
        in_practicepanther = {
            e["billed_by_user_ref"]["id"]: e for e in firm.admin("practicepanther", "GET", "timeentries")
        }
        ours = {e.timekeeper_id: e for e in firm.entries().values()}
    # By hand, 30-minute calls = 0.5 h:
    expected = {
        # The matter's rate for Jane herself beats her role's and her own 300:
        PRACTICEPANTHER_JANE: (D("350"), D("175.00")),
        # No rule for Sam: his role's (Associate) beats everyone's and his 200:
        PRACTICEPANTHER_SAM: (D("240"), D("120.00")),
        PRACTICEPANTHER_PAT: (D("160"), D("80.00")),  # no rule for Pat or paralegals: the matter's rate for everyone
        # No rules on Beta's matter: Kim's own 180; Beta agreed 30 off each hour: 0.5 x (180 - 30).
        PRACTICEPANTHER_KIM: (D("180"), D("75.00")),
    }
    assert set(in_practicepanther) == set(ours) == set(expected)
    for user, (rate, amount) in expected.items():
        assert D(str(in_practicepanther[user]["rate"])) == rate, user  # what PracticePanther will invoice
        assert (ours[user].rate, ours[user].amount) == (rate, amount), user
