"""Money totals, proven over generated invoices: lines always add up, and no float ever appears."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from config.billing import BillingSettings, LawFirmIdentity, LedesFormat
from core.billing.ledes import parties_for, write_ledes
from core.billing.ledes_parser import parse_ledes
from core.billing.prebill import History
from core.units import amount_for, cents
from tests.billing.scenario import LITIGATION, build, entry, reference

rates = st.decimals(min_value=Decimal("0"), max_value=Decimal("2000"), places=2, allow_nan=False)
seconds = st.integers(min_value=0, max_value=12 * 3600)
percents = st.decimals(min_value=Decimal("0"), max_value=Decimal("40"), places=2, allow_nan=False)
tax_percents = st.decimals(min_value=Decimal("0"), max_value=Decimal("25"), places=3, allow_nan=False)


@st.composite
def entries(draw: st.DrawFn) -> list:
    made = []
    for _ in range(draw(st.integers(min_value=1, max_value=12))):
        billed, rate, discount = draw(seconds), draw(rates), draw(percents)
        gross = amount_for(billed, rate)
        made.append(entry(billed_seconds=billed, rate=rate, amount=cents(gross * (100 - discount) / 100)))
    return made


@settings(max_examples=150, deadline=None)
@given(
    work=entries(),
    tax=tax_percents,
    cap=st.none() | st.decimals(min_value=Decimal("0"), max_value=Decimal("5000"), places=2),
    billed_before=st.decimals(min_value=Decimal("0"), max_value=Decimal("3000"), places=2),
)
def test_line_totals_always_sum_to_the_invoice_total(work, tax, cap, billed_before) -> None:
    matter = LITIGATION.model_copy(update={"cap_amount": cap})
    billing = BillingSettings(tax_rate_percent=tax, firm=LawFirmIdentity(ledes_id="FIRM-1"))
    [prebill] = build(work, billing, reference=reference(matter), history=lambda _m: History(fees=billed_before))
    assert sum((ln.total for ln in prebill.lines), Decimal("0")) == prebill.total
    assert prebill.subtotal + prebill.tax == prebill.total
    for line in prebill.lines:
        assert line.base + line.adjustment == line.amount
        assert cents(line.amount * line.tax_rate) == line.tax
    if cap is not None:  # never past the cap, counting what earlier pre-bills billed
        assert prebill.subtotal <= max(cap - billed_before, Decimal("0"))
    # No float anywhere: every number on the pre-bill and its lines is a Decimal.
    for obj in (prebill, *prebill.lines):
        for f in dataclasses.fields(obj):
            assert not isinstance(getattr(obj, f.name), float), f.name
    # And the LEDES98BI file, read back strictly, carries the same total.
    text = write_ledes(prebill, parties_for(prebill, reference(matter), billing), LedesFormat.LEDES_98BI)
    [invoice] = parse_ledes(text).invoices
    assert invoice.total == prebill.total


@settings(max_examples=100, deadline=None)
@given(work=entries())
def test_an_untaxed_invoice_reads_back_from_ledes_1998b_with_the_same_lines(work) -> None:
    billing = BillingSettings(firm=LawFirmIdentity(ledes_id="FIRM-1"))
    [prebill] = build(work, billing)
    text = write_ledes(prebill, parties_for(prebill, reference(), billing), LedesFormat.LEDES_1998B)
    [invoice] = parse_ledes(text).invoices
    assert [Decimal(ln["LINE_ITEM_TOTAL"]) for ln in invoice.lines] == [ln.amount for ln in prebill.lines]
    assert invoice.total == prebill.total == sum((e.amount for e in work), Decimal("0"))
