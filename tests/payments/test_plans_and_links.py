"""Payment plans on saved cards, their failures and expiring cards as staff tasks; payment links
and their delivery."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from config.payments import ClientPayments
from core.errors import BillsyncError
from core.payments import collection, plans
from core.payments.cycle import run_payments_cycle
from core.payments.plans import instalment_for
from tests.connectors.lawpay.harness import FIRM, bill, make_env, payments_settings

PLANS = ClientPayments(plans_allowed=True, plan_instalments=3)


def test_instalments_cover_the_balance_exactly() -> None:
    assert instalment_for(Decimal("1000.00"), 3) == Decimal("333.34")  # 333.34 + 333.34 + 333.32
    assert instalment_for(Decimal("0.05"), 2) == Decimal("0.03")


def test_a_plan_pays_the_invoice_in_scheduled_instalments_to_the_cent(tmp_path) -> None:
    env = make_env(tmp_path, settings=payments_settings(c1=PLANS))
    env.store.save_reference(FIRM, [bill("INV-30", "1000.00")])
    plan = plans.create_plan(env.fp, "INV-30", method="card_good")
    assert (plan.status, plan.instalments, plan.instalment, plan.start) == (
        "active",
        3,
        Decimal("333.34"),
        date(2026, 11, 3),
    )
    recurring = env.sandbox.recurring[plan.gateway_plan_id]
    assert recurring["account_id"] == env.fp.settings.operating_account
    assert (recurring["amount"], recurring["max_amount"], recurring["max_occurrences"]) == (33334, 100000, 3)
    env.admin("POST", "recurring/run", {"through": "2027-02-28"})
    env.settle()
    run_payments_cycle(env.fp)
    ledger = env.fp.ledger()
    assert ledger.invoices["b-INV-30"].paid == Decimal("1000.00")
    assert sorted(t["amount"] for t in env.gateway_charges()) == [33332, 33334, 33334]  # the last one prorated
    assert [p.status for p in env.fp.payments.plans(FIRM)] == ["completed"]
    with pytest.raises(BillsyncError, match=r"nothing free to schedule: it owes \$0.00"):
        plans.create_plan(env.fp, "INV-30", method="card_good")


def test_a_failed_plan_payment_and_an_expiring_card_become_tasks(tmp_path) -> None:
    env = make_env(tmp_path, settings=payments_settings(c1=PLANS))
    env.store.save_reference(FIRM, [bill("INV-31", "90.00"), bill("INV-32", "90.00")])
    plans.create_plan(env.fp, "INV-31", method="card_declines")
    plans.create_plan(env.fp, "INV-32", method="card_expires_soon")
    env.admin("POST", "saved_methods/card_expires_soon/expiring")
    env.admin("POST", "recurring/run", {"through": "2026-11-03"})
    run_payments_cycle(env.fp)
    kinds = sorted(t.kind for t in env.fp.payments.tasks(FIRM))
    assert kinds == ["card_expiring", "card_expiring", "plan_payment_failed"]
    failed = next(t for t in env.fp.payments.tasks(FIRM) if t.kind == "plan_payment_failed")
    assert "b-INV-31" in failed.message  # an occurrence carries no documented failure code (docs/vendors/lawpay.md §8)
    assert env.fp.ledger().invoices["b-INV-31"].balance == Decimal("90.00")


def test_plans_follow_the_clients_configuration(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-33", "90.00")])
    with pytest.raises(BillsyncError, match="has no payment plans"):
        plans.create_plan(env.fp, "INV-33", method="card_good")


def test_the_invoice_link_pays_the_balance_into_operating_with_locked_fields(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-34", "1234.56")])
    link = collection.invoice_link(env.fp, "INV-34")
    parts = urlsplit(link.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == env.fp.settings.operating_page_url
    query = parse_qs(parts.query)
    assert query == {"amount": ["123456"], "reference": ["INV-34"], "readOnlyFields": ["amount,reference"]}
    paid = env.pay_link(link.url, amount="1", reference="something else")  # the payer cannot change them
    assert (paid["amount"], paid["reference"], paid["account_id"]) == (123456, "INV-34", "acct_operating_card")


def test_delivery_renders_the_firms_email_or_writes_the_bill_memo(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-35", "10.00")])
    delivery = collection.deliver_invoice_link(env.fp, "INV-35", client_name="Pat Client")
    assert delivery.email is not None
    assert "Dear Pat Client" in delivery.email and "Invoice INV-35 for $10.00" in delivery.email
    assert delivery.link.url in delivery.email
    assert env.fp.payments.link(FIRM, "b-INV-35").delivered_via == "email"

    written: list[tuple[str, str]] = []

    class Memo:  # a PMS that can show a note on a bill (Clio: the bill memo)
        def set_bill_memo(self, bill_id: str, memo: str) -> None:
            written.append((bill_id, memo))

    env.fp.settings = env.fp.settings.model_copy(update={"delivery": "pms_memo"})
    env.fp.memo_writer = Memo()
    delivery = collection.deliver_invoice_link(env.fp, "INV-35")
    assert written == [("b-INV-35", "Pay online: " + delivery.link.url)]
    assert env.fp.payments.link(FIRM, "b-INV-35").delivered_via == "pms_memo"


def test_a_paid_invoice_has_no_link(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-36", "10.00")])
    env.pay_link(collection.invoice_link(env.fp, "INV-36").url)
    env.settle()
    run_payments_cycle(env.fp)
    with pytest.raises(BillsyncError, match=r"nothing free to ask for \(it owes \$0.00"):
        collection.invoice_link(env.fp, "INV-36")
