"""Clio webhooks: the X-Hook-Secret handshake, signed deliveries, and subscription renewal.

A delivery is a doorbell: it names the streams to re-poll, and `updated_since` polling stays the
safety net (docs/vendors/clio.md §3.16, §4 item 12). Clio subscribes one model per webhook, so billsync's
Subscription stands for several webhooks: its id lists `model:webhook_id` pairs and its secret is
a JSON object of webhook id -> shared secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import structlog

from connectors.clio import mapping
from connectors.clio.client import ClioClient
from core.connector import InboundRequest, Subscription, WebhookResult
from core.errors import Fatal, InvalidSignature

# Webhook model -> the streams to re-poll (docs/vendors/clio.md §3.16 model table). Notes and users have no
# webhook model, so only polling sees them. An activity event has no stream of its own: time
# entries come back through Writer.read_time_entries, which core runs on every cycle.
WATCHED_MODELS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "matter": ("matters",),
        "contact": ("contacts",),
        "activity": (),
        "communication": ("communications",),
        "calendar_entry": ("calendar_entries",),
        "task": ("tasks",),
        "document": ("documents",),
        "bill": ("bills",),  # a person generated, changed or voided a bill
    }
)
EVENTS = ("created", "updated", "deleted")
# docs/vendors/clio.md §3.16: `fields` is also the watch list for "updated"; etag changes on every write.
WEBHOOK_FIELDS = "id,etag,updated_at"
HOOK_FIELDS = "id,etag,url,model,status,events,expires_at,shared_secret"
MAX_LIFETIME = timedelta(days=31)  # docs/vendors/clio.md §3.16: 31 days at most
# A day under the maximum, so a clock running ahead of Clio's never asks for more than 31 days.
REQUESTED_LIFETIME = MAX_LIFETIME - timedelta(days=1)
RENEW_BEFORE = timedelta(days=2)


class ClioWebhooks:
    """core.connector.WebhookHandler for Clio Manage."""

    def __init__(
        self,
        client: ClioClient,
        *,
        clock: Callable[[], datetime] | None = None,
        log: structlog.stdlib.BoundLogger | None = None,
    ) -> None:
        self._client = client
        self._clock = clock or (lambda: datetime.now(UTC))
        self._log = log

    # -- deliveries -------------------------------------------------------------------------------

    def handle(self, request: InboundRequest, subscription: Subscription | None) -> WebhookResult:
        """Answer a handshake, or verify a delivery and name the streams it concerns."""
        headers = {name.lower(): value for name, value in request.headers.items()}
        handshake = headers.get("x-hook-secret")
        if handshake is not None:
            # docs/vendors/clio.md §3.16: confirm by answering 200 and echoing the same X-Hook-Secret. The
            # handshake body is undocumented, so only the header identifies it.
            return WebhookResult(reply_status=200, reply_headers={"X-Hook-Secret": handshake})
        signature = headers.get("x-hook-signature")
        if not signature:
            raise InvalidSignature("Clio delivery without X-Hook-Signature")
        secrets = subscription_secrets(subscription)
        if not secrets:
            raise InvalidSignature("Clio delivery, but no webhook subscription is known to verify it")
        if not any(_signed_by(secret, request.body, signature) for secret in secrets.values()):
            raise InvalidSignature("Clio delivery with a bad X-Hook-Signature")
        try:
            payload = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise InvalidSignature("Clio delivery with a malformed JSON body") from None
        if not isinstance(payload, dict):
            raise InvalidSignature("Clio delivery whose body is not a JSON object")
        meta = mapping.object_of(payload.get("meta"))
        data = mapping.object_of(payload.get("data"))
        webhook_id = meta.get("webhook_id")
        model = subscription_models(subscription).get(str(webhook_id))
        streams = WATCHED_MODELS.get(model, ()) if model is not None else _all_streams()
        return WebhookResult(streams=list(streams), delivery_id=_delivery_id(webhook_id, meta, data, request.body))

    # -- subscriptions ----------------------------------------------------------------------------

    def ensure(self, callback_url: str, current: Subscription | None) -> Subscription | None:
        """Create the webhooks billsync needs at `callback_url`, renew those expiring within 2 days."""
        now = self._clock()
        mine = [
            hook
            for page in self._client.pages("webhooks", fields=HOOK_FIELDS)
            for hook in page
            if hook.get("url") == callback_url
        ]
        kept: dict[str, Mapping[str, Any]] = {}
        for hook in sorted(mine, key=_preference, reverse=True):
            model = str(hook.get("model"))
            if model not in WATCHED_MODELS or model in kept or hook.get("status") == "suspended":
                # Duplicates and suspended webhooks (a 410 or repeated failures) are replaced.
                self._client.delete(f"webhooks/{hook['id']}")
                continue
            kept[model] = hook
        created = False
        for model in WATCHED_MODELS:
            existing = kept.get(model)
            if existing is None:
                kept[model] = self._client.create("webhooks", self._body(callback_url, model, now), fields=HOOK_FIELDS)
                created = True
            elif _expires(existing) - now < RENEW_BEFORE:
                # docs/vendors/clio.md §3.16: extend by PATCHing expires_at before it lapses.
                kept[model] = self._client.update(
                    f"webhooks/{existing['id']}", {"expires_at": _iso(now + REQUESTED_LIFETIME)}, fields=HOOK_FIELDS
                )
        if created:
            # The handshake runs after the create answer, so re-read to see which are enabled.
            fresh = {str(h.get("id")): h for page in self._client.pages("webhooks", fields=HOOK_FIELDS) for h in page}
            kept = {model: fresh.get(str(known.get("id"))) or known for model, known in kept.items()}
        for known in kept.values():
            if known.get("status") == "pending":
                self._activate(known)
        return _subscription(kept)

    def _body(self, callback_url: str, model: str, now: datetime) -> dict[str, Any]:
        return {
            "url": callback_url,
            "model": model,
            "events": list(EVENTS),
            "fields": WEBHOOK_FIELDS,
            "expires_at": _iso(now + REQUESTED_LIFETIME),
        }

    def _activate(self, hook: Mapping[str, Any]) -> None:
        # docs/vendors/clio.md §3.16: the delayed handshake, PUT /webhooks/{id}/activate with X-Hook-Secret.
        # That the header carries the webhook's shared_secret is UNCONFIRMED; if Clio refuses,
        # the webhook stays pending, the next ensure() tries again and polling covers the gap.
        secret = hook.get("shared_secret")
        if not isinstance(secret, str):
            return
        try:
            self._client.put(f"webhooks/{hook['id']}/activate", headers={"X-Hook-Secret": secret})
        except Fatal as exc:
            if self._log is not None:
                self._log.warning("clio webhook still pending", webhook=hook.get("id"), problem=str(exc))


def subscription_secrets(subscription: Subscription | None) -> dict[str, str]:
    """Webhook id -> shared secret, from a Subscription's secret."""
    if subscription is None or not subscription.secret:
        return {}
    try:
        decoded = json.loads(subscription.secret)
    except ValueError:
        return {"": subscription.secret}  # a single plain secret
    if isinstance(decoded, dict):
        return {str(k): str(v) for k, v in decoded.items() if isinstance(v, str) and v}
    return {}


def subscription_models(subscription: Subscription | None) -> dict[str, str]:
    """Webhook id -> model, from a Subscription's id (`model:id,model:id`)."""
    if subscription is None:
        return {}
    found: dict[str, str] = {}
    for part in subscription.id.split(","):
        model, _, webhook_id = part.partition(":")
        if model and webhook_id:
            found[webhook_id] = model
    return found


def sign(secret: str, body: bytes) -> str:
    """X-Hook-Signature for a body: lowercase hex HMAC-SHA256 (docs/vendors/clio.md §3.16)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _signed_by(secret: str, body: bytes, signature: str) -> bool:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    given = signature.strip().encode()
    # docs/vendors/clio.md §3.16: hex vs base64 is UNCONFIRMED; third parties assume lowercase hex.
    return hmac.compare_digest(digest.hex().encode(), given.lower()) or hmac.compare_digest(
        base64.b64encode(digest), given
    )


def _delivery_id(webhook_id: Any, meta: Mapping[str, Any], data: Mapping[str, Any], body: bytes) -> str:
    # docs/vendors/clio.md §3.16: no dedupe id is documented; dedupe on (webhook_id, event, data.id, data.etag).
    parts = (webhook_id, meta.get("event"), data.get("id"), data.get("etag"))
    if all(part is not None for part in parts):
        return "clio:" + ":".join(str(part) for part in parts)
    return "clio:sha256:" + hashlib.sha256(body).hexdigest()


def _all_streams() -> Sequence[str]:
    return tuple(dict.fromkeys(stream for streams in WATCHED_MODELS.values() for stream in streams))


def _preference(hook: Mapping[str, Any]) -> tuple[bool, datetime]:
    return hook.get("status") == "enabled", _expires(hook)


def _expires(hook: Mapping[str, Any]) -> datetime:
    try:
        return mapping.parse_timestamp(hook.get("expires_at"), "expires_at")
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)  # unreadable: renew it


def _subscription(hooks: Mapping[str, Mapping[str, Any]]) -> Subscription | None:
    if not hooks:
        return None
    ordered = sorted(hooks.items())
    secrets = {
        str(hook["id"]): hook["shared_secret"] for _, hook in ordered if isinstance(hook.get("shared_secret"), str)
    }
    return Subscription(
        id=",".join(f"{model}:{hook['id']}" for model, hook in ordered),
        expires_at=min(_expires(hook) for _, hook in ordered),
        secret=json.dumps(secrets, sort_keys=True),
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()
