"""What billsync remembers about money: intents, transactions, transfers, plans, tasks, links."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


class Purpose(enum.StrEnum):
    """Why money moves; decides the account (see routing.py)."""

    INVOICE = "invoice"  # earned fees: operating
    PLAN = "plan"  # an invoice paid in instalments: operating
    RETAINER = "retainer"  # unearned, paid in advance: trust
    EVERGREEN = "evergreen"  # a top-up of a retainer kept at a minimum: trust
    REFUND = "refund"  # money back to the client from the account its charge went to


class AccountKind(enum.StrEnum):
    """Operating (the firm's money) or trust (the client's money, ABA Model Rule 1.15)."""

    OPERATING = "operating"
    TRUST = "trust"
    UNKNOWN = "unknown"  # an account the firm's configuration does not name


class IntentStatus(enum.StrEnum):
    """Where a charge is. `sending` and `held` have unknown outcomes: never charged again blindly."""

    PENDING = "pending"  # stored, not yet sent
    SENDING = "sending"  # sent; the answer has not been stored (a crash or a lost response)
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    HELD = "held"  # outcome unknown and not found by reference: a person decides
    ABANDONED = "abandoned"  # a person confirmed nothing was charged


OPEN_INTENTS = (IntentStatus.PENDING, IntentStatus.SENDING, IntentStatus.HELD)
# An open intent has claimed its money: it counts against what is free until it is settled.
# Transactions in these states hold money; voided and failed ones do not.
COUNTED = frozenset({"pending", "authorized", "completed"})


@dataclass(frozen=True, slots=True)
class Intent:
    """A charge or refund billsync means to make, stored before the gateway is called."""

    id: str
    reference: str
    purpose: Purpose
    client_id: str
    matter_id: str | None
    bill_id: str | None
    account_id: str
    account_kind: AccountKind
    method: str | None
    amount: Decimal
    status: IntentStatus = IntentStatus.PENDING
    transaction_id: str | None = None
    error: str | None = None
    parent_id: str | None = None  # a refund's charge at the gateway


@dataclass(frozen=True, slots=True)
class Transaction:
    """A gateway transaction as last seen (from a charge's answer or an event)."""

    id: str
    kind: str  # charge, refund
    status: str  # pending, authorized, completed, voided, failed
    account_id: str
    account_kind: AccountKind
    amount: Decimal
    created: datetime
    reference: str | None = None
    parent_id: str | None = None
    plan_id: str | None = None
    failure_code: str | None = None
    posted_in_pms: bool = False


@dataclass(frozen=True, slots=True)
class Transfer:
    """Trust money applied to an issued invoice: a recorded trust -> operating transfer."""

    id: str
    bill_id: str
    client_id: str
    matter_id: str | None  # the trust pool it came from; None: the client's general pool
    amount: Decimal
    reason: str
    created_at: datetime
    posted_in_pms: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """An invoice balance split into scheduled charges on a saved payment method."""

    id: str
    bill_id: str
    client_id: str
    intent_id: str
    instalment: Decimal
    total: Decimal
    instalments: int
    interval: str
    start: date
    status: str  # requested, active, completed, canceled, held
    gateway_plan_id: str | None = None


@dataclass(frozen=True, slots=True)
class Task:
    """Something the billing staff must do; one per (kind, key)."""

    id: str
    kind: str
    key: str
    message: str
    status: str = "open"
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """The payment page link issued for an invoice, and how it reached the client."""

    bill_id: str
    invoice_number: str
    amount: Decimal
    url: str
    delivered_via: str  # pms_memo, email, none
    delivered_at: datetime
