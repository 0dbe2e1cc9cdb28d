"""Retainer deductions: trust money applied to an issued invoice, only as a recorded transfer.

Checked and recorded under the client's money lock (PaymentStore.movement): trust never goes
below zero and an invoice is never overpaid, whatever runs at once (the daemon's retainer job, a
person's `pay transfer`, a refund).

Never silent: every transfer is stored with its reason and raises a task to record the same
trust -> operating transfer in the PMS. The client's configuration decides whether billsync may
do it on its own (auto), only when asked (on_request) or never.
"""

from __future__ import annotations

from decimal import Decimal

from core.errors import BillsyncError, ShuttingDown
from core.ids import new_id
from core.models import BillState
from core.payments import references
from core.payments.firm import FirmPayments
from core.payments.ledger import ZERO
from core.payments.models import Transfer
from core.payments.reconcile import bill_matter


def transfer_from_trust(
    fp: FirmPayments, number: str, *, amount: Decimal | None = None, reason: str, automatic: bool = False
) -> list[Transfer]:
    """Apply trust to an issued invoice: the matter's pool first, then the client's general pool."""
    bill = fp.invoice(number)
    if bill.state is not BillState.AWAITING_PAYMENT:  # fp.invoice checks too: this is the rule itself
        raise BillsyncError(f"invoice {number} is not issued: trust is applied only to an issued invoice")
    mode = fp.settings.client(bill.client_id).retainer_deduction
    if mode == "never":
        raise BillsyncError(f"client {bill.client_id} does not allow retainer deductions (retainer_deduction = never)")
    if automatic and mode != "auto":
        raise BillsyncError(f"client {bill.client_id} allows retainer deductions only on request")
    if not reason.strip():
        raise BillsyncError("a trust transfer needs a reason (it is recorded)")
    fp.verified_accounts()  # trust -> operating: both must be what LawPay says they are
    pools = list(dict.fromkeys([bill_matter(bill), None]))
    with fp.payments.movement(fp.firm, bill.client_id) as locked:
        claims = fp.claims()
        owed = claims.invoice(bill)
        available = {pool: claims.trust(bill.client_id, pool).free for pool in pools}
        held = sum(available.values(), ZERO)
        wanted = min(owed.free, held) if amount is None else amount
        if wanted <= 0:
            raise BillsyncError(f"nothing to transfer: invoice {number} owes {owed.figures()}; trust holds ${held}")
        if wanted > owed.free:
            raise BillsyncError(f"invoice {number} owes {owed.figures()}: a transfer of ${wanted} would overpay it")
        if wanted > held:
            raise BillsyncError(f"trust holds ${held} free for client {bill.client_id}: cannot transfer ${wanted}")
        made: list[Transfer] = []
        left = wanted
        for pool in pools:
            take = min(left, available[pool])
            if take > 0:
                made.append(
                    Transfer(
                        id=new_id(),
                        bill_id=bill.id,
                        client_id=bill.client_id,
                        matter_id=pool,
                        amount=take,
                        reason=reason,
                        created_at=fp.now(),
                    )
                )
                left -= take
        tasks = [
            (
                "post_transfer",
                t.id,
                f"Record in the PMS a trust-to-operating transfer of ${t.amount} for client "
                f"{t.client_id}{f' matter {t.matter_id}' if t.matter_id else ''} applied to invoice "
                f"{references.invoice_key(bill)} ({t.reason}); then `billsync pay posted {t.id}`",
            )
            for t in made
        ]
        locked.add_transfers(made, tasks)
    fp.log.info("trust applied to invoice", invoice=number, amount=str(wanted), transfers=len(made))
    return made


def apply_retainers(fp: FirmPayments) -> list[Transfer]:
    """For clients set to `auto`: pay each issued invoice from the trust they hold."""
    made: list[Transfer] = []
    ledger = fp.ledger()
    for balance in ledger.invoices.values():
        bill = balance.bill
        if bill.state is not BillState.AWAITING_PAYMENT or balance.balance <= 0:
            continue
        if fp.settings.client(bill.client_id).retainer_deduction != "auto":
            continue
        pools = {bill_matter(bill), None}
        if sum((max(ledger.trust(bill.client_id, p), ZERO) for p in pools), ZERO) <= 0:
            continue
        try:
            made += transfer_from_trust(
                fp, references.invoice_key(bill), reason="retainer applied per the client's agreement", automatic=True
            )
        except ShuttingDown:
            raise  # the process is stopping: not a reason about this invoice
        except BillsyncError as exc:  # a person's transfer or a refund took the money first
            fp.log.info("retainer not applied", invoice=references.invoice_key(bill), reason=str(exc))
        ledger = fp.ledger()
    return made
