"""Exactly-once charges and refunds: an intent is stored before the gateway is called, and one
whose outcome is unknown is looked up by its reference, never sent again; if it cannot be found it
is held for a person (docs/vendors/lawpay.md §13: the gateway offers no idempotency key).

An invoice charge and a refund are checked against what is free (core.payments.headroom) and
their intents stored under the client's money lock (PaymentStore.movement), so concurrent
workers can never together charge an invoice beyond its balance or refund what trust no longer
holds. The gateway is called after the lock is let go.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from core.errors import AuthFailed, BillsyncError, Fatal, Indeterminate, Retryable
from core.gateway import PaymentDeclined
from core.ids import new_id
from core.payments import references
from core.payments.firm import FirmPayments
from core.payments.models import COUNTED, AccountKind, Intent, IntentStatus, Purpose, Transaction
from core.payments.reconcile import bills_by_key
from core.payments.routing import TrustViolation, check_charge

UNKNOWN_OUTCOME = "charge_unknown"
REFUND_REFUSED = "trust_refund_refused"  # a person decides what to do about a refund trust cannot cover
POST_REFUND = "post_trust_refund"  # record the trust refund in the PMS's trust ledger


def charge_invoice(
    fp: FirmPayments,
    number: str,
    *,
    method: str,
    amount: Decimal | None = None,
    account_id: str | None = None,
    method_type: str = "card",
) -> Intent:
    """Charge a saved method or one-time token for an issued invoice, into operating.

    Never beyond what the invoice still owes less what charges under way and live plans have
    claimed: checked and claimed under the client's money lock, whatever runs at once.
    """
    bill = fp.invoice(number)
    account = account_id or fp.accounts.for_purpose(Purpose.INVOICE, method_type)[0]
    kind = fp.account_kind(account)
    check_charge(Purpose.INVOICE, kind, number)
    intent_id = new_id()
    with fp.payments.movement(fp.firm, bill.client_id) as locked:
        room = fp.claims().invoice(bill)
        wanted = room.free if amount is None else amount
        if wanted <= 0 or wanted > room.free:
            under_way = (
                ". A charge under way or a live payment plan claims part of it: let it finish, or resolve a held "
                "charge (`billsync pay tasks`) before charging again"
                if room.claimed
                else ""
            )
            what = "has nothing left to charge" if amount is None else f"cannot take a charge of ${wanted}"
            raise BillsyncError(f"invoice {number} {what}: it owes {room.figures()}{under_way}")
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
            amount=wanted,
        )
        locked.add_intent(intent)
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
    if amount <= 0:
        raise BillsyncError("a deposit must be a positive amount")
    fp.check_client(client_id, matter_id)
    account = account_id or fp.accounts.for_purpose(purpose, method_type)[0]
    kind = fp.account_kind(account)
    check_charge(purpose, kind, f"the deposit for client {client_id}")
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


def refund_charge(fp: FirmPayments, charge_id: str, amount: Decimal) -> Intent:
    """Give back part or all of a charge, from the account it went to.

    Never more than the charge has left unrefunded; from trust, never more than the client's
    pool holds at that moment (ABA Model Rule 1.15: another client's money never pays it). A
    trust refund refused for want of funds raises a task with the figures for a person.
    """
    if amount <= 0:
        raise BillsyncError("a refund must be a positive amount")
    at_gateway = fp.gateway.transaction(charge_id)
    if at_gateway.kind != "charge":
        raise BillsyncError(f"{charge_id} is a {at_gateway.kind}, not a charge: only a charge is refunded")
    if at_gateway.status not in COUNTED:
        raise BillsyncError(f"charge {charge_id} is {at_gateway.status}: there is nothing to refund")
    kind = fp.account_kind(at_gateway.account_id)
    if kind is AccountKind.UNKNOWN:
        raise TrustViolation(
            f"refused: charge {charge_id} went to account {at_gateway.account_id}, which the gateway does not flag "
            f"as trust or operating: refund it in {fp.gateway_vendor} by hand"
        )
    charge = replace(fp.local(at_gateway), account_kind=kind)
    fp.payments.save_transactions(fp.firm, [charge])  # so the ledger knows whose money it is
    intent_id = new_id()
    refused: str | None = None
    with fp.payments.movement(fp.firm, _owner(fp, charge)) as locked:
        claims = fp.claims()
        left = claims.refundable(charge.id, charge.amount, at_gateway.amount_refunded)
        if amount > left.free:
            raise BillsyncError(
                f"charge {charge_id} of ${charge.amount} cannot be refunded ${amount}: unrefunded {left.figures()}"
            )
        match = claims.match_of(charge.id)
        client_id = match.client_id if match is not None else None
        pool = match.matter_id if match is not None else None
        if kind is AccountKind.TRUST:
            if client_id is None:
                raise TrustViolation(
                    f"refused: trust charge {charge_id} names no client (reference {charge.reference!r}), so whose "
                    f"trust money would pay the refund is unknown: decide in {fp.gateway_vendor} and the trust ledger "
                    "by hand"
                )
            held = claims.trust(client_id, pool)
            if amount > held.free:
                refused = (
                    f"Refund of ${amount} on trust charge {charge_id} refused: client {client_id}'s trust "
                    f"({pool or 'client pool'}) holds {held.figures()}; the rest was spent (transferred or refunded). "
                    "Other clients' trust money never pays a refund: return the difference from operating, if owed."
                )
                locked.add_tasks([(REFUND_REFUSED, f"{charge_id}:{amount}", refused)])
        if refused is None:
            base = references.parse(charge.reference)
            intent = Intent(
                id=intent_id,
                reference=references.tagged(_base(base, charge_id), intent_id),
                purpose=Purpose.REFUND,
                client_id=client_id or "",
                matter_id=pool,
                bill_id=match.bill.id if match is not None and match.bill is not None else None,
                account_id=charge.account_id,
                account_kind=kind,
                method=None,
                amount=amount,
                parent_id=charge.id,
            )
            locked.add_intent(intent)
    if refused is not None:
        raise TrustViolation(refused)
    done = execute(fp, intent)
    if done.status is IntentStatus.SUCCEEDED and kind is AccountKind.TRUST:
        fp.payments.add_tasks(
            fp.firm,
            [
                (
                    POST_REFUND,
                    done.transaction_id or done.id,
                    f"Record in the PMS trust ledger a refund of ${amount} to client {client_id} "
                    f"({pool or 'client pool'}) from trust charge {charge_id}; then "
                    f"`billsync pay posted {done.transaction_id}`",
                )
            ],
        )
    return done


def execute(fp: FirmPayments, intent: Intent) -> Intent:
    """Send a stored intent once. Marked `sending` (committed) before the request leaves."""
    fp.payments.set_intent(fp.firm, intent.id, IntentStatus.SENDING)
    try:
        if intent.purpose is Purpose.REFUND:
            assert intent.parent_id is not None
            tx = fp.gateway.refund(intent.parent_id, intent.amount, intent.reference)
        else:
            tx = fp.gateway.charge(
                account_id=intent.account_id,
                method=intent.method or "",
                amount=intent.amount,
                reference=intent.reference,
            )
    except PaymentDeclined as exc:
        fp.log.info("payment declined", intent=intent.id, code=exc.code)
        return fp.payments.set_intent(fp.firm, intent.id, IntentStatus.DECLINED, error=exc.code)
    except Indeterminate:
        fp.log.warning("payment outcome unknown; looking it up by reference", intent=intent.id)
        return recover(fp, intent)
    except (Retryable, AuthFailed) as exc:
        # Refused before the gateway acted (429, connection refused, bad key): nothing moved.
        fp.payments.set_intent(fp.firm, intent.id, IntentStatus.DECLINED, error=f"not sent: {exc}")
        raise
    except Fatal as exc:
        return fp.payments.set_intent(fp.firm, intent.id, IntentStatus.DECLINED, error=str(exc))
    return fp.payments.set_intent(
        fp.firm, intent.id, IntentStatus.SUCCEEDED, transaction_id=tx.id, transactions=[fp.local(tx)]
    )


def recover(fp: FirmPayments, intent: Intent) -> Intent:
    """Find an intent's charge by reference; hold it for a person when it cannot be found."""
    try:
        found = list(fp.gateway.find_by_reference(intent.reference))
    except (Retryable, Fatal, AuthFailed) as exc:
        return _hold(fp, intent, f"the lookup failed too ({exc})")
    if not found:
        return _hold(fp, intent, "no transaction carries its reference yet")
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
    return fp.payments.set_intent(
        fp.firm,
        intent.id,
        IntentStatus.SUCCEEDED,
        transaction_id=found[0].id,
        transactions=[fp.local(tx) for tx in found],
    )


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


def charge_id(fp: FirmPayments, named: str) -> str:
    """The gateway's charge id for what a person typed: that id, or the intent id `pay charge` printed."""
    found = fp.payments.intents(fp.firm, ids=[named])
    if found and found[0].transaction_id is not None and found[0].purpose is not Purpose.REFUND:
        return found[0].transaction_id
    return named


def resolve(fp: FirmPayments, intent_id: str, *, transaction_id: str | None) -> Intent:
    """A person's decision on a held intent: it was charged (this transaction), or it was not."""
    found = fp.payments.intents(fp.firm, ids=[intent_id])
    if not found:
        raise BillsyncError(f"no charge or refund {intent_id[:80]!r}: take the id from `billsync pay tasks`")
    intent = found[0]
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
    return fp.payments.set_intent(
        fp.firm, intent.id, IntentStatus.SUCCEEDED, transaction_id=tx.id, transactions=[fp.local(tx)]
    )


def _hold(fp: FirmPayments, intent: Intent, why: str) -> Intent:
    what = "Refund" if intent.purpose is Purpose.REFUND else "Charge"
    message = (
        f"{what} of ${intent.amount} ({intent.reference}) has an unknown outcome and {why}. "
        f"Look for it in {fp.gateway_vendor}; "
        f"then `billsync pay resolve {intent.id} --transaction ID` or `--not-charged`. "
        "Do not send it again before that."
    )
    fp.payments.add_tasks(fp.firm, [(UNKNOWN_OUTCOME, intent.reference, message)])
    return fp.payments.set_intent(fp.firm, intent.id, IntentStatus.HELD, error=why)


def _owner(fp: FirmPayments, charge: Transaction) -> str:
    """Whose money lock a refund of this charge takes: the client its reference names, else the charge's own."""
    parsed = references.parse(charge.reference)
    if parsed is not None and parsed.client_id is not None:
        return parsed.client_id
    bill = bills_by_key(fp.bills()).get(parsed.invoice) if parsed is not None and parsed.invoice else None
    return bill.client_id if bill is not None else f"charge:{charge.id}"


def _base(parsed: references.ParsedReference | None, charge_id: str) -> str:
    """The part of a charge's reference that names what it paid, for its refund's own reference."""
    if parsed is None:
        return charge_id
    if parsed.client_id is not None:
        return references.trust_reference(parsed.client_id, parsed.matter_id)
    return parsed.invoice or charge_id
