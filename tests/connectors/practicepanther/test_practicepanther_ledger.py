"""Invoices and payments: read-only in PracticePanther's API, read for reconciliation and reports."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connectors.practicepanther import mapping
from core.models import BillState, PaymentAccount, RemoteBill, RemotePayment
from tests.connectors.practicepanther.harness import make_env, time_entry
from tests.connectors.practicepanther.seed import ACME, HOURLY, JANE


def read(env: Any, name: str, since: Any = None) -> list[Any]:
    [stream] = [s for s in env.connector.streams() if s.name == name]
    return [r for page in stream.read(since) for r in page.records]


def billable_entry(env: Any, hours: float, rate: int, description: str) -> str:
    record = env.admin(
        "POST",
        "timeentries",
        {
            "date": "2026-03-31T00:00:00",
            "hours": hours,
            "rate": rate,
            "is_billable": True,
            "is_billed": False,
            "description": description,
            "matter_ref": {"id": HOURLY},
            "account_ref": {"id": ACME},
            "billed_by_user_ref": {"id": JANE},
        },
    )
    return str(record["id"])


def test_an_invoice_a_person_generates_is_read_with_its_lines_and_totals() -> None:
    env = make_env()
    billable_entry(env, 1.1, 310, "Draft motion")  # 341.00
    billable_entry(env, 0.3, 275, "Call with client")  # 82.50
    env.admin("POST", "actions/generate_invoice", {"matter_id": HOURLY, "issue_date": "2026-04-01"})
    [bill] = read(env, "invoices")
    assert isinstance(bill, RemoteBill)
    assert bill.number is None  # PP invoices carry no number (docs/vendors/practicepanther.md §9)
    assert bill.client_id == ACME and bill.matter_ids == (HOURLY,)
    assert bill.state is BillState.AWAITING_PAYMENT
    # the seeded covering entry (0.5 h at 300) was billable and unbilled too: 150.00
    assert bill.total == Decimal("573.50") and bill.outstanding == Decimal("573.50") and bill.paid == Decimal("0.00")
    assert sorted(line.amount for line in bill.lines) == [Decimal("82.50"), Decimal("150.00"), Decimal("341.00")]
    assert sum(line.amount for line in bill.lines) == bill.total
    assert {line.timekeeper for line in bill.lines} == {"Jane Doe"}  # a printed name, not an id
    assert all(line.remote_id is None for line in bill.lines)  # PP links no entry to a line
    assert str(bill.issued_on) == "2026-04-01" and str(bill.due_on) == "2026-05-01"


def test_billed_entries_are_reported_billed_and_cannot_be_changed() -> None:
    env = make_env()
    writer = env.connector.writer()
    entry = time_entry()
    remote_id = writer.write_time_entry(entry, "key-billed", billable=True)
    env.admin("POST", "actions/generate_invoice", {"matter_id": entry.matter_id})
    [remote] = writer.read_time_entries([remote_id])
    assert remote.billed is True


def test_operating_payments_pay_invoices_and_trust_deposits_do_not() -> None:
    env = make_env()
    billable_entry(env, 2, 300, "Hearing")  # 600 + the seeded 150 = 750
    env.admin("POST", "actions/generate_invoice", {"matter_id": HOURLY})
    env.admin("POST", "actions/record_payment", {"account_id": ACME, "amount": "500.00", "number": "1001"})
    env.admin(
        "POST", "actions/record_payment", {"account_id": ACME, "amount": "2000.00", "bank_account_type": "Trust"}
    )
    [bill] = read(env, "invoices")
    assert (bill.paid, bill.outstanding) == (Decimal("500.00"), Decimal("250.00"))
    assert bill.state is BillState.AWAITING_PAYMENT
    payments = {p.account: p for p in read(env, "payments")}
    assert all(isinstance(p, RemotePayment) for p in payments.values())
    operating, trust = payments[PaymentAccount.OPERATING], payments[PaymentAccount.TRUST]
    assert (operating.amount, operating.unapplied, operating.reference) == (Decimal("500.00"), Decimal("0.00"), "1001")
    assert (trust.amount, trust.unapplied) == (Decimal("2000.00"), Decimal("2000.00"))
    env.admin("POST", "actions/record_payment", {"account_id": ACME, "amount": "300.00"})
    [bill] = read(env, "invoices")
    assert (bill.paid, bill.outstanding, bill.state) == (Decimal("750.00"), Decimal("0.00"), BillState.PAID)
    overpaid = [p for p in read(env, "payments") if p.amount == Decimal("300.00")]
    assert overpaid[0].unapplied == Decimal("50.00")


def test_ledger_streams_are_incremental() -> None:
    env = make_env()
    env.admin("POST", "actions/generate_invoice", {"matter_id": HOURLY})
    [stream] = [s for s in env.connector.streams() if s.name == "invoices"]
    pages = list(stream.read(None))
    cursor = pages[-1].cursor
    env.clock.advance(3600)
    assert [r for p in stream.read(cursor) for r in p.records if r.updated_at < env.clock.now().replace(hour=0)] == []
    env.admin("POST", "actions/record_payment", {"account_id": ACME, "amount": "10.00"})
    again = [r for p in stream.read(cursor) for r in p.records]
    assert [b.paid for b in again] == [Decimal("10.00")]  # the payment updated the invoice


def test_invoices_and_payments_cannot_be_written_through_the_api() -> None:
    env = make_env()
    token = env.sandbox.issue_token()["access_token"]
    for path in ("invoices", "payments"):
        auth = {"Authorization": f"Bearer {token}"}
        response = env.app.post(f"/practicepanther/api/v2/{path}", json={}, headers=auth)
        assert response.status_code == 405, response.text


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"id": "p1", "total_amount": 5, "bank_account": {"type": "Escrow"}}, "no account"),
        ({"id": "p1", "account_ref": {"id": ACME}, "total_amount": 5, "bank_account": {"type": "Trust"}}, "date"),
        (
            {
                "id": "p1",
                "account_ref": {"id": ACME},
                "date": "2026-04-01T00:00:00",
                "total_amount": "lots",
                "bank_account": {"type": "Operating"},
                "updated_at": "2026-04-01T00:00:00",
            },
            "total_amount",
        ),
    ],
)
def test_a_malformed_payment_gets_a_clear_error(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(mapping.MappingError, match=problem):
        mapping.payment(raw)


def test_money_is_exact_to_the_cent_and_a_refund_without_its_amount_counts_in_full() -> None:
    raw = {
        "id": "p1",
        "account_ref": {"id": ACME},
        "date": "2026-04-01T00:00:00",
        "total_amount": 0.1 + 0.2,  # a float with binary noise
        "unapplied_amount": 0,
        "bank_account": {"type": "CreditCard"},
        "status": "Refunded",
        "updated_at": "2026-04-01T00:00:00",
    }
    paid = mapping.payment(raw)
    assert paid.amount == Decimal("0.30") and paid.refunded == Decimal("0.30") and paid.status == "refunded"
    assert paid.account is PaymentAccount.CREDIT_CARD
    partial = mapping.payment({**raw, "refundedAmount": 0.1})
    assert partial.refunded == Decimal("0.10")


def test_an_activity_linked_only_to_the_account_is_covered_by_an_entry_on_any_of_its_matters() -> None:
    entries = [
        {
            "date": "2026-03-30T00:00:00",
            "description": "Call with Acme re settlement",
            "matter_ref": {"id": HOURLY},
            "account_ref": {"id": ACME},
            "billed_by_user_ref": {"id": JANE},
        }
    ]
    index = mapping.cover_index(entries)
    call = {"subject": "Call with Acme", "account_ref": {"id": ACME}}
    assert mapping.covered_by(call, JANE, "2026-03-30T10:00:00", index) is True
    assert mapping.covered_by(call, JANE, "2026-03-31T10:00:00", index) is False  # another day
    assert mapping.covered_by({"subject": "Call with Acme"}, JANE, "2026-03-30T10:00:00", index) is False


def test_billsyncs_own_entries_never_count_as_covering_an_activity() -> None:
    own = {
        "date": "2026-03-30T00:00:00",
        "description": "Call with Acme re settlement",
        "private_notes": mapping.marker("some-key"),
        "matter_ref": {"id": HOURLY},
        "account_ref": {"id": ACME},
        "billed_by_user_ref": {"id": JANE},
    }
    index = mapping.cover_index([own])
    call = {"subject": "Call with Acme", "matter_ref": {"id": HOURLY}}
    assert mapping.covered_by(call, JANE, "2026-03-30T10:00:00", index) is False
