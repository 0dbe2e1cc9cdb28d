"""Hostile names: a Clio firm whose users, clients and matters carry HOSTILE_NAMES, used as a firm uses billsync.

Every command is a real `billsync` process (the one `.venv/bin/billsync` a firm runs) against the
firm's Clio sandbox on loopback: `sync --once`, `entries`, `review list` (also filtered by a
hostile user name), `review parked`, `review approve`, `bill run`, `bill list`, `bill show` (with
its HTML and PDF), and `report` by every grouping as a table and as CSV. Tables are printed on a
terminal (a pseudo-terminal, in colour, wide enough for the longest name), CSV into a pipe, as a
person redirects it to a file. The review page comes from the daemon's own app, and the nightly
snapshot from the function the daemon's scheduler calls. What must hold:

- the terminal shows every name as the text it is: no MarkupError, no traceback, `[link=...]`
  printed rather than made a hyperlink, the 10,000-character name whole, and no control
  character but billsync's own colours;
- no CSV cell is read as a formula: text starting with `=`, `+`, `-`, `@`, tab or carriage
  return starts with a single quote (OWASP), and billsync's own numbers stay numbers;
- no NUL byte (nor any other control character but tab and line breaks) reaches a CSV file,
  the review page or the pre-bill HTML, and HTML in a name is shown, never followed.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import tempfile
import termios
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest

from core.models import EntryState
from core.reports.snapshot import run_report_snapshot
from core.server import BackgroundWork, build_app
from core.store.billing import BillingStore
from tests.reliability.conftest import report_figures
from tests.reliability.firms import (
    CLIO,
    FIRM,
    FORMULA_NAME,
    LINK_NAME,
    LONG_NAME,
    MARKUP_NAME,
    SandboxFirm,
)

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

pytestmark = [pytest.mark.reliability, pytest.mark.e2e]

BILLSYNC = Path(sys.executable).with_name("billsync")  # the console script installed beside this Python
REVIEW_TOKEN = "hostile-names-review-token"
CONFIG = f"""
[firms.demo.reports]
review_token = "{REVIEW_TOKEN}"
"""
# The terminal: wide enough that no cell is folded, so each name must be found whole in the output.
COLUMNS, LINES = 20_000, 50
COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # SGR: how billsync's own styles reach a colour terminal
# What the progress bar sends to redraw itself (rich's live display): hide or show the cursor, erase
# the line, move up. Vendor text never carries them: its ESC is removed before it is printed.
BAR_CONTROLS = re.compile(r"\x1b\[\?25[lh]|\x1b\[2K|\x1b\[[0-9]*A")
HYPERLINK = "\x1b]8;"  # OSC 8: what `[link=...]` becomes when it is taken for markup
# What a spreadsheet reads as the start of a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Control characters that must never reach a CSV file, an HTML page or the terminal.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
NUL_SHOWN = "NulByte"  # NUL_NAME with its NUL removed
# LINK_NAME as jinja2 escapes it (markupsafe writes quotes as &#34;).
LINK_ESCAPED = "&lt;a href=&#34;https://evil.example/login&#34;&gt;Session expired - sign in&lt;/a&gt;"


@dataclass
class Shown:
    """One command: its exit code, what its terminal showed, and its error stream."""

    returncode: int
    screen: str  # as received, colours included, line ends as "\n"
    stderr: str

    @property
    def text(self) -> str:
        """What a person reads: the screen without billsync's colours and the bar's redrawing."""
        return BAR_CONTROLS.sub("", COLOURS.sub("", self.screen))


@dataclass
class Run:
    """What every command showed, and the files written."""

    outputs: dict[str, Shown] = field(default_factory=dict)
    csv: dict[str, str] = field(default_factory=dict)
    html: dict[str, str] = field(default_factory=dict)
    prebills: int = 0


def in_terminal(run: Run, name: str, *args: str) -> Shown:
    """`billsync <args>` with its standard input and output on a colour terminal COLUMNS wide."""
    main, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(LINES)}
    env.pop("NO_COLOR", None)
    # The logs go to a file, not a pipe: they never wait for a reader while the screen is read.
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen([str(BILLSYNC), *args], stdin=terminal, stdout=terminal, stderr=errors, env=env)
        os.close(terminal)
        screen = bytearray()
        deadline = time.monotonic() + 300
        try:
            while time.monotonic() < deadline:
                if not select.select([main], [], [], 1)[0]:
                    continue
                try:
                    chunk = os.read(main, 1 << 16)
                except OSError:  # EIO: every process holding the terminal has exited
                    break
                if not chunk:
                    break
                screen += chunk
            returncode = process.wait(timeout=30)
        finally:
            os.close(main)
            if process.poll() is None:
                process.kill()  # our own child, by its handle
        errors.seek(0)
        stderr = errors.read().decode("utf-8", "replace")
    shown = Shown(returncode, screen.decode("utf-8", "replace").replace("\r\n", "\n"), stderr)
    run.outputs[name] = shown
    return shown


def piped(*args: str) -> subprocess.CompletedProcess[str]:
    """`billsync <args>` with its output into a pipe, as `billsync report --format csv > file`."""
    return subprocess.run([str(BILLSYNC), *args], capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    home = tmp_path_factory.mktemp("hostile-names")
    firm = SandboxFirm(home / "firm", CLIO, activities=80, hostile_names=True, extra_config=CONFIG)
    config = ["--config", str(firm.config)]
    result = Run()
    try:
        synced = in_terminal(result, "sync", "sync", "--once", *config)
        assert synced.returncode == 0, synced.stderr[-3000:]
        in_terminal(result, "entries", "entries", *config)
        in_terminal(result, "review list", "review", "list", *config)
        in_terminal(result, "review list --timekeeper", "review", "list", "--timekeeper", MARKUP_NAME, *config)
        in_terminal(result, "review parked", "review", "parked", *config)
        result.html["review page"] = review_page(firm)
        waiting = [e.id for e in firm.store.entries(FIRM) if e.state is EntryState.NEEDS_REVIEW]
        assert waiting, "nothing waits for review: the firm has no entries to bill"
        in_terminal(result, "review approve", "review", "approve", *waiting, *config)
        in_terminal(result, "bill run", "bill", "run", "--period", "2026-10", *config)
        in_terminal(result, "bill list", "bill", "list", *config)
        prebills = BillingStore(firm.store.engine).prebills(FIRM)
        result.prebills = len(prebills)
        for prebill in prebills:
            page, pdf = home / f"{prebill.number}.html", home / f"{prebill.number}.pdf"
            in_terminal(
                result, f"bill show {prebill.number}", "bill", "show", prebill.number,
                "--html", str(page), "--pdf", str(pdf), *config,
            )  # fmt: skip
            if page.exists():
                result.html[f"pre-bill {prebill.number}"] = page.read_bytes().decode("utf-8")
        for by in ("timekeeper", "client", "matter"):
            in_terminal(result, f"report --by {by}", "report", "--by", by, *config)
            written = piped("report", "--by", by, "--format", "csv", *config)
            assert written.returncode == 0 and "Traceback" not in written.stderr, written.stderr[-3000:]
            result.csv[f"report --by {by}"] = written.stdout
        snapshots = home / "snapshots"
        settings = firm.runtime.settings
        configured = settings.model_copy(
            update={"reports": settings.reports.model_copy(update={"snapshot_folder": snapshots})}
        )
        for path in run_report_snapshot(firm.store, FIRM, configured, datetime(2026, 10, 31, tzinfo=UTC)):
            if path.suffix == ".csv":
                result.csv[f"snapshot {path.name}"] = path.read_bytes().decode("utf-8")
        yield result
    finally:
        firm.close()
    report_figures(
        "hostile-names",
        commands=len(result.outputs) + 3,
        prebills=result.prebills,
        csv_files=len(result.csv),
        html_pages=len(result.html),
    )


def review_page(firm: SandboxFirm) -> str:
    """The firm's review page as the daemon serves it, read with the firm's review token."""
    worker = BackgroundWork()
    try:
        app = build_app({FIRM: firm.runtime}, settings=firm.settings, worker=worker)
        with TestClient(app) as client:
            answer = client.get(f"/reports/{FIRM}/review", headers={"Authorization": f"Bearer {REVIEW_TOKEN}"})
        assert answer.status_code == 200, answer.text[:500]
        return answer.content.decode("utf-8")
    finally:
        worker.close(timeout=5)


def test_every_command_succeeds_and_prints_names_as_text(run: Run) -> None:
    for name, done in run.outputs.items():
        assert done.returncode == 0, (name, done.text[-3000:], done.stderr[-3000:])
        assert "Traceback" not in done.text + done.stderr and "MarkupError" not in done.text + done.stderr, name
        assert HYPERLINK not in done.screen, name
        assert not CONTROL.search(done.text), (name, CONTROL.search(done.text))
    # The users are MARKUP_NAME, FORMULA_NAME and NUL_NAME: each entry table shows them as they are.
    for name in ("entries", "review list", "report --by timekeeper"):
        shown = run.outputs[name].text
        assert MARKUP_NAME in shown and FORMULA_NAME in shown and NUL_SHOWN in shown, name
    # A filter names a user as typed, markup and all: only that user's entries are listed.
    assert re.search(r"showing 1(?:-\d+)? of [1-9]\d* entr(?:y|ies)", run.outputs["review list --timekeeper"].text)
    # The clients are LONG_NAME, MARKUP_NAME, FORMULA_NAME and NUL_NAME: the long one printed whole.
    for name in ("report --by client", "bill run", "bill list"):
        shown = run.outputs[name].text
        assert LONG_NAME in shown and MARKUP_NAME in shown, name
    by_matter = run.outputs["report --by matter"].text
    assert all(n in by_matter for n in (MARKUP_NAME, FORMULA_NAME, NUL_SHOWN, LINK_NAME)), by_matter[-3000:]
    shows = [done.text for name, done in run.outputs.items() if name.startswith("bill show")]
    assert shows and any(MARKUP_NAME in shown for shown in shows)


def test_no_csv_cell_is_a_formula_and_numbers_stay_numbers(run: Run) -> None:
    assert len(run.csv) == 3 + 3  # three groupings from `report`, and the snapshot of October by each
    names: dict[str, set[str]] = {}
    numbers = 0
    for name, text in run.csv.items():
        rows = list(csv.reader(io.StringIO(text)))
        assert len(rows) > 2, name
        names[name] = {row[1] for row in rows[1:]}
        for row in rows[1:]:
            for cell in row[2:]:
                if cell:
                    assert _is_number(cell), (name, cell)  # the metrics: billsync's numbers, as written
                    numbers += 1
            for cell in row:
                assert not cell.startswith(FORMULA_STARTS) or _is_number(cell), (name, cell)
    assert numbers > 0
    # Each name is written in full, the formula behind a quote, the NUL gone.
    formula = "'" + FORMULA_NAME
    assert {MARKUP_NAME, formula, NUL_SHOWN} <= names["report --by timekeeper"]
    assert {LONG_NAME, MARKUP_NAME, formula, NUL_SHOWN} <= names["report --by client"]
    assert any(cell.endswith(LINK_NAME) for cell in names["report --by matter"])  # "<number> <name>"
    assert names["report --by client"] == names["snapshot demo-2026-10-by-client.csv"]


def _is_number(cell: str) -> bool:
    try:
        Decimal(cell)
    except InvalidOperation:
        return False
    return True


def test_no_nul_reaches_a_csv_file_the_review_page_or_the_pre_bill(run: Run) -> None:
    assert run.prebills > 0 and any(name.startswith("pre-bill") for name in run.html)
    for name, text in {**run.csv, **run.html}.items():
        assert "\x00" not in text and not CONTROL.search(text), (name, CONTROL.search(text))
    review = run.html["review page"]
    assert NUL_SHOWN in review  # a user's name: NUL_NAME, shown without its NUL
    for name, page in run.html.items():
        assert LINK_NAME not in page and "evil.example/login\"" not in page, name  # shown, never followed
    assert LINK_ESCAPED in review  # the matter list holds every matter's name
    prebills = "".join(page for name, page in run.html.items() if name.startswith("pre-bill"))
    assert NUL_SHOWN in prebills and MARKUP_NAME in prebills
