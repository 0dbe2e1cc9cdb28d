"""Optional capabilities: which connector offers which, and the contract of each.

Core finds an optional capability with isinstance against a `@runtime_checkable` protocol
(core.connector, core.gateway), so a method renamed in a connector would silently drop the
capability: each case in tests/contract/harnesses.py pins what its connector offers, and every
capability protocol must be pinned.
Each capability's contract is then run over the connectors that offer it.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import core.connector
import core.gateway
from core.connector import (
    BillMemoWriter,
    BillWriter,
    ConnectorRole,
    FindsManyEntries,
    MovesBills,
    OAuthConnector,
    PaymentsByHand,
    RoundingAdvisor,
    StreamRole,
    TimeRounding,
    WritePace,
)
from core.errors import Fatal
from core.gateway import GatewayConnector, PaymentGateway
from core.models import BillState, RemoteBill
from tests.contract.harnesses import CASES, GATEWAYS, BillsHarness, ContractCase, GatewayCase, Harness

# What a connector itself offers, and what its writer offers (core.sync drains and reads back).
CONNECTOR_CAPABILITIES: tuple[type[Any], ...] = (
    OAuthConnector,
    TimeRounding,
    RoundingAdvisor,
    MovesBills,
    BillMemoWriter,
    GatewayConnector,
    PaymentsByHand,
)
WRITER_CAPABILITIES: tuple[type[Any], ...] = (WritePace, FindsManyEntries)
# What the objects a capability hands out are (checked on those objects, not on connectors).
HANDED_OUT = (BillWriter, PaymentGateway)
# The Connector protocol's own parts: every connector has them, none is optional.
REQUIRED = {"Connector", "Stream", "WebhookHandler", "Writer"}

# What each connector offers is pinned on its case in tests/contract/harnesses.py.
_ALL_CASES = [typing.cast(ContractCase | GatewayCase, param.values[0]) for param in (*CASES, *GATEWAYS)]
OFFERED: dict[str, frozenset[type[Any]]] = {case.connector_class.name: case.offers for case in _ALL_CASES}


def _connector_cases() -> Iterator[ContractCase]:
    for param in CASES:
        yield typing.cast(ContractCase, param.values[0])


def _offered_by(connector: Any) -> set[type[Any]]:
    offered = {c for c in CONNECTOR_CAPABILITIES if isinstance(connector, c)}
    writer = connector.writer()
    return offered | {c for c in WRITER_CAPABILITIES if writer is not None and isinstance(writer, c)}


@pytest.fixture(params=CASES)
def harness(request: pytest.FixtureRequest) -> Harness:
    return typing.cast(ContractCase, request.param).harness()


def test_every_capability_protocol_is_pinned() -> None:
    protocols = {
        name
        for module in (core.connector, core.gateway)
        for name, value in vars(module).items()
        if inspect.isclass(value) and getattr(value, "_is_protocol", False) and value.__module__ == module.__name__
    }
    capabilities = (*CONNECTOR_CAPABILITIES, *WRITER_CAPABILITIES, *HANDED_OUT)
    assert protocols - REQUIRED == {p.__name__ for p in capabilities}
    for capability in capabilities:  # core checks each with isinstance, so each must allow it
        assert getattr(capability, "_is_runtime_protocol", False), capability.__name__


def test_each_connector_offers_exactly_its_pinned_capabilities(harness: Harness) -> None:
    offered = _offered_by(harness.connector)
    pinned = OFFERED[harness.connector.name]
    assert {c.__name__ for c in offered} == {c.__name__ for c in pinned}


@pytest.mark.parametrize("gateway_case", GATEWAYS)
def test_each_payment_gateway_offers_exactly_its_pinned_capabilities(gateway_case: Any, tmp_path: Path) -> None:
    made = typing.cast(GatewayCase, gateway_case).harness(tmp_path)
    try:
        assert {c.__name__ for c in _offered_by(made.connector)} == {c.__name__ for c in OFFERED[made.connector.name]}
        assert isinstance(made.connector.payments(), PaymentGateway)
    finally:
        made.close()


def _roles_shown_by(connector: Any) -> set[ConnectorRole]:
    """The roles a connector's behaviour shows: a writer, activity streams, a gateway."""
    shown = set()
    if connector.writer() is not None:
        shown.add(ConnectorRole.PMS)
    if any(stream.role is StreamRole.ACTIVITY for stream in connector.streams()):
        shown.add(ConnectorRole.ACTIVITY_SOURCE)
    if isinstance(connector, GatewayConnector):
        shown.add(ConnectorRole.PAYMENT_GATEWAY)
    return shown


def test_a_connectors_declared_roles_are_exactly_what_it_does(harness: Harness) -> None:
    """Settings are checked against `roles` before anything connects, so they must not lie."""
    assert set(type(harness.connector).roles) == _roles_shown_by(harness.connector)


@pytest.mark.parametrize("gateway_case", GATEWAYS)
def test_a_gateways_declared_roles_are_exactly_what_it_does(gateway_case: Any, tmp_path: Path) -> None:
    made = typing.cast(GatewayCase, gateway_case).harness(tmp_path)
    try:
        assert set(type(made.connector).roles) == _roles_shown_by(made.connector) == {ConnectorRole.PAYMENT_GATEWAY}
    finally:
        made.close()


# Each capability's contract, over the connectors that offer it ---------------------------------


def _offering(capability: type[Any]) -> list[Any]:
    return [p for p in CASES if capability in OFFERED[typing.cast(ContractCase, p.values[0]).connector_class.name]]


def _harness_of(param: Any) -> Any:
    return typing.cast(ContractCase, param).harness()


@pytest.mark.parametrize("case", _offering(TimeRounding))
def test_time_rounding_is_a_positive_whole_number_of_minutes_or_none(case: Any) -> None:
    connector = _harness_of(case).connector
    assert isinstance(connector, TimeRounding)
    minutes = connector.time_increment_minutes()
    assert minutes is None or (type(minutes) is int and minutes > 0), minutes
    assert connector.time_increment_minutes() == minutes  # the same setting read twice: the same answer


@pytest.mark.parametrize("case", _offering(RoundingAdvisor))
def test_rounding_advice_is_one_sentence_or_none_and_refuses_a_non_increment(case: Any) -> None:
    connector = _harness_of(case).connector
    assert isinstance(connector, RoundingAdvisor)
    for increment in (1, 6, 7, 15, 60):
        advice = connector.rounding_mismatch(increment)
        assert advice is None or (isinstance(advice, str) and advice.strip() and "\n" not in advice), advice
    with pytest.raises(ValueError):
        connector.rounding_mismatch(0)


@pytest.mark.parametrize("case", _offering(PaymentsByHand))
def test_why_payments_go_by_hand_is_one_sentence_naming_the_vendor_asked_of_the_class(case: Any) -> None:
    connector_class = typing.cast(ContractCase, case).connector_class
    assert issubclass(connector_class, PaymentsByHand)  # `pay post-list` asks the class, never connecting
    why = connector_class.why_payments_by_hand()
    assert isinstance(why, str) and why.strip() == why and "\n" not in why and not why.endswith(".")
    assert connector_class.__name__.removesuffix("Connector").lower() in why.replace(" ", "").lower()


def _bills_read(connector: Any) -> dict[str, RemoteBill]:
    found: dict[str, RemoteBill] = {}
    for stream in connector.streams():
        if stream.role is StreamRole.BILLS:
            found |= {r.id: r for page in stream.read(None) for r in page.records if isinstance(r, RemoteBill)}
    return found


@pytest.mark.parametrize("case", _offering(MovesBills))
def test_a_bill_writer_moves_what_the_pms_offers_and_refuses_the_impossible_with_fatal(case: Any) -> None:
    harness = typing.cast(BillsHarness, _harness_of(case))
    connector = harness.connector
    assert isinstance(connector, MovesBills)
    bills = connector.bills()
    assert isinstance(bills, BillWriter)
    bill_id = harness.make_bill()
    assert _bills_read(connector)[bill_id].state is BillState.DRAFT
    assert bills.move_bill(bill_id, BillState.AWAITING_PAYMENT) is BillState.AWAITING_PAYMENT
    assert _bills_read(connector)[bill_id].state is BillState.AWAITING_PAYMENT  # the PMS holds the move
    with pytest.raises(Fatal):
        bills.move_bill(bill_id, BillState.AWAITING_APPROVAL)  # backwards: no PMS offers it
    with pytest.raises(Fatal):
        bills.move_bill(bill_id, BillState.PAID)  # a payment pays a bill, never a state change
    assert _bills_read(connector)[bill_id].state is BillState.AWAITING_PAYMENT  # a refusal changed nothing
    with pytest.raises(Fatal):
        bills.move_bill("999999999", BillState.AWAITING_PAYMENT)  # no such bill


@pytest.mark.parametrize("case", _offering(BillMemoWriter))
def test_a_bill_memo_is_written_on_the_bill_and_an_unknown_bill_is_fatal(case: Any) -> None:
    harness = typing.cast(BillsHarness, _harness_of(case))
    connector = harness.connector
    assert isinstance(connector, BillMemoWriter)
    bill_id = harness.make_bill()
    memo = "Pay online: https://pay.example.test/firm?amount=12345&reference=INV-1"
    connector.set_bill_memo(bill_id, memo)
    assert harness.bill_memo(bill_id) == memo
    connector.set_bill_memo(bill_id, memo + " (again)")  # replaced, not appended
    assert harness.bill_memo(bill_id) == memo + " (again)"
    with pytest.raises(Fatal):
        connector.set_bill_memo("999999999", memo)


@pytest.mark.parametrize("case", _offering(WritePace))
def test_a_write_pace_is_positive_numbers_and_a_lost_answer_never_costs_less(case: Any) -> None:
    writer = _harness_of(case).connector.writer()
    assert isinstance(writer, WritePace)
    assert isinstance(writer.vendor, str) and writer.vendor.strip()
    per_minute = writer.requests_per_minute()
    assert per_minute is None or (type(per_minute) is int and per_minute > 0), per_minute
    for operation in ("create", "update"):
        plain = writer.requests_per_write(operation)
        after_a_lost_answer = writer.requests_per_write(operation, unknown_outcome=True)
        assert type(plain) is int and plain > 0, (operation, plain)
        assert type(after_a_lost_answer) is int and after_a_lost_answer >= plain, (operation, after_a_lost_answer)


@pytest.mark.parametrize("case", _offering(OAuthConnector))
def test_an_authorization_url_carries_the_state_and_the_redirect_address(case: Any) -> None:
    connector = _harness_of(case).connector
    assert isinstance(connector, OAuthConnector)
    redirect, state = "http://127.0.0.1:8765/oauth/callback", "st-4f1b"
    url = connector.authorize_url(redirect, state)
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https") and parts.hostname, url
    query = parse_qs(parts.query)
    assert query.get("state") == [state] and query.get("redirect_uri") == [redirect], url
