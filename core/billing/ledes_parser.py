"""A strict LEDES 1998B / LEDES98BI V2 reader: what a client's e-billing system would refuse, it refuses.

Used by the tests (and by `billsync bill ledes --check`) to prove the files billsync writes are
well-formed: the format and header lines, every line ending in `[]`, exactly 24 or 52 fields,
no control characters (NUL, BEL, ESC, DEL, ... : a client's system may cut the line there or
choke on it), YYYYMMDD dates, line dates inside the declared billing period, amounts in cents,
codes in their own fields, invoice fields repeated unchanged on every line, and totals that add
up (docs/billing-domain.md §1-§2, §5).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from core.billing.guidelines import ACTIVITY_CODE, EXPENSE_CODE, TASK_CODE
from core.billing.ledes import LEDES_98BI_FIELDS, LEDES_1998B_FIELDS, LINE_END
from core.errors import BillsyncError
from core.units import cents

_MONEY = re.compile(r"^-?\d+\.\d{2}$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_INVOICE_FIELDS_1998B = (
    "INVOICE_DATE", "INVOICE_NUMBER", "CLIENT_ID", "LAW_FIRM_MATTER_ID", "INVOICE_TOTAL",
    "BILLING_START_DATE", "BILLING_END_DATE", "INVOICE_DESCRIPTION", "LAW_FIRM_ID", "CLIENT_MATTER_ID",
)  # fmt: skip
_INVOICE_FIELDS_98BI = (
    *_INVOICE_FIELDS_1998B, "PO_NUMBER", "CLIENT_TAX_ID", "MATTER_NAME", "INVOICE_TAX_TOTAL", "INVOICE_NET_TOTAL",
    "INVOICE_CURRENCY", "INVOICE_REPORTED_TAX_TOTAL", "INVOICE_TAX_CURRENCY",
)  # fmt: skip
_TYPES = frozenset({"F", "E", "IF", "IE"})


class LedesParseError(BillsyncError):
    """The file breaks the format; the message names the line and the field."""


@dataclass(frozen=True, slots=True)
class LedesInvoice:
    """One invoice read from a file: its invoice-level fields and its line items, field by field."""

    fields: dict[str, str]
    lines: tuple[dict[str, str], ...]

    @property
    def total(self) -> Decimal:
        """INVOICE_TOTAL."""
        return Decimal(self.fields["INVOICE_TOTAL"])


@dataclass(frozen=True, slots=True)
class LedesFile:
    """A parsed file: its format and invoices in file order."""

    format: str  # "LEDES1998B" or "LEDES98BI V2"
    invoices: tuple[LedesInvoice, ...]


def parse_ledes(text: str) -> LedesFile:
    """Read a LEDES file; LedesParseError on the first thing an e-billing system would reject."""
    rows = text.replace("\r\n", "\n").split("\n")
    if rows and rows[-1] == "":
        rows.pop()  # the newline after the last line
    if len(rows) < 3:
        raise LedesParseError("a LEDES file has a format line, a header line and at least one line item")
    for number, row in enumerate(rows, start=1):
        if not row.endswith(LINE_END):
            raise LedesParseError(f"line {number} does not end with []")
    bodies = [row[: -len(LINE_END)] for row in rows]
    fmt = bodies[0]
    fields: tuple[str, ...]
    invoice_fields: tuple[str, ...]
    if fmt == "LEDES1998B":
        fields, invoice_fields = LEDES_1998B_FIELDS, _INVOICE_FIELDS_1998B
    elif fmt == "LEDES98BI V2":
        fields, invoice_fields = LEDES_98BI_FIELDS, _INVOICE_FIELDS_98BI
    else:
        raise LedesParseError(f"line 1 is {fmt!r}, not LEDES1998B or LEDES98BI V2")
    if bodies[1] != "|".join(fields):
        raise LedesParseError(f"line 2 is not the {len(fields)}-field {fmt} header in its order")
    invoices: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for number, body in enumerate(bodies[2:], start=3):
        if fmt == "LEDES98BI V2" and not body.isascii():
            raise LedesParseError(f"line {number}: LEDES98BI is ASCII only")
        values = body.split("|")
        if len(values) != len(fields):
            raise LedesParseError(f"line {number} has {len(values)} fields, not {len(fields)}")
        record = dict(zip(fields, values, strict=True))
        for name, value in record.items():
            control = next((c for c in value if unicodedata.category(c) == "Cc"), None)
            if control is not None:
                raise LedesParseError(f"line {number} {name} holds the control character U+{ord(control):04X}")
        _check_line(number, record, fmt)
        invoices.setdefault(record["INVOICE_NUMBER"], []).append((number, record))
    parsed = tuple(_invoice(items, invoice_fields, fmt) for items in invoices.values())
    return LedesFile(fmt, parsed)


def _check_line(number: int, record: dict[str, str], fmt: str) -> None:
    where = f"line {number}"
    for name in ("INVOICE_DATE", "BILLING_START_DATE", "BILLING_END_DATE", "LINE_ITEM_DATE"):
        _date(record[name], f"{where} {name}")
    money = ["INVOICE_TOTAL", "LINE_ITEM_ADJUSTMENT_AMOUNT", "LINE_ITEM_TOTAL", "LINE_ITEM_UNIT_COST"]
    if fmt == "LEDES98BI V2":
        money += ["INVOICE_TAX_TOTAL", "INVOICE_NET_TOTAL", "LINE_ITEM_TAX_TOTAL", "INVOICE_REPORTED_TAX_TOTAL"]
    for name in money:
        if not _MONEY.match(record[name]):
            raise LedesParseError(f"{where} {name} {record[name]!r} is not an amount with two decimals")
    if not _NUMBER.match(record["LINE_ITEM_NUMBER_OF_UNITS"]):
        raise LedesParseError(f"{where} LINE_ITEM_NUMBER_OF_UNITS {record['LINE_ITEM_NUMBER_OF_UNITS']!r}")
    if record["EXP/FEE/INV_ADJ_TYPE"] not in _TYPES:
        raise LedesParseError(f"{where} EXP/FEE/INV_ADJ_TYPE {record['EXP/FEE/INV_ADJ_TYPE']!r} is not F, E, IF or IE")
    if not record["LINE_ITEM_NUMBER"].isdigit():
        raise LedesParseError(f"{where} LINE_ITEM_NUMBER {record['LINE_ITEM_NUMBER']!r} is not a number")
    for name, pattern in (
        ("LINE_ITEM_TASK_CODE", TASK_CODE),
        ("LINE_ITEM_ACTIVITY_CODE", ACTIVITY_CODE),
        ("LINE_ITEM_EXPENSE_CODE", EXPENSE_CODE),
    ):
        if record[name] and not pattern.match(record[name]):
            raise LedesParseError(f"{where} {name} {record[name]!r} is not a code of that kind")
    base = cents(Decimal(record["LINE_ITEM_NUMBER_OF_UNITS"]) * Decimal(record["LINE_ITEM_UNIT_COST"]))
    before_tax = base + Decimal(record["LINE_ITEM_ADJUSTMENT_AMOUNT"])
    tax = Decimal("0")
    if fmt == "LEDES98BI V2":
        rate = _decimal(record["LINE_ITEM_TAX_RATE"] or "0", f"{where} LINE_ITEM_TAX_RATE")
        tax = Decimal(record["LINE_ITEM_TAX_TOTAL"])
        if cents(before_tax * rate) != tax:
            raise LedesParseError(f"{where}: LINE_ITEM_TAX_TOTAL {tax} is not ({before_tax}) x {rate}")
    if before_tax + tax != Decimal(record["LINE_ITEM_TOTAL"]):
        raise LedesParseError(
            f"{where}: LINE_ITEM_TOTAL {record['LINE_ITEM_TOTAL']} is not units x unit cost + adjustment"
            + (" + tax" if fmt == "LEDES98BI V2" else "")
        )


def _invoice(items: list[tuple[int, dict[str, str]]], invoice_fields: tuple[str, ...], fmt: str) -> LedesInvoice:
    first_number, first = items[0]
    for number, record in items[1:]:
        for name in invoice_fields:
            if record[name] != first[name]:
                raise LedesParseError(f"line {number}: {name} differs from line {first_number} of the same invoice")
    numbers = [record["LINE_ITEM_NUMBER"] for _, record in items]
    if len(set(numbers)) != len(numbers):
        raise LedesParseError(f"invoice {first['INVOICE_NUMBER']}: LINE_ITEM_NUMBER repeats")
    start = _date(first["BILLING_START_DATE"], "BILLING_START_DATE")
    end = _date(first["BILLING_END_DATE"], "BILLING_END_DATE")
    if end < start:
        raise LedesParseError(f"invoice {first['INVOICE_NUMBER']}: the billing period ends before it starts")
    for number, record in items:
        if not start <= _date(record["LINE_ITEM_DATE"], "LINE_ITEM_DATE") <= end:
            raise LedesParseError(
                f"line {number}: LINE_ITEM_DATE {record['LINE_ITEM_DATE']} is outside the billing period "
                f"{first['BILLING_START_DATE']} to {first['BILLING_END_DATE']}"
            )
    line_sum = sum((Decimal(record["LINE_ITEM_TOTAL"]) for _, record in items), Decimal("0"))
    if line_sum != Decimal(first["INVOICE_TOTAL"]):
        raise LedesParseError(
            f"invoice {first['INVOICE_NUMBER']}: INVOICE_TOTAL {first['INVOICE_TOTAL']} is not the sum of "
            f"its line totals {line_sum}"
        )
    if fmt == "LEDES98BI V2":
        tax = sum((Decimal(record["LINE_ITEM_TAX_TOTAL"]) for _, record in items), Decimal("0"))
        if tax != Decimal(first["INVOICE_TAX_TOTAL"]):
            raise LedesParseError(f"invoice {first['INVOICE_NUMBER']}: INVOICE_TAX_TOTAL is not the sum of line taxes")
        if Decimal(first["INVOICE_NET_TOTAL"]) != line_sum - tax:
            raise LedesParseError(f"invoice {first['INVOICE_NUMBER']}: INVOICE_NET_TOTAL is not total less tax")
    invoice = {name: first[name] for name in invoice_fields}
    lines = tuple({k: v for k, v in record.items() if k not in invoice_fields} for _, record in items)
    return LedesInvoice(invoice, lines)


def _date(text: str, where: str) -> date:
    try:
        if len(text) != 8 or not text.isdigit():
            raise ValueError
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise LedesParseError(f"{where} {text!r} is not a YYYYMMDD date") from None


def _decimal(text: str, where: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise LedesParseError(f"{where} {text!r} is not a number") from None
