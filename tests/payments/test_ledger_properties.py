"""Property tests: whatever mix of payments, refunds, voids, reversals and transfers, the ledger is
exact to the cent and agrees with a plain integer-cents recount."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.payments.ledger import build_ledger
from core.payments.models import COUNTED, AccountKind, Transaction, Transfer
from core.payments.reconcile import match_all
from core.store.payments import PaymentStore
from core.store.store import Store
from tests.connectors.lawpay.harness import bill

T0 = datetime(2026, 11, 1, tzinfo=UTC)
NUMBERS = ["INV-1", "INV-2", "INV-3"]
CENT = Decimal("0.01")


def dollars(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


charge_st = st.tuples(
    st.sampled_from([*NUMBERS, "INV-404"]),  # an unknown reference now and then
    st.integers(min_value=1, max_value=5_000_000),
    st.sampled_from(["authorized", "completed", "voided", "failed", "pending"]),
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=200_000), st.sampled_from(["authorized", "voided"])), max_size=3
    ),
)
bill_st = st.lists(st.integers(min_value=1, max_value=10_000_000), min_size=3, max_size=3)
transfer_st = st.lists(st.tuples(st.sampled_from(NUMBERS), st.integers(min_value=1, max_value=100_000)), max_size=3)


def build(totals: list[int], charges_: list[tuple], transfers_: list[tuple]):
    bills = [
        bill(n, str(dollars(t)), matter_id=f"m{i % 2}") for i, (n, t) in enumerate(zip(NUMBERS, totals, strict=True))
    ]
    txs: list[Transaction] = []
    for i, (number, cents, status, refunds) in enumerate(charges_):
        charge_id = f"ch{i}"
        at = T0 + timedelta(minutes=i)
        txs.append(Transaction(charge_id, "charge", status, "op", AccountKind.OPERATING, dollars(cents), at, number))
        for j, (refund_cents, refund_status) in enumerate(refunds):
            txs.append(
                Transaction(
                    f"{charge_id}r{j}",
                    "refund",
                    refund_status,
                    "op",
                    AccountKind.OPERATING,
                    dollars(min(refund_cents, cents)),
                    at,
                    number,
                    parent_id=charge_id,
                )
            )
    transfers = [
        Transfer(f"t{i}", f"b-{n}", "c1", None, dollars(c), "agreed", T0) for i, (n, c) in enumerate(transfers_)
    ]
    return bills, txs, transfers


@settings(max_examples=200, deadline=None)
@given(bill_st, st.lists(charge_st, max_size=8), transfer_st)
def test_the_ledger_agrees_with_an_integer_cents_recount(totals, charges_, transfers_) -> None:
    bills, txs, transfers = build(totals, charges_, transfers_)
    ledger = build_ledger(bills, match_all(txs, bills, []), transfers)

    for number, total in zip(NUMBERS, totals, strict=True):
        cents = 0
        for i, (reference, amount, status, refunds) in enumerate(charges_):
            if reference != number:
                continue
            cents += amount if status in COUNTED else 0
            cents -= sum(min(r, amount) for r, r_status in refunds if r_status in COUNTED)
            del i
        cents += sum(c for n, c in transfers_ if n == number)
        invoice = ledger.invoices[f"b-{number}"]
        assert invoice.paid == dollars(cents)
        assert invoice.balance == dollars(total - cents)

    every = [v for r in ledger.rows for v in (r.billed, r.paid, r.outstanding, r.credit, r.trust)]
    assert all(v == v.quantize(CENT) for v in every)  # never a fraction of a cent
    for r in ledger.rows:
        assert r.billed - r.paid == r.outstanding - r.credit
        assert r.outstanding >= 0 and r.credit >= 0
    totals_row = ledger.totals()
    assert totals_row.billed == dollars(sum(totals))
    assert totals_row.paid == sum((i.paid for i in ledger.invoices.values()), Decimal("0.00"))
    unknown = sum(a for reference, a, s, _ in charges_ if reference == "INV-404" and s in COUNTED)
    assert sum(
        m.transaction.amount
        for m in ledger.unmatched
        if m.transaction.kind == "charge" and m.transaction.status in COUNTED
    ) == dollars(unknown)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bill_st, st.lists(charge_st, max_size=6))
def test_the_store_keeps_every_cent(tmp_path, totals, charges_) -> None:
    store = _store(tmp_path)
    firm = uuid.uuid4().hex
    bills, txs, _ = build(totals, charges_, [])
    payments = PaymentStore(store.engine)
    payments.save_transactions(firm, txs)
    store.save_reference(firm, bills)
    again = payments.transactions(firm)
    assert {t.id: t.amount for t in again} == {t.id: t.amount for t in txs}
    direct = build_ledger(bills, match_all(txs, bills, []), [])
    stored = build_ledger(store.load_bills(firm), match_all(again, store.load_bills(firm), []), [])
    assert [(r.billed, r.paid, r.outstanding, r.credit) for r in direct.rows] == [
        (r.billed, r.paid, r.outstanding, r.credit) for r in stored.rows
    ]


_STORES: dict[str, Store] = {}


def _store(tmp_path) -> Store:
    key = str(tmp_path)
    if key not in _STORES:
        _STORES[key] = Store.open(f"sqlite:///{tmp_path / 'props.db'}")
    return _STORES[key]
