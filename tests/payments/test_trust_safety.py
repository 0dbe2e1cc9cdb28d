"""Trust safety (ABA Model Rule 1.15): invoices to operating, retainers to trust, trust pays an
invoice only through a recorded transfer, and fees never come out of trust."""

from __future__ import annotations

from decimal import Decimal

import pytest
from billsync_sandboxes.lawpay.seed import TRUST_CARD

from config.payments import ClientPayments
from core.errors import BillsyncError, ConfigError
from core.models import BillState
from core.payments import charges, collection, transfers
from core.payments.cycle import run_payments_cycle
from core.payments.models import IntentStatus, Purpose
from core.payments.posting import hand_postings
from core.payments.routing import AccountMap, TrustViolation, verify_accounts
from tests.connectors.lawpay.harness import FIRM, bill, make_env, payments_settings


def test_a_trust_deposit_never_pays_an_invoice_unless_transferred(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-1", "800.00")])
    # The client pays into trust, and even names the invoice in the reference.
    url = env.fp.gateway.payment_link(
        page_url=env.fp.settings.trust_page_url, amount=Decimal("800.00"), reference="INV-1"
    )
    env.pay_link(url)
    env.settle()
    run_payments_cycle(env.fp)

    ledger = env.fp.ledger()
    assert ledger.invoices["b-INV-1"].balance == Decimal("800.00")  # still owed in full
    assert ledger.trust("c1", "m1") == Decimal("800.00")  # the money is the client's, in trust
    assert [r.outstanding for r in ledger.rows] == [Decimal("800.00")]
    [task] = env.fp.payments.tasks(FIRM)
    assert task.kind == "trust_names_invoice" and "not applied" in task.message

    made = transfers.transfer_from_trust(env.fp, "INV-1", reason="client approved 2026-11-02")
    ledger = env.fp.ledger()
    assert [t.amount for t in made] == [Decimal("800.00")]
    assert ledger.invoices["b-INV-1"].balance == Decimal("0.00")
    assert ledger.invoices["b-INV-1"].paid_from_trust == Decimal("800.00")
    assert ledger.trust("c1", "m1") == Decimal("0.00")
    # Recorded, never silent: a task and a line on the hand-posting list.
    assert any(t.kind == "post_transfer" and made[0].id in t.message for t in env.fp.payments.tasks(FIRM))
    assert any(p.record_id == made[0].id for p in hand_postings(env.fp.matches(), env.fp.payments.transfers(FIRM)))


def test_charging_an_invoice_into_trust_is_refused_before_anything_is_sent(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-2", "100.00")])
    with pytest.raises(TrustViolation, match=r"operating account, not trust.*pay transfer INV-2"):
        charges.charge_invoice(env.fp, "INV-2", method="card_good", account_id=TRUST_CARD)
    assert env.gateway_charges() == []
    assert env.fp.payments.intents(FIRM) == []


def test_a_retainer_into_operating_is_refused(env) -> None:
    with pytest.raises(TrustViolation, match="unearned client money, and must go to trust"):
        charges.deposit_to_trust(
            env.fp, "c1", Decimal("500.00"), method="card_good", account_id=env.fp.settings.operating_account
        )
    assert env.gateway_charges() == []


def test_a_retainer_lands_in_trust_in_full_and_fees_never_touch_it(env) -> None:
    intent = charges.deposit_to_trust(env.fp, "c1", Decimal("2500.00"), method="card_good", matter_id="m1")
    assert intent.status is IntentStatus.SUCCEEDED
    [charge] = env.gateway_charges()
    assert charge["account_id"] == TRUST_CARD and charge["amount"] == 250000  # cents, gross
    env.settle()
    run_payments_cycle(env.fp)
    assert env.fp.ledger().trust("c1", "m1") == Decimal("2500.00")  # nothing netted off


def test_evergreen_top_up_requests_go_to_the_trust_page(tmp_path) -> None:
    rules = ClientPayments(evergreen_minimum=Decimal("1000.00"), evergreen_target=Decimal("3000.00"))
    env = make_env(tmp_path, settings=payments_settings(c1=rules))
    charges.deposit_to_trust(env.fp, "c1", Decimal("400.00"), method="card_good")
    [(client, top_up, url)] = collection.evergreen_requests(env.fp)
    assert (client, top_up) == ("c1", Decimal("2600.00"))
    assert url.startswith(env.fp.settings.trust_page_url) and "amount=260000" in url and "reference=TRUST+c1" in url


def test_transfers_follow_the_clients_configuration(tmp_path) -> None:
    env = make_env(
        tmp_path,
        settings=payments_settings(
            c1=ClientPayments(retainer_deduction="never"), c2=ClientPayments(retainer_deduction="auto")
        ),
    )
    env.store.save_reference(FIRM, [bill("INV-3", "300.00"), bill("INV-4", "300.00", client_id="c2", matter_id="m2")])
    charges.deposit_to_trust(env.fp, "c1", Decimal("300.00"), method="card_good", matter_id="m1")
    charges.deposit_to_trust(env.fp, "c2", Decimal("200.00"), method="card_good", matter_id="m2")
    with pytest.raises(BillsyncError, match="does not allow retainer deductions"):
        transfers.transfer_from_trust(env.fp, "INV-3", reason="asked")
    report = run_payments_cycle(env.fp)  # c2 is `auto`: its invoice takes what trust holds
    assert [(t.bill_id, t.amount) for t in report.transfers] == [("b-INV-4", Decimal("200.00"))]
    ledger = env.fp.ledger()
    assert ledger.invoices["b-INV-4"].balance == Decimal("100.00")
    assert ledger.invoices["b-INV-3"].balance == Decimal("300.00")
    assert ledger.trust("c1", "m1") == Decimal("300.00")
    assert run_payments_cycle(env.fp).transfers == []  # nothing left to apply: no second transfer


def test_trust_is_applied_only_to_an_issued_invoice_and_never_beyond_what_it_holds(env) -> None:
    env.store.save_reference(FIRM, [bill("INV-5", "500.00", state=BillState.DRAFT), bill("INV-6", "500.00")])
    charges.deposit_to_trust(env.fp, "c1", Decimal("100.00"), method="card_good", matter_id="m1")
    with pytest.raises(BillsyncError, match="is draft: only an issued"):
        transfers.transfer_from_trust(env.fp, "INV-5", reason="x")
    with pytest.raises(BillsyncError, match=r"trust holds \$100.00"):
        transfers.transfer_from_trust(env.fp, "INV-6", amount=Decimal("150.00"), reason="x")
    assert env.fp.payments.transfers(FIRM) == []


def test_account_roles_are_checked_against_the_gateways_trust_flags(env) -> None:
    accounts = env.fp.gateway.accounts()
    verify_accounts(AccountMap.from_settings(env.fp.settings), accounts)  # the right way round: fine
    swapped = AccountMap(operating_card=TRUST_CARD, trust_card=env.fp.settings.operating_account)
    with pytest.raises(ConfigError, match="reports as a trust account"):
        verify_accounts(swapped, accounts)


def test_routing_sends_each_purpose_to_its_account() -> None:
    accounts = AccountMap.from_settings(payments_settings())
    assert accounts.for_purpose(Purpose.INVOICE)[1].value == "operating"
    assert accounts.for_purpose(Purpose.PLAN, "bank")[0] == payments_settings().operating_bank_account
    assert accounts.for_purpose(Purpose.RETAINER)[0] == TRUST_CARD
    assert accounts.for_purpose(Purpose.EVERGREEN, "bank")[0] == payments_settings().trust_bank_account
