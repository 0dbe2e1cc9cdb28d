"""A firm's billing cycle: when it runs, how matters bill, taxes, LEDES, and what may move PMS bills.

Neither Clio nor PracticePanther lets an API client create a bill, so billsync prepares pre-bills,
checks them against the client's guidelines and follows the bill a person generates in the PMS.
This section decides how those pre-bills are made and what billsync may do to the PMS bill.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from core.models import Discount, LedesClassification, Severity, letter_lines

# Typed amounts: plain digits, a point and at most two decimals ("100.00", "1250", or a TOML number
# that prints so). [0-9], not \d: \d matches every script's digits. No "NaN", "1e3" or "1,250".
_MONEY = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,2})?")
_PERCENT = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,4})?")
# UTBMS task codes (docs/billing-domain.md §4): a set letter (Litigation, Bankruptcy, Counseling,
# Project) and three digits, e.g. L120; the same form the LEDES guideline check accepts.
_TASK_CODE = re.compile(r"[LBCP][0-9]{3}")


def _plain(pattern: re.Pattern[str], what: str, example: str) -> Any:
    def check(value: Any) -> Decimal:
        text = str(value).strip() if isinstance(value, str | int | float) and not isinstance(value, bool) else ""
        if not pattern.fullmatch(text):
            raise ValueError(f"{what} is written as plain digits and a decimal point, e.g. {example!r}")
        return Decimal(text)

    return check


def _task_code(value: Any) -> str:
    if not isinstance(value, str) or not _TASK_CODE.fullmatch(value.strip()):
        raise ValueError('a UTBMS task code is a set letter L, B, C or P and three digits, e.g. "L120"')
    return value.strip()


Money = Annotated[Decimal, BeforeValidator(_plain(_MONEY, "an amount", "100.00"))]
TaskCode = Annotated[str, BeforeValidator(_task_code)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LedesFormat(enum.StrEnum):
    """Which electronic invoice a client's e-billing system takes."""

    NONE = "none"
    LEDES_1998B = "1998b"
    LEDES_98BI = "98bi"  # international: carries tax, addresses and currency


class Arrangement(enum.StrEnum):
    """How a matter bills; `pms` follows the billing method the PMS reports."""

    PMS = "pms"
    HOURLY = "hourly"
    FLAT = "flat"  # the flat fee only, never incremental entries
    HYBRID = "hybrid"  # a flat fee for a scope, hourly for the rest


class Advance(enum.StrEnum):
    """How far billsync may move a PMS bill that matches its pre-bill (never further)."""

    OFF = "off"
    AWAITING_APPROVAL = "awaiting_approval"
    AWAITING_PAYMENT = "awaiting_payment"


class BillingSchedule(_Strict):
    """When the daemon runs the cycle: on `day_of_month`, for the calendar month before."""

    enabled: bool = False
    day_of_month: int = Field(default=1, ge=1, le=28)  # 28: every month has that day
    hour: int = Field(default=6, ge=0, le=23)  # in the firm's time zone
    time_zone: str = "UTC"


def _letterhead_text(value: Any) -> Any:
    # Printed on every bill: one line of text, nothing a PDF or a LEDES file would carry as a control.
    if isinstance(value, str):
        if any(unicodedata.category(char) == "Cc" for char in value):
            raise ValueError("holds a control character (a line break, a tab, NUL, ESC...): write one line of text")
        if len(value.strip()) > _LETTERHEAD_MAX:
            raise ValueError(f"is longer than {_LETTERHEAD_MAX} characters")
        return value.strip()
    return value


_LETTERHEAD_MAX = 200
LetterheadText = Annotated[str, BeforeValidator(_letterhead_text)]
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _email(value: Any) -> Any:
    if isinstance(value, str) and value.strip() and not _EMAIL.fullmatch(value.strip()):
        raise ValueError('an e-mail address is written as name@domain, e.g. "billing@acme-law.example"')
    return value


class PostalAddress(_Strict):
    """An address as a letter prints it; each value one line of text, at most 200 characters."""

    address_1: LetterheadText = ""
    address_2: LetterheadText = ""
    city: LetterheadText = ""
    region: LetterheadText = ""
    postcode: LetterheadText = ""
    country: LetterheadText = ""

    def address_lines(self) -> tuple[str, ...]:
        """The address as printed on a letter; empty when none is configured."""
        return letter_lines((self.address_1, self.address_2), self.city, self.region, self.postcode, self.country)


class LawFirmIdentity(PostalAddress):
    """The firm as its bills name it: the PDF pre-bill's letterhead, LAW_FIRM_ID and, for LEDES98BI,
    the address. Each value is one line of text (no control characters), at most 200 characters."""

    ledes_id: LetterheadText = ""  # often the firm's tax id; required by most e-billing systems
    name: LetterheadText = ""  # empty: the letterhead shows the firm's `name`
    phone: LetterheadText = ""
    email: Annotated[LetterheadText, BeforeValidator(_email)] = ""
    tax_id: LetterheadText = ""  # printed as "Tax ID" on the letterhead when set


class ClientAddress(PostalAddress):
    """A client's billing address, for LEDES98BI and the PDF pre-bill; set, it wins over the PMS's."""


class AgreedDiscount(_Strict):
    """`discount = { kind = "percent", value = "10" }`: 10 % off each entry's amount, or with
    `kind = "fixed_per_hour"`, that sum off each hour billed (the rate shown stays the PMS's)."""

    kind: Literal["percent", "fixed_per_hour"]
    value: Annotated[Decimal, BeforeValidator(_plain(_PERCENT, "a discount", "10"))]

    @model_validator(mode="after")
    def _meaningful(self) -> AgreedDiscount:
        # Refuse what no agreement means: more than 100 %, or a money sum with more than cents.
        if self.kind == "percent" and self.value > 100:
            raise ValueError("a percent discount is at most 100")
        if self.kind == "fixed_per_hour" and not _MONEY.fullmatch(format(self.value, "f")):
            raise ValueError("a fixed_per_hour discount is an amount with at most two decimals, e.g. '25.00'")
        return self

    def discount(self) -> Discount:
        """As the engine's model."""
        return Discount(kind=self.kind, value=self.value)


class ClientBilling(_Strict):
    """One client's invoicing needs: its LEDES format, tax and guideline overrides, its discount."""

    ledes: LedesFormat = LedesFormat.NONE
    tax_rate_percent: Decimal | None = Field(default=None, ge=0, le=100)  # None: the firm's rate
    tax_id: str = ""  # CLIENT_TAX_ID in LEDES98BI
    po_number: str = ""
    address: ClientAddress = Field(default_factory=ClientAddress)
    daily_cap_hours: Decimal | None = Field(default=None, gt=0, le=24)
    guidelines: dict[str, Severity] = Field(default_factory=dict)  # rule -> severity
    discount: AgreedDiscount | None = None  # on every matter of the client without its own


class MatterBilling(_Strict):
    """One matter's arrangement and agreement, where it differs from what the PMS says."""

    arrangement: Arrangement = Arrangement.PMS
    flat_fee: Decimal | None = Field(default=None, ge=0)
    flat_fee_schedule: Literal["every_cycle", "once"] = "every_cycle"
    # Hybrid: entries with these UTBMS task codes or activity categories are covered by the flat
    # fee (shown on the pre-bill at no charge); every other entry bills hourly.
    covered_task_codes: list[str] = Field(default_factory=list)
    covered_category_ids: list[str] = Field(default_factory=list)
    discount: AgreedDiscount | None = None  # wins over the client's
    cap_amount: Money | None = None  # not to exceed: fees billed on the matter, ever
    task_code: TaskCode | None = None  # the matter's current UTBMS phase; a code set on the entry wins


class TimekeeperBilling(_Strict):
    """One timekeeper as invoices name them: the LEDES classification, where the PMS does not say it."""

    classification: LedesClassification | None = None


class BillingSettings(_Strict):
    """The `[firms.<id>.billing]` section."""

    schedule: BillingSchedule = Field(default_factory=BillingSchedule)
    currency: str = Field(default="USD", pattern="^[A-Z]{3}$")
    tax_name: str = "Tax"
    tax_rate_percent: Decimal = Field(default=Decimal("0"), ge=0, le=100)
    firm: LawFirmIdentity = Field(default_factory=LawFirmIdentity)
    daily_cap_hours: Decimal = Field(default=Decimal("10"), gt=0, le=24)
    guidelines: dict[str, Severity] = Field(default_factory=dict)  # firm-wide rule -> severity
    # Moving PMS bills: off unless the firm says so, and then only a bill that matches its pre-bill.
    advance: Advance = Advance.OFF
    advance_requires_approval: bool = True  # the reviewing partner ran `billsync bill approve`
    match_tolerance: Decimal = Field(default=Decimal("0.00"), ge=0)  # bill total vs pre-bill total
    clients: dict[str, ClientBilling] = Field(default_factory=dict)
    matters: dict[str, MatterBilling] = Field(default_factory=dict)
    timekeepers: dict[str, TimekeeperBilling] = Field(default_factory=dict)  # by the PMS's user id

    def client(self, client_id: str) -> ClientBilling:
        """A client's settings, or the defaults."""
        return self.clients.get(client_id) or ClientBilling()

    def matter(self, matter_id: str) -> MatterBilling:
        """A matter's settings, or the defaults (follow the PMS)."""
        return self.matters.get(matter_id) or MatterBilling()

    def tax_rate(self, client_id: str) -> Decimal:
        """The tax rate for a client's pre-bills as a fraction (8.25 % -> 0.0825)."""
        percent = self.client(client_id).tax_rate_percent
        return (self.tax_rate_percent if percent is None else percent) / 100
