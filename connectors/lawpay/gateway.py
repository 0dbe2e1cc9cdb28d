"""LawPay as core's PaymentGateway: the vendor-free payment operations over the plain client."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal

from connectors.lawpay import mapping
from connectors.lawpay.client import LawPayClient
from core.connector import Cursor
from core.gateway import EventBatch, GatewayAccount, GatewayPlan, GatewayTransaction, PlanRequest


class LawPayGateway:
    """Charges, refunds, voids, recurring charges and events for one merchant (one key, one mode)."""

    def __init__(self, client: LawPayClient, *, events_since: datetime) -> None:
        self.client = client
        self._events_since = events_since

    def accounts(self) -> Sequence[GatewayAccount]:
        """Card and eCheck deposit accounts with their trust flags (docs/vendors/lawpay.md §3)."""
        return mapping.accounts(self.client.merchant())

    def payment_link(self, *, page_url: str, amount: Decimal, reference: str) -> str:
        """The firm's hosted page with amount (cents) and reference filled in and locked
        (docs/vendors/lawpay.md §15)."""
        return mapping.page_link(page_url, amount, reference)

    def charge(self, *, account_id: str, method: str, amount: Decimal, reference: str) -> GatewayTransaction:
        """POST /v1/charges with an explicit account (docs/vendors/lawpay.md §3) and our reference (§13)."""
        body = {
            "amount": mapping.to_cents(amount),
            "method": method,
            "account_id": account_id,
            "currency": "USD",
            "reference": mapping.reference(reference),
        }
        return mapping.transaction(self.client.charge(body))

    def find_by_reference(self, reference: str) -> Sequence[GatewayTransaction]:
        """Transactions whose reference is exactly `reference`.

        `qf=reference:` matching is UNCONFIRMED (maybe prefix, docs/vendors/lawpay.md §10): results are
        filtered to exact matches here.
        """
        params: dict[str, str | list[str]] = {"qf": f"reference:{reference}", "order_by": "-created"}
        found: list[GatewayTransaction] = []
        for page in self.client.search_transactions(params):
            found += [mapping.transaction(raw) for raw in page if raw.get("reference") == reference]
        return found

    def transaction(self, transaction_id: str) -> GatewayTransaction:
        """One transaction as it is now."""
        return mapping.transaction(self.client.transaction(transaction_id))

    def refund(self, charge_id: str, amount: Decimal, reference: str) -> GatewayTransaction:
        """A partial or full refund; processing fees are not returned (docs/vendors/lawpay.md §6)."""
        body = {"amount": mapping.to_cents(amount), "reference": mapping.reference(reference)}
        return mapping.transaction(self.client.refund(charge_id, body))

    def void(self, transaction_id: str, reference: str) -> GatewayTransaction:
        """Void an AUTHORIZED charge or refund."""
        return mapping.transaction(self.client.void(transaction_id, {"reference": mapping.reference(reference)}))

    def create_plan(self, request: PlanRequest) -> GatewayPlan:
        """A recurring charge on a saved card or bank (docs/vendors/lawpay.md §8)."""
        return mapping.plan(self.client.create_recurring_charge(mapping.plan_body(request)))

    def cancel_plan(self, plan_id: str) -> GatewayPlan:
        """Cancel a recurring charge (status_reason user_canceled)."""
        return mapping.plan(self.client.cancel_recurring_charge(plan_id))

    def events(self, cursor: Cursor) -> Iterator[EventBatch]:
        """Events oldest first from the stored cursor (docs/vendors/lawpay.md §11: poll with start_date).

        start_date is read as inclusive (UNCONFIRMED): the window overlaps at the last event's
        millisecond and the ids already seen there are skipped, so nothing is read twice or lost.
        """
        start = str(cursor["start_date"]) if cursor and cursor.get("start_date") else None
        start = start or mapping.format_time(self._events_since)
        at_start = set(cursor.get("seen_ids") or []) if cursor else set()
        last_time, last_ids = start, sorted(at_start)
        for page in self.client.events(start):
            fresh = []
            for raw in page:
                event = mapping.event(raw)
                stamp = mapping.format_time(event.created)
                if stamp == start and event.id in at_start:
                    continue  # the overlap: already read
                if stamp != last_time:
                    last_time, last_ids = stamp, []
                last_ids.append(event.id)
                fresh.append(event)
            yield EventBatch(events=fresh, cursor={"start_date": last_time, "seen_ids": list(last_ids)})
