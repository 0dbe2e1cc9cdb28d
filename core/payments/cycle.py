"""The periodic payments job for the scheduler: one call per firm.

`run_payments_cycle(fp)`: look up charges with unknown outcomes (lookups only), read and apply
new gateway events, apply retainers for clients set to `auto`, and raise tasks for unmatched
payments and overpayments. Idempotent: running it twice in a row changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.logging import figures
from core.payments import charges, references
from core.payments.events import EventReport, process_events
from core.payments.firm import FirmPayments
from core.payments.models import Transfer
from core.payments.reconcile import Target
from core.payments.transfers import apply_retainers


@dataclass
class CycleReport:
    """One run's outcome, for the job's summary log line."""

    events: EventReport
    resolved: int = 0
    transfers: list[Transfer] = field(default_factory=list)
    open_tasks: int = 0


def run_payments_cycle(fp: FirmPayments) -> CycleReport:
    """Everything payments does on a schedule, for one firm."""
    events = process_events(fp)
    resolved = [i for i in charges.recheck(fp) if i.status.value == "succeeded"]
    transfers = apply_retainers(fp)
    _raise_reconciliation_tasks(fp)
    report = CycleReport(events, len(resolved), transfers, len(fp.payments.tasks(fp.firm)))
    figures(  # a daemon run's `job` line carries these; elsewhere this is the cycle's one line
        fp.log,
        "payments cycle",
        events=events.events,
        transactions=events.transactions,
        charges_resolved=report.resolved,
        transfers=len(transfers),
        open_tasks=report.open_tasks,
    )
    return report


def _raise_reconciliation_tasks(fp: FirmPayments) -> None:
    ledger = fp.ledger()
    tasks = []
    for m in ledger.unmatched:
        if m.signed:
            tasks.append(
                (
                    "unmatched_payment",
                    m.transaction.id,
                    f"Payment {m.transaction.id} of ${m.transaction.amount} "
                    f"({m.transaction.account_kind.value}) matches no invoice: {m.note}",
                )
            )
    for m in fp.matches():
        # Only a deposit can name an invoice; a refund follows its charge and has tasks of its own.
        if m.target is Target.TRUST and m.transaction.kind == "charge" and m.note and m.signed:
            tasks.append(
                (
                    "trust_names_invoice",
                    m.transaction.id,
                    f"Trust deposit {m.transaction.id} of ${m.transaction.amount} for client {m.client_id}: {m.note}",
                )
            )
    for row in ledger.rows:
        if row.trust < 0:  # only money moved outside billsync (LawPay's own screens) can do this
            pool = f"matter {row.matter_id}" if row.matter_id else "client pool"
            tasks.append(
                (
                    "trust_overdrawn",
                    f"{row.client_id}:{row.matter_id or ''}",
                    f"Client {row.client_id}'s trust ({pool}) is ${row.trust} below zero: other clients' money "
                    "covers it. Find the refund or transfer made outside billsync and restore the trust account now.",
                )
            )
    for balance in ledger.invoices.values():
        if balance.balance < 0:
            number = references.invoice_key(balance.bill)
            tasks.append(
                (
                    "overpayment",
                    balance.bill.id,
                    f"Invoice {number} is overpaid by ${-balance.balance}: "
                    "refund the client or keep it as a credit, and record that in the PMS.",
                )
            )
    fp.payments.add_tasks(fp.firm, tasks)
