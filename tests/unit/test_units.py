"""Time is rounded up per entry (raw kept); money is Decimal, half-up to cents."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.units import amount_for, billed_seconds, cents, hours

SIX_MINUTES = 360


@pytest.mark.parametrize(
    ("raw", "billed"),
    [
        (0, 0),  # nothing happened: nothing billed
        (1, 360),  # one second is one increment
        (360, 360),  # exactly one increment stays
        (361, 720),  # one second over is the next increment
        (24 * 3600, 24 * 3600),  # a whole day is whole increments
    ],
)
def test_rounds_up_to_the_increment(raw: int, billed: int) -> None:
    assert billed_seconds(raw, SIX_MINUTES) == billed


def test_quarter_hour_increment() -> None:
    assert billed_seconds(15 * 60, 900) == 900
    assert billed_seconds(15 * 60 + 1, 900) == 1800


def test_negative_duration_and_bad_increment_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        billed_seconds(-1, SIX_MINUTES)
    with pytest.raises(ValueError, match="increment"):
        billed_seconds(10, 0)


@given(st.lists(st.integers(min_value=0, max_value=86_400), max_size=50))
def test_totals_are_sums_of_rounded_entries_never_re_rounded(raws: list[int]) -> None:
    rounded = [billed_seconds(r, SIX_MINUTES) for r in raws]
    total = sum(rounded)
    assert all(b >= r and b - r < SIX_MINUTES for b, r in zip(rounded, raws, strict=True))
    assert total % SIX_MINUTES == 0
    assert hours(total) == sum((hours(b) for b in rounded), Decimal(0))


def test_money_rounds_half_up_to_cents() -> None:
    assert cents(Decimal("0.005")) == Decimal("0.01")
    assert cents(Decimal("0.015")) == Decimal("0.02")  # banker's rounding would give 0.02 too
    assert cents(Decimal("0.025")) == Decimal("0.03")  # ...but 0.02 here: this is half-up
    assert cents(Decimal("-0.005")) == Decimal("-0.01")


def test_amount_for_a_tenth_of_an_hour() -> None:
    assert amount_for(360, Decimal("333.33")) == Decimal("33.33")  # 33.333 -> 33.33
    assert amount_for(360, Decimal("333.35")) == Decimal("33.34")  # 33.335 -> 33.34 (half-up)
    assert amount_for(0, Decimal("500")) == Decimal("0.00")


@given(st.integers(min_value=0, max_value=86_400), st.decimals(min_value=0, max_value=5000, places=2))
def test_amounts_are_exact_decimals_in_cents(seconds: int, rate: Decimal) -> None:
    amount = amount_for(seconds, rate)
    assert isinstance(amount, Decimal)
    assert amount == amount.quantize(Decimal("0.01"))
    assert abs(amount - Decimal(seconds) * rate / 3600) <= Decimal("0.005")
