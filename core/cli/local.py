"""Commands that work on the store alone: capture from a file, entries, review, schema, config."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal, InvalidOperation
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
    hours_shown,
    increment_lines,
    pick_firm,
    print_entries,
    print_exposed_secret_files,
    print_increment,
    print_parked,
    print_result,
    review_app,
    safe_url,
    say,
    settings_from,
)
from core.connector import ConnectorRole, TimeRounding
from core.errors import BillsyncError, ConfigError
from core.models import (
    Activity,
    ActivityCategory,
    ActivityStatus,
    Client,
    EntryState,
    Matter,
    ParkedStatus,
    Timekeeper,
)
from core.plugins import CONNECTORS, load
from core.process import tune_garbage_collector
from core.reports.review import (
    Bulk,
    Edit,
    approve_entries,
    approve_matching,
    assign_activity,
    edit_entry,
    reject_entry,
    reject_matching,
    reopen_entry,
    reopen_matching,
)
from core.reports.review_filter import (
    WAITING,
    ReviewFilter,
    matching_entries,
    matching_parked,
    page,
    parse_day,
    resolve_id,
    short_ids,
    total_line,
)
from core.runtime import connectors_offering, role_problems
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


TimekeeperOption = Annotated[str | None, typer.Option("--timekeeper", help="Timekeeper: id, e-mail or name.")]
MatterOption = Annotated[str | None, typer.Option("--matter", help="Matter: id or number.")]
ClientOption = Annotated[str | None, typer.Option("--client", help="Client: id or name.")]
FromOption = Annotated[str | None, typer.Option("--from", help="Work date on or after (YYYY-MM-DD).")]
ToOption = Annotated[str | None, typer.Option("--to", help="Work date on or before (YYYY-MM-DD).")]
FindingOption = Annotated[str | None, typer.Option("--finding", help="Only entries with a finding of this rule.")]
CleanOption = Annotated[bool, typer.Option("--clean", help="Only entries with no rule finding.")]
LimitOption = Annotated[int, typer.Option("--limit", help="Show at most this many.")]
OffsetOption = Annotated[int, typer.Option("--offset", help="Skip this many first.")]
IdsArgument = Annotated[list[str] | None, typer.Argument(help="Entry ids, or their short forms from `review list`.")]


def _day(typed: str | None, option: str) -> date | None:
    return None if typed is None else parse_day(typed, option)


def _filter(
    *,
    timekeeper: str | None = None,
    matter: str | None = None,
    client: str | None = None,
    first: str | None = None,
    last: str | None = None,
    states: list[EntryState] | None = None,
    finding: str | None = None,
    clean: bool = False,
    parked: list[ActivityStatus] | None = None,
) -> ReviewFilter:
    return ReviewFilter(
        timekeeper=timekeeper,
        matter=matter,
        client=client,
        first_day=_day(first, "--from"),
        last_day=_day(last, "--to"),
        states=tuple(states or ()),
        finding=finding,
        clean=clean,
        parked_statuses=tuple(parked or ()),
    )


def _open(config: Path | None, firm: str | None) -> tuple[str, FirmSettings, Store]:
    settings = settings_from(config)
    firm_id, firm_settings = pick_firm(settings, firm)
    return firm_id, firm_settings, Store.open(settings.database_url)


@review_app.command("list")
def review_list(
    config: ConfigOption = None,
    firm: FirmOption = None,
    timekeeper: TimekeeperOption = None,
    matter: MatterOption = None,
    client: ClientOption = None,
    first: FromOption = None,
    last: ToOption = None,
    state: Annotated[
        list[EntryState] | None,
        typer.Option("--state", help="Entries in this state (again for more); default: waiting."),
    ] = None,
    finding: FindingOption = None,
    clean: CleanOption = False,
    limit: LimitOption = 50,
    offset: OffsetOption = 0,
) -> None:
    """Entries waiting for a person (or in --state), with the reasons; filters narrow, a total line ends it."""
    firm_id, _, store = _open(config, firm)
    wanted = _filter(
        timekeeper=timekeeper, matter=matter, client=client, first=first, last=last,
        states=state, finding=finding, clean=clean,
    )  # fmt: skip
    found = matching_entries(store, firm_id, wanted)
    shown = page(found, limit=limit, offset=offset)
    states = ", ".join(s.value for s in (wanted.states or WAITING))
    print_entries(
        shown,
        store.load_reference(firm_id),
        title=f"{len(found)} entries ({states})",
        reasons=True,
        shown_ids=short_ids(store, firm_id, [e.id for e in shown]),
    )
    say(total_line(len(shown), len(found), offset, "entries"))


def _who() -> str | None:
    """The operating-system user running the command: who approved, for the audit line (if known)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (a bare container)
        return None


@review_app.command("approve")
def review_approve(
    entry_ids: IdsArgument = None,
    config: ConfigOption = None,
    firm: FirmOption = None,
    timekeeper: TimekeeperOption = None,
    matter: MatterOption = None,
    client: ClientOption = None,
    first: FromOption = None,
    last: ToOption = None,
    finding: FindingOption = None,
    clean: Annotated[bool, typer.Option("--clean", help="Only entries with no rule finding (others skipped).")] = False,
) -> None:
    """Approve entries (by id, or every waiting entry a filter picks): they become billable."""
    firm_id, _, store = _open(config, firm)
    wanted = _filter(
        timekeeper=timekeeper, matter=matter, client=client, first=first, last=last, finding=finding, clean=clean
    )
    if entry_ids:
        _refuse_both(wanted)
        resolved = [resolve_id(store, firm_id, typed) for typed in entry_ids]
        shown = short_ids(store, firm_id, resolved)
        try:
            # One action, one audit line; billable in the PMS at the next sync.
            done = approve_entries(store, firm_id, resolved, via="command line", by=_who())
        except BillsyncError as exc:  # named as `review list` shows it, not by 32 characters
            said = str(exc)
            for full, short in shown.items():
                said = said.replace(full, short)
            raise BillsyncError(said) from None
        for entry in done:
            say(f"{shown.get(entry.id, entry.id)}: approved")
        return
    _say_bulk(approve_matching(store, firm_id, wanted, via="command line", by=_who()), "approved", wanted)


@review_app.command("reject")
def review_reject(
    entry_ids: IdsArgument = None,
    config: ConfigOption = None,
    firm: FirmOption = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why: kept with the entry, shown by list.")] = None,
    timekeeper: TimekeeperOption = None,
    matter: MatterOption = None,
    client: ClientOption = None,
    first: FromOption = None,
    last: ToOption = None,
    finding: FindingOption = None,
    clean: CleanOption = False,
) -> None:
    """Reject entries (by id, or every waiting or blocked entry a filter picks): they are never billed."""
    firm_id, _, store = _open(config, firm)
    wanted = _filter(
        timekeeper=timekeeper, matter=matter, client=client, first=first, last=last, finding=finding, clean=clean
    )
    if entry_ids:
        _refuse_both(wanted)
        for typed in entry_ids:
            entry_id = resolve_id(store, firm_id, typed)
            with _said_as_listed(store, firm_id, entry_id) as shown:
                reject_entry(store, firm_id, entry_id, reason, via="command line")
            say(f"{shown}: rejected")
        return
    _say_bulk(reject_matching(store, firm_id, wanted, reason, via="command line"), "rejected", wanted)


@review_app.command("reopen")
def review_reopen(
    entry_ids: IdsArgument = None,
    config: ConfigOption = None,
    firm: FirmOption = None,
    timekeeper: TimekeeperOption = None,
    matter: MatterOption = None,
    client: ClientOption = None,
    first: FromOption = None,
    last: ToOption = None,
    finding: FindingOption = None,
    clean: CleanOption = False,
) -> None:
    """Undo a rejection (by id, or every rejected entry a filter picks): the entries wait for review again."""
    firm_id, _, store = _open(config, firm)
    wanted = _filter(
        timekeeper=timekeeper, matter=matter, client=client, first=first, last=last, finding=finding, clean=clean
    )
    if entry_ids:
        _refuse_both(wanted)
        for typed in entry_ids:
            entry_id = resolve_id(store, firm_id, typed)
            with _said_as_listed(store, firm_id, entry_id) as shown:
                reopen_entry(store, firm_id, entry_id, via="command line")
            say(f"{shown}: needs_review")
        return
    bulk = reopen_matching(store, firm_id, wanted, via="command line")
    if not bulk.done:
        described = wanted.describe()
        raise BillsyncError(f"no rejected entry{' ' + described if described else ''}")
    say(bulk.summary("reopened", wanted))


@review_app.command("edit")
def review_edit(
    entry_id: Annotated[str, typer.Argument(help="Entry id, or its short form from `review list`.")],
    config: ConfigOption = None,
    firm: FirmOption = None,
    narrative: Annotated[str | None, typer.Option("--narrative", help="The new narrative.")] = None,
    hours: Annotated[str | None, typer.Option("--hours", help="Billed hours, e.g. 1.2 (billed as typed).")] = None,
    matter: Annotated[str | None, typer.Option("--matter", help="Move it to this matter (id or number).")] = None,
) -> None:
    """Change an entry's narrative, hours or matter; it is priced and checked by the rules again."""
    firm_id, firm_settings, store = _open(config, firm)
    try:
        typed_hours = None if hours is None else Decimal(hours.strip())
    except InvalidOperation:
        raise BillsyncError(f"--hours {hours!r} is not a number of hours (e.g. 1.2)") from None
    full_id = resolve_id(store, firm_id, entry_id)
    edit = Edit(narrative=narrative, hours=typed_hours, matter=matter)
    with _said_as_listed(store, firm_id, full_id) as shown:
        before, after = edit_entry(store, firm_id, firm_settings, full_id, edit)
    reference = store.load_reference(firm_id)
    numbers = {m.id: m.number for m in reference.matters.values()}
    say(
        f"{shown}: {hours_shown(after.billed_seconds)} h at {after.rate} = {after.amount}"
        f" on {numbers.get(after.matter_id, after.matter_id)}, {after.state.value}"
        f" (was {hours_shown(before.billed_seconds)} h = {before.amount} on"
        f" {numbers.get(before.matter_id, before.matter_id)}, {before.state.value})"
    )
    for finding in after.findings:
        say((f"  {finding.severity.value}: ", "yellow"), finding.message)


@review_app.command("parked")
def review_parked(
    config: ConfigOption = None,
    firm: FirmOption = None,
    timekeeper: TimekeeperOption = None,
    matter: MatterOption = None,
    client: ClientOption = None,
    first: FromOption = None,
    last: ToOption = None,
    status: Annotated[
        list[ParkedStatus] | None,
        typer.Option("--status", help="A parked status (again for more); default all."),
    ] = None,
    limit: LimitOption = 50,
    offset: OffsetOption = 0,
) -> None:
    """Activities that stopped short of an entry and wait (no matter, a closed one, not a timekeeper)."""
    firm_id, _, store = _open(config, firm)
    parked = [ActivityStatus(s.value) for s in status or ()]
    wanted = _filter(timekeeper=timekeeper, matter=matter, client=client, first=first, last=last, parked=parked)
    found = matching_parked(store, firm_id, wanted)
    shown = page(found, limit=limit, offset=offset)
    shown_ids = short_ids(store, firm_id, [a.id for a in shown], kind="activity")
    print_parked(shown, store.load_reference(firm_id), shown_ids=shown_ids)
    say(total_line(len(shown), len(found), offset, "parked activities"))


@review_app.command("assign")
def review_assign(
    activity_id: Annotated[str, typer.Argument(help="Activity id, or its short form from `review parked`.")],
    matter: Annotated[str, typer.Option("--matter", help="The matter: id or number.")],
    config: ConfigOption = None,
    firm: FirmOption = None,
) -> None:
    """Give an unassigned activity its matter: capture makes its entry (as the review page does)."""
    firm_id, firm_settings, store = _open(config, firm)
    full_id = resolve_id(store, firm_id, activity_id, kind="activity")
    with _said_as_listed(store, firm_id, full_id, kind="activity") as activity_shown:
        done = assign_activity(store, firm_id, firm_settings, full_id, matter)
    if done.entry is None:  # capture parked it again: the person's assignment did not give an entry
        raise BillsyncError(f"{activity_shown}: not assigned: {done.status.value}: {done.reason}")
    shown = short_ids(store, firm_id, [done.entry.id])[done.entry.id]
    say(f"{activity_shown}: entry {shown}, {hours_shown(done.entry.billed_seconds)} h = {done.entry.amount}, "
        f"{done.entry.state.value}")  # fmt: skip


@contextmanager
def _said_as_listed(store: Store, firm_id: str, full_id: str, *, kind: str = "entry") -> Iterator[str]:
    """The id as `review list` (or `review parked`) shows it, for what a command says of it; an
    error about it names it that way too, not by the 32 characters nobody typed."""
    shown = short_ids(store, firm_id, [full_id], kind=kind).get(full_id, full_id)
    try:
        yield shown
    except BillsyncError as exc:
        raise BillsyncError(str(exc).replace(full_id, shown)) from None


def _refuse_both(wanted: ReviewFilter) -> None:
    if wanted.narrows:
        raise BillsyncError("give entry ids or a filter, not both")


def _say_bulk(bulk: Bulk, verb: str, wanted: ReviewFilter) -> None:
    if not bulk.done and not bulk.skipped:
        described = wanted.describe()
        raise BillsyncError(f"no entry waiting for review{' ' + described if described else ''}")
    say(bulk.summary(verb, wanted))


@app.command("check-config")
def check_config(config: ConfigOption = None) -> None:
    """Validate the configuration file and the environment overrides; name blocks the increment rounds up.

    Nothing here talks to a vendor: the PMS's own rounding is the one the last
    sync or `billsync check` stored, if the store exists. An invalid file is one `error:` line per bad key.
    """
    try:
        settings = settings_from(config)
    except ConfigError as exc:
        if len(exc.problems) < 2:
            raise
        where = f" in {config}" if config else ""
        for problem in exc.problems:
            say(("error:", "red"), " ", " ".join(f"invalid configuration{where}: {problem}".split()))
        raise typer.Exit(2) from None
    for warning in settings.renamed_key_warnings():
        say(("warning:", "yellow"), " ", warning)
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
            roles_wrong = role_problems(firm_id, firm)
            problems += roles_wrong
            pms_unusable = firm.pms not in connectors_offering(ConnectorRole.PMS)
            # The connector's class, not a connected instance: `config check` talks to no vendor.
            pms_rounds = not pms_unusable and issubclass(load(CONNECTORS, firm.pms), TimeRounding)
            read = store.time_increment(firm_id, firm.pms) if store is not None and pms_rounds else None
            if not pms_unusable:  # an increment "of" a PMS that cannot be one would only mislead
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
    """The connectors a firm uses (PMS, sources, payment gateway) without a settings section."""
    used = {firm.pms: "the PMS"}
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
        section = firm.connector_settings(name) or {}
        try:
            model = load(CONNECTORS, name).Settings
        except BillsyncError:
            problems.append(f"{where}: no connector named {name!r} is installed")
            continue
        try:
            model(**section)
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
