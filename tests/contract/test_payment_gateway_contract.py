"""The contract every payment gateway passes (core.gateway.PaymentGateway), parametrized over gateways.

What core's exactly-once money rests on: accounts say whether they hold trust money; a charge
carries core's reference and is found by exactly that reference; a refund is never more than what
is left of its charge; a decline raises PaymentDeclined and charges nothing; the event listing's
cursor never moves backwards and re-reading from it brings nothing new; and an unknown outcome
recovered the way core recovers it (look the reference up before charging again) never charges
twice. To add a gateway, append a GatewayCase to GATEWAYS in tests/contract/harnesses.py.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from core.connector import Cursor
from core.errors import Fatal, Indeterminate
from core.gateway import EventBatch, GatewayAccount, GatewayConnector, PaymentDeclined, PaymentGateway
from tests.contract.harnesses import GATEWAYS, GatewayCase, GatewayHarness

STATUSES = {"pending", "authorized", "completed", "voided", "failed"}


@pytest.fixture(params=GATEWAYS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GatewayHarness]:
    made = typing.cast(GatewayCase, request.param).harness(tmp_path)
    yield made
    made.close()


def operating_card_account(gateway: PaymentGateway) -> GatewayAccount:
    return next(a for a in gateway.accounts() if a.method == "card" and a.trust is False)


def charge(harness: GatewayHarness, amount: str, reference: str, *, method: str | None = None) -> str:
    account = operating_card_account(harness.gateway)
    made = harness.gateway.charge(
        account_id=account.id, method=method or harness.charging_method, amount=Decimal(amount), reference=reference
    )
    return made.id


def read_events(gateway: PaymentGateway, cursor: Cursor) -> list[EventBatch]:
    return list(gateway.events(cursor))


def test_the_connector_hands_out_a_payment_gateway(harness: GatewayHarness) -> None:
    assert isinstance(harness.connector, GatewayConnector)
    assert isinstance(harness.gateway, PaymentGateway)


def test_accounts_say_whether_they_hold_trust_money(harness: GatewayHarness) -> None:
    accounts = harness.gateway.accounts()
    assert accounts and len({a.id for a in accounts}) == len(accounts)
    for account in accounts:
        assert account.id and account.name, account
        assert account.method in ("card", "bank"), account
        assert account.trust in (True, False, None), account
    # The sandbox's merchant, as a firm needs it: operating and trust, each told apart by its flag.
    assert any(a.trust is True for a in accounts) and any(a.trust is False for a in accounts)


def test_a_charge_carries_its_reference_and_is_found_by_exactly_that_reference(harness: GatewayHarness) -> None:
    account = operating_card_account(harness.gateway)
    reference = "INV-1042 | contract-charge"
    made = harness.gateway.charge(
        account_id=account.id, method=harness.charging_method, amount=Decimal("123.45"), reference=reference
    )
    assert (made.kind, made.amount, made.reference, made.account_id) == (
        "charge",
        Decimal("123.45"),
        reference,
        account.id,
    )
    assert made.status in STATUSES and made.amount_refunded == Decimal("0")
    now = harness.gateway.transaction(made.id)
    assert (now.id, now.amount, now.reference) == (made.id, made.amount, reference)
    harness.catch_up()
    assert [t.id for t in harness.gateway.find_by_reference(reference)] == [made.id]
    assert harness.gateway.find_by_reference("INV-1042") == []  # a prefix is not the reference


def test_a_refund_is_never_more_than_what_is_left_of_its_charge(harness: GatewayHarness) -> None:
    charge_id = charge(harness, "50.00", "INV-7 | contract-refund")
    first = harness.gateway.refund(charge_id, Decimal("20.00"), "INV-7 | refund-1")
    assert (first.kind, first.amount, first.parent_id) == ("refund", Decimal("20.00"), charge_id)
    with pytest.raises(Fatal):
        harness.gateway.refund(charge_id, Decimal("30.01"), "INV-7 | refund-2")  # 30.00 is left
    assert harness.gateway.transaction(charge_id).amount_refunded == Decimal("20.00")  # the refusal took nothing
    rest = harness.gateway.refund(charge_id, Decimal("30.00"), "INV-7 | refund-3")
    assert rest.amount == Decimal("30.00")
    assert harness.gateway.transaction(charge_id).amount_refunded == Decimal("50.00")
    with pytest.raises(Fatal):
        harness.gateway.refund(charge_id, Decimal("0.01"), "INV-7 | refund-4")  # nothing left


def test_a_declined_charge_raises_payment_declined_and_charges_nothing(harness: GatewayHarness) -> None:
    reference = "INV-9 | contract-decline"
    with pytest.raises(PaymentDeclined) as declined:
        charge(harness, "75.00", reference, method=harness.declining_method)
    assert declined.value.code  # the gateway's reason, for the person who tells the client
    harness.catch_up()
    assert harness.gateway.find_by_reference(reference) == []
    assert harness.charges_with_reference(reference) == 0


def test_the_event_cursor_never_moves_backwards_and_rereading_from_it_brings_nothing_new(
    harness: GatewayHarness,
) -> None:
    charge(harness, "10.00", "INV-1 | contract-events-1")
    harness.catch_up()
    charge(harness, "11.00", "INV-2 | contract-events-2")
    harness.catch_up()
    batches = read_events(harness.gateway, None)
    seen = [e.id for batch in batches for e in batch.events]
    assert seen and len(set(seen)) == len(seen)
    moments = [e.created for batch in batches for e in batch.events]
    assert moments == sorted(moments)  # oldest first
    cursor = batches[-1].cursor
    again = read_events(harness.gateway, cursor)
    assert again and all(not batch.events for batch in again)  # the overlap at the cursor is skipped
    cursor = again[-1].cursor  # where a poll that found nothing leaves it: still a resume point
    later = charge(harness, "12.00", "INV-3 | contract-events-3")
    harness.catch_up()
    fresh = [e for batch in read_events(harness.gateway, cursor) for e in batch.events]
    assert fresh and not {e.id for e in fresh} & set(seen)  # only what happened since, nothing skipped
    assert any(e.transaction is not None and e.transaction.id == later for e in fresh)
    assert min(e.created for e in fresh) >= moments[-1]  # never behind what was already read


@pytest.mark.parametrize("applied", [True, False], ids=["answer-lost-after-charge", "connection-lost-before-charge"])
def test_the_same_reference_never_charges_twice(harness: GatewayHarness, applied: bool) -> None:
    """The gateway has no idempotency key (docs/vendors/lawpay.md §13): core's reference is the key. After an
    unknown outcome core looks the reference up before it charges again, and so does this test."""
    account = operating_card_account(harness.gateway)
    reference = "INV-5 | contract-once"

    def attempt() -> str:
        made = harness.gateway.charge(
            account_id=account.id, method=harness.charging_method, amount=Decimal("42.00"), reference=reference
        )
        return made.id

    harness.lose_charge_answers(applied=applied)
    with pytest.raises(Indeterminate):
        attempt()
    harness.restore()

    def recover() -> str:
        harness.catch_up()
        found = harness.gateway.find_by_reference(reference)
        assert len(found) <= 1
        return found[0].id if found else attempt()

    first = recover()
    assert recover() == first  # a second recovery (say, after a crash) finds the same charge
    assert harness.charges_with_reference(reference) == 1
