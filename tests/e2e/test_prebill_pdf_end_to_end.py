"""The PDF pre-bill a client receives, made by billing staff from a Clio firm, read as the client reads it.

The firm is on the local Clio over real HTTP. Its client is a contact with a Billing address (and
a Work one marked primary), a name carrying markup, a formula and a NUL; its matter has a
description; an associate e-mailed the client three times, once with a subject long enough that
the narrative must wrap. Staff run `billsync sync`, `review approve`, `bill run` and
`bill show --pdf` as processes; the PDF is drawn with pdftoppm and its text read with pypdf.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.billing.pdf_pages import control_characters, read_pdf
from tests.e2e.conftest import RUN
from tests.reliability.firms import CLIO, SandboxFirm

pytestmark = pytest.mark.e2e
BOX_DRAWING = re.compile("[\u2500-\u257f]")

CLIENT_ID, MATTER_ID = 9101, 9201
HOSTILE_CLIENT = '[/bold] Harbor <script>alert(1)</script> =HYPERLINK("http://evil.example") Nul\x00Byte Insurance'
CLIENT_SHOWN = '[/bold] Harbor <script>alert(1)</script> =HYPERLINK("http://evil.example") Nul Byte Insurance'
MATTER_NUMBER = "HARB-2026-0042"
MATTER_DESCRIPTION = "Harbor Insurance v. Beta Logistics: coverage for cargo lost at the Port of Providence"
LONG_SUBJECT = (
    "supplemental production cross-checked against the adjuster's log; proposed scope for the "
    "Rule 30(b)(6) deposition topics, privilege log deficiencies and the outstanding claim file "
    "requests for the meet-and-confer"
)
SUBJECTS = (LONG_SUBJECT, "deposition dates", "mediation statement")
CONFIG = """
[firms.demo.capture]
increment_minutes = 6
[firms.demo.capture.kinds.email]
minutes = 12                      # 0.2 h an e-mail

[firms.demo.billing.firm]
ledes_id = "12-3456789"
name = "Acme Law LLP"
address_1 = "1 Main Street"
address_2 = "Floor 12"
city = "Boston"
region = "MA"
postcode = "02110"
country = "US"
phone = "+1 617 555 0100"
email = "billing@acme-law.example"
tax_id = "98-7654321"
"""


def clio_address(address_id: int, name: str, street: str, *, primary: bool) -> dict[str, Any]:
    """An Address as Clio's spec shapes it (Address_base)."""
    return {
        "id": address_id, "etag": f'"{address_id}"', "name": name, "street": street, "city": "Providence",
        "province": "RI", "postal_code": "02903", "country": "United States", "primary": primary,
        "created_at": "2024-11-01T00:00:00+00:00", "updated_at": "2024-11-01T00:00:00+00:00",
    }  # fmt: skip


def add_harbor(seed: dict[str, Any]) -> None:
    """The client, its matter and the associate's three e-mails, in Clio's shapes."""
    associate = seed["users"][1]
    associate["rate"] = 350.0
    stamp = "2024-11-01T00:00:00+00:00"
    work = clio_address(9501, "Work", "1 Dock Street", primary=True)
    seed["contacts"].append(
        {
            "id": CLIENT_ID, "name": HOSTILE_CLIENT, "type": "Company", "initials": "HI", "is_client": True,
            "is_co_counsel": False, "is_bill_recipient": True,
            "primary_email_address": "claims@harbor-insurance.example",
            "email_addresses": [{"id": 9601, "address": "claims@harbor-insurance.example", "name": "Work",
                                 "primary": True, "created_at": stamp, "updated_at": stamp}],
            "addresses": [work, clio_address(9502, "Billing", "500 Harbor Boulevard\nSuite 900", primary=False)],
            "primary_address": work,
            "created_at": stamp, "updated_at": stamp,
        }
    )  # fmt: skip
    seed["matters"].append(
        {
            "id": MATTER_ID, "number": MATTER_ID, "display_number": MATTER_NUMBER, "description": MATTER_DESCRIPTION,
            "status": "Open", "billable": True, "billing_method": "hourly", "open_date": "2026-07-01",
            "client": {"id": CLIENT_ID}, "responsible_attorney": {"id": associate["id"]},
            "created_at": "2026-07-01T00:00:00+00:00", "updated_at": "2026-07-01T00:00:00+00:00",
        }
    )  # fmt: skip
    for n, subject in enumerate(SUBJECTS):
        sent = f"2026-10-{12 + n}T15:00:00+00:00"
        seed["communications"].append(
            {
                "id": 9301 + n, "type": "EmailCommunication", "subject": subject,
                "body": "Privileged: the client's own view of the claim", "date": sent[:10], "received_at": sent,
                "user": {"id": associate["id"]}, "matter": {"id": MATTER_ID},
                "senders": [{"id": associate["id"], "type": "User", "name": associate["name"],
                             "identifier": associate["email"], "initials": "AS", "enabled": True}],
                "receivers": [{"type": "Person", "name": "Dana Whitfield",
                               "identifier": "dana.whitfield@harbor-insurance.example"}],
                "created_at": sent, "updated_at": sent,
            }
        )  # fmt: skip


@pytest.fixture
def firm(tmp_path: Path) -> Iterator[SandboxFirm]:
    made = SandboxFirm(tmp_path / "firm", CLIO, activities=20, seed_edit=add_harbor, extra_config=CONFIG)
    yield made
    made.close()


def billsync(firm: SandboxFirm, *args: str) -> str:
    done = subprocess.run(
        [*RUN, *args, "--config", str(firm.config)], capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def bill_the_month(firm: SandboxFirm) -> str:
    """Staff capture, approve the matter's e-mails, let the approvals reach Clio and run October's cycle."""
    billsync(firm, "sync", "--once")
    approved = billsync(firm, "review", "approve", "--matter", MATTER_NUMBER)
    assert approved.startswith("approved 3 entries"), approved
    billsync(firm, "sync", "--once")  # the approvals reach Clio
    ran = billsync(firm, "bill", "run", "--period", "2026-10")
    assert "pre-bills for 2026-10" in ran
    return f"PB-2026-10-{MATTER_NUMBER}"


def test_the_pdf_prebill_carries_the_letterhead_the_clients_address_and_every_narrative(
    firm: SandboxFirm, tmp_path: Path
) -> None:
    number = bill_the_month(firm)
    pdf = tmp_path / "harbor.pdf"
    assert f"wrote {pdf}" in billsync(firm, "bill", "show", number, "--pdf", str(pdf))

    read = read_pdf(pdf.read_bytes(), tmp_path / "pages")
    assert len(read.pngs) == 1  # three lines and the letterhead fit one page
    lines = read.text.splitlines()
    for expected in (
        "Acme Law LLP", "1 Main Street", "Floor 12", "Boston, MA 02110", "US",
        "Phone +1 617 555 0100  E-mail billing@acme-law.example", "Tax ID 98-7654321",
        f"Pre-bill {number}", "Billing period 2026-10-01 to 2026-10-31",
        # Clio's address named Billing, not the primary Work one.
        "Bill to", "500 Harbor Boulevard", "Suite 900", "Providence, RI 02903", "United States",
        "Matter", MATTER_NUMBER, MATTER_DESCRIPTION,
    ):  # fmt: skip
        assert expected in lines, expected
    assert "1 Dock Street" not in read.text
    assert CLIENT_SHOWN in read.words and control_characters(read.text) == set()
    long_narrative = f"E-mail to D. Whitfield re: {LONG_SUBJECT}"
    assert long_narrative not in read.text and long_narrative in read.words  # wrapped, printed whole
    for subject in SUBJECTS[1:]:
        assert f"E-mail to D. Whitfield re: {subject}" in read.words
    # By hand: three e-mails of 12 minutes, 0.2 h each at the associate's 350.00 = 70.00 each.
    assert read.words.count(" 0.20 350.00 70.00") == 3
    assert "Fees and adjustments 210.00" in lines and "Total (USD) 210.00" in lines
    assert "Privileged" not in read.text
    # The client's document: no guideline check and no workflow status (the pre-bill is a draft).
    assert "Guideline" not in read.text and "No findings" not in read.text
    assert "status" not in read.text and "draft" not in read.text


def test_bill_follow_says_a_clio_bill_differs_by_the_agreed_discount(tmp_path: Path) -> None:
    """The client agreed 10 % off; the person who generates the bill in Clio bills hours x rate."""
    discount = f'\n[firms.demo.billing.clients.{CLIENT_ID}]\ndiscount = {{ kind = "percent", value = "10" }}\n'
    firm = SandboxFirm(tmp_path / "firm", CLIO, activities=20, seed_edit=add_harbor, extra_config=CONFIG + discount)
    try:
        number = bill_the_month(firm)
        activities = firm.admin("GET", "activities").json()
        remote_ids = [int(a["id"]) for a in activities if (a.get("matter") or {}).get("id") == MATTER_ID]
        assert len(remote_ids) == 3
        bill = firm.admin("POST", "bills/generate", json={"matter_id": MATTER_ID, "activity_ids": remote_ids}).json()
        # By hand: Clio bills 3 x 70.00 = 210.00; the pre-bill 3 x 63.00 = 189.00; 21.00 is the discount.
        assert Decimal(str(bill["total"])) == Decimal("210.00")
        # Off a terminal the table is 200 columns wide and wraps its cells: read it without the rules.
        followed = " ".join(BOX_DRAWING.sub(" ", billsync(firm, "bill", "follow")).split())
        assert (
            "the bill's total is 210.00, the pre-bill's 189.00: the difference, 21.00, is the discount or cap agreed "
            "for the matter (lines 1, 2 and 3), which the PMS bill does not apply; apply it in the PMS"
        ) in followed
        shown = " ".join(billsync(firm, "bill", "show", number).split())
        assert "PMS bill differs the bill's total is 210.00, the pre-bill's 189.00: the difference, 21.00" in shown
    finally:
        firm.close()
