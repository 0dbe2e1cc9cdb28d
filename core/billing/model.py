"""A pre-bill: the invoice billsync prepares for one matter and period, before a person bills it in the PMS.

Money rules, checked on construction so a bad pre-bill cannot exist:
- every line: amount = cents(units x unit cost) + adjustment, and tax = cents(amount x tax rate);
- the invoice: fees = sum of line amounts, tax = sum of line taxes, total = fees + tax.
Totals are sums of rounded lines and are never rounded again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from core.models import Severity
from core.units import cents

ZERO = Decimal("0.00")
UNITS = Decimal("0.0001")  # hours to four places: exact for every increment of whole minutes but 1, 7, ...
# Why a line carries an adjustment (PreBillLine.note), as pre-bills are built and stored.
AGREED_NOTE = "discount or cap agreed for the matter"  # an entry's agreed price below hours x rate
CAP_NOTE = "matter cap"  # the invoice-level line that keeps fees under the not-to-exceed amount
COVERED_NOTE = "covered by the flat fee"
# The line shows hours to four places, the work is priced on its exact seconds: a cent apart.
ROUNDING_NOTE = "rounding: the work's exact time, not hours to four places"


class LineType(enum.StrEnum):
    """LEDES `EXP/FEE/INV_ADJ_TYPE`: fee, expense, invoice-level fee or expense adjustment."""

    FEE = "F"
    EXPENSE = "E"
    FEE_ADJUSTMENT = "IF"
    EXPENSE_ADJUSTMENT = "IE"


class PreBillStatus(enum.StrEnum):
    """Where a pre-bill is against the PMS: waiting for its bill, then matched (or not) to it."""

    DRAFT = "draft"  # prepared; no PMS bill found for it yet
    MATCHED = "matched"  # a PMS bill with exactly these lines and totals
    MISMATCH = "mismatch"  # a PMS bill for it differs: see the differences
    # Its PMS bill lacks only entries approved in billsync whose approval is not written to the
    # PMS yet: not a real difference. Sync, then update the bill in the PMS.
    WAITING_FOR_PMS = "waiting_for_pms"
    VOID = "void"  # its PMS bill was voided or deleted; its entries bill again next cycle


@dataclass(frozen=True, slots=True)
class PreBillLine:
    """One invoice line; for a time entry, the entry as approved."""

    number: int
    type: LineType
    work_date: date
    narrative: str
    units: Decimal  # hours for fees; 1 for a flat fee; 0 for an invoice-level adjustment
    unit_cost: Decimal  # the hourly rate, the flat fee, or 0
    adjustment: Decimal  # discount, cap or coverage (<= 0 in practice); never hidden in the rate
    amount: Decimal  # the line total before tax
    timekeeper_id: str | None = None
    timekeeper_name: str = ""
    classification: str = ""  # LEDES: PARTNR, ASSOC, ..., or FLTFEE / ADJSMT for fee-support lines
    task_code: str | None = None
    activity_code: str | None = None
    expense_code: str | None = None
    tax_rate: Decimal = Decimal("0")  # a fraction: 0.0825 for 8.25 %
    tax: Decimal = ZERO
    entry_id: str | None = None  # billsync's time entry
    remote_id: str | None = None  # that entry's id in the PMS (Clio activity id)
    note: str = ""  # why the adjustment: "matter discount", "covered by the flat fee", ...

    def __post_init__(self) -> None:
        for name in ("unit_cost", "adjustment", "amount", "tax"):
            value: Decimal = getattr(self, name)
            if cents(value) != value:
                raise ValueError(f"line {self.number}: {name} {value} is not whole cents")
        if self.units != self.units.quantize(UNITS):
            raise ValueError(f"line {self.number}: units {self.units} has more than four places")
        if self.base + self.adjustment != self.amount:
            raise ValueError(
                f"line {self.number}: {self.units} x {self.unit_cost} + {self.adjustment} is not {self.amount}"
            )
        if cents(self.amount * self.tax_rate) != self.tax:
            raise ValueError(f"line {self.number}: tax {self.tax} is not {self.amount} x {self.tax_rate}")

    @property
    def base(self) -> Decimal:
        """Units times unit cost, rounded once: what the PMS line shows before adjustments."""
        return cents(self.units * self.unit_cost)

    @property
    def total(self) -> Decimal:
        """The line with its tax."""
        return self.amount + self.tax


@dataclass(frozen=True, slots=True)
class GuidelineFinding:
    """What one guideline rule said about the invoice; `line` is None for the invoice as a whole."""

    rule: str
    severity: Severity
    message: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class PreBill:
    """One matter's invoice for one billing period."""

    id: str
    client_id: str
    matter_id: str
    period_start: date
    period_end: date
    invoice_date: date
    number: str  # billsync's own number until the PMS bill's number is recorded
    currency: str
    lines: tuple[PreBillLine, ...]
    findings: tuple[GuidelineFinding, ...] = ()
    status: PreBillStatus = PreBillStatus.DRAFT
    approved_at: datetime | None = None  # when the reviewing partner approved it (`billsync bill approve`)
    pms_bill_id: str | None = None
    pms_bill_number: str | None = None
    pms_state: str | None = None
    differences: tuple[str, ...] = ()  # what the PMS bill does differently, in words
    description: str = ""

    def __post_init__(self) -> None:
        if self.period_end < self.period_start:
            raise ValueError("the billing period ends before it starts")
        numbers = [line.number for line in self.lines]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError("line numbers must run 1, 2, 3, ...")

    @property
    def fees(self) -> Decimal:
        """Sum of fee lines and fee adjustments, before tax."""
        return sum((ln.amount for ln in self.lines if ln.type in _FEE_TYPES), ZERO)

    @property
    def expenses(self) -> Decimal:
        """Sum of expense lines and expense adjustments, before tax."""
        return sum((ln.amount for ln in self.lines if ln.type not in _FEE_TYPES), ZERO)

    @property
    def subtotal(self) -> Decimal:
        """Every line before tax."""
        return sum((ln.amount for ln in self.lines), ZERO)

    @property
    def adjustments(self) -> Decimal:
        """Every adjustment: line discounts, caps, coverage and invoice-level lines."""
        return sum((ln.adjustment for ln in self.lines), ZERO)

    @property
    def tax(self) -> Decimal:
        """Sum of the lines' taxes."""
        return sum((ln.tax for ln in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        """What the client owes: the sum of line totals."""
        return self.subtotal + self.tax

    @property
    def worst(self) -> Severity | None:
        """The strongest finding's severity, or None without findings."""
        order = [Severity.BLOCK, Severity.REVIEW, Severity.WARN]
        found = {f.severity for f in self.findings}
        return next((s for s in order if s in found), None)

    @property
    def entry_ids(self) -> tuple[str, ...]:
        """The time entries this pre-bill bills."""
        return tuple(ln.entry_id for ln in self.lines if ln.entry_id is not None)


_FEE_TYPES = frozenset({LineType.FEE, LineType.FEE_ADJUSTMENT})


@dataclass(frozen=True, slots=True)
class BillingPeriod:
    """A billing period, inclusive at both ends."""

    start: date
    end: date
    label: str = field(default="")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end
