"""A readable pre-bill for the reviewing partner: HTML (jinja2, escaped) and PDF (fpdf2, pure Python)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from jinja2 import FileSystemLoader

from core.billing.model import PreBill
from core.text import html_templates

TEMPLATES = Path(__file__).parent / "templates"
_COLUMNS = (  # title, width in mm, right-aligned
    ("#", 8, False), ("Date", 20, False), ("Timekeeper", 30, False), ("Narrative", 72, False),
    ("Task", 12, False), ("Act.", 12, False), ("Hours", 14, True), ("Rate", 18, True),
    ("Adj.", 18, True), ("Amount", 22, True), ("Tax", 16, True),
)  # fmt: skip


def money(amount: Decimal) -> str:
    """1234.5 -> "1,234.50"."""
    return f"{amount:,.2f}"


def hours(units: Decimal) -> str:
    """Hours as billed: two places, four when the increment needs them."""
    return f"{units:.2f}" if units == units.quantize(Decimal("0.01")) else f"{units:.4f}"


def render_html(prebill: PreBill, *, tax_name: str = "Tax") -> str:
    """The pre-bill as one self-contained HTML page; every value is escaped, without control characters."""
    template = html_templates(FileSystemLoader(TEMPLATES)).get_template("prebill.html.j2")
    flagged = {f.line for f in prebill.findings if f.line is not None}
    return template.render(prebill=prebill, flagged=flagged, money=money, hours=hours, tax_name=tax_name)


def render_pdf(prebill: PreBill, *, tax_name: str = "Tax") -> bytes:
    """The pre-bill as a landscape A4 PDF: header, lines, totals, guideline findings."""
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.set_title(_latin(f"Pre-bill {prebill.number}"))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, _latin(f"Pre-bill {prebill.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for text in (
        prebill.description,
        f"Billing period {prebill.period_start} to {prebill.period_end}; prepared {prebill.invoice_date}; "
        f"status {prebill.status.value}",
        f"PMS bill {prebill.pms_bill_number} ({prebill.pms_state})" if prebill.pms_bill_number else "",
    ):
        if text:
            pdf.cell(0, 5, _latin(text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 8)
    for title, width, right in _COLUMNS:
        pdf.cell(width, 6, title, border="B", align="R" if right else "L")
    pdf.ln()
    pdf.set_font("Helvetica", "", 8)
    for line in prebill.lines:
        values = (
            str(line.number), str(line.work_date), line.timekeeper_name, line.narrative, line.task_code or "",
            line.activity_code or "", hours(line.units), money(line.unit_cost),
            money(line.adjustment) if line.adjustment else "", money(line.amount), money(line.tax) if line.tax else "",
        )  # fmt: skip
        for (_, width, right), value in zip(_COLUMNS, values, strict=True):
            pdf.cell(width, 5, _fit(pdf, _latin(value), width), align="R" if right else "L")
        pdf.ln()
    pdf.set_font("Helvetica", "B", 9)
    label_width = sum(width for _, width, _ in _COLUMNS[:-2])
    for label, amount in (
        ("Fees and adjustments", prebill.subtotal),
        (tax_name, prebill.tax),
        (f"Total ({prebill.currency})", prebill.total),
    ):
        pdf.cell(label_width, 6, _latin(label), border="T")
        pdf.cell(_COLUMNS[-2][1], 6, money(amount), border="T", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 6, "Guideline check", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    if not prebill.findings:
        pdf.cell(0, 5, "No findings.", new_x="LMARGIN", new_y="NEXT")
    for f in prebill.findings:
        where = f"line {f.line}: " if f.line else ""
        pdf.multi_cell(
            0, 4.5, _latin(f"{f.severity.value.upper()} {where}{f.message} [{f.rule}]"), new_x="LMARGIN", new_y="NEXT"
        )
    for difference in prebill.differences:
        pdf.multi_cell(0, 4.5, _latin(f"PMS bill differs: {difference}"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _latin(text: str) -> str:
    # The built-in PDF fonts cover Latin-1 only; anything else prints as "?" rather than failing.
    return text.encode("latin-1", "replace").decode("latin-1")


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """Cut a value to its column, with an ellipsis."""
    if pdf.get_string_width(text) <= width - 2:
        return text
    while text and pdf.get_string_width(text + "...") > width - 2:
        text = text[:-1]
    return text + "..."
