"""Canonical, vendor-free models: what every connector maps its vendor's JSON into.

Models are frozen pydantic models: they are validated once at the edge (a connector's
mapping or the ingest endpoint) and then passed around as values.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.timezones import iana_name

# LEDES TIMEKEEPER_CLASSIFICATION values for a person (docs/billing-domain.md §1); FLTFEE and ADJSMT
# mark fee-support lines (a flat fee, an invoice adjustment), never a person.
LEDES_CLASSIFICATIONS: tuple[str, ...] = ("PARTNR", "ASSOC", "OFCNSL", "PRLGL", "LGLAST", "OTH")
LedesClassification = Literal["PARTNR", "ASSOC", "OFCNSL", "PRLGL", "LGLAST", "OTH"]


class Frozen(BaseModel):
    """Base for canonical models: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ActivityKind(enum.StrEnum):
    """What an attorney did; decides the default duration, narrative and UTBMS activity code."""

    CALL = "call"
    SMS = "sms"
    EMAIL = "email"
    DOCUMENT = "document"
    NOTE = "note"  # a matter note or an interaction report
    EVENT = "event"  # a calendar event that has ended
    TASK = "task"  # a task marked complete


class BillingMethod(enum.StrEnum):
    """How a matter is billed; only hourly matters bill incremental entries."""

    HOURLY = "hourly"
    FLAT = "flat"
    CONTINGENCY = "contingency"


class MatterStatus(enum.StrEnum):
    """Matter lifecycle as the practice-management systems report it."""

    OPEN = "open"
    PENDING = "pending"
    CLOSED = "closed"


class EntryState(enum.StrEnum):
    """Where a time entry is in its life; see docs in the README."""

    DRAFT = "draft"
    NEEDS_REVIEW = "needs_review"
    APPROVED = "approved"
    BLOCKED = "blocked"
    REJECTED = "rejected"
    POSTED = "posted"
    BILLED = "billed"
    DELETED_REMOTELY = "deleted_remotely"


class ActivityStatus(enum.StrEnum):
    """What capture made of an activity; each non-entry status is a leak in the capture funnel."""

    CAPTURED = "captured"  # became a time entry
    MERGED = "merged"  # overlapped another activity's entry and was linked to it
    UNASSIGNED = "unassigned"  # no matter found: waits in the unassigned queue
    NOT_TIMEKEEPER = "not_timekeeper"  # actor unknown or may not record time
    KIND_DISABLED = "kind_disabled"  # the firm does not capture this kind of activity
    COVERED = "covered"  # someone already logged time for it by hand
    CAPTURE_OFF = "capture_off"  # the firm has not opted in


# Parked for a reason that can go away (a user added or enabled, a contact rule or matter number that
# appears, a matter assigned or reopened, a kind switched on): decided again every cycle until it is
# captured. Every other status is settled: captured, merged and covered activities are never decided
# again, so a deleted entry (a tombstone) is never recreated. A settled activity never becomes parked.
class ParkedStatus(enum.StrEnum):
    """The activity statuses that wait for a person (`billsync review parked --status`): a subset
    of ActivityStatus, value for value."""

    UNASSIGNED = ActivityStatus.UNASSIGNED.value
    NOT_TIMEKEEPER = ActivityStatus.NOT_TIMEKEEPER.value
    KIND_DISABLED = ActivityStatus.KIND_DISABLED.value


PARKED_STATUSES = frozenset(ActivityStatus(status.value) for status in ParkedStatus)


class Severity(enum.StrEnum):
    """What a rule finding does to an entry. Ordered from strongest to weakest."""

    BLOCK = "block"
    REVIEW = "review"
    WARN = "warn"
    OFF = "off"


class Activity(Frozen):
    """One thing an attorney did, as a source reported it."""

    source: str = Field(min_length=1, max_length=64)
    external_id: str = Field(min_length=1, max_length=255)
    kind: ActivityKind
    actor: str = Field(min_length=1, description="source user id or e-mail of whoever did it")
    started_at: datetime
    ended_at: datetime | None = None
    duration_seconds: int | None = Field(default=None, ge=0, le=7 * 24 * 3600)
    title: str = Field(default="", max_length=500, description="safe title: subject, file name")
    counterpart: str | None = Field(default=None, max_length=200, description="who it was with")
    counterpart_addresses: tuple[str, ...] = ()  # e-mail addresses or phone numbers
    matter_id: str | None = None  # an explicit link made in the source
    client_id: str | None = None
    workspace: str | None = Field(default=None, max_length=500)  # DMS workspace/folder name
    covered_by_time_entry: bool = False  # someone already logged it by hand
    custom_rate: Decimal | None = Field(default=None, ge=0)
    body: str | None = Field(default=None, repr=False, exclude=True)
    """Message body or transcript. Privileged: never copied into an entry, a log or the store."""

    @field_validator("started_at", "ended_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps must carry a time zone")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Activity:
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self

    @property
    def actual_seconds(self) -> int | None:
        """The activity's real length, from the source's duration or its interval."""
        if self.duration_seconds is not None:
            return self.duration_seconds
        if self.ended_at is not None:
            return int((self.ended_at - self.started_at).total_seconds())
        return None


class Timekeeper(Frozen):
    """A user of the PMS who may (or may not) record time."""

    id: str
    name: str
    email: str | None = None
    aliases: tuple[str, ...] = ()  # other ids the same person has in other sources
    default_rate: Decimal = Field(default=Decimal("0"), ge=0)
    may_record_time: bool = True
    enabled: bool = True
    # LEDES classification (LEDES_CLASSIFICATIONS) as far as the PMS says; None when it
    # says nothing that maps to exactly one. The firm's configuration wins (core/agreements.py).
    classification: str | None = None
    time_zone: str | None = None  # None: the vendor gives none, and the firm's zone is used

    @field_validator("time_zone")
    @classmethod
    def _iana(cls, value: str | None) -> str | None:
        # Rails ("Eastern Time (US & Canada)") and Windows names become IANA names. A name no table
        # knows is kept as the vendor sent it: the sync reports it and capture uses the firm's zone.
        if value is None or not value.strip():
            return None
        return iana_name(value) or value


class Discount(Frozen):
    """An agreed reduction: a percentage of each entry, or a fixed amount off each hour."""

    kind: Literal["percent", "fixed_per_hour"]
    value: Decimal = Field(ge=0)

    @model_validator(mode="after")
    def _at_most_everything(self) -> Discount:
        if self.kind == "percent" and self.value > 100:
            raise ValueError("a percent discount is at most 100")
        return self


class MatterRate(Frozen):
    """A matter's custom rate, optionally for one timekeeper or one activity category."""

    rate: Decimal = Field(ge=0)
    timekeeper_id: str | None = None
    category_id: str | None = None


def letter_lines(street: Sequence[str], city: str, region: str, postcode: str, country: str) -> tuple[str, ...]:
    """An address as printed on a letter: street lines, then "city, region postcode", then country; no blank lines."""
    place = " ".join(p for p in (", ".join(p for p in (city, region) if p), postcode) if p)
    return tuple(line for line in (*street, place, country) if line.strip())


class PostalAddress(Frozen):
    """Where a client's bills go, as the PMS keeps it (Clio: the contact's address)."""

    street: str = ""  # may hold several lines
    city: str = ""
    region: str = ""  # state or province
    postcode: str = ""
    country: str = ""

    def lines(self) -> tuple[str, ...]:
        """The address as printed on a letter (letter_lines)."""
        return letter_lines(self.street.splitlines(), self.city, self.region, self.postcode, self.country)


class Client(Frozen):
    """A client contact with what matching and rating need."""

    id: str
    name: str
    emails: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    rates: dict[str, Decimal] = Field(default_factory=dict)  # timekeeper id -> client rate
    approved_rates: dict[str, Decimal] | None = None  # timekeeper id -> highest approved rate
    discount: Discount | None = None
    ledes_client_id: str | None = None
    address: PostalAddress | None = None  # the billing address in the PMS, for the pre-bill


class ClientRateTable(Frozen):
    """Every client's agreed hourly rates as the PMS keeps them (Clio: activity rates).

    A connector reads the whole table at each poll and hands it over as one record, so a rate
    deleted in the PMS is gone here too; the store merges it into each Client's `rates`.
    """

    id: str  # the connector that read it
    rates: dict[str, dict[str, Decimal]] = Field(default_factory=dict)  # client -> timekeeper ("*": all) -> rate


class Matter(Frozen):
    """A client matter with its billing arrangement."""

    id: str
    client_id: str
    number: str  # the display number people type: "00123-Smith" or "ACME-0042"
    name: str = ""
    status: MatterStatus = MatterStatus.OPEN
    billing_method: BillingMethod = BillingMethod.HOURLY
    billable: bool = True
    updated_at: datetime
    rates: tuple[MatterRate, ...] = ()
    discount: Discount | None = None
    cap_amount: Decimal | None = Field(default=None, ge=0)  # not-to-exceed
    ebilling: bool = False  # bills by LEDES: UTBMS codes required
    task_code: str | None = None  # current UTBMS phase/task code, e.g. L120


class ActivityCategory(Frozen):
    """An activity category (Clio: activity description) with its hourly or flat rate."""

    id: str
    name: str
    rate: Decimal | None = Field(default=None, ge=0)
    flat: bool = False


class Finding(Frozen):
    """What one rule said about one entry."""

    rule: str
    severity: Severity
    message: str


class TimeEntry(Frozen):
    """The entry billsync would write for an activity, and why."""

    id: str
    activity_key: tuple[str, str]  # (source, external_id) of the activity it came from
    timekeeper_id: str
    matter_id: str
    client_id: str
    work_date: date
    started_at: datetime
    ended_at: datetime
    raw_seconds: int
    billed_seconds: int
    rate: Decimal
    amount: Decimal
    billable: bool
    narrative: str
    kind: ActivityKind
    category_id: str | None = None
    task_code: str | None = None
    activity_code: str | None = None
    suggested_matter: bool = False
    state: EntryState = EntryState.DRAFT
    findings: tuple[Finding, ...] = ()
    remote_id: str | None = None  # the entry's id in the PMS, once written
    rejection_reason: str | None = None  # what the reviewer said when rejecting it


class BillState(enum.StrEnum):
    """A bill's state in the PMS (Clio's states; PracticePanther's are derived)."""

    DRAFT = "draft"
    AWAITING_APPROVAL = "awaiting_approval"
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    VOID = "void"
    DELETED = "deleted"


class BillLine(Frozen):
    """One line of a bill made in the PMS."""

    work_date: date | None = None
    description: str = ""
    timekeeper: str | None = None  # a user id where the vendor gives one, else the printed name
    hours: Decimal = Decimal("0")
    rate: Decimal = Decimal("0")
    amount: Decimal = Decimal("0")
    kind: str = "time"  # time, expense, flat_fee
    remote_id: str | None = None  # the time entry billed, where the vendor links it


class RemoteBill(Frozen):
    """A bill (invoice) made by a person in the PMS: read-only for billsync."""

    id: str
    number: str | None = None  # PracticePanther invoices carry none
    client_id: str
    matter_ids: tuple[str, ...] = ()
    state: BillState
    kind: str = "sale"  # sale, refund, credit
    issued_on: date | None = None
    due_on: date | None = None
    subtotal: Decimal = Decimal("0")
    discount: Decimal = Decimal("0")
    tax: Decimal = Decimal("0")
    total: Decimal
    paid: Decimal = Decimal("0")
    outstanding: Decimal = Decimal("0")
    lines: tuple[BillLine, ...] = ()
    updated_at: datetime


class PaymentAccount(enum.StrEnum):
    """Which money a payment landed in: trust (client money) is never operating money."""

    OPERATING = "operating"
    TRUST = "trust"
    CREDIT_CARD = "credit_card"


class RemotePayment(Frozen):
    """A payment recorded in the PMS: read-only for billsync."""

    id: str
    client_id: str
    matter_id: str | None = None
    received_on: date
    amount: Decimal
    unapplied: Decimal = Decimal("0")  # not yet applied to any bill
    refunded: Decimal = Decimal("0")
    account: PaymentAccount
    status: str = "succeeded"  # succeeded, pending, failed, refunded, refund_pending, canceled
    reference: str | None = None  # the vendor's payment number or memo
    updated_at: datetime
