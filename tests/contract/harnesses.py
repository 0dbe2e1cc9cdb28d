"""The harnesses the contract suites run on: each connector wired to its vendor's sandbox.

This is the one place the contract suites reach the sandboxes, through each connector's own test
harness (tests/connectors/<vendor>/). To add a connector, append one ContractCase to CASES (or a
gateway to GATEWAYS): its class, a harness factory, and the optional capabilities it offers, which
tests/contract/test_capabilities.py then holds it to. The protocols below say what a harness needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pytest

from connectors.clio.connector import ClioConnector
from connectors.lawpay.connector import LawPayConnector
from connectors.microsoft365.connector import Microsoft365Connector
from connectors.netdocuments.connector import NetDocumentsConnector
from connectors.practicepanther.connector import PracticePantherConnector
from core.connector import (
    BillMemoWriter,
    Connector,
    FindsManyEntries,
    InboundRequest,
    MovesBills,
    OAuthConnector,
    PaymentsByHand,
    RoundingAdvisor,
    Subscription,
    TimeRounding,
    WritePace,
)
from core.gateway import GatewayConnector, PaymentGateway
from core.models import TimeEntry
from tests.connectors.clio.harness import ClioContractHarness
from tests.connectors.lawpay.harness import LawPayGatewayHarness
from tests.connectors.microsoft365.harness import Microsoft365ContractHarness
from tests.connectors.netdocuments.harness import NetDocumentsContractHarness
from tests.connectors.practicepanther.harness import PracticePantherContractHarness


class Harness(Protocol):
    """A connector wired to its sandbox, plus the levers the contract pulls."""

    connector: Connector

    def reject_credentials(self) -> None:
        """Make the vendor answer 401 to everything from now on."""

    def lose_write_answers(self, *, applied: bool) -> None:
        """Make creates lose their answer, after the vendor applied them or before."""

    def restore(self) -> None:
        """Clear injected faults."""

    def now(self) -> datetime:
        """The sandbox clock's current time: the vendor holds nothing later."""

    def remote_entries_with_key(self, key: str) -> int:
        """How many remote entries carry the marker of `key`."""

    def sample_entry(self) -> TimeEntry:
        """A time entry the vendor accepts."""

    def signed_delivery(self) -> tuple[InboundRequest, Subscription | None]:
        """A genuine webhook delivery and the subscription that verifies it."""


class BillsHarness(Harness, Protocol):
    """A harness whose connector offers bills (MovesBills, BillMemoWriter): it can make one."""

    def make_bill(self) -> str:
        """A draft bill a person generated in the PMS; its id."""

    def bill_memo(self, bill_id: str) -> str | None:
        """The memo the PMS holds on the bill."""


class GatewayHarness(Protocol):
    """A payment gateway connector wired to its sandbox, plus the levers the gateway contract pulls."""

    connector: Any
    gateway: PaymentGateway
    charging_method: str  # a saved payment method the gateway charges
    declining_method: str  # a saved payment method the gateway always declines

    def lose_charge_answers(self, *, applied: bool) -> None:
        """Make charges lose their answer, after the gateway made the charge or before."""

    def restore(self) -> None:
        """Clear injected faults."""

    def catch_up(self) -> None:
        """Let the gateway's search and event listing catch up with what it just did."""

    def charges_with_reference(self, reference: str) -> int:
        """How many charges the gateway holds under `reference`."""

    def close(self) -> None:
        """Release what the harness holds."""


@dataclass(frozen=True)
class ContractCase:
    """A connector class, how to build its harness, and exactly which optional capabilities it offers
    (core.connector's runtime-checkable protocols, its writer's included): a renamed method cannot
    drop one unnoticed."""

    connector_class: type[Any]
    harness: Callable[[], Harness]
    offers: frozenset[type[Any]] = frozenset()


@dataclass(frozen=True)
class GatewayCase:
    """A payment gateway connector class, how to build its harness (in a temporary folder), and the
    optional capabilities it offers."""

    connector_class: type[Any]
    harness: Callable[[Path], GatewayHarness]
    offers: frozenset[type[Any]] = frozenset({GatewayConnector})


CLIO_OFFERS = (OAuthConnector, TimeRounding, RoundingAdvisor, MovesBills, BillMemoWriter, PaymentsByHand)
CASES = [
    pytest.param(
        ContractCase(ClioConnector, ClioContractHarness, frozenset({*CLIO_OFFERS, WritePace, FindsManyEntries})),
        id="clio",
    ),
    pytest.param(
        ContractCase(
            PracticePantherConnector,
            PracticePantherContractHarness,
            frozenset({OAuthConnector, PaymentsByHand, FindsManyEntries}),
        ),
        id="practicepanther",
    ),
    pytest.param(
        ContractCase(NetDocumentsConnector, NetDocumentsContractHarness, frozenset({OAuthConnector})), id="netdocuments"
    ),
    # App-only access: its settings hold the credentials, so no OAuth sign-in.
    pytest.param(ContractCase(Microsoft365Connector, Microsoft365ContractHarness), id="microsoft365"),
]

GATEWAYS = [
    pytest.param(GatewayCase(LawPayConnector, LawPayGatewayHarness), id="lawpay"),
]
