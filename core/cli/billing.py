"""`billsync bill`: run a billing cycle, review pre-bills, write LEDES, and follow the PMS bills."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from config.billing import LedesFormat
from core.agreements import with_agreements
from core.billing.cycle import run_billing_cycle
from core.billing.ledes import LedesError, parties_for, write_ledes
from core.billing.ledes_parser import parse_ledes
from core.billing.lifecycle import bill_writer_of, follow_bills
from core.billing.model import PreBill, PreBillStatus
from core.billing.period import month, previous_month
from core.billing.render import hours, letterhead_for, money, render_html, render_pdf
from core.cli.common import (
    ConfigOption,
    FirmOption,
    app,
    console,
    pick_firm,
    reconnect_message,
    say,
    settings_from,
    text,
    text_cells,
)
from core.connector import StreamRole
from core.errors import AuthFailed, BillsyncError, Retryable
from core.matching import ReferenceData
from core.models import Severity
from core.private_files import write_private, write_private_bytes
from core.runtime import build_runtime
from core.store.billing import BillingStore
from core.store.store import Store
from core.sync import SyncReport

bill_app = typer.Typer(no_args_is_help=True, help="Billing cycles: pre-bills, LEDES, and the PMS bills.")
app.add_typer(bill_app, name="bill")

PrebillArgument = Annotated[str, typer.Argument(help="Pre-bill id, number, or its PMS bill number.")]


@bill_app.command("run")
def bill_run(
    config: ConfigOption = None,
    firm: FirmOption = None,
    period: Annotated[str | None, typer.Option(help="Month to bill, e.g. 2026-10 (default: last month).")] = None,
) -> None:
    """Group approved, unbilled entries into checked pre-bills for the period."""
    settings = settings_from(config)
    firm_id, firm_settings = pick_firm(settings, firm)
    chosen = month(period) if period else previous_month(datetime.now(UTC).date())
    store = Store.open(settings.database_url)
    result = run_billing_cycle(store, firm_id, firm_settings.billing, chosen)
    reference = with_agreements(store.load_reference(firm_id), firm_settings.billing)
    _print_prebills(result.prebills, reference, title=f"{len(result.prebills)} pre-bills for {chosen.label}")
    for kept in result.kept:
        say(f"kept {kept.number} ({kept.status.value}): approved or tied to a PMS bill")
    if result.waiting:
        say(f"{len(result.waiting)} entries wait for the next period: their matter's pre-bill is out")
    for prebill in result.prebills:
        if prebill.period_start < chosen.start:
            declared = f"{prebill.number} declares {prebill.period_start} to {prebill.period_end}"
            say(f"{declared}: it bills earlier unbilled work")
    if result.not_in_pms:
        pms = firm_settings.pms
        say(
            (f"{len(result.not_in_pms)} approved entries on these pre-bills are not in {pms} yet", "yellow"),
            f" (their approval waits to be written): a bill made in {pms} now leaves them out; "
            "run `billsync sync` first",
        )


@bill_app.command("list")
def bill_list(
    config: ConfigOption = None,
    firm: FirmOption = None,
    status: Annotated[PreBillStatus | None, typer.Option(help="Only pre-bills in this status.")] = None,
    period: Annotated[str | None, typer.Option(help="Only this month, e.g. 2026-10.")] = None,
) -> None:
    """Pre-bills with their totals, findings and PMS bills."""
    settings = settings_from(config)
    firm_id, _ = pick_firm(settings, firm)
    store = Store.open(settings.database_url)
    found = BillingStore(store.engine).prebills(
        firm_id, statuses=[status] if status else None, period_end=month(period).end if period else None
    )
    _print_prebills(found, store.load_reference(firm_id), title=f"{len(found)} pre-bills")


@bill_app.command("show")
def bill_show(
    key: PrebillArgument,
    config: ConfigOption = None,
    firm: FirmOption = None,
    html: Annotated[Path | None, typer.Option(help="Also write the readable pre-bill as HTML here.")] = None,
    pdf: Annotated[Path | None, typer.Option(help="Also write it as PDF here.")] = None,
) -> None:
    """One pre-bill: its lines, guideline findings and how its PMS bill differs."""
    settings = settings_from(config)
    firm_id, firm_settings = pick_firm(settings, firm)
    store = Store.open(settings.database_url)
    prebill = _find(store, firm_id, key)
    table = Table(title=text(f"{prebill.number}: {prebill.description}"))
    for column in ("#", "date", "timekeeper", "narrative", "task", "activity", "hours", "rate", "adj.", "amount"):
        right = column in ("hours", "rate", "adj.", "amount")
        table.add_column(column, justify="right" if right else "left", overflow="fold")
    flagged = {f.line for f in prebill.findings if f.line is not None}
    for ln in prebill.lines:
        table.add_row(
            text(ln.number, "yellow" if ln.number in flagged else ""),
            *text_cells(
                ln.work_date,
                ln.timekeeper_name,
                ln.narrative,
                ln.task_code or "",
                ln.activity_code or "",
                hours(ln.units),
                money(ln.unit_cost),
                money(ln.adjustment) if ln.adjustment else "",
                money(ln.amount),
            ),
        )
    console.print(table)
    say(
        f"fees {money(prebill.subtotal)}  tax {money(prebill.tax)}  total {money(prebill.total)} {prebill.currency}"
        f"  | period {prebill.period_start} to {prebill.period_end}  | {_pms(prebill)}"
    )
    for f in prebill.findings:
        where = f"line {f.line}: " if f.line else ""
        say(_severity(f.severity), f" {where}{f.message} ", (f"({f.rule})", "dim"))
    for difference in prebill.differences:
        say(("PMS bill differs", "red"), f" {difference}")
    # Owner-only (0600): a pre-bill holds the client's name, the work and the money.
    billing = firm_settings.billing
    head = None
    if html is not None or pdf is not None:  # both print the letterhead: the firm, the client, the matter
        head = letterhead_for(prebill, store.load_reference(firm_id), billing, firm_name=firm_settings.name)
    if html is not None:
        page = render_html(prebill, tax_name=billing.tax_name, letterhead=head)
        _write(html, lambda path: write_private(path, page))
        say(f"wrote {html}")
    if pdf is not None:
        document = render_pdf(prebill, tax_name=billing.tax_name, letterhead=head)
        _write(pdf, lambda path: write_private_bytes(path, document))
        say(f"wrote {pdf}")


@bill_app.command("ledes")
def bill_ledes(
    key: PrebillArgument,
    config: ConfigOption = None,
    firm: FirmOption = None,
    fmt: Annotated[
        LedesFormat | None, typer.Option("--format", help="1998b or 98bi (default: the client's setting, else 1998b).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the file here instead of printing it.")] = None,
) -> None:
    """The pre-bill as a LEDES file, checked by billsync's strict reader before it is written."""
    settings = settings_from(config)
    firm_id, firm_settings = pick_firm(settings, firm)
    store = Store.open(settings.database_url)
    prebill = _find(store, firm_id, key)
    billing = firm_settings.billing
    chosen = fmt or billing.client(prebill.client_id).ledes
    if chosen is LedesFormat.NONE:
        chosen = LedesFormat.LEDES_1998B
    reference = with_agreements(store.load_reference(firm_id), billing)
    try:
        ledes = write_ledes(prebill, parties_for(prebill, reference, billing, firm_id=firm_id), chosen)
    except LedesError as exc:
        raise BillsyncError(str(exc)) from None
    parse_ledes(ledes)  # never hand out a file the strict reader refuses
    blocking = [f for f in prebill.findings if f.severity is Severity.BLOCK]
    if blocking:  # on stderr: stdout is the file itself
        rules = ", ".join(sorted({f.rule for f in blocking}))
        sys.stderr.write(
            f"warning: pre-bill {prebill.number} has {len(blocking)} blocking findings ({rules}): "
            "an e-billing system will likely reject this file; see `billsync bill show`\n"
        )
    if out is None:
        # Byte for byte: a console would turn ":smile:" into an emoji and wrap long lines.
        sys.stdout.write(ledes)
        sys.stdout.flush()
    else:
        _write(out, lambda path: write_private(path, ledes, encoding="ascii", newline=""))
        say(f"wrote {out} ({chosen.value}, {len(prebill.lines)} lines, total {money(prebill.total)})")


@bill_app.command("approve")
def bill_approve(keys: list[str], config: ConfigOption = None, firm: FirmOption = None) -> None:
    """Approve pre-bills as the reviewing partner; one with a Block finding cannot be approved."""
    settings = settings_from(config)
    firm_id, _ = pick_firm(settings, firm)
    store = Store.open(settings.database_url)
    billing = BillingStore(store.engine)
    for key in keys:
        prebill = _find(store, firm_id, key)
        blocking = [f for f in prebill.findings if f.severity is Severity.BLOCK]
        if blocking:
            raise BillsyncError(
                f"cannot approve {prebill.number}: {len(blocking)} Block finding(s), e.g. {blocking[0].message}"
            )
        if prebill.status is PreBillStatus.VOID:
            raise BillsyncError(f"cannot approve {prebill.number}: its PMS bill was voided")
        billing.approve(firm_id, prebill.id, datetime.now(UTC))
        say(f"{prebill.number}: approved")


@bill_app.command("follow")
def bill_follow(config: ConfigOption = None, firm: FirmOption = None) -> None:
    """Read the PMS bills now, match them to pre-bills, and move matching ones where the firm allows."""
    settings = settings_from(config)
    firm_id, firm_settings = pick_firm(settings, firm)
    store = Store.open(settings.database_url)
    runtime = build_runtime(settings, firm_id, store)
    try:
        bill_streams = [s.name for s in runtime.pms.streams() if s.role is StreamRole.BILLS]
        runtime.runner.poll(SyncReport(), only_streams=bill_streams)  # and the reference data, as every poll
        results = follow_bills(store, firm_id, firm_settings.billing, bill_writer_of(runtime.pms))
    except AuthFailed as exc:
        raise BillsyncError(reconnect_message(exc, runtime.pms.name)) from None
    except Retryable as exc:
        raise BillsyncError(f"{runtime.pms.name} is not reachable now: {exc}; run again") from None
    table = Table(title=f"{len(results)} PMS bills")
    for column in ("bill", "state", "pre-bill", "outcome", "moved to", "why / differences"):
        table.add_column(column, overflow="fold")
    for r in results:
        detail = "; ".join(part for part in (*r.differences, r.note) if part)
        table.add_row(
            *text_cells(
                r.bill_number or r.bill_id,
                r.state.value,
                r.prebill_number or "-",
                r.outcome,
                r.moved_to.value if r.moved_to else "",
                detail,
            )
        )
    console.print(table)


def _find(store: Store, firm_id: str, key: str) -> PreBill:
    prebill = BillingStore(store.engine).prebill(firm_id, key)
    if prebill is None:
        raise BillsyncError(f"no pre-bill {key!r} (see `billsync bill list`)")
    return prebill


def _print_prebills(prebills: list[PreBill], reference: ReferenceData, *, title: str) -> None:
    table = Table(title=title)
    for column in (
        "number",
        "client",
        "matter",
        "period",
        "lines",
        "fees",
        "tax",
        "total",
        "findings",
        "status",
        "PMS",
    ):
        right = column in ("lines", "fees", "tax", "total")
        table.add_column(column, justify="right" if right else "left", overflow="fold")
    for p in prebills:
        client = reference.clients.get(p.client_id)
        matter = reference.matters.get(p.matter_id)
        counts = {
            s: sum(1 for f in p.findings if f.severity is s) for s in (Severity.BLOCK, Severity.REVIEW, Severity.WARN)
        }
        findings = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n) or "none"
        status = p.status.value + (" (approved)" if p.approved_at and p.status is PreBillStatus.DRAFT else "")
        table.add_row(
            *text_cells(
                p.number,
                client.name if client else p.client_id,
                matter.number if matter else p.matter_id,
                _period(p),
                len(p.lines),
                money(p.subtotal),
                money(p.tax),
                money(p.total),
                findings,
                status,
                _pms(p),
            )
        )
    console.print(table)


def _period(prebill: PreBill) -> str:
    """The cycle's month, and the day the declared period starts when earlier work moved it back."""
    cycle = f"{prebill.period_end:%Y-%m}"
    if prebill.period_start == prebill.period_end.replace(day=1):
        return cycle
    return f"{cycle} (from {prebill.period_start})"


def _pms(prebill: PreBill) -> str:
    if prebill.pms_bill_id is None:
        return "no PMS bill yet"
    return f"bill {prebill.pms_bill_number or prebill.pms_bill_id} ({prebill.pms_state})"


def _severity(severity: Severity) -> tuple[str, str]:
    """The severity's word and its colour, for say()."""
    return severity.value, {Severity.BLOCK: "red", Severity.REVIEW: "yellow"}.get(severity, "dim")


def _write(path: Path, write: Callable[[Path], None]) -> None:
    """Write a file a person asked for; a folder that is not there or not writable is one error line."""
    try:
        write(path)
    except OSError as exc:
        raise BillsyncError(f"cannot write {path}: {exc.strerror}") from None
