"""What a person does with bills in Clio's UI: generate one, void or delete it (docs/vendors/clio.md §3.13)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from billsync_sandboxes.clio.api.activities import ON_BILL_STATES
from billsync_sandboxes.clio.api.resources import ACTIVITIES, BILLS, LINE_ITEMS
from billsync_sandboxes.clio.errors import bad_request, not_found, not_simulated, unprocessable
from billsync_sandboxes.kit import Record

if TYPE_CHECKING:
    from billsync_sandboxes.clio.state import ClioSandbox

# Approximate; Clio reports the real list per bill in available_state_transitions.
STATE_TRANSITIONS: Mapping[str, list[str]] = {
    "draft": ["awaiting_approval", "awaiting_payment"],
    "awaiting_approval": ["draft", "awaiting_payment"],
    "awaiting_payment": ["draft", "void"],
    "paid": [],
    "void": [],
    "deleted": [],
}
UNLOCKING_STATES = frozenset({"void", "deleted"})
# docs/vendors/clio.md §3.13 "PATCH a bill": the documented write keys. The sandbox keeps the plain ones as
# given, moves `state` along the offered transitions, and answers 501 for the rest.
PLAIN_BILL_KEYS = frozenset({"issued_at", "due_at", "subject", "memo", "number", "purchase_order", "use_grace_period"})
UNSIMULATED_BILL_KEYS = frozenset(
    {"tax_rate", "secondary_tax_rate", "discount", "interest", "bill_theme", "currency_id"}
)


def generate_bill(
    sandbox: ClioSandbox,
    matter_id: object,
    *,
    state: str = "draft",
    issued_at: str | None = None,
    due_at: str | None = None,
    activity_ids: Sequence[object] | None = None,
) -> Record:
    """Bill a matter's unbilled billable activities, as Quick bill in Clio's UI would."""
    if state not in ON_BILL_STATES:
        raise unprocessable(f"a new bill must be in one of {sorted(ON_BILL_STATES)}")
    matter = sandbox.collections["matters"].find(matter_id)
    if matter is None:
        raise not_found(f"Matter {matter_id} not found")
    wanted = None if activity_ids is None else {str(i) for i in activity_ids}
    entries = [
        activity
        for activity in sandbox.collections["activities"].all()
        if str((activity.get("matter") or {}).get("id")) == str(matter["id"])
        and (wanted is None or str(activity["id"]) in wanted)
        and _billable(sandbox, activity)
    ]
    if not entries:
        raise unprocessable("the matter has no unbilled billable activities")
    figures = [sandbox.renderer.activity_figures(activity) for activity in entries]
    services = sum(f["total"] for f, a in zip(figures, entries, strict=True) if _is_time(a))
    total = round(sum(f["total"] for f in figures), 2)
    issued = date.fromisoformat(issued_at) if issued_at else sandbox.clock.now().date()
    dates = sorted(str(activity["date"]) for activity in entries)
    bill = sandbox.insert_record(
        BILLS,
        {
            "number": _next_number(sandbox),
            "issued_at": issued.isoformat(),
            "due_at": due_at or (issued + timedelta(days=30)).isoformat(),
            "state": state,
            "type": "MatterBill",
            "kind": "revenue_kind",
            "start_at": dates[0],
            "end_at": dates[-1],
            **_money(total, round(services, 2), state),
            "shared": False,
            "can_update": state not in ("paid", "void", "deleted"),
            "available_state_transitions": STATE_TRANSITIONS[state],
            "user": matter.get("responsible_attorney") or entries[0].get("user"),
            "client": matter.get("client"),
            "matters": [{"id": matter["id"]}],
        },
    )
    for order, (activity, figure) in enumerate(zip(entries, figures, strict=True), start=1):
        sandbox.insert_record(LINE_ITEMS, _line_item(bill, activity, figure, order))
        sandbox.change_record(ACTIVITIES, activity["id"], {"bill": {"id": bill["id"]}})
    return bill


def change_bill_state(sandbox: ClioSandbox, bill_id: object, state: str) -> Record:
    """Move a bill to a new state; void and deleted bills unlock their activities."""
    if state not in STATE_TRANSITIONS:
        raise unprocessable(f"state must be one of {sorted(STATE_TRANSITIONS)}")
    bill = sandbox.change_record(
        BILLS,
        bill_id,
        {
            "state": state,
            "available_state_transitions": STATE_TRANSITIONS[state],
            "can_update": state not in ("paid", "void", "deleted"),
        },
    )
    for activity_id in _billed_activity_ids(sandbox, bill["id"]):
        # Touch every entry: billed/on_bill changed, so its etag and webhooks must too.
        unlock: dict[str, Any] = {"bill": None} if state in UNLOCKING_STATES else {}
        sandbox.change_record(ACTIVITIES, activity_id, unlock)
    return bill


def delete_bill(sandbox: ClioSandbox, bill_id: object) -> Record:
    """Delete a bill as a person would: its activities become editable again."""
    bill = sandbox.collections["bills"].find(bill_id)
    if bill is None:
        raise not_found(f"Bill {bill_id} not found")
    for activity_id in _billed_activity_ids(sandbox, bill["id"]):
        sandbox.change_record(ACTIVITIES, activity_id, {"bill": None})
    for item in list(sandbox.collections["line_items"].all()):
        if str((item.get("bill") or {}).get("id")) == str(bill["id"]):
            sandbox.remove_record(LINE_ITEMS, item["id"])
    return sandbox.remove_record(BILLS, bill["id"])


def _next_number(sandbox: ClioSandbox) -> str:
    numbers = [int(b["number"]) for b in sandbox.collections["bills"].all() if str(b.get("number")).isdigit()]
    return str(max(numbers, default=0) + 1)


def _billed_activity_ids(sandbox: ClioSandbox, bill_id: object) -> list[object]:
    return [
        activity["id"]
        for activity in sandbox.collections["activities"].all()
        if str((activity.get("bill") or {}).get("id")) == str(bill_id)
    ]


def _billable(sandbox: ClioSandbox, activity: Record) -> bool:
    figures = sandbox.renderer.activity_figures(activity)
    return not figures["on_bill"] and not figures["non_billable"]


def _is_time(activity: Record) -> bool:
    return activity.get("type") == "TimeEntry"


def _money(total: float, services: float, state: str) -> dict[str, Any]:
    due = 0.0 if state == "paid" else total
    return {
        "sub_total": total,
        "total": total,
        "balance": due,
        "due": due,
        "paid": total if state == "paid" else 0.0,
        "pending": 0.0,
        "credits_issued": 0.0,
        "tax_rate": 0.0,
        "secondary_tax_rate": 0.0,
        "tax_sum": 0.0,
        "secondary_tax_sum": 0.0,
        "total_tax": 0.0,
        "services_sub_total": services,
        "services_tax": 0.0,
        "services_secondary_tax": 0.0,
        "services_taxable_sub_total": 0,
        "services_secondary_taxable_sub_total": 0,
        "taxable_sub_total": 0,
        "secondary_taxable_sub_total": 0,
    }


def _line_item(
    bill: Record, activity: Record, figures: Mapping[str, Any], order: int
) -> Record:
    is_time = _is_time(activity)
    # docs/vendors/clio.md §4 item 1: LineItem.quantity is hours, unlike Activity.quantity (seconds).
    quantity = figures["rounded_quantity_in_hours"] if is_time else activity.get("quantity", 1.0)
    return {
        "type": "ActivityLineItem",
        "kind": "Service" if is_time else "Expense",
        "description": activity.get("note") or "",
        "note": activity.get("note"),
        "date": activity.get("date"),
        "price": float(activity.get("price") or 0.0),
        "quantity": quantity,
        "total": figures["total"],
        "sub_total": figures["total"],
        "tax": 0.0,
        "secondary_tax": 0.0,
        "taxable": False,
        "secondary_taxable": False,
        "group_ordering": order,
        "bill": {"id": bill["id"]},
        "activity": {"id": activity["id"]},
        "matter": activity.get("matter"),
        "user": activity.get("user"),
    }


def patch_bill(sandbox: ClioSandbox, bill: Record, data: Mapping[str, Any]) -> Record:
    """PATCH /bills/{id}: a state from `available_state_transitions`, or plain fields of an open bill.

    What Clio refuses is refused: a state the bill does not offer now, and any change to a bill
    that cannot be updated (paid, void, deleted). The 422 wording is the sandbox's own (UNCONFIRMED).
    """
    unknown = set(data) - PLAIN_BILL_KEYS - UNSIMULATED_BILL_KEYS - {"state"}
    if unknown:
        raise bad_request(f"Unknown bill field(s): {', '.join(sorted(unknown))}")
    unsimulated = set(data) & UNSIMULATED_BILL_KEYS
    if unsimulated:
        raise not_simulated("PATCH", f"/api/v4/bills/{{id}} with {', '.join(sorted(unsimulated))}")
    if not bill.get("can_update", True):
        raise unprocessable(f"Bill {bill['id']} is {bill.get('state')} and can no longer be updated")
    state = data.get("state")
    if state is not None and state != bill.get("state"):
        offered = list(bill.get("available_state_transitions") or [])
        if state not in offered:
            raise unprocessable(
                f"Bill {bill['id']} cannot move from {bill.get('state')} to {state}; "
                f"available_state_transitions: {', '.join(offered) or 'none'}"
            )
        bill = change_bill_state(sandbox, bill["id"], str(state))
    plain = {key: value for key, value in data.items() if key in PLAIN_BILL_KEYS}
    if plain:
        bill = sandbox.change_record(BILLS, bill["id"], plain)
    return bill
