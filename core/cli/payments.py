"""`billsync pay ...`: payment links, charges, trust, plans, events, the ledger and staff tasks."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import typer
from rich.table import Table

from core.cli.common import ConfigOption, FirmOption, app, console, pick_firm, say, settings_from, text_cells
from core.connector import BillMemoWriter, PaymentsByHand
from core.errors import BillsyncError
from core.matching import ReferenceData
from core.payments import charges, collection, plans, transfers
from core.payments.amounts import parse_amount
from core.payments.cycle import run_payments_cycle
from core.payments.firm import FirmPayments, build_firm_payments
from core.payments.ledger import Ledger
from core.payments.models import Intent, IntentStatus, Purpose
from core.payments.posting import hand_postings
from core.plugins import CONNECTORS, load
from core.runtime import build_runtime
from core.store.store import Store

pay_app = typer.Typer(no_args_is_help=True, help="Collect payments through the firm's payment gateway.")
app.add_typer(pay_app, name="pay")

AmountOption = Annotated[str | None, typer.Option(help="Dollars and cents, e.g. 1250.00 (default: what is owed).")]


def _firm(config: ConfigOption, firm: FirmOption) -> FirmPayments:
    settings = settings_from(config)
    firm_id, _ = pick_firm(settings, firm)
    return build_firm_payments(settings, firm_id, Store.open(settings.database_url))


def _attach_memo_writer(fp: FirmPayments, config: ConfigOption) -> None:
    """The PMS writes the link on the bill when its connector can (core.connector.BillMemoWriter)."""
    runtime = build_runtime(settings_from(config), fp.firm, fp.store)
    if isinstance(runtime.pms, BillMemoWriter):
        fp.memo_writer = runtime.pms


def _outcome(fp: FirmPayments, what: str, intent: Intent) -> None:
    """One line: the intent, its status, the gateway's transaction id (what `pay refund` takes); exit 1 unless
    it moved."""
    say(
        f"{what} {intent.id}: {intent.status.value}"
        + (f", {fp.gateway_vendor} transaction {intent.transaction_id}" if intent.transaction_id else "")
        + (f" ({intent.error})" if intent.error else "")
    )
    if intent.status is not IntentStatus.SUCCEEDED:
        raise typer.Exit(code=1)


def _money(text: str | None) -> Decimal | None:
    return None if text is None else parse_amount(text)


@pay_app.command("link")
def link(
    invoice: Annotated[
        str, typer.Argument(help="The invoice's number as the PMS shows it (a bill without a number: its bill id).")
    ],
    config: ConfigOption = None,
    firm: FirmOption = None,
    deliver: Annotated[bool, typer.Option(help="Put it on the bill in the PMS, or render the e-mail.")] = False,
) -> None:
    """The invoice's payment page link: its outstanding balance into operating, reference locked."""
    fp = _firm(config, firm)
    if deliver and fp.settings.delivery == "pms_memo":
        _attach_memo_writer(fp, config)
    if not deliver:
        found = collection.invoice_link(fp, invoice)
        say(f"invoice {found.invoice_number}: ${found.amount} to pay")
        say(found.url)
        return
    delivery = collection.deliver_invoice_link(fp, invoice)
    if delivery.email is not None:
        say(("E-mail for the billing staff to send", "bold"), " (the PMS cannot show the link):")
        say(delivery.email)
    else:
        say(f"link written on invoice {invoice} in the PMS: {delivery.link.url}")


@pay_app.command("charge")
def charge(
    invoice: Annotated[str, typer.Argument(help="Invoice number.")],
    method: Annotated[str, typer.Option(help="Saved card/bank id or one-time token id at the gateway.")],
    amount: AmountOption = None,
    config: ConfigOption = None,
    firm: FirmOption = None,
) -> None:
    """Charge an invoice once (into operating); an unknown outcome is looked up, never re-sent."""
    fp = _firm(config, firm)
    intent = charges.charge_invoice(fp, invoice, method=method, amount=_money(amount))
    _outcome(fp, "charge", intent)


@pay_app.command("retainer")
def retainer(
    client: Annotated[str, typer.Argument(help="The PMS client id.")],
    amount: Annotated[str, typer.Option(help="Dollars and cents.")],
    matter: Annotated[str | None, typer.Option(help="Hold it for one matter.")] = None,
    method: Annotated[str | None, typer.Option(help="Charge this saved method now instead of sending a link.")] = None,
    config: ConfigOption = None,
    firm: FirmOption = None,
) -> None:
    """Request (link) or charge (--method) a retainer deposit into trust, in full."""
    fp = _firm(config, firm)
    value = parse_amount(amount)
    if method is None:
        say(collection.trust_link(fp, client, value, matter))
        return
    intent = charges.deposit_to_trust(fp, client, value, method=method, matter_id=matter, purpose=Purpose.RETAINER)
    _outcome(fp, "deposit", intent)


@pay_app.command("evergreen")
def evergreen(config: ConfigOption = None, firm: FirmOption = None) -> None:
    """Top-up requests for clients whose trust fell below their evergreen minimum."""
    requests = collection.evergreen_requests(_firm(config, firm))
    table = Table(title=f"{len(requests)} evergreen top-ups due")
    for column in ("client", "top-up", "link"):
        table.add_column(column, overflow="fold")
    for client_id, top_up, url in requests:
        table.add_row(*text_cells(client_id, f"${top_up}", url))
    console.print(table)


@pay_app.command("transfer")
def transfer(
    invoice: Annotated[str, typer.Argument(help="An issued invoice.")],
    reason: Annotated[str, typer.Option(help="Why (recorded), e.g. 'client approved on 2026-11-20'.")],
    amount: AmountOption = None,
    config: ConfigOption = None,
    firm: FirmOption = None,
) -> None:
    """Apply trust funds to an issued invoice: a recorded trust -> operating transfer."""
    made = transfers.transfer_from_trust(_firm(config, firm), invoice, amount=_money(amount), reason=reason)
    for t in made:
        say(f"transfer {t.id}: ${t.amount} from trust ({t.matter_id or 'client pool'}) to invoice {invoice}")
    say("Record the same transfer in the PMS: it is on `billsync pay post-list` until marked posted.")


@pay_app.command("plan")
def plan(
    invoice: Annotated[str, typer.Argument(help="An issued invoice.")],
    method: Annotated[str, typer.Option(help="The client's saved card or bank id at the gateway.")],
    instalments: Annotated[int | None, typer.Option(help="How many payments (default: the client's setting).")] = None,
    start: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First payment (after today).")] = None,
    config: ConfigOption = None,
    firm: FirmOption = None,
) -> None:
    """Split the invoice's balance into scheduled payments on a saved method."""
    made = plans.create_plan(
        _firm(config, firm), invoice, method=method, instalments=instalments, start=start.date() if start else None
    )
    say(
        f"plan {made.id}: {made.instalments} x ${made.instalment} ({made.interval}ly, total ${made.total}) "
        f"from {made.start}: {made.status}"
    )


@pay_app.command("refund")
def refund(
    transaction: Annotated[str, typer.Argument(help="The gateway charge id.")],
    amount: Annotated[str, typer.Option(help="Dollars and cents.")],
    config: ConfigOption = None,
    firm: FirmOption = None,
) -> None:
    """Refund part or all of a charge, once, from the account it went to (fees are not returned by the gateway).

    Never more than the charge has left, and from trust never more than the client's trust holds.
    """
    fp = _firm(config, firm)
    _outcome(fp, "refund", charges.refund_charge(fp, charges.charge_id(fp, transaction), parse_amount(amount)))


@pay_app.command("events")
def events(config: ConfigOption = None, firm: FirmOption = None) -> None:
    """Read new gateway events, settle unknown charges, apply auto retainers, raise tasks (the scheduled job)."""
    report = run_payments_cycle(_firm(config, firm))
    say(
        f"{report.events.events} events applied ({report.events.transactions} transactions), "
        f"{report.resolved} unknown charges settled, {len(report.transfers)} trust transfers, "
        f"{report.open_tasks} open tasks"
    )


@pay_app.command("ledger")
def ledger(
    config: ConfigOption = None,
    firm: FirmOption = None,
    client: Annotated[str | None, typer.Option(help="Only this client: its name in the PMS, or its id.")] = None,
) -> None:
    """Billed, paid, outstanding, credit and trust per client (by name) and matter (by number)."""
    fp = _firm(config, firm)
    print_ledger(fp.ledger(), fp.store.load_reference(fp.firm), fp.gateway_vendor, client)


def print_ledger(book: Ledger, reference: ReferenceData, gateway_vendor: str, client: str | None = None) -> None:
    """The ledger as a table, with its totals: clients by name and matters by number, as the PMS shows them.
    `gateway_vendor` is how people know the firm's payment gateway (FirmPayments.gateway_vendor).

    A client or matter the PMS no longer lists (deleted since it was billed) is shown by its id.
    """
    table = Table(title=f"Ledger (billed from the PMS; paid and trust from {gateway_vendor} and recorded transfers)")
    for column in ("client", "matter", "billed", "paid", "outstanding", "credit", "trust"):
        table.add_column(column, justify="left" if column in ("client", "matter") else "right")
    rows = [r for r in book.rows if client is None or client in (r.client_id, _client_name(reference, r.client_id))]
    for r in rows:
        known_client = reference.clients.get(r.client_id)
        known_matter = reference.matters.get(r.matter_id) if r.matter_id else None
        matter = "(client)" if r.matter_id is None else known_matter.number if known_matter else r.matter_id
        table.add_row(
            *text_cells(
                known_client.name if known_client else r.client_id,
                matter,
                *(f"{v:,.2f}" for v in (r.billed, r.paid, r.outstanding, r.credit, r.trust)),
            )
        )
    if client is not None:
        console.print(table)
        return
    total = book.totals()
    sums = (total.billed, total.paid, total.outstanding, total.credit, total.trust)
    table.add_row(*text_cells("total", "", *(f"{v:,.2f}" for v in sums)), style="bold")
    console.print(table)
    if book.unmatched:
        say((f"{len(book.unmatched)} transactions match no invoice: see `billsync pay tasks`", "yellow"))


def _client_name(reference: ReferenceData, client_id: str) -> str | None:
    known = reference.clients.get(client_id)
    return known.name if known else None


@pay_app.command("tasks")
def tasks(
    config: ConfigOption = None,
    firm: FirmOption = None,
    all_tasks: Annotated[bool, typer.Option("--all", help="Include done tasks.")] = False,
) -> None:
    """What the billing staff must do: failed plan payments, expiring cards, held charges, reversals."""
    fp = _firm(config, firm)
    found = fp.payments.tasks(fp.firm, open_only=not all_tasks)
    table = Table(title=f"{len(found)} payment tasks")
    for column in ("id", "kind", "what to do", "status"):
        table.add_column(column, overflow="fold")
    for t in found:
        table.add_row(*text_cells(t.id, t.kind, t.message, t.status))
    console.print(table)


@pay_app.command("done")
def done(
    task: Annotated[str, typer.Argument(help="Task id.")], config: ConfigOption = None, firm: FirmOption = None
) -> None:
    """Mark a task done."""
    fp = _firm(config, firm)
    if not fp.payments.close_tasks(fp.firm, task_id=task):
        raise BillsyncError(f"no open task {task}")
    say(f"task {task} done")


@pay_app.command("post-list")
def post_list(config: ConfigOption = None, firm: FirmOption = None) -> None:
    """What must be posted by hand in the PMS, and why the PMS's API cannot take it."""
    fp = _firm(config, firm)
    todo = hand_postings(fp.matches(), fp.payments.transfers(fp.firm))
    pms = load(CONNECTORS, fp.pms)
    why = (
        pms.why_payments_by_hand()
        if issubclass(pms, PaymentsByHand)
        else f"{fp.pms}: recording payments through its API is not supported"
    )
    say(f"{why}: post these by hand, then `billsync pay posted ID`.")
    table = Table(title=f"{len(todo)} to post in {fp.pms}")
    for column in ("id", "date", "what", "client", "invoice", "account", "amount"):
        table.add_column(column, justify="right" if column == "amount" else "left", overflow="fold")
    for p in todo:
        table.add_row(
            *text_cells(p.record_id, p.on, p.what, p.client_id or "?", p.invoice or "", p.account, f"{p.amount:,.2f}")
        )
    console.print(table)


@pay_app.command("posted")
def posted(
    record: Annotated[str, typer.Argument(help="Transaction or transfer id from the post-list.")],
    config: ConfigOption = None,
    firm: FirmOption = None,
) -> None:
    """Mark a payment or transfer as posted in the PMS."""
    fp = _firm(config, firm)
    if not fp.payments.mark_posted(fp.firm, record):
        raise BillsyncError(f"no transaction or transfer {record}")
    for kind in ("post_transfer", charges.POST_REFUND):
        fp.payments.close_tasks(fp.firm, kind=kind, key=record)
    say(f"{record} marked posted")


@pay_app.command("resolve")
def resolve(
    intent: Annotated[str, typer.Argument(help="The held charge's intent id (from `pay tasks`).")],
    transaction: Annotated[str | None, typer.Option(help="The gateway transaction that is this charge.")] = None,
    not_charged: Annotated[bool, typer.Option("--not-charged", help="Nothing was charged.")] = False,
    config: ConfigOption = None,
    firm: FirmOption = None,
) -> None:
    """A person's decision on a charge whose outcome was unknown."""
    if (transaction is None) == (not not_charged):
        raise BillsyncError("give exactly one of --transaction ID or --not-charged")
    settled = charges.resolve(_firm(config, firm), intent, transaction_id=transaction)
    say(f"{settled.purpose.value} {settled.id}: {settled.status.value}")
