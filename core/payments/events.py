"""Gateway events, read in order from a stored cursor and applied once each.

Webhook deliveries are unsigned (docs/vendors/lawpay.md §11): a delivery only triggers this poll, and what
is applied always comes from the gateway's API. Each batch's transactions, tasks, event ids and
the new cursor are stored in one database transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from core.gateway import GatewayEvent
from core.payments.firm import FirmPayments
from core.payments.models import COUNTED, Plan, Transaction

Task = tuple[str, str, str]


@dataclass
class EventReport:
    """What one poll applied."""

    events: int = 0
    transactions: int = 0
    tasks: list[Task] = field(default_factory=list)


def process_events(fp: FirmPayments) -> EventReport:
    """Read every new event and apply it; safe to run at any time and as often as wanted."""
    report = EventReport()
    known = {t.id: t for t in fp.payments.transactions(fp.firm)}
    plans = {p.gateway_plan_id: p for p in fp.payments.plans(fp.firm) if p.gateway_plan_id}
    for batch in fp.gateway.events(fp.payments.cursor(fp.firm, fp.gateway_name)):
        seen = fp.payments.seen_events(fp.firm, fp.gateway_name, [e.id for e in batch.events])
        fresh = [e for e in batch.events if e.id not in seen]
        transactions: list[Transaction] = []
        tasks: list[Task] = []
        for event in fresh:
            if event.transaction is not None:
                tx = fp.local(event.transaction)
                tasks += _transaction_tasks(tx, known.get(tx.id))
                known[tx.id] = tx
                transactions.append(tx)
            tasks += _plan_tasks(event, plans)
            if event.type == "recurring_charge.completed" and event.plan_id in plans:
                assert event.plan_id is not None
                fp.payments.save_plan(fp.firm, replace(plans[event.plan_id], status="completed"))
        fp.payments.save_event_batch(
            fp.firm,
            gateway=fp.gateway_name,
            events=[(e.id, e.type, e.created) for e in fresh],
            cursor=batch.cursor,
            transactions=transactions,
            tasks=tasks,
        )
        report.events += len(fresh)
        report.transactions += len(transactions)
        report.tasks += tasks
    return report


def _transaction_tasks(tx: Transaction, before: Transaction | None) -> list[Task]:
    if tx.kind == "charge" and tx.status == "failed" and before is not None and before.status in COUNTED:
        return [
            (
                "reversed_payment",
                tx.id,
                f"Payment {tx.id} (${tx.amount}, reference {tx.reference}) was reversed "
                f"after it was accepted ({tx.failure_code or 'no reason given'}): a chargeback or returned eCheck. "
                "Reverse it in the PMS if it was posted, and contact the client.",
            )
        ]
    return []


def _plan_tasks(event: GatewayEvent, plans: dict[str, Plan]) -> list[Task]:
    plan = plans.get(event.plan_id or "")
    what = f"the payment plan for bill {plan.bill_id}" if plan else f"payment plan {event.plan_id}"
    if event.type == "recurring_charge.occurrence.failed":
        return [
            (
                "plan_payment_failed",
                event.id,
                f"A scheduled payment of {what} failed "
                f"({event.failure_code or 'declined'}): contact the client for another payment method.",
            )
        ]
    if event.type in ("recurring_charge.payment_method.expiring", "recurring_charge.payment_method.expired"):
        state = "expires this month" if event.type.endswith("expiring") else "has expired"
        return [
            (
                "card_expiring",
                f"{event.plan_id}:{event.type}",
                f"The card paying {what} {state}: ask the client for a new one before the next payment.",
            )
        ]
    if event.type in ("payment_method.expiring", "payment_method.expired"):
        return [("card_expiring", event.id, f"A saved card ({event.type.split('.')[-1]}) needs replacing.")]
    return []
