"""LawPay's webhook deliveries: unsigned, so each is only a doorbell to poll the events API."""

from __future__ import annotations

import json

from core.connector import InboundRequest, Subscription, WebhookResult


class LawPayWebhooks:
    """Deliveries are unsigned (docs/vendors/lawpay.md §11): one is only a doorbell to poll the events API."""

    def handle(self, request: InboundRequest, subscription: Subscription | None) -> WebhookResult:
        """Never trust the body: it only names a delivery id for dedupe; the events are re-read."""
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            body = None
        event_id = body.get("id") if isinstance(body, dict) else None
        return WebhookResult(streams=("events",), delivery_id=str(event_id) if event_id else None)

    def ensure(self, callback_url: str, current: Subscription | None) -> Subscription | None:
        """None: the URL is set once in LawPay (PUT /v1/merchant would overwrite the firm's other URLs)."""
        return None
