"""Shared pieces of the command line: the app, its options, settings and table output."""

from __future__ import annotations

import logging
import sys
import tomllib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import structlog
import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url

from config.settings import BillsyncSettings, FirmSettings, load_settings, secret_keys_in
from core.engine import CaptureResult
from core.errors import AuthFailed, BillsyncError
from core.logging import quiet_below
from core.matching import ReferenceData
from core.plugins import CONNECTORS, load
from core.private_files import others_may_read
from core.progress import BarProgress, LogProgress, Progress
from core.store.store import IncrementRead, sqlite_file
from core.text import without_controls
from core.units import hours

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Billing automation for law firms.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
review_app = typer.Typer(no_args_is_help=True, help="Review captured entries.")
app.add_typer(db_app, name="db")
app.add_typer(review_app, name="review")
# Names, narratives and messages come from vendors and people: the console prints every string as
# the text it is, never as Rich markup ("[link=...]") or emoji codes (":lock:"); billsync styles its
# own words with rich Text (say, text). Off a terminal (CI logs, `make demo | less`) rich would
# assume 80 columns; tables need more.
console = Console(width=None if sys.stdout.isatty() else 200, markup=False, emoji=False)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML configuration file.")]
FirmOption = Annotated[str | None, typer.Option("--firm", help="Firm id (needed when the file has several).")]


def text(value: object, style: str = "") -> Text:
    """A value as terminal text: shown as it is, without control characters (ESC would start an escape sequence)."""
    return Text(without_controls(str(value)), style=style)


def say(*parts: str | tuple[str, str]) -> None:
    """Print one line whose values come from vendors or people: text, never markup, never wrapped.

    A part is plain text, or (text, style) for the words billsync itself wants styled.
    """
    line = Text.assemble(*(text(part) if isinstance(part, str) else text(*part) for part in parts))
    console.print(line, soft_wrap=True, highlight=False)


@contextmanager
def progress_for(settings: BillsyncSettings) -> Iterator[Progress]:
    """How a command shows long work: a bar on a terminal, `progress` log lines (JSON) off one.

    Off a terminal a forecast ("writing 180 entries to Clio: ...") is also said on stdout. While the
    bar is drawn, log lines on the same terminal are WARNING and up only: INFO lines ("sync cycle")
    would be printed in among the bar, and the command's own output says what they would."""
    if console.is_terminal:
        quiet = quiet_below(logging.WARNING) if sys.stderr.isatty() else nullcontext()
        with quiet, BarProgress(console) as bar:
            yield bar
        return
    log = structlog.get_logger()
    reporter = LogProgress(log, every_seconds=settings.progress_every_seconds, announce=say)
    try:
        yield reporter
    finally:
        reporter.finish()


def text_cells(*values: object) -> list[Text]:
    """Table cells shown exactly as the values are, without control characters."""
    return [text(v) for v in values]


def settings_from(config: Path | None) -> BillsyncSettings:
    """Load and validate the configuration."""
    return load_settings(config)


def pick_firm(settings: BillsyncSettings, firm: str | None) -> tuple[str, FirmSettings]:
    """The named firm, or the only one in the file."""
    if firm is None:
        if len(settings.firms) != 1:
            raise BillsyncError("the configuration has several firms (or none): name one with --firm")
        firm = next(iter(settings.firms))
    return firm, settings.firm(firm)


def print_result(result: CaptureResult) -> None:
    """Counts of what a capture run did, and the unassigned queue by reason."""
    table = Table(title=f"{result.seen} activities seen, {result.already_known} already known")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    for status, count in result.statuses.most_common():
        table.add_row(*text_cells(f"activity {status.value}", count))
    for state, count in result.states.most_common():
        table.add_row(*text_cells(f"entry {state.value}", count))
    if result.reconsidered:
        table.add_row(*text_cells("parked activities decided again", result.reconsidered))
        table.add_row(*text_cells("...of which captured now (reason gone)", result.unparked))
    console.print(table)
    reasons = Counter(reason for _, _, reason in result.unassigned)
    if reasons:
        unassigned = Table(title="Unassigned queue, by reason")
        unassigned.add_column("reason")
        unassigned.add_column("count", justify="right")
        for reason, count in reasons.most_common(5):
            unassigned.add_row(*text_cells(reason, count))
        console.print(unassigned)


def print_findings(entries: list[Any]) -> None:
    """How often each rule fired, by severity."""
    counts = Counter((f.rule, f.severity.value) for e in entries for f in e.findings)
    table = Table(title="Rule findings (an entry can have several)")
    table.add_column("rule")
    table.add_column("severity")
    table.add_column("entries", justify="right")
    for (rule, severity), count in counts.most_common():
        table.add_row(*text_cells(rule, severity, count))
    console.print(table)


def print_entries(
    entries: list[Any],
    reference: ReferenceData,
    *,
    title: str,
    reasons: bool = False,
    shown_ids: dict[str, str] | None = None,
) -> None:
    """A table of entries with names instead of ids; `shown_ids`: the short ids to show for entries."""
    table = Table(title=title)
    for column in ("id", "date", "timekeeper", "matter", "hours", "rate", "amount", "narrative", "state"):
        table.add_column(column, overflow="fold", justify="right" if column in ("hours", "rate", "amount") else "left")
    if reasons:
        table.add_column("reasons", overflow="fold")
    for e in entries:
        timekeeper = reference.timekeepers.get(e.timekeeper_id)
        matter = reference.matters.get(e.matter_id)
        row = [
            (shown_ids or {}).get(e.id, e.id),
            str(e.work_date),
            timekeeper.name if timekeeper else e.timekeeper_id,
            matter.number if matter else e.matter_id,
            hours_shown(e.billed_seconds),
            str(e.rate),
            str(e.amount) + ("" if e.billable else " (nb)"),
            e.narrative,
            e.state.value,
        ]
        if reasons:
            said = [f"{f.severity.value}: {f.message}" for f in e.findings]
            if e.rejection_reason:
                said.insert(0, f"rejected: {e.rejection_reason}")
            row.append("; ".join(said))
        table.add_row(*text_cells(*row))
    console.print(table)


def print_parked(found: list[Any], reference: ReferenceData, *, shown_ids: dict[str, str]) -> None:
    """A table of parked activities (core.store.reports.ActivityRow) with why each waits."""
    table = Table(title="Parked activities: no entry until the reason goes (or a matter is assigned)")
    for column in ("id", "when", "who", "kind", "title", "status", "why"):
        table.add_column(column, overflow="fold")
    for a in found:
        timekeeper = reference.timekeepers.get(a.timekeeper_id or "") or reference.timekeeper_for(a.actor)
        row = [
            shown_ids.get(a.id, a.id),
            f"{a.started_at:%Y-%m-%d %H:%M}",
            timekeeper.name if timekeeper else a.actor,
            a.kind.value,
            a.title,
            a.status.value,
            a.reason,
        ]
        table.add_row(*text_cells(*row))
    console.print(table)


def hours_shown(seconds: int) -> str:
    # Two places, four when the increment needs them: 0.25 h must not show as 0.2.
    billed = hours(seconds)
    return f"{billed:.2f}" if billed == billed.quantize(Decimal("0.01")) else f"{billed:.4f}"


def increment_lines(firm_id: str, firm: FirmSettings, *, pms_rounds: bool, read: IncrementRead | None) -> list[str]:
    """The increment in effect and where it comes from, then every fixed block it would round up.

    `pms_rounds`: the PMS has a rounding setting of its own; `read`: what was last
    read of it (None: never). Lines after the first are warnings.
    """
    policy = firm.capture
    pms = firm.pms
    if policy.increment_minutes is not None:
        minutes, source = policy.increment_minutes, "capture.increment_minutes"
    elif not pms_rounds:
        minutes, source = policy.increment(), f"{pms} has no time rounding of its own"
    elif read is None:
        return [
            f"firm {firm_id}: increment follows {pms}'s own time rounding, not read yet: "
            "`billsync check` or the next sync reads it"
        ]
    elif read.minutes is None:
        minutes, source = policy.increment(), f"{pms} does not give its time rounding"
    else:
        minutes, source = read.minutes, f"{pms}'s own time rounding, read {read.read_at:%Y-%m-%d %H:%M} UTC"
    return [f"firm {firm_id}: increment {minutes} min ({source})"] + [
        f"firm {firm_id}: {warning}" for warning in policy.uneven_blocks(minutes)
    ]


def print_increment(lines: list[str]) -> None:
    """increment_lines on the console: the first plain, the warnings in yellow."""
    for number, line in enumerate(lines):
        say((line, "yellow") if number else line)


def safe_url(url: str) -> str:
    """A database URL fit to print: no password."""
    return make_url(url).render_as_string(hide_password=True)


def exposed_secret_files(config: Path | None, settings: BillsyncSettings) -> list[str]:
    """A warning for each file holding secrets that other accounts on this machine may read.

    The configuration file (when it holds a secret itself, not only through the environment),
    the secret key file and the SQLite database (encrypted tokens, client data).
    """
    found: list[tuple[Path, str]] = []
    if config is not None and config.is_file() and others_may_read(config):
        keys = secret_keys_in(tomllib.loads(config.read_text(encoding="utf-8")), _connector_model)
        if keys:
            found.append((config, f"holds secrets ({', '.join(keys)})"))
    key_file = settings.secret_key_file
    if key_file is not None and key_file.is_file() and others_may_read(key_file):
        found.append((key_file, "is the secret key file"))
    database = sqlite_file(settings.database_url)
    if database is not None and database.is_file() and others_may_read(database):
        found.append((database, "is the database (encrypted tokens, client data)"))
    return [f"{path} {what}, and other users may read it: chmod 600 {path}" for path, what in found]


def print_exposed_secret_files(config: Path | None, settings: BillsyncSettings) -> None:
    """exposed_secret_files on the console, in yellow."""
    for line in exposed_secret_files(config, settings):
        say((line, "yellow"))


def _connector_model(name: str) -> type[BaseModel] | None:
    try:
        model: type[BaseModel] = load(CONNECTORS, name).Settings
    except BillsyncError:
        return None
    return model


def connect_command(connector: str, config: Path | None, firm: str, settings: BillsyncSettings) -> str:
    """The exact `billsync connect` command for one firm's connector, with the options this run used."""
    options = f" --config {config}" if config is not None else ""
    if len(settings.firms) > 1:
        options += f" --firm {firm}"
    return f"billsync connect {connector}{options}"


def reconnect_message(exc: AuthFailed, connector: str) -> str:
    """A refusal of credentials as one line that ends with what to run, said once."""
    message = " ".join(str(exc).split())
    return message if "billsync connect" in message else f"{message} (run `billsync connect {connector}`)"
