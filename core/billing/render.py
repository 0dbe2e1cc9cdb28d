"""A readable pre-bill for the reviewing partner: HTML (jinja2, escaped) and PDF (fpdf2, pure Python).

The PDF is what a client may receive, so:
- it carries no review: no guideline finding, no workflow status, no difference from a PMS bill
  (the HTML page and `billsync bill show` keep them for the firm);
- it opens with the firm's letterhead (`billing.firm`: name, address, phone, e-mail, tax id), the
  client's name and billing address, and the matter's number and description;
- every narrative is printed whole: cells wrap (a word longer than its column breaks between
  letters), a row moves to the next page rather than splitting, and only a row taller than a
  page continues on the next, under the repeated column headings;
- names and titles (client, matter description, timekeeper) longer than TITLE_MAX characters are
  shortened with "..."; narratives never are;
- text is data (pdf_text): control characters (NUL, ESC, line breaks) print as a space and
  invisible formatting characters not at all. The PDF's built-in fonts cover Latin-1 only and
  fpdf2 ships no Unicode font, so Latin-1 letters ("Díaz", "Straße", "§") print as they are and
  anything else is folded with anyascii, as the LEDES writer folds it ("Łódź" is "Lódz", "€100" "EUR 100").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from anyascii import anyascii
from fpdf import FPDF
from jinja2 import FileSystemLoader

from config.billing import BillingSettings
from core.billing.addresses import client_address
from core.billing.model import PreBill, PreBillLine
from core.matching import ReferenceData
from core.text import html_templates, joined_apart

TEMPLATES = Path(__file__).parent / "templates"
TITLE_MAX = 500  # characters of a name or title shown; narratives are always whole
_COLUMNS = (  # title, width in mm, right-aligned; 277 mm: landscape A4 inside 10 mm margins
    ("#", 8, False), ("Date", 18, False), ("Timekeeper", 30, False), ("Narrative", 112, False),
    ("Task", 11, False), ("Act.", 11, False), ("Hours", 14, True), ("Rate", 18, True),
    ("Adj.", 18, True), ("Amount", 21, True), ("Tax", 16, True),
)  # fmt: skip
_LINE_HEIGHT = 4.0  # mm, one line of an 8 pt table cell
_CELL_PADDING = 1.0  # mm, above and below a row's text
_BOTTOM = 14.0  # mm below the last row: the footer sits in it
_HEADINGS_HEIGHT = 6.0  # mm, the column headings on top of every page of lines


@dataclass(frozen=True, slots=True)
class Letterhead:
    """Who a pre-bill is from and to, and for which matter: printed at the top of the PDF."""

    firm_name: str = ""
    firm_lines: tuple[str, ...] = ()  # address, then phone and e-mail, then tax id
    client_name: str = ""
    client_address: tuple[str, ...] = ()
    matter_number: str = ""
    matter_description: str = ""


def letterhead_for(
    prebill: PreBill, reference: ReferenceData, billing: BillingSettings, *, firm_name: str = ""
) -> Letterhead:
    """The letterhead from the firm's billing settings and the PMS's client and matter records.

    The firm's name is `billing.firm.name`, else `firm_name` (the firm's `name`). The client's
    address is core.billing.addresses.client_address: the configured one, else the PMS's.
    """
    firm = billing.firm
    contact = "  ".join(
        part for part in (f"Phone {firm.phone}" if firm.phone else "", f"E-mail {firm.email}" if firm.email else "")
        if part
    )  # fmt: skip
    client = reference.clients.get(prebill.client_id)
    matter = reference.matters.get(prebill.matter_id)
    return Letterhead(
        firm_name=firm.name or firm_name,
        firm_lines=tuple(
            line for line in (*firm.address_lines(), contact, f"Tax ID {firm.tax_id}" if firm.tax_id else "") if line
        ),
        client_name=client.name if client is not None else prebill.client_id,
        client_address=client_address(prebill.client_id, reference, billing).address_lines(),
        matter_number=matter.number if matter is not None else prebill.matter_id,
        matter_description=matter.name if matter is not None else "",
    )


def money(amount: Decimal) -> str:
    """1234.5 -> "1,234.50"."""
    return f"{amount:,.2f}"


def hours(units: Decimal) -> str:
    """Hours as billed: two places, four when the increment needs them."""
    return f"{units:.2f}" if units == units.quantize(Decimal("0.01")) else f"{units:.4f}"


def render_html(prebill: PreBill, *, tax_name: str = "Tax", letterhead: Letterhead | None = None) -> str:
    """The pre-bill as one self-contained HTML page, with the letterhead the PDF prints when given;
    every value is escaped, without control characters."""
    template = html_templates(FileSystemLoader(TEMPLATES)).get_template("prebill.html.j2")
    flagged = {f.line for f in prebill.findings if f.line is not None}
    return template.render(
        prebill=prebill, flagged=flagged, money=money, hours=hours, tax_name=tax_name, letterhead=letterhead
    )


def pdf_text(text: str) -> str:
    """Text the PDF's Latin-1 fonts print as meant: no control or invisible characters, the rest folded.

    Control characters and line or paragraph separators become a space; format characters (a soft
    hyphen, a zero-width joiner, a byte-order mark) are dropped. A letter or digit outside Latin-1
    becomes anyascii's spelling inside its word ("Łódź" is "Lódz"); any other character becomes its
    reading set apart from a neighbouring letter or digit ("€100" is "EUR 100"), or "?" without one,
    as the LEDES writer folds. Every part of the PDF goes through this one function.
    """
    pieces: list[tuple[str, bool]] = []  # (printable text, keep apart from letters and digits)
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp"):
            pieces.append((" ", False))
        elif category == "Cf":
            continue
        elif ord(char) < 0x100:
            pieces.append((char, False))
        elif category[0] in "LM" or category == "Nd":
            pieces.append((anyascii(char), False))
        else:
            pieces.append((anyascii(char) or "?", True))
    return joined_apart(pieces)


def _title(text: str) -> str:
    cleaned = pdf_text(text)
    return cleaned if len(cleaned) <= TITLE_MAX else cleaned[: TITLE_MAX - 3] + "..."


class _PreBillPdf(FPDF):
    """Landscape A4 with "Pre-bill <number>, page n of N" at the foot of every page."""

    def __init__(self, number: str) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self._number = number

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font("Helvetica", "", 7)
        self.cell(0, 4, f"Pre-bill {self._number}, page {self.page_no()} of {{nb}}", align="R")


def render_pdf(prebill: PreBill, *, tax_name: str = "Tax", letterhead: Letterhead | None = None) -> bytes:
    """The pre-bill as a landscape A4 PDF: letterhead, client and matter, lines and totals.

    Only what the client may read: the guideline findings, the workflow status and how a PMS bill
    differs are the firm's review, shown by the HTML page and `billsync bill show`, never here.
    """
    number = _title(prebill.number)
    pdf = _PreBillPdf(number)
    pdf.set_auto_page_break(auto=True, margin=_BOTTOM)
    pdf.set_title(f"Pre-bill {number}")
    pdf.add_page()
    _heading(pdf, prebill, number, letterhead or Letterhead())
    _table(pdf, prebill)
    _totals(pdf, prebill, tax_name)
    return bytes(pdf.output())


def _heading(pdf: FPDF, prebill: PreBill, number: str, head: Letterhead) -> None:
    """The firm on the left and the pre-bill's facts on the right; then the client and the matter."""
    left = pdf.l_margin
    half = pdf.epw / 2
    top = pdf.get_y()
    if head.firm_name:
        pdf.set_font("Helvetica", "B", 13)
        pdf.multi_cell(half - 4, 6, _title(head.firm_name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8.5)
    for line in head.firm_lines:
        pdf.multi_cell(half - 4, 4, _title(line), new_x="LMARGIN", new_y="NEXT")
    firm_bottom = pdf.get_y()
    pdf.set_xy(left + half, top)
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(half, 7, f"Pre-bill {number}", align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8.5)
    facts = [
        f"Billing period {prebill.period_start} to {prebill.period_end}",
        f"Prepared {prebill.invoice_date}",
    ]
    if prebill.pms_bill_number:
        facts.append(f"PMS bill {prebill.pms_bill_number}")
    for fact in facts:
        pdf.multi_cell(half, 4, pdf_text(fact), align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_xy(left, max(firm_bottom, pdf.get_y()) + 4)

    top = pdf.get_y()
    pdf.set_font("Helvetica", "B", 8.5)
    pdf.cell(half - 4, 4.5, "Bill to", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for line in (head.client_name, *head.client_address):
        pdf.multi_cell(half - 4, 4.5, _title(line), new_x="LMARGIN", new_y="NEXT")
    client_bottom = pdf.get_y()
    pdf.set_xy(left + half, top)
    pdf.set_font("Helvetica", "B", 8.5)
    pdf.cell(half, 4.5, "Matter", new_x="LEFT", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for line in (head.matter_number, head.matter_description):
        if line:
            pdf.multi_cell(half, 4.5, _title(line), new_x="LEFT", new_y="NEXT")
    if not head.client_name and not head.matter_number:  # nothing known: the pre-bill's own summary
        pdf.multi_cell(half, 4.5, _title(prebill.description), new_x="LEFT", new_y="NEXT")
    pdf.set_xy(left, max(client_bottom, pdf.get_y()) + 4)


def _cells(line: PreBillLine) -> tuple[str, ...]:
    narrative = f"{line.narrative} ({line.note})" if line.note else line.narrative
    return (
        str(line.number), str(line.work_date), _title(line.timekeeper_name), pdf_text(narrative),
        pdf_text(line.task_code or ""), pdf_text(line.activity_code or ""), hours(line.units), money(line.unit_cost),
        money(line.adjustment) if line.adjustment else "", money(line.amount), money(line.tax) if line.tax else "",
    )  # fmt: skip


def _table(pdf: FPDF, prebill: PreBill) -> None:
    """The lines, wrapped; a row that does not fit the page starts the next one, headings repeated."""
    # Rows are placed by hand, so none is cut at an arbitrary point.
    pdf.set_auto_page_break(auto=False, margin=_BOTTOM)
    _headings(pdf)
    bottom = pdf.h - pdf.b_margin
    for line in prebill.lines:
        pdf.set_font("Helvetica", "", 8)
        wrapped = [
            _wrap(pdf, value, width) for (_, width, _), value in zip(_COLUMNS, _cells(line), strict=True)
        ]
        rows = max(len(lines) for lines in wrapped)
        height = 2 * _CELL_PADDING + rows * _LINE_HEIGHT
        fits_a_page = height <= bottom - pdf.t_margin - _HEADINGS_HEIGHT
        # A row that fits a page starts the next one when it does not fit here; a row taller than
        # a page starts here, unless fewer than three of its lines would.
        if pdf.get_y() + height > bottom and (
            fits_a_page or pdf.get_y() + 2 * _CELL_PADDING + 3 * _LINE_HEIGHT > bottom
        ):
            _next_page(pdf)
        done = 0
        while done < rows:  # more than once only for a row taller than a page
            room = int((bottom - pdf.get_y() - 2 * _CELL_PADDING) // _LINE_HEIGHT)
            take = max(1, min(rows - done, room))
            _row(pdf, [lines[done : done + take] for lines in wrapped], take)
            done += take
            if done < rows:
                _next_page(pdf)
    pdf.set_auto_page_break(auto=True, margin=_BOTTOM)


def _wrap(pdf: FPDF, text: str, width: float) -> list[str]:
    """The text's lines in a column `width` mm wide: broken between words, and a word longer than
    the column between letters. (Measured word by word: fpdf2's own dry-run line breaking measures
    every character again and took seconds for a few hundred lines.)"""
    room = width - 2 * pdf.c_margin
    if pdf.get_string_width(text) <= room:
        return [text]
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if pdf.get_string_width(candidate) <= room:
            current = candidate
            continue
        if current:
            lines.append(current)
        rest = word
        while pdf.get_string_width(rest) > room:
            cut = _fitting_prefix(pdf, rest, room)
            lines.append(rest[:cut])
            rest = rest[cut:]
        current = rest
    lines.append(current)
    return lines


def _fitting_prefix(pdf: FPDF, word: str, room: float) -> int:
    """How many of the word's first letters fit in `room` mm; at least one, so a line always advances."""
    low, high = 1, len(word)
    while low < high:
        middle = (low + high + 1) // 2
        if pdf.get_string_width(word[:middle]) <= room:
            low = middle
        else:
            high = middle - 1
    return low


def _row(pdf: FPDF, chunks: Sequence[Sequence[str]], rows: int) -> None:
    top = pdf.get_y()
    x = pdf.l_margin
    pdf.set_font("Helvetica", "", 8)
    for (_, width, right), lines in zip(_COLUMNS, chunks, strict=True):
        for index, text in enumerate(lines):
            if not text:
                continue
            pdf.set_xy(x, top + _CELL_PADDING + index * _LINE_HEIGHT)
            pdf.cell(width, _LINE_HEIGHT, text, align="R" if right else "L")
        x += width
    height = 2 * _CELL_PADDING + rows * _LINE_HEIGHT
    pdf.set_draw_color(200, 200, 200)
    pdf.line(pdf.l_margin, top + height, pdf.l_margin + sum(w for _, w, _ in _COLUMNS), top + height)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_xy(pdf.l_margin, top + height)


def _headings(pdf: FPDF) -> None:
    pdf.set_font("Helvetica", "B", 8)
    for title, width, right in _COLUMNS:
        pdf.cell(width, _HEADINGS_HEIGHT, title, border="B", align="R" if right else "L")
    pdf.ln()


def _next_page(pdf: FPDF) -> None:
    pdf.add_page()
    _headings(pdf)


def _totals(pdf: FPDF, prebill: PreBill, tax_name: str) -> None:
    label_width = sum(width for _, width, _ in _COLUMNS[:-2])
    if pdf.get_y() + 3 * 6 > pdf.h - pdf.b_margin:
        pdf.add_page()  # the three totals stay together
    pdf.set_font("Helvetica", "B", 9)
    for label, amount in (
        ("Fees and adjustments", prebill.subtotal),
        (pdf_text(tax_name), prebill.tax),
        (f"Total ({pdf_text(prebill.currency)})", prebill.total),
    ):
        pdf.cell(label_width, 6, _title(label), border="T")
        pdf.cell(_COLUMNS[-2][1], 6, money(amount), border="T", align="R", new_x="LMARGIN", new_y="NEXT")
