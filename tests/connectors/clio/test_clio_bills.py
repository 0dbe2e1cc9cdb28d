"""Clio bills: the `bills` stream (with line items naming their activities), moving a bill's state
as Clio allows it, the sandbox refusing what Clio refuses, and bill webhooks ringing the doorbell."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from core.errors import Fatal
from core.models import BillState, RemoteBill
from tests.connectors.clio.harness import make_env
from tests.connectors.clio.test_clio_request_bodies import SPEC_FILE, request_validator, spec_path
from tests.connectors.clio.test_clio_webhooks import CALLBACK, wired


def read_bills(env) -> list[RemoteBill]:
    stream = next(s for s in env.connector.streams() if s.name == "bills")
    return [r for page in stream.read(None) for r in page.records]


def test_the_bills_stream_maps_each_bill_with_lines_that_name_their_activities() -> None:
    env = make_env()
    generated = env.sandbox.generate_bill(1001)
    [bill] = read_bills(env)
    assert (bill.id, bill.number, bill.client_id, bill.matter_ids) == (str(generated["id"]), "1", "501", ("1001",))
    assert bill.state is BillState.DRAFT and bill.kind == "sale"
    assert bill.total == bill.subtotal == Decimal("710.50") and bill.outstanding == Decimal("710.50")
    assert [(ln.remote_id, ln.kind, ln.hours, ln.amount) for ln in bill.lines] == [
        ("125565936", "time", Decimal("1.5"), Decimal("525.00")),
        ("125565937", "time", Decimal("0.4"), Decimal("140.00")),
        ("125565938", "expense", Decimal("1.0"), Decimal("45.50")),
    ]
    assert sum((ln.amount for ln in bill.lines), Decimal("0")) == bill.total
    # One list of line items per bill, filtered by bill_id; no descriptions asked for.
    [query] = [parse_qs(urlsplit(str(r.url)).query) for r in env.adapter.sent if "/line_items.json" in str(r.url)]
    assert query["bill_id"] == [str(generated["id"])] and "description" not in query["fields"][0]


def test_a_bill_moves_only_along_the_transitions_clio_offers() -> None:
    env = make_env()
    bill_id = str(env.sandbox.generate_bill(1001)["id"])
    bills = env.connector.bills()
    assert bills.move_bill(bill_id, BillState.AWAITING_PAYMENT) is BillState.AWAITING_PAYMENT
    assert env.sandbox.records("bills")[0]["state"] == "awaiting_payment"
    with pytest.raises(Fatal, match="offers draft, void, not awaiting_approval"):
        bills.move_bill(bill_id, BillState.AWAITING_APPROVAL)
    assert bills.move_bill(bill_id, BillState.AWAITING_PAYMENT) is BillState.AWAITING_PAYMENT  # already there
    patches = [r for r in env.adapter.sent if r.method == "PATCH"]
    assert len(patches) == 1 and patches[0].headers["If-Match"]  # a person's change meanwhile gives 412
    assert json.loads(patches[0].body) == {"data": {"state": "awaiting_payment"}}


def test_a_payment_link_is_written_on_the_bills_memo_and_never_logged() -> None:
    env = make_env()
    bill_id = str(env.sandbox.generate_bill(1001, state="awaiting_payment")["id"])
    link = "Pay online: https://secure.lawpay.com/pages/acme/operating?amount=12345&reference=1"
    env.connector.set_bill_memo(bill_id, link)
    assert env.sandbox.records("bills")[0]["memo"] == link
    [patch] = [r for r in env.adapter.sent if r.method == "PATCH"]
    assert json.loads(patch.body) == {"data": {"memo": link}} and patch.headers["If-Match"]
    with pytest.raises(Fatal, match="not a Clio bill id"):
        env.connector.set_bill_memo("../users", link)


@pytest.mark.skipif(not SPEC_FILE.exists(), reason="Clio OpenAPI spec not found")
def test_the_bill_patch_body_matches_clios_spec() -> None:
    env = make_env()
    env.connector.bills().move_bill(str(env.sandbox.generate_bill(1001)["id"]), BillState.AWAITING_APPROVAL)
    [patch] = [r for r in env.adapter.sent if r.method == "PATCH"]
    request_validator(spec_path(str(patch.url)), "patch").validate(json.loads(patch.body))


def test_the_sandbox_refuses_what_clio_refuses() -> None:
    env = make_env()
    bill = env.sandbox.generate_bill(1001, state="awaiting_payment")
    env.sandbox.update("bills", bill["id"], {"state": "void"})  # a person voids it in the UI
    client = env.connector.client
    with pytest.raises(Fatal, match="can no longer be updated"):
        client.update(f"bills/{bill['id']}", {"state": "draft"}, fields="id")
    draft = env.sandbox.generate_bill(1001)  # the void bill freed its activities
    with pytest.raises(Fatal, match="Unknown bill field"):
        client.update(f"bills/{draft['id']}", {"total": 1}, fields="id")
    with pytest.raises(Fatal, match="does not simulate"):
        client.update(f"bills/{draft['id']}", {"discount": {"rate": 10, "type": "percentage"}}, fields="id")
    memo = client.update(f"bills/{draft['id']}", {"memo": "Thank you"}, fields="id,memo")
    assert memo["memo"] == "Thank you"


def test_bill_webhooks_are_subscribed_and_a_bill_event_repolls_bills() -> None:
    env, handler, receiver = wired()
    subscription = handler.ensure(CALLBACK, None)
    assert subscription is not None and "bill:" in subscription.id
    receiver.subscription = subscription
    bill = env.sandbox.generate_bill(1001)
    env.sandbox.update("bills", bill["id"], {"state": "awaiting_payment"})
    env.sandbox.flush_webhooks()
    assert receiver.rejected == 0
    assert ["bills"] in [list(r.streams) for r in receiver.results if r.delivery_id]
