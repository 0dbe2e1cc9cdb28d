"""Vendor text on its way out (core/text.py): no control characters, no CSV cell a spreadsheet runs."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from jinja2 import DictLoader
from markupsafe import Markup

from core.text import csv_text, html_templates, spreadsheet_text, without_controls


def test_control_characters_go_and_tab_and_line_breaks_stay() -> None:
    # NUL, ESC (a terminal escape), BEL, DEL and a C1 character (NEL) go; tab, LF and CR stay.
    assert without_controls("a\x00b\x1b[31mc\x07\x7f\x85d\te\nf\rg") == "ab[31mcd\te\nf\rg"
    assert without_controls("Zoë Müller & Söhne") == "Zoë Müller & Söhne"


def test_text_starting_like_a_formula_is_written_behind_a_quote() -> None:
    assert spreadsheet_text('=HYPERLINK("http://evil.example","x")') == '\'=HYPERLINK("http://evil.example","x")'
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert spreadsheet_text(f"{start}1+1") == f"'{start}1+1"
    assert spreadsheet_text("\x00=1+1") == "'=1+1"  # the NUL goes first: what is left starts a formula
    assert spreadsheet_text("Smith = Jones") == "Smith = Jones"
    assert spreadsheet_text("") == ""


def test_csv_neutralises_text_cells_and_leaves_numbers_as_they_are() -> None:
    rows = [
        ["name", "amount"],
        ['=HYPERLINK("http://evil.example","x")', Decimal("-12.50")],
        ["-x", -3],
        ["@SUM(A1)", None],
        ["\tx", 0],
        ["\rx", Decimal("0.00")],
        ["Nul\x00Byte", Decimal("1E+2")],
    ]
    expected = (
        '"name","amount"\n'
        '"\'=HYPERLINK(""http://evil.example"",""x"")",-12.50\n'
        '"\'-x",-3\n'
        '"\'@SUM(A1)",""\n'
        '"\'\tx",0\n'
        '"\'\rx",0.00\n'
        '"NulByte",1E+2\n'
    )
    written = csv_text(rows)
    assert written == expected
    # Read back as a spreadsheet's importer reads it: the numbers are still the numbers.
    back = list(csv.reader(io.StringIO(written)))
    assert [row[1] for row in back[1:]] == ["-12.50", "-3", "", "0", "0.00", "1E+2"]


def test_html_values_are_escaped_without_control_characters_and_markup_is_left_alone() -> None:
    env = html_templates(DictLoader({"page.html.j2": "<p>{{ name }}</p>{{ chart }}"}))
    page = env.get_template("page.html.j2").render(
        name='Nul\x00<a href="https://evil.example/login">Session expired - sign in</a>',
        chart=Markup('<div id="chart"></div>'),  # HTML billsync made itself
    )
    assert page == (
        '<p>Nul&lt;a href=&#34;https://evil.example/login&#34;&gt;Session expired - sign in&lt;/a&gt;</p>'
        '<div id="chart"></div>'
    )
