"""Payment plans: an invoice balance split into scheduled charges on a saved method, into operating."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import ROUND_UP, Decimal

from core.errors import BillsyncError, Fatal, Indeterminate
from core.gateway import PaymentDeclined, PlanRequest
from core.ids import new_id
from core.payments import references
from core.payments.firm import FirmPayments
from core.payments.headroom import LIVE_PLANS
from core.payments.models import Intent, IntentStatus, Plan, Purpose
from core.payments.routing import check_charge


def instalment_for(balance: Decimal, instalments: int) -> Decimal:
    """Each instalment, rounded up to the cent so the count covers the balance; the last is smaller."""
    return (balance / instalments).quantize(Decimal("0.01"), rounding=ROUND_UP)


def create_plan(
    fp: FirmPayments, number: str, *, method: str, instalments: int | None = None, start: date | None = None
) -> Plan:
    """Schedule the invoice's outstanding balance, per the client's configuration."""
    bill = fp.invoice(number)
    config = fp.settings.client(bill.client_id)
    if not config.plans_allowed:
        raise BillsyncError(f"client {bill.client_id} has no payment plans (set plans_allowed in payments.clients)")
    count = instalments or config.plan_instalments
    today = fp.now().date()
    first = start or today + timedelta(days=1)
    if first <= today:  # docs/vendors/lawpay.md §8: first_occurrence_due_immediately
        raise BillsyncError("a plan's first payment must be after today")
    account = fp.accounts.for_purpose(Purpose.PLAN)[0]
    kind = fp.account_kind(account)
    check_charge(Purpose.PLAN, kind, number)
    plan_id = new_id()
    reference = references.tagged(references.invoice_key(bill), f"plan {plan_id}")
    with fp.payments.movement(fp.firm, bill.client_id) as locked:
        claims = fp.claims()
        if any(p.bill_id == bill.id and p.status in LIVE_PLANS for p in claims.plans):
            raise BillsyncError(f"invoice {number} already has a payment plan")
        room = claims.invoice(bill)
        balance = room.free
        if balance <= 0:
            raise BillsyncError(f"invoice {number} has nothing free to schedule: it owes {room.figures()}")
        intent = Intent(
            id=new_id(),
            reference=reference,
            purpose=Purpose.PLAN,
            client_id=bill.client_id,
            matter_id=None,
            bill_id=bill.id,
            account_id=account,
            account_kind=kind,
            method=method,
            amount=balance,
        )
        plan = Plan(
            id=plan_id,
            bill_id=bill.id,
            client_id=bill.client_id,
            intent_id=intent.id,
            instalment=instalment_for(balance, count),
            total=balance,
            instalments=count,
            interval=config.plan_interval,
            start=first,
            status="requested",
        )
        locked.add_intent(intent)
        locked.save_plan(plan)
    request = PlanRequest(
        account_id=account,
        method=method,
        amount=plan.instalment,
        max_amount=balance,
        max_occurrences=count,
        start=first,
        interval=plan.interval,
        reference=reference,
        description=f"Invoice {number} in {count} payments",
    )
    fp.payments.set_intent(fp.firm, intent.id, IntentStatus.SENDING)
    try:
        made = fp.gateway.create_plan(request)
    except Indeterminate:
        fp.payments.set_intent(fp.firm, intent.id, IntentStatus.HELD, error="plan creation outcome unknown")
        fp.payments.add_tasks(
            fp.firm,
            [
                (
                    "plan_unknown",
                    reference,
                    f"Payment plan for invoice {number} may or may "
                    f"not exist in {fp.gateway_vendor} (reference {reference}): check before creating another",
                )
            ],
        )
        held = replace(plan, status="held")
        fp.payments.save_plan(fp.firm, held)
        return held
    except (PaymentDeclined, Fatal) as exc:
        fp.payments.set_intent(fp.firm, intent.id, IntentStatus.DECLINED, error=str(exc))
        fp.payments.save_plan(fp.firm, replace(plan, status="refused"))
        raise BillsyncError(f"{fp.gateway_vendor} refused the plan for invoice {number}: {exc}") from None
    fp.payments.set_intent(fp.firm, intent.id, IntentStatus.SUCCEEDED)
    active = replace(plan, status="active", gateway_plan_id=made.id)
    fp.payments.save_plan(fp.firm, active)
    return active


def cancel_plan(fp: FirmPayments, plan_id: str) -> Plan:
    """Stop a plan's future charges."""
    found = [p for p in fp.payments.plans(fp.firm) if p.id == plan_id]
    if not found or found[0].gateway_plan_id is None:
        raise BillsyncError(f"no active payment plan {plan_id}")
    fp.gateway.cancel_plan(found[0].gateway_plan_id)
    canceled = replace(found[0], status="canceled")
    fp.payments.save_plan(fp.firm, canceled)
    return canceled
