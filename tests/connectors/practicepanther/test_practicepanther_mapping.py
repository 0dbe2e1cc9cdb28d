"""Mapping units: hours <-> seconds exactly, billing methods, statuses, markers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.practicepanther import mapping
from core.models import BillingMethod, MatterStatus
from tests.connectors.practicepanther.seed import ACME, seed


@pytest.mark.parametrize(
    ("hours", "seconds"), [(1.5, 5400), (0.25, 900), (0.1, 360), ("0.0166666667", 60), (0, 0), (8, 28800)]
)
def test_hours_become_whole_seconds(hours: object, seconds: int) -> None:
    assert mapping.hours_to_seconds(hours) == seconds


def test_seconds_to_hours_is_exact_decimal_and_round_trips() -> None:
    assert mapping.seconds_to_hours(360) == Decimal("0.1")
    assert mapping.seconds_to_hours(5400) == Decimal("1.5")
    for seconds in range(0, 24 * 3600 + 1, 7):
        assert mapping.hours_to_seconds(mapping.hours_json(seconds)) == seconds


@pytest.mark.parametrize("bad", [None, True, "x", -1, "NaN"])
def test_bad_hours_are_mapping_errors(bad: object) -> None:
    with pytest.raises(mapping.MappingError):
        mapping.hours_to_seconds(bad)


@pytest.mark.parametrize(
    ("rate", "method"),
    [
        ("Flat Rate", BillingMethod.FLAT),
        ("Contingency", BillingMethod.CONTINGENCY),
        ("Item Price", BillingMethod.FLAT),
        ("User Hourly Rate", BillingMethod.HOURLY),
        (None, BillingMethod.HOURLY),
    ],
)
def test_billing_method_comes_from_the_matter_rate_string(rate: object, method: BillingMethod) -> None:
    assert mapping.billing_method(rate) is method


def test_matters_accounts_and_users_map() -> None:
    data = seed()
    matters = {m["name"]: mapping.matter(m) for m in data["matters"]}
    assert matters["Acme lease"].billing_method is BillingMethod.FLAT
    assert matters["Acme lease"].status is MatterStatus.PENDING
    assert matters["Acme injury"].billing_method is BillingMethod.CONTINGENCY
    assert matters["Acme v. Beta"].number == "1001" and matters["Acme v. Beta"].client_id == ACME
    client = mapping.client(data["accounts"][0])
    assert client.emails == ("ann@acme.test", "bob@acme.test") and client.domains == ("acme.test",)
    assert "+15550100" in client.phones
    jane, sam = (mapping.timekeeper(u) for u in data["users"])
    assert jane.email == "jane@firm.test" and jane.enabled and not sam.enabled


def test_an_accounts_address_is_its_billing_address() -> None:
    account = {
        "id": "3f1c6a9e-0000-4000-8000-000000000001", "display_name": "Acme Corp", "company_name": "Acme Corp",
        "address_street_1": "500 Harbor Boulevard", "address_street_2": "Suite 900", "address_city": "Providence",
        "address_state": "RI", "address_zip_code": "02903", "address_country": "United States",
    }  # fmt: skip
    found = mapping.client(account)
    assert found.address is not None
    assert found.address.lines() == ("500 Harbor Boulevard", "Suite 900", "Providence, RI 02903", "United States")
    blank = {key: "" for key in account if key.startswith("address_")}
    assert mapping.client(account | blank).address is None
    assert mapping.client({"id": account["id"], "display_name": "Acme Corp"}).address is None


def test_zone_less_timestamps_are_utc_and_query_literals_carry_a_zone() -> None:
    parsed = mapping.parse_timestamp("2018-05-17T23:00:53.393")
    assert parsed.utcoffset() is not None and parsed.hour == 23
    assert mapping.query_time(parsed).endswith("Z")


def test_the_marker_is_stable_and_found_again() -> None:
    key = "firm|practicepanther|email:1|create"
    assert mapping.marker_in(f"notes {mapping.marker(key)}") == mapping.marker_hash(key)
    assert mapping.marker_in("no marker") is None
