"""LEDES 1998B and LEDES98BI V2 files for a pre-bill (docs/billing-domain.md §1-§2).

Both are pipe-delimited text: a format line, a header line of field names, one line per line
item; every line ends with `[]`, invoice-level fields repeat on every line, dates are YYYYMMDD.
1998B has 24 fields and cannot carry tax; LEDES98BI V2 adds 28 (tax, currency, addresses) and
is ASCII only. billsync writes both in ASCII.

What the client receives is what billsync means, or nothing:
- Identifiers (invoice, client, matter, firm and timekeeper ids, codes, PO number, tax id) are
  written exactly as they are, or not at all: one that the format cannot carry (a `|`, a `[]`,
  a control character, anything not ASCII) is a LedesError naming the record to fix. A client
  matches invoices by these; a quietly rewritten one is an invoice for someone else.
- Text (narratives, names, addresses, the description) is made safe: control characters and
  line breaks become spaces, `|` becomes `/`, brackets become parentheses, and the rest is
  folded to ASCII with `anyascii`, never gluing a number to its neighbours ("10½" is
  "10 1/2", "m²" is "m^2", "€100" is "EUR 100").
- A file never declares a billing period that leaves out one of its own lines, and a pre-bill
  with no lines has no file: the error says why it is empty.

TIMEKEEPER_CLASSIFICATION is one of LEDES's own (PARTNR, ASSOC, OFCNSL, PRLGL, LGLAST, OTH) on a
person's line, FLTFEE or ADJSMT on a fee-support line; anything else ("Partner", or nothing known)
is refused naming the timekeeper and the key to set. A pre-bill line keeps the classification it
was built with; one built without a known classification takes the firm's current setting.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from anyascii import anyascii

from config.billing import BillingSettings, ClientAddress, LedesFormat
from core.billing.addresses import client_address
from core.billing.model import PreBill, PreBillLine
from core.errors import BillsyncError
from core.matching import ReferenceData
from core.models import LEDES_CLASSIFICATIONS
from core.text import joined_apart

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
SUPPORT_CLASSIFICATIONS = ("FLTFEE", "ADJSMT")  # docs/billing-domain.md §1: fee-support lines, not people
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
    # Where the client's bills go (core.billing.addresses); None: the configured address only.
    client_address: ClientAddress | None = None
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
        client_address=client_address(prebill.client_id, reference, settings),
        classifications={tk.id: tk.classification for tk in reference.timekeepers.values()},
        firm_id=firm_id,
    )


def write_ledes(prebill: PreBill, parties: LedesParties, fmt: LedesFormat) -> str:
    """The whole file as text; `fmt` is 1998B or 98BI. LedesError when it cannot be written faithfully."""
    if fmt not in FORMAT_LINES:
        raise LedesError("no LEDES format chosen for this client")
    if not prebill.lines:
        raise LedesError(
            f"pre-bill {prebill.number} has no lines, so there is no LEDES file to write: {_why_empty(prebill)}"
        )
    _check_identifiers(prebill, parties, fmt)
    for line in prebill.lines:
        if not prebill.period_start <= line.work_date <= prebill.period_end:
            raise LedesError(
                f"pre-bill {prebill.number} line {line.number} is dated {line.work_date}, outside the billing period "
                f"it declares ({prebill.period_start} to {prebill.period_end}); run `billsync bill run` again"
            )
    if fmt is LedesFormat.LEDES_1998B:
        return _ledes_1998b(prebill, parties)
    return _ledes_98bi(prebill, parties)


def _why_empty(prebill: PreBill) -> str:
    """What kept every line off a pre-bill: its own findings, or that nothing was approved."""
    reasons = [f"{f.message} ({f.rule})" for f in prebill.findings if f.line is None]
    return "; ".join(reasons) or "it bills no approved entry and no fee"


def _ledes_1998b(prebill: PreBill, parties: LedesParties) -> str:
    """LEDES 1998B: 24 fields; refuses a taxed invoice (the format cannot carry tax on fees)."""
    if prebill.tax:
        raise LedesError(
            f"pre-bill {prebill.number} carries {prebill.tax} of tax, which LEDES 1998B cannot carry; "
            'bill this client with LEDES98BI (billing.clients.<id>.ledes = "98bi")'
        )
    rows = [_common(prebill, parties, line, prebill.subtotal) for line in prebill.lines]
    return _file(LedesFormat.LEDES_1998B, LEDES_1998B_FIELDS, rows)


def _ledes_98bi(prebill: PreBill, parties: LedesParties) -> str:
    """LEDES98BI V2: 52 fields with tax per line; INVOICE_TOTAL is the sum of line totals with tax."""
    settings = parties.settings or BillingSettings()
    client_cfg = settings.client(prebill.client_id)
    firm, address = settings.firm, parties.client_address or client_cfg.address
    rows = []
    for line in prebill.lines:
        last, first = _split_name(line.timekeeper_name)
        text = [
            firm.name, firm.address_1, firm.address_2, firm.city, firm.region, firm.postcode, firm.country,
            parties.client_name, address.address_1, address.address_2, address.city, address.region,
            address.postcode, address.country,
        ]  # fmt: skip
        extra = [
            client_cfg.po_number, client_cfg.tax_id, ascii_text(parties.matter_name), _money(prebill.tax),
            _money(prebill.subtotal), prebill.currency, ascii_text(last), ascii_text(first),
            "O",  # earned fees: the operating account
            *(ascii_text(value) for value in text),
            _rate(line.tax_rate), _money(line.tax), ascii_text(parties.tax_name) if line.tax_rate else "",
            _money(prebill.tax), prebill.currency,
        ]  # fmt: skip
        # docs/billing-domain.md §2: line total = base + line tax, and INVOICE_TOTAL = sum of line totals.
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
        _invoice_number(prebill),
        parties.client_id,
        parties.law_firm_matter_id,
        _money(invoice_total),
        _date(prebill.period_start),
        _date(prebill.period_end),
        ascii_text(prebill.description or f"Legal services {prebill.period_start} to {prebill.period_end}"),
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
        ascii_text(line.narrative),
        parties.law_firm_id,
        _money(line.unit_cost),
        ascii_text(line.timekeeper_name),
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
    lines.extend("|".join(row) for row in rows)
    return "".join(f"{line}{LINE_END}\n" for line in lines)


def _invoice_number(prebill: PreBill) -> str:
    return prebill.pms_bill_number or prebill.number


# Identifiers --------------------------------------------------------------------------------------


def _check_identifiers(prebill: PreBill, parties: LedesParties, fmt: LedesFormat) -> None:
    """Every identifier the file will carry, checked before a line is written; the first bad one is the error."""
    settings = parties.settings or BillingSettings()
    client_cfg = settings.client(prebill.client_id)
    matter = f"matter {parties.matter_name or prebill.matter_id!r} ({prebill.matter_id})"
    client = f"client {parties.client_name or prebill.client_id!r} ({prebill.client_id})"
    checks = [
        (parties.law_firm_matter_id, f"{matter}: its number", "change the matter number in the PMS"),
        (parties.client_id, f"{client}: its LEDES client id", "correct the client's LEDES client ID in the PMS"),
        (parties.law_firm_id, "the firm's LEDES id", "correct billing.firm.ledes_id"),
        (parties.client_matter_id, f"{matter}: the client's matter id", "correct it in the PMS"),
    ]
    if prebill.pms_bill_number:
        checks.append(
            (prebill.pms_bill_number, f"pre-bill {prebill.number}: its PMS bill number", "renumber the bill in the PMS")
        )
    else:
        checks.append((prebill.number, f"pre-bill {prebill.number}: its number", "change the matter number in the PMS"))
    if fmt is LedesFormat.LEDES_98BI:
        where = f"billing.clients.{prebill.client_id}"
        checks += [
            (client_cfg.po_number, f"{client}: its PO number", f"correct {where}.po_number"),
            (client_cfg.tax_id, f"{client}: its tax id", f"correct {where}.tax_id"),
        ]
    for line in prebill.lines:
        who = f"timekeeper {line.timekeeper_name!r} (line {line.number})"
        checks.append((line.timekeeper_id or "", f"{who}: their id", "correct the user's id in the PMS"))
        for name, code in (("task", line.task_code), ("activity", line.activity_code), ("expense", line.expense_code)):
            checks.append((code or "", f"line {line.number}: its {name} code", "correct the entry's code in the PMS"))
    for value, what, fix in checks:
        problem = _unwritable(value)
        if problem is not None:
            raise LedesError(f"{what} {value!r} cannot be written into a LEDES file as it is ({problem}): {fix}")


def _unwritable(value: str) -> str | None:
    """Why `value` cannot stand in a LEDES field exactly as it is, or None when it can."""
    if "|" in value:
        return "'|' separates LEDES fields"
    if "[]" in value:
        return "'[]' ends a LEDES line"
    for char in value:
        if _is_control(char):
            return f"it holds the control character U+{ord(char):04X}"
        if not char.isascii():
            return f"{char!r} is not ASCII"
    return None


def _is_control(char: str) -> bool:
    """C0 and C1 control characters and DEL: NUL, BEL, ESC, CR, LF, ..."""
    return unicodedata.category(char) == "Cc"


# Text ---------------------------------------------------------------------------------------------

# Runs of superscript digits: "m²" is m squared, so it reads "m^2", never "m2" (and "10²³" "10^23").
_SUPERSCRIPT_DIGITS = re.compile("[\u00b2\u00b3\u00b9\u2070\u2074-\u2079]+")
# Where anyascii's answer would change the meaning a lawyer reads ("§ 5" is not "S 5").
_MEANING: dict[str, str] = {"§§": "Sections", "§": "Section", "¶¶": "Paragraphs", "¶": "Paragraph", "‰": "per mille"}
_MEANING_PATTERN = re.compile("|".join(re.escape(k) for k in sorted(_MEANING, key=len, reverse=True)))
_ZERO_WIDTH_SPACE = "\u200b"  # invisible, but it separates words
_MAKE_SAFE = str.maketrans({"|": "/", "[": "(", "]": ")"})


def ascii_text(text: str) -> str:
    """Text a LEDES field can carry, meaning kept: ASCII, one line, no control characters, no `|` or `[]`.

    Letters and digits fold to their ASCII spelling inside their word ("Díaz" is "Diaz",
    "Straße" "Strasse"). Anything else (numbers such as "½", symbols, emoji) becomes anyascii's reading
    of it, set apart by spaces where it would touch a letter or digit; a character with no
    reading becomes a space. Digits are never glued to others: "10½" is "10 1/2".
    """
    pieces: list[tuple[str, bool]] = []  # (ASCII text, keep apart from letters and digits)
    at = 0
    while at < len(text):
        meaning = _MEANING_PATTERN.match(text, at)
        superscript = _SUPERSCRIPT_DIGITS.match(text, at)
        char = text[at]
        if meaning:
            pieces.append((_MEANING[meaning.group()], True))
            at = meaning.end()
            continue
        if superscript:
            pieces.append(("^" + unicodedata.normalize("NFKC", superscript.group()), True))
            at = superscript.end()
            continue
        at += 1
        if char.isascii() and not _is_control(char):
            pieces.append((char, False))
        elif _is_control(char) or char.isspace() or char == _ZERO_WIDTH_SPACE:
            pieces.append((" ", False))
        elif unicodedata.category(char) == "Cf":
            pieces.append(("", False))  # invisible formatting: a soft hyphen, a joiner, a byte-order mark
        elif unicodedata.category(char)[0] in "LM" or unicodedata.category(char) == "Nd":
            pieces.append((anyascii(char), False))  # a letter, an accent or a digit: part of its word
        else:
            pieces.append((anyascii(char) or " ", True))
    return " ".join(joined_apart(pieces).translate(_MAKE_SAFE).split())


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
