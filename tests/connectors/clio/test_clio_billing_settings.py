"""Clio's billing settings (settings/billing): the rounding increment, compared with billsync's."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from structlog.testing import capture_logs

from tests.connectors.clio.harness import ClioEnv, make_env, time_entry
from tests.connectors.clio.test_clio_request_bodies import SPEC_FILE, spec, spec_path


def with_settings(**settings: Any) -> ClioEnv:
    env = make_env()
    env.admin("PATCH", "billing_settings/1", settings)
    return env


def test_the_rounding_increment_is_read_from_settings_billing() -> None:
    env = make_env()  # the shared seed rounds to 6 minutes
    assert env.connector.time_increment_minutes() == 6
    [request] = [r for r in env.adapter.sent if "/settings/billing" in str(r.url)]
    assert request.method == "GET"
    assert parse_qs(urlsplit(str(request.url)).query)["fields"] == ["rounding,use_decimal_rounding"]
    assert with_settings(rounding=15).connector.time_increment_minutes() == 15


@pytest.mark.parametrize("value", [None, "6", -1, 1.5, True])
def test_a_missing_or_odd_rounding_is_not_given(value: Any) -> None:
    env = with_settings(rounding=value)
    assert env.connector.time_increment_minutes() is None
    assert env.connector.rounding_mismatch(6) is None  # no claim without Clio's figure


def test_the_same_increment_is_no_mismatch() -> None:
    env = make_env()
    with capture_logs() as events:
        assert env.connector.rounding_mismatch(6) is None
    assert events == []


def test_a_finer_clio_increment_keeps_billsyncs_rounding_and_warns() -> None:
    env = with_settings(rounding=1)
    with capture_logs() as events:
        message = env.connector.rounding_mismatch(6)
    assert (
        message
        == "Clio rounds time to 1-minute increments; billsync is configured for 6: entries keep billsync's rounding"
    )
    [warning] = events
    assert warning["log_level"] == "warning"
    assert (warning["clio_minutes"], warning["billsync_minutes"], warning["kept"]) == (1, 6, True)
    token = env.tokens.current("firm-clio-test", "clio", lambda t: t, force=False).access_token
    assert token not in repr(events) and "client_secret" not in repr(events)


def test_a_coarser_clio_increment_says_clio_rounds_again() -> None:
    env = with_settings(rounding=15)
    message = env.connector.rounding_mismatch(6)
    assert message == (
        "Clio rounds time to 15-minute increments; billsync is configured for 6: "
        "Clio rounds billsync's entries up again, so its totals can exceed billsync's amounts"
    )
    # The sandbox agrees: a 6-minute entry is shown as 15 minutes, and billed so.
    remote_id = env.connector.writer().write_time_entry(time_entry(billed_seconds=360), "key-1", billable=True)
    stored = env.admin("GET", f"activities/{remote_id}")
    assert stored["quantity"] == 360.0 and stored["rounded_quantity"] == 900.0


def test_a_coarser_increment_that_divides_billsyncs_is_kept() -> None:
    env = with_settings(rounding=3)
    assert env.connector.rounding_mismatch(6) == (
        "Clio rounds time to 3-minute increments; billsync is configured for 6: entries keep billsync's rounding"
    )
    assert with_settings(rounding=6).connector.rounding_mismatch(12) is not None  # differs, though kept


def test_decimal_rounding_counts() -> None:
    kept = with_settings(rounding=6, use_decimal_rounding=True)
    assert kept.connector.rounding_mismatch(6) is None  # 0.1 h is already a whole hundredth
    changed = with_settings(rounding=1, use_decimal_rounding=True)
    assert changed.connector.rounding_mismatch(1) == (
        "Clio rounds time to 1-minute increments and to hundredths of an hour; billsync is configured for 1: "
        "Clio rounds billsync's entries up again, so its totals can exceed billsync's amounts"
    )


def test_no_rounding_in_clio() -> None:
    env = with_settings(rounding=0)
    assert env.connector.time_increment_minutes() == 1  # any whole minute is kept as sent
    assert env.connector.rounding_mismatch(6) == (
        "Clio does not round time; billsync is configured for 6: entries keep billsync's rounding"
    )


def test_a_billsync_increment_below_one_minute_is_refused_before_any_request() -> None:
    env = make_env()
    with pytest.raises(ValueError, match="at least 1 minute"):
        env.connector.rounding_mismatch(0)
    assert env.adapter.sent == []


@pytest.mark.skipif(not SPEC_FILE.exists(), reason=f"Clio OpenAPI spec not found at {SPEC_FILE}")
def test_the_settings_read_matches_the_spec() -> None:
    env = make_env()
    env.connector.time_increment_minutes()
    [request] = [r for r in env.adapter.sent if "/settings/billing" in str(r.url)]
    path = spec_path(str(request.url))
    operation = spec()["paths"][path]["get"]
    declared = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    query = parse_qs(urlsplit(str(request.url)).query)
    assert set(query) <= declared
    properties = spec()["components"]["schemas"]["BillingSetting_base"]["properties"]
    assert set(query["fields"][0].split(",")) <= set(properties)
    assert properties["rounding"]["type"] == "integer"


# The increment billsync defaults to (core.connector.TimeRounding) --------------------------------


@pytest.mark.parametrize(
    ("settings", "increment"),
    [
        ({"rounding": 15}, 15),
        ({"rounding": 6}, 6),
        ({"rounding": 1}, 1),
        ({"rounding": 0}, 1),  # Clio does not round: any whole minute is kept
        ({"rounding": 6, "use_decimal_rounding": True}, 6),  # 0.1 h is already whole hundredths
        ({"rounding": 1, "use_decimal_rounding": True}, 3),  # 1 min = 0.0167 h is not; 3 min = 0.05 h is
        ({"rounding": 10, "use_decimal_rounding": True}, 30),  # 10 min = 0.1667 h; 30 min = 0.5 h
        ({"rounding": None}, None),
    ],
)
def test_the_increment_billsync_follows_is_one_clio_keeps_as_sent(
    settings: dict[str, Any], increment: int | None
) -> None:
    env = with_settings(**settings)
    assert env.connector.time_increment_minutes() == increment
    if increment is None:
        return
    # Never rounded twice: entries of one and of seven increments come back from Clio as sent,
    # and Clio's total is that quantity times the price (figures by hand: 7 x 15 min = 1.75 h).
    for count in (1, 7):
        seconds = count * increment * 60
        remote_id = env.connector.writer().write_time_entry(
            time_entry(billed_seconds=seconds), f"k-{count}", billable=True
        )
        stored = env.admin("GET", f"activities/{remote_id}")
        assert stored["quantity"] == stored["rounded_quantity"] == float(seconds), (settings, count)
        assert stored["total"] == pytest.approx(seconds / 3600 * stored["price"], abs=0.005)  # to the cent


def test_one_of_billsyncs_increments_that_clio_would_round_again_is_shown_by_the_sandbox() -> None:
    # The reason for the lcm above: under 10-minute rounding with hundredths, 10 minutes bills 0.17 h.
    env = with_settings(rounding=10, use_decimal_rounding=True)
    remote_id = env.connector.writer().write_time_entry(time_entry(billed_seconds=600), "k", billable=True)
    assert env.admin("GET", f"activities/{remote_id}")["rounded_quantity"] == 612.0  # 0.17 h
