"""Exactly-once charges: an intent is stored before the gateway is called, and a charge whose
outcome is unknown is looked up by its reference, never sent again; if it cannot be found it is
held for a person (lawpay.md §13: the gateway offers no idempotency key).
"""

from __future__ import annotations

from decimal import Decimal

from core.errors import AuthFailed, BillsyncError, Fatal, Indeterminate, Retryable
from core.gateway import PaymentDeclined
from core.ids import new_id
from core.payments import references
from core.payments.firm import FirmPayments
from core.payments.models import OPEN_INTENTS, Intent, IntentStatus, Purpose
from core.payments.routing import check_charge

UNKNOWN_OUTCOME = "charge_unknown"


def charge_invoice(
    fp: FirmPayments,
    number: str,
    *,
    method: str,
    amount: Decimal | None = None,
    account_id: str | None = None,
    method_type: str = "card",
) -> Intent:
    """Charge a saved method or one-time token for an issued invoice, into operating."""
    bill = fp.invoice(number)
    balance = fp.ledger().invoices[bill.id].balance
    amount = balance if amount is None else amount
    if amount <= 0 or amount > balance:
        raise BillsyncError(f"invoice {number} has ${balance} outstanding: cannot charge ${amount}")
    account, kind = fp.accounts.for_purpose(Purpose.INVOICE, method_type)
    if account_id is not None:
        account, kind = account_id, fp.accounts.kind(account_id)
    check_charge(Purpose.INVOICE, kind, number)
    _refuse_if_open(fp, bill.id, number)
    intent_id = new_id()
    intent = Intent(
        id=intent_id,
        reference=references.tagged(references.invoice_key(bill), intent_id),
        purpose=Purpose.INVOICE,
        client_id=bill.client_id,
        matter_id=bill.matter_ids[0] if len(bill.matter_ids) == 1 else None,
        bill_id=bill.id,
        account_id=account,
        account_kind=kind,
        method=method,
        amount=amount,
    )
    fp.payments.add_intent(fp.firm, intent)
    return execute(fp, intent)


def deposit_to_trust(
    fp: FirmPayments,
    client_id: str,
    amount: Decimal,
    *,
    method: str,
    matter_id: str | None = None,
    purpose: Purpose = Purpose.RETAINER,
    account_id: str | None = None,
    method_type: str = "card",
) -> Intent:
    """Charge a retainer or evergreen top-up into trust, in full: no fee is ever netted off it."""
    account, kind = fp.accounts.for_purpose(purpose, method_type)
    if account_id is not None:
        account, kind = account_id, fp.accounts.kind(account_id)
    check_charge(purpose, kind, f"the deposit for client {client_id}")
    if amount <= 0:
        raise BillsyncError("a deposit must be a positive amount")
    intent_id = new_id()
    intent = Intent(
        id=intent_id,
        reference=references.tagged(references.trust_reference(client_id, matter_id), intent_id),
        purpose=purpose,
        client_id=client_id,
        matter_id=matter_id,
        bill_id=None,
        account_id=account,
        account_kind=kind,
        method=method,
        amount=amount,
    )
    fp.payments.add_intent(fp.firm, intent)
    return execute(fp, intent)


def execute(fp: FirmPayments, intent: Intent) -> Intent:
    """Send a stored intent once. Marked `sending` (committed) before the request leaves."""
    fp.payments.set_intent(fp.firm, intent.id, IntentStatus.SENDING)
    try:
        tx = fp.gateway.charge(
            account_id=intent.account_id, method=intent.method or "", amount=intent.amount, reference=intent.reference
        )
    except PaymentDeclined as exc:
        fp.log.info("payment declined", intent=intent.id, code=exc.code)
        return fp.payments.set_intent(fp.firm, intent.id, IntentStatus.DECLINED, error=exc.code)
    except Indeterminate:
        fp.log.warning("charge outcome unknown; looking it up by reference", intent=intent.id)
        return recover(fp, intent)
    except (Retryable, AuthFailed) as exc:
        # Refused before the gateway acted (429, connection refused, bad key): nothing was charged.
        fp.payments.set_intent(fp.firm, intent.id, IntentStatus.DECLINED, error=f"not sent: {exc}")
        raise
    except Fatal as exc:
        return fp.payments.set_intent(fp.firm, intent.id, IntentStatus.DECLINED, error=str(exc))
    fp.payments.save_transactions(fp.firm, [fp.local(tx)])
    return fp.payments.set_intent(fp.firm, intent.id, IntentStatus.SUCCEEDED, transaction_id=tx.id)


def recover(fp: FirmPayments, intent: Intent) -> Intent:
    """Find an intent's charge by reference; hold it for a person when it cannot be found."""
    try:
        found = list(fp.gateway.find_by_reference(intent.reference))
    except (Retryable, Fatal, AuthFailed) as exc:
        return _hold(fp, intent, f"the lookup failed too ({exc})")
    if not found:
        return _hold(fp, intent, "no transaction carries its reference yet")
    fp.payments.save_transactions(fp.firm, [fp.local(tx) for tx in found])
    fp.payments.close_tasks(fp.firm, kind=UNKNOWN_OUTCOME, key=intent.reference)
    if len(found) > 1:  # never by billsync's doing: each intent is sent once
        fp.payments.add_tasks(
            fp.firm,
            [
                (
                    "duplicate_charge",
                    intent.reference,
                    f"{len(found)} transactions carry reference {intent.reference}: refund extras",
                )
            ],
        )
    return fp.payments.set_intent(fp.firm, intent.id, IntentStatus.SUCCEEDED, transaction_id=found[0].id)


def recheck(fp: FirmPayments) -> list[Intent]:
    """Look up every intent with an unknown outcome again (lookups only: nothing is re-sent)."""
    waiting = fp.payments.intents(fp.firm, statuses=[IntentStatus.SENDING, IntentStatus.HELD])
    known = {t.reference: t for t in fp.payments.transactions(fp.firm) if t.reference}
    settled = []
    for intent in waiting:
        tx = known.get(intent.reference)
        if tx is not None:  # an event already brought it
            fp.payments.close_tasks(fp.firm, kind=UNKNOWN_OUTCOME, key=intent.reference)
            settled.append(fp.payments.set_intent(fp.firm, intent.id, IntentStatus.SUCCEEDED, transaction_id=tx.id))
        else:
            settled.append(recover(fp, intent))
    return settled


def resolve(fp: FirmPayments, intent_id: str, *, transaction_id: str | None) -> Intent:
    """A person's decision on a held intent: it was charged (this transaction), or it was not."""
    intent = fp.payments.intent(fp.firm, intent_id)
    if intent.status not in (IntentStatus.HELD, IntentStatus.SENDING):
        raise BillsyncError(f"intent {intent_id} is {intent.status.value}: only a held charge is resolved by hand")
    fp.payments.close_tasks(fp.firm, kind=UNKNOWN_OUTCOME, key=intent.reference)
    if transaction_id is None:
        return fp.payments.set_intent(fp.firm, intent.id, IntentStatus.ABANDONED, error="a person confirmed no charge")
    tx = fp.gateway.transaction(transaction_id)
    if tx.reference != intent.reference:
        raise BillsyncError(
            f"transaction {transaction_id} carries reference {tx.reference!r}, not {intent.reference!r}"
        )
    fp.payments.save_transactions(fp.firm, [fp.local(tx)])
    return fp.payments.set_intent(fp.firm, intent.id, IntentStatus.SUCCEEDED, transaction_id=tx.id)


def _hold(fp: FirmPayments, intent: Intent, why: str) -> Intent:
    message = (
        f"Charge of ${intent.amount} ({intent.reference}) has an unknown outcome and {why}. Look for it in LawPay; "
        f"then `billsync pay resolve {intent.id} --transaction ID` or `--not-charged`. Do not charge again before that."
    )
    fp.payments.add_tasks(fp.firm, [(UNKNOWN_OUTCOME, intent.reference, message)])
    return fp.payments.set_intent(fp.firm, intent.id, IntentStatus.HELD, error=why)


def _refuse_if_open(fp: FirmPayments, bill_id: str, number: str) -> None:
    for intent in fp.payments.intents(fp.firm, statuses=OPEN_INTENTS, bill_id=bill_id):
        if intent.purpose is Purpose.INVOICE:
            raise BillsyncError(
                f"a charge for invoice {number} ({intent.id}) is {intent.status.value}: "
                "resolve it before charging again"
            )
