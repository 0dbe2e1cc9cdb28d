"""The LawPay connector over the sandbox: wire format, errors, events cursor, webhooks as doorbells,
and the secret key kept out of logs, errors and the store."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from billsync_sandboxes.lawpay.state import TEST_SECRET_KEY
from pydantic import SecretStr, ValidationError

from connectors.lawpay import mapping
from connectors.lawpay.connector import LawPayConnector, LawPaySettings
from core.connector import InboundRequest
from core.errors import AuthFailed, ConfigError
from core.gateway import PaymentDeclined, PlanRequest
from core.payments import charges
from core.payments.cycle import run_payments_cycle
from core.store.payments import PaymentStore
from tests.connectors.lawpay.harness import FIRM, bill, make_env, seed


@pytest.fixture
def env(tmp_path):
    made = make_env(tmp_path)
    yield made
    made.store.close()


def test_requests_use_basic_auth_with_the_secret_key_and_amounts_in_cents(env) -> None:
    tx = env.fp.gateway.charge(
        account_id="acct_operating_card",
        method=env.token(),
        amount=Decimal("500.00"),
        reference="INV-1042 / matter 2087",
    )
    sent = env.adapter.sent[-1]
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(f"{TEST_SECRET_KEY}:".encode()).decode()
    assert json.loads(sent.body)["amount"] == 50000
    assert (tx.amount, tx.status, tx.kind) == (Decimal("500.00"), "authorized", "charge")


def test_a_decline_is_payment_declined_with_the_gateway_code(env) -> None:
    with pytest.raises(PaymentDeclined) as caught:
        env.fp.gateway.charge(
            account_id="acct_operating_card",
            method=env.token("4000000000000044"),
            amount=Decimal("1.00"),
            reference="x",
        )
    assert caught.value.code == "card_declined_insufficient_funds"


def test_fractions_of_a_cent_and_long_references_are_refused_before_sending(env) -> None:
    with pytest.raises(ValueError, match="whole number of cents"):
        env.fp.gateway.charge(account_id="a", method="m", amount=Decimal("1.005"), reference="x")
    with pytest.raises(ValueError, match="1 to 128 characters"):
        env.fp.gateway.charge(account_id="a", method="m", amount=Decimal("1.00"), reference="x" * 129)
    assert env.adapter.sent == []


def test_find_by_reference_keeps_exact_matches_only(env) -> None:
    for reference in ("INV-1", "INV-10"):
        env.fp.gateway.charge(
            account_id="acct_operating_card", method=env.token(), amount=Decimal("1.00"), reference=reference
        )
    env.clock.advance(1)
    assert [t.reference for t in env.fp.gateway.find_by_reference("INV-1")] == ["INV-1"]


def test_accounts_carry_their_trust_flags_and_check_passes(env) -> None:
    flags = {(a.id, a.method): a.trust for a in env.fp.gateway.accounts()}
    assert flags[("acct_trust_card", "card")] is True and flags[("acct_operating_bank", "bank")] is False
    env.connector.check()


def test_check_says_which_key_was_refused(tmp_path) -> None:
    env = make_env(tmp_path, secret="sk_wrong")
    with pytest.raises(AuthFailed, match="test-mode secret key") as caught:
        env.connector.check()
    assert "sk_wrong" not in str(caught.value)


def test_check_refuses_a_merchant_without_a_known_trust_account(tmp_path) -> None:
    data = seed()
    for account in data["accounts"]:
        account.pop("trust_account")  # docs/vendors/lawpay.md §3: omitted when unknown
    env = make_env(tmp_path, data=data)
    with pytest.raises(ConfigError, match="operating and a trust account"):
        env.connector.check()


def test_events_resume_from_the_position_without_repeats_or_gaps(env) -> None:
    for _ in range(3):
        env.fp.gateway.charge(
            account_id="acct_operating_card", method=env.token(), amount=Decimal("1.00"), reference="r"
        )
    env.admin("POST", "capture")  # three completions in the same millisecond as nothing else
    batches = list(env.fp.gateway.events(None))
    first = [e.id for b in batches for e in b.events]
    assert len(first) == 6
    cursor = batches[-1].cursor
    assert next(iter(env.fp.gateway.events(cursor))).events == []  # the overlap is skipped
    env.clock.advance(1)
    env.fp.gateway.charge(account_id="acct_operating_card", method=env.token(), amount=Decimal("2.00"), reference="r")
    later = [e.type for b in env.fp.gateway.events(cursor) for e in b.events]
    assert later == ["transaction.authorized"]


def test_a_plan_request_maps_to_a_recurring_charge(env) -> None:
    plan = env.fp.gateway.create_plan(
        PlanRequest(
            account_id="acct_operating_card",
            method="card_good",
            amount=Decimal("10.00"),
            max_amount=Decimal("25.00"),
            max_occurrences=3,
            start=datetime(2026, 12, 1).date(),
            interval="month",
            reference="INV-3 | plan",
        )
    )
    assert (plan.amount, plan.max_amount, plan.status, plan.next_payment.isoformat()) == (
        Decimal("10.00"),
        Decimal("25.00"),
        "active",
        "2026-12-01",
    )
    assert env.fp.gateway.cancel_plan(plan.id).status == "completed"


def test_a_webhook_delivery_is_only_a_doorbell(env) -> None:
    forged = json.dumps(
        {
            "id": "evt-forged",
            "type": "transaction.completed",
            "data": {"id": "x", "amount": 99999999, "reference": "INV-1"},
        }
    ).encode()
    result = env.connector.webhooks().handle(InboundRequest(headers={}, body=forged), None)
    assert list(result.streams) == ["events"] and result.delivery_id == "evt-forged"
    env.store.save_reference(FIRM, [bill("INV-1", "10.00")])
    run_payments_cycle(env.fp)  # what is applied comes from the API, where no such event exists
    assert env.fp.ledger().invoices["b-INV-1"].paid == Decimal("0.00")
    assert env.connector.webhooks().handle(InboundRequest(headers={}, body=b"not json"), None).delivery_id is None


def test_live_mode_needs_https() -> None:
    with pytest.raises(ValidationError, match="https"):
        LawPaySettings(secret_key=SecretStr("k"), mode="live", base_url="http://127.0.0.1:1/lawpay")


def test_mapping_reads_string_trust_flags_and_string_amounts() -> None:
    account = mapping.account({"id": "a", "name": "IOLTA", "trust_account": "true"}, "card")
    assert account.trust is True
    assert mapping.account({"id": "b"}, "card").trust is None
    assert mapping.from_cents("50000") == Decimal("500.00")
    assert mapping.format_time(datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=UTC)) == "2026-01-02T03:04:05.678Z"


def test_the_secret_key_never_reaches_logs_errors_or_the_store(tmp_path) -> None:
    canary = "sk_test_CANARY-SECRET-KEY-0001"
    env = make_env(tmp_path, secret=canary)
    env.sandbox.keys[canary] = "test"  # the sandbox accepts the canary as the firm's test key
    env.store.save_reference(FIRM, [bill("INV-50", "20.00")])
    env.faults({"route": "/lawpay/v1/charges", "methods": ["POST"], "kind": "500"})
    held = charges.charge_invoice(env.fp, "INV-50", method="card_good")  # a 500: outcome unknown, held
    env.faults()
    env.clock.advance(2)
    run_payments_cycle(env.fp)
    env.sandbox.keys.pop(canary)
    with pytest.raises(AuthFailed) as refused:
        env.connector.check()
    encoded = base64.b64encode(f"{canary}:".encode()).decode()
    texts = ["\n".join(env.log_lines), str(refused.value), held.error or ""]
    texts += [json.dumps(rows, default=str) for _, rows in PaymentStore(env.store.engine).iter_tables()]
    texts += [json.dumps(rows, default=str) for _, rows in env.store.iter_tables()]
    assert env.log_lines, "nothing was logged: the canary proves nothing"
    for text in texts:
        assert canary not in text and encoded not in text


def test_the_connector_is_named_for_its_folder_and_keeps_its_key_secret() -> None:
    assert LawPayConnector.name == "lawpay"
    assert LawPaySettings.model_fields["secret_key"].annotation is SecretStr
    assert "sk_x" not in repr(LawPaySettings(secret_key=SecretStr("sk_x")))
