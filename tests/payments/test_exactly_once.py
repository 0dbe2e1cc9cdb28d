"""Exactly-once money: an intent is stored before any charge; an unknown outcome is looked up by
reference and otherwise held for a person; nothing is ever charged twice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import BillsyncError
from core.payments import charges
from core.payments.cycle import run_payments_cycle
from core.payments.models import IntentStatus
from tests.connectors.lawpay.harness import FIRM, bill

CHARGES = {"route": "/lawpay/v1/charges", "methods": ["POST"]}


def test_a_timed_out_charge_never_becomes_two_charges(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-7", "1200.00")])
    env.faults({**CHARGES, "kind": "timeout", "delay_seconds": 0})  # LawPay charges, the answer is lost
    intent = charges.charge_invoice(env.fp, "INV-7", method="card_good")
    # Search indexes a second late (docs/vendors/lawpay.md §10): the lookup finds nothing yet, so a person is asked.
    assert intent.status is IntentStatus.HELD
    assert [t.kind for t in env.fp.payments.tasks(FIRM)] == ["charge_unknown"]
    posts = [r for r in env.adapter.sent if r.method == "POST" and r.url.endswith("/v1/charges")]
    assert len(posts) == 1  # core.http did not re-send the POST
    env.faults()
    with pytest.raises(
        BillsyncError, match=r"nothing left to charge: .* claimed by payments under way.*resolve a held"
    ):
        charges.charge_invoice(env.fp, "INV-7", method="card_good")  # a person trying again is stopped

    env.clock.advance(2)
    run_payments_cycle(env.fp)  # the charge's event arrives and the intent settles
    settled = env.fp.payments.intent(FIRM, intent.id)
    assert settled.status is IntentStatus.SUCCEEDED and settled.transaction_id is not None
    assert len(env.gateway_charges()) == 1
    assert env.fp.ledger().invoices["b-INV-7"].balance == Decimal("0.00")
    assert env.fp.payments.tasks(FIRM) == []  # the held-charge task closed itself


def test_a_lost_answer_found_by_reference_settles_at_once(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-8", "90.00")])
    env.faults({**CHARGES, "kind": "truncate"})  # processed, answer cut off
    intent_holder = {}

    original = env.fp.gateway.find_by_reference

    def later(reference: str):  # the lookup happens after the search index caught up
        env.clock.advance(2)
        intent_holder["looked"] = reference
        return original(reference)

    env.fp.gateway.find_by_reference = later  # type: ignore[method-assign]
    intent = charges.charge_invoice(env.fp, "INV-8", method="card_good")
    assert intent.status is IntentStatus.SUCCEEDED
    assert intent_holder["looked"] == intent.reference
    assert len(env.gateway_charges()) == 1


def test_a_request_that_never_arrived_is_held_then_resolved_by_a_person_and_charged_once(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-9", "50.00")])
    env.faults({**CHARGES, "kind": "reset"})  # the connection drops before LawPay sees anything
    held = charges.charge_invoice(env.fp, "INV-9", method="card_good")
    assert held.status is IntentStatus.HELD
    env.faults()
    env.clock.advance(5)
    run_payments_cycle(env.fp)
    assert env.fp.payments.intent(FIRM, held.id).status is IntentStatus.HELD  # still not found: still held
    assert env.gateway_charges() == []
    charges.resolve(env.fp, held.id, transaction_id=None)  # the person checked LawPay: nothing there
    again = charges.charge_invoice(env.fp, "INV-9", method="card_good")
    assert again.status is IntentStatus.SUCCEEDED
    assert len(env.gateway_charges()) == 1


def test_the_intent_is_stored_before_the_gateway_is_called(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-10", "75.00")])
    seen_at_send: list[list[str]] = []
    original = env.fp.gateway.charge

    def watching(**kwargs):
        seen_at_send.append([i.status.value for i in env.fp.payments.intents(FIRM)])
        return original(**kwargs)

    env.fp.gateway.charge = watching  # type: ignore[method-assign]
    charges.charge_invoice(env.fp, "INV-10", method="card_good")
    assert seen_at_send == [["sending"]]


def test_a_decline_is_recorded_and_nothing_is_owed_less(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-11", "75.00")])
    intent = charges.charge_invoice(env.fp, "INV-11", method="card_declines")
    assert (intent.status, intent.error) == (IntentStatus.DECLINED, "card_declined")
    assert env.gateway_charges() == []
    assert env.fp.ledger().invoices["b-INV-11"].balance == Decimal("75.00")
    assert charges.charge_invoice(env.fp, "INV-11", method="card_good").status is IntentStatus.SUCCEEDED


def test_an_overcharge_is_refused(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-12", "75.00")])
    with pytest.raises(BillsyncError, match=r"cannot take a charge of \$80.00: it owes \$75.00; \$75.00 free"):
        charges.charge_invoice(env.fp, "INV-12", method="card_good", amount=Decimal("80.00"))
