"""The `billsync` command line: what a firm's IT staff run."""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from config.settings import BillsyncSettings, FirmSettings, load_settings
from core.capture import engine_for
from core.demo_data import generate_firm
from core.engine import CaptureResult
from core.errors import BillsyncError
from core.logging import configure_logging
from core.matching import ReferenceData
from core.models import Activity, ActivityCategory, Client, EntryState, Matter, Timekeeper
from core.policy import CapturePolicy
from core.process import tune_garbage_collector
from core.store.store import Store
from core.units import hours

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Billing automation for law firms.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
review_app = typer.Typer(no_args_is_help=True, help="Review captured entries.")
app.add_typer(db_app, name="db")
app.add_typer(review_app, name="review")
# Off a terminal (CI logs, `make demo | less`) rich would assume 80 columns; tables need more.
console = Console(width=None if sys.stdout.isatty() else 200)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML configuration file.")]
FirmOption = Annotated[str | None, typer.Option("--firm", help="Firm id (needed when the file has several).")]
_REFERENCE_MODELS: dict[str, Any] = {
    "timekeepers": Timekeeper,
    "clients": Client,
    "matters": Matter,
    "categories": ActivityCategory,
}


def _settings(config: Path | None) -> BillsyncSettings:
    return load_settings(config)


def _firm(settings: BillsyncSettings, firm: str | None) -> tuple[str, FirmSettings]:
    if firm is None:
        if len(settings.firms) != 1:
            raise BillsyncError("the configuration has several firms (or none): name one with --firm")
        firm = next(iter(settings.firms))
    return firm, settings.firm(firm)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Create or migrate the database named by the configuration."""
    settings = _settings(config)
    Store.open(settings.database_url).close()
    console.print(f"database is up to date: {_safe_url(settings.database_url)}")


@app.command()
def capture(
    input_file: Annotated[Path, typer.Argument(help="JSON with reference data and activities.")],
    config: ConfigOption = None,
    firm: FirmOption = None,
) -> None:
    """Capture activities from a JSON file: {"timekeepers", "clients", "matters", "categories", "activities"}."""
    settings = _settings(config)
    firm_id, firm_settings = _firm(settings, firm)
    try:
        data = json.loads(input_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BillsyncError(f"cannot read {input_file}: {exc}") from None
    records, errors = _parse_input(data)
    store = Store.open(settings.database_url)
    if records["reference"]:
        store.save_reference(firm_id, records["reference"])
    engine = engine_for(firm_id, firm_settings, store)
    tune_garbage_collector()
    result = engine.capture(records["activities"])
    _print_result(result)
    for error in errors:
        console.print(f"[red]skipped[/red] {error}")
    if errors:
        raise typer.Exit(code=2)


@app.command()
def entries(
    config: ConfigOption = None,
    firm: FirmOption = None,
    state: Annotated[EntryState | None, typer.Option(help="Only entries in this state.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 50,
) -> None:
    """List captured time entries."""
    settings = _settings(config)
    firm_id, _ = _firm(settings, firm)
    store = Store.open(settings.database_url)
    found = store.entries(firm_id, [state] if state else None)
    _print_entries(
        found[:limit],
        store.load_reference(firm_id),
        title=f"{len(found)} entries" + (f" in state {state.value}" if state else ""),
    )


@review_app.command("list")
def review_list(config: ConfigOption = None, firm: FirmOption = None) -> None:
    """Entries waiting for a person, with the reasons."""
    settings = _settings(config)
    firm_id, _ = _firm(settings, firm)
    store = Store.open(settings.database_url)
    waiting = store.entries(firm_id, [EntryState.NEEDS_REVIEW, EntryState.BLOCKED])
    _print_entries(waiting, store.load_reference(firm_id), title=f"{len(waiting)} entries to review", reasons=True)


@review_app.command("approve")
def review_approve(entry_ids: list[str], config: ConfigOption = None, firm: FirmOption = None) -> None:
    """Approve entries: they become billable."""
    _review(entry_ids, config, firm, EntryState.APPROVED)


@review_app.command("reject")
def review_reject(entry_ids: list[str], config: ConfigOption = None, firm: FirmOption = None) -> None:
    """Reject entries: they are never billed."""
    _review(entry_ids, config, firm, EntryState.REJECTED)


def _review(entry_ids: list[str], config: Path | None, firm: str | None, state: EntryState) -> None:
    settings = _settings(config)
    firm_id, _ = _firm(settings, firm)
    store = Store.open(settings.database_url)
    for entry_id in entry_ids:
        try:
            store.set_entry_state(firm_id, entry_id, state)
        except KeyError as exc:
            raise BillsyncError(str(exc.args[0])) from None
        console.print(f"{entry_id}: {state.value}")


@app.command("check-config")
def check_config(config: ConfigOption = None) -> None:
    """Validate the configuration file and the environment overrides."""
    settings = _settings(config)
    console.print(f"database: {_safe_url(settings.database_url)}")
    for firm_id, firm in settings.firms.items():
        policy = firm.capture
        kinds = ", ".join(k.value for k, p in policy.kinds.items() if p.enabled)
        console.print(
            f"firm {firm_id} ({firm.name}): capture {'on' if policy.enabled else 'off'}, "
            f"increment {policy.increment_minutes} min, review {policy.review.value}, kinds: {kinds}"
        )


@app.command()
def demo(
    database: Annotated[str | None, typer.Option(help="Database URL (default: a temporary SQLite file).")] = None,
    activities: Annotated[int, typer.Option(help="How many activities the synthetic month has.")] = 1500,
) -> None:
    """Run the capture engine on a synthetic firm's month and show what it would write."""
    with tempfile.TemporaryDirectory() as tmp:
        url = database or f"sqlite:///{Path(tmp) / 'demo.db'}"
        firm = generate_firm(activities=activities)
        store = Store.open(url)
        store.save_reference("demo", [*firm.timekeepers, *firm.clients, *firm.matters, *firm.categories])
        settings = FirmSettings(name="Demo Law LLP", capture=CapturePolicy(enabled=True))
        console.print(
            f"[bold]Demo Law LLP[/bold]: {len(firm.timekeepers)} users, {len(firm.clients)} clients, "
            f"{len(firm.matters)} matters, {len(firm.activities)} activities in October 2026"
        )
        engine = engine_for("demo", settings, store)
        tune_garbage_collector()
        result = engine.capture(firm.activities)
        _print_result(result)
        captured = store.entries("demo")
        ref = store.load_reference("demo")
        _print_findings(captured)
        _print_entries(captured[:12], ref, title="First entries (all wait for review: review mode 'all')")
        blocked = [e for e in captured if e.state is EntryState.BLOCKED]
        if blocked:
            _print_entries(blocked[:5], ref, title=f"{len(blocked)} blocked entries", reasons=True)
        again = engine.capture(firm.activities)
        console.print(
            f"Second run over the same activities: {sum(again.states.values())} new entries, "
            f"{again.already_known} already known."
        )
        store.close()


def _parse_input(data: Any) -> tuple[dict[str, list[Any]], list[str]]:
    """Validate each record on its own, so one bad record is reported and the rest still count."""
    if not isinstance(data, dict):
        raise BillsyncError("input must be a JSON object with lists of records")
    parsed: dict[str, list[Any]] = {"reference": [], "activities": []}
    errors: list[str] = []
    kinds: dict[str, Any] = {**_REFERENCE_MODELS, "activities": Activity}
    for key in data:
        if key not in kinds:
            errors.append(f"unknown section {key!r}")
    for key, model in kinds.items():
        adapter = TypeAdapter(model)
        for index, record in enumerate(data.get(key) or []):
            try:
                parsed["activities" if key == "activities" else "reference"].append(adapter.validate_python(record))
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                errors.append(f"{key}[{index}]: {problems}")
    return parsed, errors


def _print_result(result: CaptureResult) -> None:
    table = Table(title=f"{result.seen} activities seen, {result.already_known} already known")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    for status, count in result.statuses.most_common():
        table.add_row(f"activity {status.value}", str(count))
    for state, count in result.states.most_common():
        table.add_row(f"entry {state.value}", str(count))
    console.print(table)
    reasons = Counter(reason for _, _, reason in result.unassigned)
    if reasons:
        unassigned = Table(title="Unassigned queue, by reason")
        unassigned.add_column("reason")
        unassigned.add_column("count", justify="right")
        for reason, count in reasons.most_common(5):
            unassigned.add_row(reason, str(count))
        console.print(unassigned)


def _print_findings(entries: list[Any]) -> None:
    counts = Counter((f.rule, f.severity.value) for e in entries for f in e.findings)
    table = Table(title="Rule findings (an entry can have several)")
    table.add_column("rule")
    table.add_column("severity")
    table.add_column("entries", justify="right")
    for (rule, severity), count in counts.most_common():
        table.add_row(rule, severity, str(count))
    console.print(table)


def _print_entries(entries: list[Any], ref: ReferenceData, *, title: str, reasons: bool = False) -> None:
    table = Table(title=title)
    for column in ("id", "date", "timekeeper", "matter", "hours", "rate", "amount", "narrative", "state"):
        table.add_column(column, overflow="fold", justify="right" if column in ("hours", "rate", "amount") else "left")
    if reasons:
        table.add_column("reasons", overflow="fold")
    for e in entries:
        timekeeper = ref.timekeepers.get(e.timekeeper_id)
        matter = ref.matters.get(e.matter_id)
        row = [
            e.id,
            str(e.work_date),
            timekeeper.name if timekeeper else e.timekeeper_id,
            matter.number if matter else e.matter_id,
            f"{hours(e.billed_seconds):.1f}",
            str(e.rate),
            str(e.amount) + ("" if e.billable else " (nb)"),
            e.narrative,
            e.state.value,
        ]
        if reasons:
            row.append("; ".join(f"{f.severity.value}: {f.message}" for f in e.findings))
        table.add_row(*row)
    console.print(table)


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    """Console entry point: clear one-line errors instead of tracebacks for expected failures."""
    configure_logging()
    try:
        app()  # standalone: usage errors and --help exit here with click's own messages
    except BillsyncError as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
