"""What a payment gateway offers core (LawPay today), and the values it hands back.

A payment gateway is neither an activity source nor a PMS: it moves money. These
types are what core knows of it; a connector maps its vendor's JSON into them (amounts in Decimal
dollars, whatever unit the vendor uses on the wire). Connectors may import this module: it is part
of core's public contract, like core.connector.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Protocol, runtime_checkable

from core.connector import Cursor
from core.errors import Fatal


class PaymentDeclined(Fatal):
    """The gateway refused the charge outright (a decline or invalid data): no transaction exists."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code  # the gateway's reason, e.g. "card_declined"


@dataclass(frozen=True)
class GatewayAccount:
    """A deposit account at the gateway; `trust` is None when the gateway does not say."""

    id: str
    name: str
    trust: bool | None
    method: str  # "card" or "bank": card and bank deposits use different account ids
    primary: bool = False
    recurring_enabled: bool = False


@dataclass(frozen=True)
class GatewayTransaction:
    """A charge or refund as the gateway holds it now."""

    id: str
    kind: str  # "charge" or "refund"
    status: str  # "pending", "authorized", "completed", "voided", "failed"
    account_id: str
    amount: Decimal
    created: datetime
    reference: str | None = None
    amount_refunded: Decimal = Decimal("0")
    parent_id: str | None = None  # a refund's charge
    plan_id: str | None = None  # the recurring charge that made it, if any
    failure_code: str | None = None


@dataclass(frozen=True)
class GatewayPlan:
    """A schedule of recurring charges (a payment plan)."""

    id: str
    status: str  # "active", "completed", "deleted"
    account_id: str
    amount: Decimal  # per occurrence
    max_amount: Decimal | None
    max_occurrences: int | None
    reference: str | None
    next_payment: date | None = None


@dataclass(frozen=True)
class PlanRequest:
    """What a payment plan charges: `amount` each interval until `max_amount` is reached."""

    account_id: str
    method: str  # a saved payment method id at the gateway
    amount: Decimal
    max_amount: Decimal
    max_occurrences: int
    start: date
    interval: str  # "week" or "month"
    reference: str
    description: str = ""


@dataclass(frozen=True)
class GatewayEvent:
    """Something that happened at the gateway, fetched from its API (never trusted from a webhook)."""

    id: str
    type: str  # the gateway's event type, e.g. "transaction.completed"
    created: datetime
    transaction: GatewayTransaction | None = None
    plan: GatewayPlan | None = None
    plan_id: str | None = None  # for occurrence and payment-method events
    failure_code: str | None = None


@dataclass(frozen=True)
class EventBatch:
    """Events read in one request, oldest first, and the cursor to read from next (never None: a
    batch, even an empty one, always says where to resume)."""

    events: Sequence[GatewayEvent]
    cursor: Mapping[str, Any]


@runtime_checkable
class PaymentGateway(Protocol):
    """Card and bank payments: links, charges, refunds, plans and events. Amounts are Decimal."""

    def accounts(self) -> Sequence[GatewayAccount]:
        """Every deposit account, with its trust flag."""
        ...

    def payment_link(self, *, page_url: str, amount: Decimal, reference: str) -> str:
        """The hosted payment page at `page_url` with the amount and reference filled in and read-only."""
        ...

    def charge(self, *, account_id: str, method: str, amount: Decimal, reference: str) -> GatewayTransaction:
        """Charge once. Raises PaymentDeclined, or Indeterminate when the outcome is unknown."""
        ...

    def find_by_reference(self, reference: str) -> Sequence[GatewayTransaction]:
        """Transactions carrying exactly this reference (recovery after a lost response)."""
        ...

    def transaction(self, transaction_id: str) -> GatewayTransaction:
        """One transaction as it is now."""
        ...

    def refund(self, charge_id: str, amount: Decimal, reference: str) -> GatewayTransaction:
        """Refund part or all of a charge."""
        ...

    def void(self, transaction_id: str, reference: str) -> GatewayTransaction:
        """Cancel a charge or refund that has not settled."""
        ...

    def create_plan(self, request: PlanRequest) -> GatewayPlan:
        """Schedule recurring charges on a saved payment method."""
        ...

    def cancel_plan(self, plan_id: str) -> GatewayPlan:
        """Stop a plan's future charges."""
        ...

    def events(self, cursor: Cursor) -> Iterator[EventBatch]:
        """Events after `cursor`, oldest first; re-reading from the last cursor yields nothing new."""
        ...


@runtime_checkable
class GatewayConnector(Protocol):
    """A connector that is a payment gateway (LawPay): `payments()` is its PaymentGateway.

    Named by a firm's `payments.gateway`; core checks with isinstance, as for any optional
    capability (core.connector)."""

    vendor: ClassVar[str]  # how people know the gateway ("LawPay"): the name in what billsync tells them

    def payments(self) -> PaymentGateway:
        """The payment operations for the connector's merchant account."""
        ...
