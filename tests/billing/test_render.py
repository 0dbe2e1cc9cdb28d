"""The reviewing partner's pre-bill: HTML that escapes everything, and a PDF that reads back."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

from pypdf import PdfReader

from config.billing import BillingSettings
from core.billing.guidelines import check_invoice
from core.billing.render import render_html, render_pdf
from tests.billing.scenario import build, entry, reference


def prebill_with_findings():
    [prebill] = build(
        [
            entry(narrative="Reviewed <script>alert(1)</script> & drafted reply"),
            entry(narrative="Telephone call", work_date=date(2026, 10, 9), billed_seconds=600),
        ]
    )
    return replace(prebill, findings=check_invoice(prebill, reference(), BillingSettings()))


def test_html_shows_lines_totals_and_findings_and_escapes_narratives() -> None:
    html = render_html(prebill_with_findings())
    assert "Pre-bill PB-2026-10-HARB-0001" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; drafted reply" in html
    assert "Jane Smith" in html and "266.67" in html  # 200.00 + 66.67
    assert 'class="flagged"' in html  # lines with findings are highlighted
    assert "block_billing" in html and "vague_narrative" in html


def test_pdf_is_a_real_pdf_whose_text_has_the_number_lines_total_and_findings() -> None:
    prebill = prebill_with_findings()
    data = render_pdf(prebill)
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Pre-bill PB-2026-10-HARB-0001" in text
    assert "Jane Smith" in text and "266.67" in text
    assert "VAGUE_NARRATIVE" not in text and "vague_narrative" in text  # the rule names each finding
    assert reader.metadata is not None and reader.metadata.title == "Pre-bill PB-2026-10-HARB-0001"


def test_pdf_survives_text_outside_latin_1() -> None:
    [prebill] = build([entry(narrative="Reviewed 契約 with client — ✓")])
    text = PdfReader(io.BytesIO(render_pdf(prebill))).pages[0].extract_text()
    assert "Reviewed" in text
