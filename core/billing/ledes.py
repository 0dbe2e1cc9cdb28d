"""LEDES 1998B and LEDES98BI V2 files for a pre-bill (billing-domain.md §1-§2).

Both are pipe-delimited text: a format line, a header line of field names, one line per line
item; every line ends with `[]`, invoice-level fields repeat on every line, dates are YYYYMMDD.
1998B has 24 fields and cannot carry tax; LEDES98BI V2 adds 28 (tax, currency, addresses) and
is ASCII only. Text is cleaned so a narrative can never break the format: no `|`, no `[]`, no
line breaks, ASCII only.

TIMEKEEPER_CLASSIFICATION is one of LEDES's own (PARTNR, ASSOC, OFCNSL, PRLGL, LGLAST, OTH) on a
person's line, FLTFEE or ADJSMT on a fee-support line; anything else ("Partner", or nothing known)
is refused naming the timekeeper and the key to set. A pre-bill line keeps the classification it
was built with; one built without a known classification takes the firm's current setting.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from config.billing import BillingSettings, LedesFormat
from core.billing.model import PreBill, PreBillLine
from core.errors import BillsyncError
from core.matching import ReferenceData
from core.models import LEDES_CLASSIFICATIONS

LEDES_1998B_FIELDS: tuple[str, ...] = (
    "INVOICE_DATE", "INVOICE_NUMBER", "CLIENT_ID", "LAW_FIRM_MATTER_ID", "INVOICE_TOTAL",
    "BILLING_START_DATE", "BILLING_END_DATE", "INVOICE_DESCRIPTION", "LINE_ITEM_NUMBER",
    "EXP/FEE/INV_ADJ_TYPE", "LINE_ITEM_NUMBER_OF_UNITS", "LINE_ITEM_ADJUSTMENT_AMOUNT", "LINE_ITEM_TOTAL",
    "LINE_ITEM_DATE", "LINE_ITEM_TASK_CODE", "LINE_ITEM_EXPENSE_CODE", "LINE_ITEM_ACTIVITY_CODE",
    "TIMEKEEPER_ID", "LINE_ITEM_DESCRIPTION", "LAW_FIRM_ID", "LINE_ITEM_UNIT_COST", "TIMEKEEPER_NAME",
    "TIMEKEEPER_CLASSIFICATION", "CLIENT_MATTER_ID",
)  # fmt: skip
LEDES_98BI_FIELDS: tuple[str, ...] = (
    *LEDES_1998B_FIELDS,
    "PO_NUMBER", "CLIENT_TAX_ID", "MATTER_NAME", "INVOICE_TAX_TOTAL", "INVOICE_NET_TOTAL", "INVOICE_CURRENCY",
    "TIMEKEEPER_LAST_NAME", "TIMEKEEPER_FIRST_NAME", "ACCOUNT_TYPE",
    "LAW_FIRM_NAME", "LAW_FIRM_ADDRESS_1", "LAW_FIRM_ADDRESS_2", "LAW_FIRM_CITY", "LAW_FIRM_STATEorREGION",
    "LAW_FIRM_POSTCODE", "LAW_FIRM_COUNTRY",
    "CLIENT_NAME", "CLIENT_ADDRESS_1", "CLIENT_ADDRESS_2", "CLIENT_CITY", "CLIENT_STATEorREGION",
    "CLIENT_POSTCODE", "CLIENT_COUNTRY",
    "LINE_ITEM_TAX_RATE", "LINE_ITEM_TAX_TOTAL", "LINE_ITEM_TAX_TYPE", "INVOICE_REPORTED_TAX_TOTAL",
    "INVOICE_TAX_CURRENCY",
)  # fmt: skip
FORMAT_LINES = {LedesFormat.LEDES_1998B: "LEDES1998B", LedesFormat.LEDES_98BI: "LEDES98BI V2"}
SUPPORT_CLASSIFICATIONS = ("FLTFEE", "ADJSMT")  # billing-domain.md §1: fee-support lines, not people
LINE_END = "[]"


class LedesError(BillsyncError):
    """The pre-bill cannot be written in the format asked for; the message says why."""


@dataclass(frozen=True, slots=True)
class LedesParties:
    """Who the invoice is from and to, as the LEDES fields name them."""

    law_firm_id: str
    client_id: str  # the client's LEDES client id (Clio: the contact's ledes_client_id)
    law_firm_matter_id: str  # the matter's display number
    client_matter_id: str = ""
    matter_name: str = ""
    client_name: str = ""
    tax_name: str = ""
    settings: BillingSettings | None = None
    # Each timekeeper's classification as the firm configures it or the PMS says it now (None:
    # unknown), for lines built before it was known; `firm_id` names the key to set when unknown.
    classifications: Mapping[str, str | None] = field(default_factory=dict)
    firm_id: str = ""


def parties_for(
    prebill: PreBill, reference: ReferenceData, settings: BillingSettings, *, firm_id: str = ""
) -> LedesParties:
    """The LEDES identities of a pre-bill from the reference data and the firm's billing settings.

    `reference` should carry the firm's agreements (core.agreements.with_agreements), so a
    configured classification counts."""
    client = reference.clients.get(prebill.client_id)
    matter = reference.matters.get(prebill.matter_id)
    if not settings.firm.ledes_id:
        raise LedesError("LEDES needs the firm's LEDES id: set billing.firm.ledes_id")
    return LedesParties(
        law_firm_id=settings.firm.ledes_id,
        client_id=(client.ledes_client_id if client else None) or prebill.client_id,
        law_firm_matter_id=matter.number if matter else prebill.matter_id,
        matter_name=matter.name if matter else "",
        client_name=client.name if client else "",
        tax_name=settings.tax_name,
        settings=settings,
        classifications={tk.id: tk.classification for tk in reference.timekeepers.values()},
        firm_id=firm_id,
    )


def write_ledes(prebill: PreBill, parties: LedesParties, fmt: LedesFormat) -> str:
    """The whole file as text; `fmt` is 1998B or 98BI."""
    if fmt is LedesFormat.LEDES_1998B:
        return ledes_1998b(prebill, parties)
    if fmt is LedesFormat.LEDES_98BI:
        return ledes_98bi(prebill, parties)
    raise LedesError("no LEDES format chosen for this client")


def ledes_1998b(prebill: PreBill, parties: LedesParties) -> str:
    """LEDES 1998B: 24 fields; refuses a taxed invoice (the format cannot carry tax on fees)."""
    if prebill.tax:
        raise LedesError(
            f"pre-bill {prebill.number} carries {prebill.tax} of tax, which LEDES 1998B cannot carry; "
            'bill this client with LEDES98BI (billing.clients.<id>.ledes = "98bi")'
        )
    rows = [_common(prebill, parties, line, prebill.subtotal) for line in prebill.lines]
    return _file(LedesFormat.LEDES_1998B, LEDES_1998B_FIELDS, rows)


def ledes_98bi(prebill: PreBill, parties: LedesParties) -> str:
    """LEDES98BI V2: 52 fields with tax per line; INVOICE_TOTAL is the sum of line totals with tax."""
    settings = parties.settings or BillingSettings()
    client_cfg = settings.client(prebill.client_id)
    firm, address = settings.firm, client_cfg.address
    rows = []
    for line in prebill.lines:
        last, first = _split_name(line.timekeeper_name)
        extra = [
            client_cfg.po_number, client_cfg.tax_id, parties.matter_name, _money(prebill.tax),
            _money(prebill.subtotal), prebill.currency, last, first, "O",  # earned fees: the operating account
            firm.name, firm.address_1, firm.address_2, firm.city, firm.region, firm.postcode, firm.country,
            parties.client_name, address.address_1, address.address_2, address.city, address.region,
            address.postcode, address.country,
            _rate(line.tax_rate), _money(line.tax), parties.tax_name if line.tax_rate else "",
            _money(prebill.tax), prebill.currency,
        ]  # fmt: skip
        # billing-domain.md §2: line total = base + line tax, and INVOICE_TOTAL = sum of line totals.
        common = _common(prebill, parties, line, prebill.total, line_total=line.total)
        rows.append([*common, *extra])
    return _file(LedesFormat.LEDES_98BI, LEDES_98BI_FIELDS, rows)


def _common(
    prebill: PreBill,
    parties: LedesParties,
    line: PreBillLine,
    invoice_total: Decimal,
    line_total: Decimal | None = None,
) -> list[str]:
    return [
        _date(prebill.invoice_date),
        prebill.pms_bill_number or prebill.number,
        parties.client_id,
        parties.law_firm_matter_id,
        _money(invoice_total),
        _date(prebill.period_start),
        _date(prebill.period_end),
        prebill.description or f"Legal services {prebill.period_start} to {prebill.period_end}",
        str(line.number),
        line.type.value,
        _units(line.units),
        _money(line.adjustment),
        _money(line.amount if line_total is None else line_total),
        _date(line.work_date),
        line.task_code or "",
        line.expense_code or "",
        line.activity_code or "",
        line.timekeeper_id or "",
        line.narrative,
        parties.law_firm_id,
        _money(line.unit_cost),
        line.timekeeper_name,
        _classification(line, parties),
        parties.client_matter_id,
    ]


def _classification(line: PreBillLine, parties: LedesParties) -> str:
    """The line's TIMEKEEPER_CLASSIFICATION, or LedesError naming the timekeeper and the key to set."""
    if line.timekeeper_id is None:
        if line.classification in SUPPORT_CLASSIFICATIONS:
            return line.classification
        raise LedesError(f"line {line.number} ({line.timekeeper_name}) has no LEDES classification for a fee line")
    if line.classification in LEDES_CLASSIFICATIONS:
        return line.classification
    if line.classification == "":
        current = parties.classifications.get(line.timekeeper_id)
        if current in LEDES_CLASSIFICATIONS:
            return current
    known = f"{line.classification!r} is not one LEDES allows" if line.classification else "it is not known"
    section = f"firms.{parties.firm_id}.billing" if parties.firm_id else "billing"
    raise LedesError(
        f"timekeeper {line.timekeeper_name} (user {line.timekeeper_id}) needs a LEDES classification and "
        f"{known}: set {section}.timekeepers.{line.timekeeper_id}.classification "
        f"to one of {', '.join(LEDES_CLASSIFICATIONS)}"
    )


def _file(fmt: LedesFormat, fields: tuple[str, ...], rows: list[list[str]]) -> str:
    lines = [FORMAT_LINES[fmt], "|".join(fields)]
    lines.extend("|".join(clean(value) for value in row) for row in rows)
    return "".join(f"{line}{LINE_END}\n" for line in lines)


def clean(text: str) -> str:
    """A field value that cannot break the format: ASCII, no pipe, no brackets, one line."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    for bad, good in (("|", "/"), ("[", "("), ("]", ")"), ("\r", " "), ("\n", " "), ("\t", " ")):
        ascii_text = ascii_text.replace(bad, good)
    return " ".join(ascii_text.split())


def _date(day: date) -> str:
    return day.strftime("%Y%m%d")


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _units(units: Decimal) -> str:
    # Two places when exact (tenths of an hour), four otherwise: always the exact units billed.
    return f"{units:.2f}" if units == units.quantize(Decimal("0.01")) else f"{units:.4f}"


def _rate(rate: Decimal) -> str:
    return f"{rate.normalize():f}" if rate else "0"


def _split_name(name: str) -> tuple[str, str]:
    parts = name.rsplit(" ", 1)
    return (parts[1], parts[0]) if len(parts) == 2 else (name, "")
