"""Rates follow Clio's hierarchy; discounts and caps apply; money stays exact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.models import ActivityCategory, Discount, MatterRate
from core.rating import MatterCaps, agreed_amount, rate_entry
from tests.factories import client, matter, timekeeper

HOUR = 3600
D = Decimal


def rate(**kw):
    args = {
        "timekeeper": timekeeper(default_rate=D("100")),
        "matter": matter(),
        "client": client(),
        "category": None,
        "custom_rate": None,
        "billed_seconds": HOUR,
    } | kw
    return rate_entry(**args)


HOURLY_CATEGORY = ActivityCategory(id="cat", name="Research", rate=D("150"))
FLAT_CATEGORY = ActivityCategory(id="flat", name="Filing", rate=D("95"), flat=True)
MATTER_WITH_RATE = matter(rates=(MatterRate(rate=D("300")),))
CLIENT_WITH_RATE = client(rates={"u1": D("250")})


@pytest.mark.parametrize(
    ("kwargs", "expected_rate", "level"),
    [
        ({"custom_rate": D("999"), "category": FLAT_CATEGORY, "matter": MATTER_WITH_RATE}, D("999"), "custom"),
        ({"category": FLAT_CATEGORY, "matter": MATTER_WITH_RATE, "client": CLIENT_WITH_RATE}, D("95"), "flat"),
        ({"category": HOURLY_CATEGORY, "matter": MATTER_WITH_RATE, "client": CLIENT_WITH_RATE}, D("300"), "matter"),
        ({"category": HOURLY_CATEGORY, "client": CLIENT_WITH_RATE}, D("250"), "client"),
        ({"category": HOURLY_CATEGORY}, D("150"), "category"),
        ({}, D("100"), "timekeeper"),
    ],
    ids=["custom", "flat", "matter", "client", "category", "timekeeper-default"],
)
def test_rate_hierarchy_precedence(kwargs, expected_rate, level) -> None:
    rated = rate(**kwargs)
    assert (rated.rate, rated.level) == (expected_rate, level)


def test_flat_category_charges_its_amount_whatever_the_time() -> None:
    assert rate(category=FLAT_CATEGORY, billed_seconds=360).amount == D("95.00")
    assert rate(category=FLAT_CATEGORY, billed_seconds=5 * HOUR).amount == D("95.00")


def test_most_specific_matter_rate_wins() -> None:
    m = matter(
        rates=(
            MatterRate(rate=D("200")),
            MatterRate(rate=D("210"), category_id="cat"),
            MatterRate(rate=D("220"), timekeeper_id="u1"),
            MatterRate(rate=D("230"), timekeeper_id="u1", category_id="cat"),
            MatterRate(rate=D("999"), timekeeper_id="someone-else"),
        )
    )
    assert rate(matter=m, category=HOURLY_CATEGORY).rate == D("230")
    assert rate(matter=m).rate == D("220")
    assert rate(matter=m, timekeeper=timekeeper(id="u2")).rate == D("200")


def test_client_wildcard_rate_applies_to_every_timekeeper() -> None:
    assert rate(client=client(rates={"*": D("275")})).rate == D("275")


def test_percentage_discount_from_matter_before_client() -> None:
    ten = Discount(kind="percent", value=D("10"))
    half = Discount(kind="percent", value=D("50"))
    assert rate(matter=matter(discount=ten), client=client(discount=half)).amount == D("90.00")
    assert rate(client=client(discount=half)).amount == D("50.00")


def test_fixed_discount_comes_off_each_hour_in_the_amount_and_the_rate_stays_the_pms_rate() -> None:
    off = Discount(kind="fixed_per_hour", value=D("25"))
    rated = rate(matter=matter(discount=off), billed_seconds=1800)
    # By hand: 0.5 h at (100 - 25) = 37.50; the rate the PMS shows stays 100 (the pre-bill's
    # line is 0.5 h x 100 = 50.00 with a -12.50 adjustment).
    assert (rated.rate, rated.amount) == (D("100"), D("37.50"))
    assert rate(matter=matter(discount=Discount(kind="fixed_per_hour", value=D("500")))).amount == D("0.00")


def test_amounts_round_half_up_to_cents() -> None:
    rated = rate(timekeeper=timekeeper(default_rate=D("333.35")), billed_seconds=360)
    assert rated.amount == D("33.34")  # 33.335 rounds up
    assert rate(timekeeper=timekeeper(default_rate=D("0.05")), billed_seconds=360).amount == D("0.01")


def test_percentage_discount_rounds_once() -> None:
    disc = Discount(kind="percent", value=D("33.333"))
    rated = rate(matter=matter(discount=disc), timekeeper=timekeeper(default_rate=D("100.01")))
    assert rated.amount == D("66.67")  # 100.01 * 0.66667 = 66.6737 -> 66.67


def test_matter_cap_reduces_the_entry_that_crosses_it_and_zeroes_the_rest() -> None:
    capped = matter(cap_amount=D("1000"))
    caps = MatterCaps(lambda: {"m1": D("900")})  # already billed
    assert caps.apply(capped, D("60.00")) == (D("60.00"), False)
    assert caps.apply(capped, D("60.00")) == (D("40.00"), True)
    assert caps.apply(capped, D("60.00")) == (D("0"), True)
    assert caps.apply(matter(), D("60.00")) == (D("60.00"), False)  # no cap, no change


def test_cap_totals_are_loaded_once() -> None:
    calls = []
    caps = MatterCaps(lambda: calls.append("load") or {})
    for _ in range(3):
        caps.apply(matter(cap_amount=D("5000")), D("10.00"))
        caps.apply(matter(id="m2", cap_amount=D("5000")), D("10.00"))
    assert calls == ["load"]


TEN_PERCENT = Discount(kind="percent", value=D("10"))
TWENTY_FIVE_OFF = Discount(kind="fixed_per_hour", value=D("25"))


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        # By hand: 1.5 h x 275 = 412.50; less 10 % = 371.25.
        ({"rate": D("275"), "billed_seconds": 5400, "flat": False, "discount": TEN_PERCENT}, D("371.25")),
        # 1.5 h x (275 - 25) = 375.00.
        ({"rate": D("275"), "billed_seconds": 5400, "flat": False, "discount": TWENTY_FIVE_OFF}, D("375.00")),
        # A flat 95 whatever the time, less 10 % = 85.50; a fixed per-hour sum does not touch it.
        ({"rate": D("95"), "billed_seconds": 5400, "flat": True, "discount": TEN_PERCENT}, D("85.50")),
        ({"rate": D("95"), "billed_seconds": 5400, "flat": True, "discount": TWENTY_FIVE_OFF}, D("95.00")),
        # 0.1 h x 333.35 = 33.335 -> 33.34 (half-up, once).
        ({"rate": D("333.35"), "billed_seconds": 360, "flat": False, "discount": None}, D("33.34")),
    ],
    ids=["percent", "fixed-per-hour", "flat-percent", "flat-fixed", "no-discount"],
)
def test_agreed_amount_prices_a_pms_rate_under_the_agreement(kwargs, expected) -> None:
    assert agreed_amount(**kwargs) == expected
