"""Commands that work on the store alone: capture from a file, entries, review, schema, config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError

from config.settings import FirmSettings
from core.capture import engine_for
from core.cli.common import (
    ConfigOption,
    FirmOption,
    app,
    db_app,
    increment_lines,
    pick_firm,
    print_entries,
    print_exposed_secret_files,
    print_increment,
    print_result,
    review_app,
    safe_url,
    say,
    settings_from,
)
from core.errors import BillsyncError
from core.models import Activity, ActivityCategory, Client, EntryState, Matter, Timekeeper
from core.plugins import CONNECTORS, load
from core.process import tune_garbage_collector
from core.reports.review import approve_entry
from core.store.store import Store

_REFERENCE_MODELS: dict[str, Any] = {
    "timekeepers": Timekeeper,
    "clients": Client,
    "matters": Matter,
    "categories": ActivityCategory,
}


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Create or migrate the database named by the configuration."""
    settings = settings_from(config)
    Store.open(settings.database_url).close()
    say(f"database is up to date: {safe_url(settings.database_url)}")


@app.command()
def capture(
    input_file: Annotated[Path, typer.Argument(help="JSON with reference data and activities.")],
    config: ConfigOption = None,
    firm: FirmOption = None,
) -> None:
    """Capture activities from a JSON file: {"timekeepers", "clients", "matters", "categories", "activities"}."""
    settings = settings_from(config)
    firm_id, firm_settings = pick_firm(settings, firm)
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
    print_result(result)
    for error in errors:
        say(("skipped", "red"), f" {error}")
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
    settings = settings_from(config)
    firm_id, _ = pick_firm(settings, firm)
    store = Store.open(settings.database_url)
    found = store.entries(firm_id, [state] if state else None)
    print_entries(
        found[:limit],
        store.load_reference(firm_id),
        title=f"{len(found)} entries" + (f" in state {state.value}" if state else ""),
    )


@review_app.command("list")
def review_list(config: ConfigOption = None, firm: FirmOption = None) -> None:
    """Entries waiting for a person, with the reasons."""
    settings = settings_from(config)
    firm_id, _ = pick_firm(settings, firm)
    store = Store.open(settings.database_url)
    waiting = store.entries(firm_id, [EntryState.NEEDS_REVIEW, EntryState.BLOCKED])
    print_entries(waiting, store.load_reference(firm_id), title=f"{len(waiting)} entries to review", reasons=True)


@review_app.command("approve")
def review_approve(
    entry_ids: Annotated[list[str] | None, typer.Argument(help="Entry ids (see `billsync review list`).")] = None,
    config: ConfigOption = None,
    firm: FirmOption = None,
    matter: Annotated[
        str | None, typer.Option(help="Also every entry of this matter (its id or number) waiting for review.")
    ] = None,
) -> None:
    """Approve entries: they become billable."""
    chosen = list(entry_ids or [])
    if matter is not None:
        chosen += _waiting_on_matter(config, firm, matter)
    if not chosen:
        raise BillsyncError("name the entries to approve: their ids, or --matter with a matter's id or number")
    _review(chosen, config, firm, EntryState.APPROVED)


@review_app.command("reject")
def review_reject(entry_ids: list[str], config: ConfigOption = None, firm: FirmOption = None) -> None:
    """Reject entries: they are never billed."""
    _review(entry_ids, config, firm, EntryState.REJECTED)


def _waiting_on_matter(config: Path | None, firm: str | None, matter: str) -> list[str]:
    """The ids of a matter's entries waiting for review; the matter is named by its PMS id or its number."""
    settings = settings_from(config)
    firm_id, _ = pick_firm(settings, firm)
    store = Store.open(settings.database_url)
    matters = store.load_reference(firm_id).matters
    found = matters.get(matter) or next((m for m in matters.values() if m.number == matter), None)
    if found is None:
        raise BillsyncError(f"no matter {matter!r} among the matters read from the PMS (has a sync run?)")
    waiting = [e.id for e in store.entries(firm_id, [EntryState.NEEDS_REVIEW]) if e.matter_id == found.id]
    if not waiting:
        raise BillsyncError(f"no entry of matter {found.number} waits for review")
    return waiting


def _review(entry_ids: list[str], config: Path | None, firm: str | None, state: EntryState) -> None:
    settings = settings_from(config)
    firm_id, _ = pick_firm(settings, firm)
    store = Store.open(settings.database_url)
    waiting = {e.id: e for e in store.entries(firm_id, [EntryState.NEEDS_REVIEW])}
    for entry_id in entry_ids:
        entry = waiting.get(entry_id)
        if entry is None:
            known = {e.id: e for e in store.entries(firm_id)}.get(entry_id)
            why = f"it is {known.state.value}" if known else "there is no such entry"
            verb = "approve" if state is EntryState.APPROVED else "reject"
            raise BillsyncError(f"cannot {verb} {entry_id}: {why}, not needs_review")
        if state is EntryState.APPROVED:
            approve_entry(store, firm_id, entry_id, via="command line")  # billable in the PMS at the next sync
        else:
            store.set_entry_state(firm_id, entry_id, state)
        say(f"{entry_id}: {state.value}")


@app.command("check-config")
def check_config(config: ConfigOption = None) -> None:
    """Validate the configuration file and the environment overrides; name blocks the increment rounds up.

    Nothing here talks to a vendor: the system of record's own rounding is the one the last
    sync or `billsync check` stored, if the store exists.
    """
    settings = settings_from(config)
    say(f"database: {safe_url(settings.database_url)}")
    print_exposed_secret_files(config, settings)
    problems: list[str] = []
    store = Store.open_existing(settings.database_url)
    try:
        for firm_id, firm in settings.firms.items():
            policy = firm.capture
            kinds = ", ".join(k.value for k, p in policy.kinds.items() if p.enabled)
            say(
                f"firm {firm_id} ({firm.name}): capture {'on' if policy.enabled else 'off'}, "
                f"review {policy.review.value}, kinds: {kinds}"
            )
            pms_rounds = callable(getattr(load(CONNECTORS, firm.system_of_record), "time_increment_minutes", None))
            read = store.time_increment(firm_id, firm.system_of_record) if store is not None and pms_rounds else None
            print_increment(increment_lines(firm_id, firm, pms_rounds=pms_rounds, read=read))
            for name, role in unconfigured_connectors(firm):
                # `capture` from a file needs none; `sync`, `check` and `run` refuse to start without it.
                section = f"[firms.{firm_id}.connectors.{name}]"
                say((f"firm {firm_id}: {name} is {role} but has no {section} section", "yellow"))
            problems += connector_setting_problems(firm_id, firm)
    finally:
        if store is not None:
            store.close()
    for problem in problems:
        say(("error:", "red"), " ", problem)  # the key and the reason; never the value (it may be a secret)
    if problems:
        raise typer.Exit(2)


def unconfigured_connectors(firm: FirmSettings) -> list[tuple[str, str]]:
    """The connectors a firm uses (system of record, sources, payment gateway) without a settings section."""
    used = {firm.system_of_record: "the system of record"}
    used.update({name: "an activity source" for name in firm.sources})
    if firm.payments is not None:
        used[firm.payments.gateway] = "the payment gateway"
    return [(name, role) for name, role in used.items() if name not in firm.connectors]


def connector_setting_problems(firm_id: str, firm: FirmSettings) -> list[str]:
    """Every bad key of a firm's connector sections, one line each, checked without calling any vendor.

    Each section is validated by its connector's own Settings model (types, required keys,
    URLs), as `billsync check` and the daemon do when they build the connector. The lines name
    keys and reasons, never values: a connector's section holds its secrets.
    """
    problems: list[str] = []
    for name in sorted(firm.connectors):
        where = f"firms.{firm_id}.connectors.{name}"
        raw = firm.connector_settings(name) or {}
        try:
            model = load(CONNECTORS, name).Settings
        except BillsyncError:
            problems.append(f"{where}: no connector named {name!r} is installed")
            continue
        try:
            model(**raw)
        except ValidationError as exc:
            for error in exc.errors():
                key = ".".join(str(part) for part in error["loc"])
                reason = error["msg"].removeprefix("Value error, ")  # pydantic's prefix for a validator's words
                problems.append(f"{where}.{key}: {reason}" if key else f"{where}: {reason}")
    return problems


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
