"""Vendor and user text on its way out: to the terminal, into CSV files, into HTML pages.

Names, titles and narratives come from vendors and people, and are data wherever billsync writes
them. Two things make data act as something else, and this module takes both out:

- Control characters (NUL, ESC, DEL, the C1 range: Unicode category Cc) mean nothing in a name
  and do harm where they land: NUL cuts a C string or a spreadsheet import short, is a parse
  error in HTML, and ESC starts a terminal escape sequence. Tab, line feed and carriage return
  are kept: they are the whitespace a narrative is written with.
- A CSV cell starting with `=`, `+`, `-`, `@`, tab or carriage return is a formula to Excel,
  LibreOffice and Google Sheets (`=HYPERLINK(...)` sends whoever clicks it, and the data next to
  it, elsewhere). As OWASP recommends, such a text cell is written behind a single quote (which
  the spreadsheet takes as "this is text" and does not display), and every text cell is quoted,
  its double quotes doubled, so no line break or separator in it can start another cell. Numbers
  billsync writes are not text cells: a negative amount stays a number, unquoted.

`csv_text` is the one way billsync writes CSV (`report --format csv`, the report snapshot). (The
defusedcsv package was weighed: it leaves cells starting with tab or carriage return as they are,
keeps control characters, and rewrites every `|` in a neutralised cell.)
`html_templates` is the jinja2 environment of every HTML page billsync renders. On the terminal,
Rich markup is the third way text could act: the CLI's console reads none (core/cli/common.py).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from jinja2 import BaseLoader, Environment, select_autoescape
from markupsafe import Markup

# What a cell may hold: text (from anyone, neutralised), a number billsync computed, or nothing.
Cell = str | int | Decimal | None

_KEPT = "\t\n\r"
# Every control character is below U+00A0 (C0, DEL, C1), so the table is complete.
_CONTROLS = {
    code: None for code in range(0xA0) if unicodedata.category(chr(code)) == "Cc" and chr(code) not in _KEPT
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def without_controls(text: str) -> str:
    """`text` without control characters, tab and line breaks kept."""
    return text.translate(_CONTROLS)


def joined_apart(pieces: Iterable[tuple[str, bool]]) -> str:
    """Folded pieces of text joined into one: a piece marked apart (a symbol's reading, "EUR") gets a
    space where it would touch a letter or digit of its neighbour, so "€100" is "EUR 100", never
    "EUR100", and "10½" is "10 1/2". The LEDES writer and the PDF fold text this one way."""
    folded = ""
    apart = False
    for piece, keep_apart in pieces:
        if piece and folded and (keep_apart or apart) and folded[-1].isalnum() and piece[0].isalnum():
            folded += " "
        if piece:
            folded += piece
            apart = keep_apart
    return folded


def spreadsheet_text(text: str) -> str:
    """A text cell no spreadsheet reads as a formula: controls removed, then a quote before a formula start."""
    cleaned = without_controls(text)
    # Checked after the removal: checked before it, "\x00=1+1" would be written as the formula "=1+1".
    return "'" + cleaned if cleaned.startswith(FORMULA_STARTS) else cleaned


def csv_text(rows: Iterable[Sequence[Cell]]) -> str:
    """Rows as CSV (`\\n` line ends): text cells through spreadsheet_text and quoted, numbers as they are.

    None is an empty cell (written `""`).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)  # Decimal and int are numbers
    for row in rows:
        writer.writerow([spreadsheet_text(cell) if isinstance(cell, str) else cell for cell in row])
    return out.getvalue()


def _html_value(value: Any) -> Any:
    # Markup is HTML billsync made itself (charts, JSON for scripts, plotly.js): left as it is.
    if isinstance(value, str) and not isinstance(value, Markup):
        return without_controls(value)
    return value


def html_templates(loader: BaseLoader) -> Environment:
    """A jinja2 environment for HTML pages: every `{{ value }}` escaped and stripped of control characters."""
    return Environment(loader=loader, autoescape=select_autoescape(["j2", "html"]), finalize=_html_value)
