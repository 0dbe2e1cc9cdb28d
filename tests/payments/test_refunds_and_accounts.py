"""Refunds that cannot spend another client's trust, accounts checked against the gateway's own
trust flags before any money moves, and amounts that are plain dollars and cents."""

from __future__ import annotations

from decimal import Decimal

import pytest
from billsync_sandboxes.lawpay.seed import OPERATING_CARD, TRUST_CARD

from config.payments import ClientPayments
from core.errors import BillsyncError, ConfigError
from core.payments import charges, collection, plans, transfers
from core.payments.amounts import parse_amount
from core.payments.cycle import run_payments_cycle
from core.payments.models import IntentStatus
from core.payments.routing import TrustViolation
from tests.connectors.lawpay.harness import FIRM, bill, make_env, payments_settings

REFUNDS = {"route": "/lawpay/v1/charges/*/refund", "methods": ["POST"]}


def refund_posts(env) -> int:
    return sum(1 for r in env.adapter.sent if r.method == "POST" and r.url.endswith("/refund"))


def test_a_trust_refund_never_spends_what_was_transferred(env) -> None:
    # $100 retainer into trust for matter m1; $60 of it then pays an invoice.
    deposit = charges.deposit_to_trust(env.fp, "c1", Decimal("100.00"), method="card_good", matter_id="m1")
    env.store.save_reference(FIRM, [bill("INV-60", "60.00")])
    transfers.transfer_from_trust(env.fp, "INV-60", reason="client approved 2026-11-02")
    assert env.fp.ledger().trust("c1", "m1") == Decimal("40.00")

    with pytest.raises(TrustViolation, match=r"refused: .*holds \$40.00; \$40.00 free"):
        charges.refund_charge(env.fp, deposit.transaction_id or "", Decimal("100.00"))
    assert refund_posts(env) == 0  # refused by billsync, not by the gateway
    [task] = [t for t in env.fp.payments.tasks(FIRM) if t.kind == "trust_refund_refused"]
    assert "$100.00" in task.message and "$40.00" in task.message and "client c1" in task.message

    done = charges.refund_charge(env.fp, deposit.transaction_id or "", Decimal("40.00"))
    assert done.status is IntentStatus.SUCCEEDED and refund_posts(env) == 1
    env.settle()
    run_payments_cycle(env.fp)
    ledger = env.fp.ledger()
    assert ledger.trust("c1", "m1") == Decimal("0.00")  # never -60.00
    kinds = sorted(t.kind for t in env.fp.payments.tasks(FIRM))
    assert "post_trust_refund" in kinds and "trust_names_invoice" not in kinds, kinds
    with pytest.raises(TrustViolation, match=r"holds \$0.00"):
        charges.refund_charge(env.fp, deposit.transaction_id or "", Decimal("0.01"))


def test_a_refund_beyond_what_the_charge_has_left_is_refused_before_the_gateway(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-100", "100.00")])
    paid = charges.charge_invoice(env.fp, "INV-100", method="card_good")
    charges.refund_charge(env.fp, paid.transaction_id or "", Decimal("30.00"))

    with pytest.raises(BillsyncError, match=r"cannot be refunded \$70.01: unrefunded \$70.00"):
        charges.refund_charge(env.fp, paid.transaction_id or "", Decimal("70.01"))
    assert refund_posts(env) == 1
    charges.refund_charge(env.fp, paid.transaction_id or "", Decimal("70.00"))
    assert env.fp.ledger().invoices["b-INV-100"].balance == Decimal("100.00")  # owed again in full


def test_a_refund_whose_answer_is_lost_is_looked_up_never_sent_twice(env) -> None:
    deposit = charges.deposit_to_trust(env.fp, "c1", Decimal("50.00"), method="card_good", matter_id="m1")
    env.faults({**REFUNDS, "kind": "timeout", "delay_seconds": 0})  # LawPay refunds; the answer is lost
    held = charges.refund_charge(env.fp, deposit.transaction_id or "", Decimal("50.00"))
    assert held.status is IntentStatus.HELD  # search indexes a second late: a person is asked
    env.faults()
    # The held refund still claims its $50: nothing more can be refunded of it meanwhile.
    with pytest.raises(BillsyncError, match=r"\$50.00 claimed by payments under way"):
        charges.refund_charge(env.fp, deposit.transaction_id or "", Decimal("50.00"))
    env.settle()
    [settled] = [i for i in charges.recheck(env.fp) if i.id == held.id]
    assert settled.status is IntentStatus.SUCCEEDED
    assert refund_posts(env) == 1
    assert env.fp.ledger().trust("c1", "m1") == Decimal("0.00")


@pytest.mark.parametrize(
    ("setting", "value", "flag"),
    [("operating_account", TRUST_CARD, "a trust"), ("trust_account", OPERATING_CARD, "an operating")],
)
def test_an_account_the_gateway_flags_otherwise_moves_no_money(tmp_path, setting, value, flag) -> None:
    wrong = payments_settings(c1=ClientPayments(plans_allowed=True)).model_copy(update={setting: value})
    env = make_env(tmp_path, settings=wrong)
    env.store.save_reference(FIRM, [bill("INV-9", "90.00")])
    attempts = [
        lambda: charges.charge_invoice(env.fp, "INV-9", method="card_good"),
        lambda: charges.deposit_to_trust(env.fp, "c1", Decimal("10.00"), method="card_good"),
        lambda: collection.invoice_link(env.fp, "INV-9"),
        lambda: collection.trust_link(env.fp, "c1", Decimal("10.00")),
        lambda: plans.create_plan(env.fp, "INV-9", method="card_good"),
    ]
    for attempt in attempts:
        with pytest.raises(ConfigError, match=rf"payments.{setting} names .* which the gateway reports as {flag}"):
            attempt()
    assert env.gateway_charges() == [] and env.fp.payments.intents(FIRM) == []
    env.store.close()


def test_a_charge_into_an_account_the_gateway_flags_as_trust_is_refused(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-8", "80.00")])
    with pytest.raises(TrustViolation, match="must go to the operating account, not trust"):
        charges.charge_invoice(env.fp, "INV-8", method="card_good", account_id=TRUST_CARD)
    assert env.gateway_charges() == []


@pytest.mark.parametrize(
    "text",
    [
        *("sNaN", "NaN", "Infinity", "-Infinity", "1e3", "100.001", "-5", "0", "0.00", "1,000.00", "", " "),
        "\uff11\uff10\uff10.\uff10\uff10",  # full-width digits: "100.00" to the eye
    ],
)
def test_only_plain_dollars_and_cents_are_an_amount(text: str) -> None:
    with pytest.raises(BillsyncError) as refused:
        parse_amount(text)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("text", "value"), [("100", "100.00"), ("100.5", "100.50"), ("0.01", "0.01"), ("1250.00", "1250.00")]
)
def test_plain_amounts_are_exact_cents(text: str, value: str) -> None:
    assert parse_amount(text) == Decimal(value)
