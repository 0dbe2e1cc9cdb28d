"""The LawPay sandbox keeps to the documented behaviour (docs/vendors/lawpay.md §§2-15)."""

from __future__ import annotations

import pytest
from billsync_sandboxes.kit import FakeClock
from billsync_sandboxes.lawpay.state import LIVE_SECRET_KEY, PUBLIC_KEY, TEST_SECRET_KEY, LawPaySandbox, create_app
from billsync_sandboxes.lawpay.state.rules import DECLINING_ACH, DECLINING_CARDS, SUCCEEDING_CARDS

from tests.connectors.lawpay.harness import START, seed
from tests.testclient import TestClient

AUTH = (TEST_SECRET_KEY, "")


@pytest.fixture
def gw():
    clock = FakeClock(START)
    client = TestClient(create_app(LawPaySandbox(seed(), clock=clock)))
    client.clock = clock  # type: ignore[attr-defined]
    return client


def token(gw, **method) -> str:
    body = {"public_key": PUBLIC_KEY, "exp_month": 12, "exp_year": 2030, **method}
    answer = gw.post("/lawpay/v1/tokens", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def charge(gw, method: str, *, amount=1000, account="acct_operating_card", reference="INV-1"):
    return gw.post(
        "/lawpay/v1/charges",
        auth=AUTH,
        json={"amount": amount, "method": method, "account_id": account, "reference": reference},
    )


@pytest.mark.parametrize(("number", "code"), sorted(DECLINING_CARDS.items()))
def test_documented_test_cards_decline_with_their_code_and_make_no_transaction(gw, number, code) -> None:
    answer = charge(gw, token(gw, number=number))
    assert answer.status_code == 422
    assert answer.json()["messages"][0]["code"] == code
    assert gw.get("/_sandbox/lawpay/transactions").json() == []


@pytest.mark.parametrize("number", SUCCEEDING_CARDS)
def test_documented_good_cards_are_authorized_in_cents(gw, number) -> None:
    answer = charge(gw, token(gw, number=number), amount=50000)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["status"], body["amount"], body["type"]) == ("AUTHORIZED", 50000, "CHARGE")
    assert body["method"]["number"].endswith(number[-4:]) and number not in answer.text


@pytest.mark.parametrize(("account", "code"), [(str(1000000001 + i), c) for i, c in enumerate(DECLINING_ACH)])
def test_documented_test_bank_accounts_fail_in_order(gw, account, code) -> None:
    method = token(gw, type="bank", routing_number="000000013", account_number=account)
    answer = charge(gw, method, account="acct_operating_bank")
    assert answer.json()["messages"][0]["code"] == code


def test_a_bank_payment_needs_an_ach_account_and_a_card_a_card_account(gw) -> None:
    bank = token(gw, type="bank", routing_number="000000000", account_number="123456789")
    assert charge(gw, bank).json()["messages"][0]["code"] == "no_account_for_payment_method"
    assert (
        charge(
            gw, token(gw, type="bank", routing_number="000000001", account_number="1"), account="acct_operating_bank"
        ).json()["messages"][0]["code"]
        == "ach_invalid_routing_number"
    )


def test_tokens_are_single_use_and_expire_after_five_minutes(gw) -> None:
    used = token(gw, number="4242424242424242")
    assert charge(gw, used).status_code == 200
    assert charge(gw, used).status_code == 404
    old = token(gw, number="4242424242424242")
    gw.clock.advance(301)
    assert charge(gw, old).status_code == 404


def test_the_secret_key_is_basic_auth_and_modes_are_apart(gw) -> None:
    assert gw.get("/lawpay/v1/merchant").status_code == 401
    assert gw.get("/lawpay/v1/merchant", auth=("wrong", "")).status_code == 401
    assert charge(gw, token(gw, number="4242424242424242")).status_code == 200
    gw.clock.advance(2)
    live = gw.get("/lawpay/v1/transactions", auth=(LIVE_SECRET_KEY, "")).json()
    assert live["total_entries"] == 0  # a live key never sees test data
    merchant = gw.get("/lawpay/v1/merchant", auth=(LIVE_SECRET_KEY, "")).json()
    assert [a["id"] for a in merchant["merchant_accounts"]] == ["live_operating"]
    assert charge(gw, token(gw, number="4242424242424242"), account="live_operating").status_code == 422


def test_refunds_are_partial_repeatable_and_bounded_and_voids_only_while_authorized(gw) -> None:
    charged = charge(gw, token(gw, number="4242424242424242"), amount=1000).json()
    refund = f"/lawpay/v1/charges/{charged['id']}/refund"
    assert gw.post(refund, auth=AUTH, json={"amount": 400}).json()["status"] == "AUTHORIZED"
    assert (
        gw.post(refund, auth=AUTH, json={"amount": 700}).json()["messages"][0]["code"] == "refund_exceeds_transaction"
    )
    void = gw.post(f"/lawpay/v1/transactions/{charged['id']}/void", auth=AUTH, json={})
    assert void.json()["messages"][0]["code"] == "not_valid_for_transaction_status"  # it has a live refund
    assert gw.post(refund, auth=AUTH, json={"amount": 600}).status_code == 200
    assert gw.get(f"/lawpay/v1/transactions/{charged['id']}", auth=AUTH).json()["amount_refunded"] == 1000
    other = charge(gw, token(gw, number="4242424242424242")).json()
    gw.post("/_sandbox/lawpay/capture")
    completed = gw.post(f"/lawpay/v1/transactions/{other['id']}/void", auth=AUTH, json={})
    assert completed.json()["messages"][0]["code"] == "not_valid_for_transaction_status"


def test_search_lags_a_second_and_matches_reference_prefixes(gw) -> None:
    charge(gw, token(gw, number="4242424242424242"), reference="INV-10")
    charge(gw, token(gw, number="4242424242424242"), reference="INV-1")
    search = {"qf": "reference:INV-1"}
    assert gw.get("/lawpay/v1/transactions", params=search, auth=AUTH).json()["total_entries"] == 0
    gw.clock.advance(1)
    found = gw.get("/lawpay/v1/transactions", params=search, auth=AUTH).json()
    assert sorted(t["reference"] for t in found["results"]) == ["INV-1", "INV-10"]  # UNCONFIRMED semantics: loose


def test_events_are_chronological_from_start_date_and_newest_first_without(gw) -> None:
    first = charge(gw, token(gw, number="4242424242424242")).json()
    gw.clock.advance(1)
    gw.post("/_sandbox/lawpay/capture")
    since = gw.get("/lawpay/v1/events", params={"start_date": "2026-01-01T00:00:00.000Z"}, auth=AUTH).json()
    assert [e["type"] for e in since["results"]] == ["transaction.authorized", "transaction.completed"]
    assert since["results"][0]["data"]["id"] == first["id"]
    newest = gw.get("/lawpay/v1/events", auth=AUTH).json()
    assert [e["type"] for e in newest["results"]] == ["transaction.completed", "transaction.authorized"]
    one = gw.get(f"/lawpay/v1/events/{since['results'][0]['id']}", auth=AUTH).json()
    assert one == since["results"][0]


def test_a_recurring_charge_cannot_start_today_and_prorates_its_last_occurrence(gw) -> None:
    body = {
        "account_id": "acct_operating_card",
        "method": "card_good",
        "amount": 400,
        "max_amount": 1000,
        "reference": "INV-5 | plan",
        "schedule": {"interval_unit": "MONTH", "interval_delay": 1, "start": "2026-11-02"},
    }
    today = gw.post("/lawpay/v1/recurring/charges", auth=AUTH, json=body)
    assert today.json()["messages"][0]["code"] == "first_occurrence_due_immediately"
    body["schedule"]["start"] = "2026-11-30"
    made = gw.post("/lawpay/v1/recurring/charges", auth=AUTH, json=body).json()
    gw.post("/_sandbox/lawpay/recurring/run", json={"through": "2027-06-01"})
    plan = gw.get(f"/lawpay/v1/recurring/charges/{made['id']}", auth=AUTH).json()
    assert plan["status"] == "COMPLETED" and plan["status_reason"] == "schedule_complete"
    assert [o["amount"] for o in plan["occurrences"]] == [400, 400, 200]
    assert [o["due_date"] for o in plan["occurrences"]] == ["2026-11-30", "2026-12-30", "2027-01-30"]
    trust = {**body, "account_id": "acct_trust_card"}
    assert gw.post("/lawpay/v1/recurring/charges", auth=AUTH, json=trust).status_code == 422  # not enabled there


def test_the_hosted_page_keeps_read_only_fields_and_deposits_into_its_account(gw) -> None:
    url = "/lawpay/pages/sandbox-law/trust?amount=25000&reference=TRUST+c9&readOnlyFields=amount,reference"
    page = gw.get(url)
    assert 'name="amount" value="25000" readonly' in page.text and "$250.00" in page.text
    paid = gw.post(
        url,
        data={"amount": "1", "reference": "x", "number": "4242424242424242"},
        headers={"accept": "application/json"},
    ).json()
    assert (paid["amount"], paid["reference"], paid["account_id"]) == (25000, "TRUST c9", "acct_trust_card")
    assert gw.get("/lawpay/pages/sandbox-law/nope").status_code == 404
