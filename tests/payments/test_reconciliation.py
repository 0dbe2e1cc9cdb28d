"""Reconciliation by reference: partial payments, overpayments, refunds and chargebacks keep the
ledger exact to the cent."""

from __future__ import annotations

from decimal import Decimal

from core.models import BillState
from core.payments import collection
from core.payments.cycle import run_payments_cycle
from core.payments.posting import hand_postings
from tests.connectors.lawpay.harness import FIRM, bill


def _pay(env, number: str, amount: str) -> dict:
    url = env.fp.gateway.payment_link(
        page_url=env.fp.settings.operating_page_url, amount=Decimal(amount), reference=number
    )
    return env.pay_link(url)


def test_partial_payments_and_refunds_keep_the_ledger_exact_to_the_cent(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-20", "1000.01"), bill("INV-21", "0.03", matter_id="m2")])
    first = _pay(env, "INV-20", "333.33")
    link = collection.invoice_link(env.fp, "INV-20")
    assert link.amount == Decimal("1000.01")  # the event has not been read yet
    env.settle()
    run_payments_cycle(env.fp)
    link = collection.invoice_link(env.fp, "INV-20")
    assert link.amount == Decimal("666.68") and "amount=66668" in link.url  # a partial payment lowers the link
    env.pay_link(link.url)
    _pay(env, "INV-21", "0.01")
    _pay(env, "INV-21", "0.02")
    refund = env.fp.gateway.refund(first["id"], Decimal("0.01"), "INV-20")
    assert refund.amount == Decimal("0.01")
    env.settle()
    run_payments_cycle(env.fp)

    ledger = env.fp.ledger()
    assert ledger.invoices["b-INV-20"].paid == Decimal("1000.00")
    assert ledger.invoices["b-INV-20"].balance == Decimal("0.01")
    assert ledger.invoices["b-INV-21"].balance == Decimal("0.00")
    rows = {(r.client_id, r.matter_id): r for r in ledger.rows}
    assert (rows["c1", "m1"].billed, rows["c1", "m1"].paid, rows["c1", "m1"].outstanding) == (
        Decimal("1000.01"),
        Decimal("1000.00"),
        Decimal("0.01"),
    )
    totals = ledger.totals()
    assert (totals.billed, totals.paid, totals.outstanding, totals.credit) == (
        Decimal("1000.04"),
        Decimal("1000.03"),
        Decimal("0.01"),
        Decimal("0.00"),
    )
    # Everything is on the hand-posting list: payments, and the refund as a negative line.
    postings = hand_postings(env.fp.matches(), [])
    assert sum(p.amount for p in postings) == Decimal("1000.03")
    assert [p.what for p in postings].count("refund of invoice payment") == 1


def test_an_overpayment_becomes_a_credit_and_a_task(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-22", "100.00")])
    _pay(env, "INV-22", "100.00")
    _pay(env, "INV-22", "25.50")  # the client paid twice, the second time too much
    env.settle()
    run_payments_cycle(env.fp)
    ledger = env.fp.ledger()
    assert ledger.invoices["b-INV-22"].balance == Decimal("-25.50")
    [row] = ledger.rows
    assert (row.paid, row.outstanding, row.credit) == (Decimal("125.50"), Decimal("0.00"), Decimal("25.50"))
    assert [t.kind for t in env.fp.payments.tasks(FIRM)] == ["overpayment"]


def test_a_chargeback_reopens_the_invoice_and_raises_a_task(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-23", "400.00")])
    paid = _pay(env, "INV-23", "400.00")
    env.settle()
    run_payments_cycle(env.fp)
    assert env.fp.ledger().invoices["b-INV-23"].balance == Decimal("0.00")
    env.admin("POST", f"transactions/{paid['id']}/reverse", {"code": "chargeback"})
    run_payments_cycle(env.fp)
    assert env.fp.ledger().invoices["b-INV-23"].balance == Decimal("400.00")
    [task] = env.fp.payments.tasks(FIRM)
    assert task.kind == "reversed_payment" and "chargeback" in task.message


def test_a_voided_charge_pays_nothing(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-24", "60.00")])
    paid = _pay(env, "INV-24", "60.00")
    env.fp.gateway.void(paid["id"], "INV-24")
    env.settle()
    run_payments_cycle(env.fp)
    assert env.fp.ledger().invoices["b-INV-24"].balance == Decimal("60.00")


def test_a_payment_for_no_known_invoice_is_unmatched_and_raises_a_task(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-25", "60.00", state=BillState.VOID)])
    _pay(env, "INV-999", "60.00")
    env.settle()
    run_payments_cycle(env.fp)
    ledger = env.fp.ledger()
    assert [m.transaction.amount for m in ledger.unmatched] == [Decimal("60.00")]
    assert ledger.invoices == {}  # a void bill is not billed
    assert [t.kind for t in env.fp.payments.tasks(FIRM)] == ["unmatched_payment"]


def test_events_are_applied_once_however_often_they_are_read(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-26", "10.00")])
    _pay(env, "INV-26", "10.00")
    env.settle()
    first = run_payments_cycle(env.fp)
    again = run_payments_cycle(env.fp)
    assert first.events.events == 2 and again.events.events == 0  # authorized, completed; then nothing new
    env.fp.payments.save_event_batch(FIRM, gateway="lawpay", events=[], cursor={}, transactions=[], tasks=[])
    replay = run_payments_cycle(env.fp)  # the cursor is lost: everything is read again...
    assert replay.events.events == 0  # ...and nothing is applied twice
    assert env.fp.ledger().invoices["b-INV-26"].paid == Decimal("10.00")
