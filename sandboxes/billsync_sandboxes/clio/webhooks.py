"""Clio webhooks: subscriptions, the X-Hook-Secret handshake, signed deliveries (docs/vendors/clio.md §3.16)."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from billsync_sandboxes.clio.api.fields import Renderer, parse_fields
from billsync_sandboxes.clio.api.resources import MODEL_RESOURCES, WEBHOOK_MODELS, WEBHOOKS, Resource
from billsync_sandboxes.clio.errors import bad_request, not_found, unprocessable
from billsync_sandboxes.kit import (
    Clock,
    Deliver,
    Record,
    RecordCollection,
    deliver_with,
    hmac_sha256_hex,
    iso_timestamp,
    parse_timestamp,
)

# docs/vendors/clio.md §3.16: 3 days without expires_at, 31 days at most; fields capped at 1000 chars.
DEFAULT_LIFETIME = timedelta(days=3)
MAX_LIFETIME = timedelta(days=31)
MAX_FIELDS_LENGTH = 1000
# docs/vendors/clio.md §3.16 [SUP-RETRY]: retries back off from 2 minutes, doubling, 5 attempts.
RETRY_BASE_SECONDS = 120
RETRY_ATTEMPTS = 5
BASE_EVENTS = ("created", "updated", "deleted")
MATTER_EVENTS = ("matter_opened", "matter_pended", "matter_closed")
MATTER_STATUS_EVENTS: Mapping[str, str] = {
    "Open": "matter_opened",
    "Pending": "matter_pended",
    "Closed": "matter_closed",
}


@dataclass(slots=True)
class _Outgoing:
    webhook_id: int
    kind: str
    event: str | None
    body: bytes
    attempt: int
    due_at: datetime


def allowed_events(model: str) -> tuple[str, ...]:
    """Return the events a model supports (docs/vendors/clio.md §3.16 "Events")."""
    if model == "matter":
        return BASE_EVENTS + MATTER_EVENTS
    if model == "clio_payments_payment":
        return ("created", "updated")
    return BASE_EVENTS


class WebhookHub:
    """Keeps webhook subscriptions and delivers handshakes and events through `deliver`."""

    def __init__(
        self,
        collections: Mapping[str, RecordCollection],
        renderer: Renderer,
        clock: Clock,
        deliver: Deliver,
        *,
        lock: threading.RLock,
        seed: int,
        allow_http: bool = False,
    ) -> None:
        self._hooks = collections["webhooks"]
        self._renderer = renderer
        self._clock = clock
        self._deliver = deliver
        self._lock = lock
        # Sandbox secrets are not real secrets; a seeded PRNG keeps runs reproducible.
        self._rng = random.Random(f"clio-webhooks-{seed}")  # noqa: S311
        self._allow_http = allow_http
        self._outbox: list[_Outgoing] = []
        self._seen: dict[int, set[str]] = {}
        self.deliveries: list[dict[str, Any]] = []

    def create(self, data: Mapping[str, Any], user_id: int) -> Record:
        """Validate and store a new webhook, then queue its handshake."""
        self._check_keys(data)
        for required in WEBHOOKS.required_on_create:
            if data.get(required) in (None, ""):
                raise unprocessable(f"{required} is required")
        model = _model(data["model"])
        record: Record = {
            "url": self._url(data["url"]),
            "model": model,
            "fields": _fields(data["fields"], model),
            "events": _events(data.get("events"), model),
            "expires_at": iso_timestamp(self._expiry(data.get("expires_at"))),
            "status": "pending",
            "shared_secret": f"{self._rng.getrandbits(160):040x}",
            "user": {"id": user_id},
        }
        stored = self._hooks.insert(record)
        self._queue_handshake(stored)
        return stored

    def update(self, webhook_id: object, data: Mapping[str, Any]) -> Record:
        """Change a webhook; a new URL needs a new handshake."""
        self._check_keys(data)
        existing = self._existing(webhook_id)
        model = _model(data["model"]) if "model" in data else existing["model"]
        changes: Record = {}
        if "model" in data:
            changes["model"] = model
        if "url" in data:
            changes["url"] = self._url(data["url"])
        if "fields" in data or "model" in data:
            changes["fields"] = _fields(data.get("fields", existing["fields"]), model)
        if "events" in data or "model" in data:
            changes["events"] = _events(data.get("events", existing["events"]), model)
        if "expires_at" in data:
            changes["expires_at"] = iso_timestamp(self._expiry(data["expires_at"]))
        url_changed = "url" in changes and changes["url"] != existing["url"]
        if url_changed:
            changes["status"] = "pending"
        _, after = self._hooks.update(existing["id"], changes)
        if url_changed:
            self._queue_handshake(after)
        return after

    def delete(self, webhook_id: object) -> Record:
        """Remove a webhook and anything still queued for it."""
        existing = self._existing(webhook_id)
        self._outbox = [o for o in self._outbox if o.webhook_id != existing["id"]]
        self._seen.pop(existing["id"], None)
        return self._hooks.delete(existing["id"])

    def activate(self, webhook_id: object, secret: str | None) -> Record:
        """The delayed handshake: PUT /webhooks/{id}/activate with X-Hook-Secret."""
        existing = self._existing(webhook_id)
        if not secret or secret != existing["shared_secret"]:
            raise unprocessable("X-Hook-Secret does not match this webhook")
        return self._hooks.update(existing["id"], {"status": "enabled"})[1]

    def emit(
        self, resource: Resource, events: list[str], before: Record | None, after: Record | None
    ) -> None:
        """Queue deliveries for a change to a record of a webhook-capable resource."""
        model = resource.webhook_model
        if model is None:
            return
        for hook in self._hooks.all():
            if hook["model"] != model or not self._live(hook):
                continue
            selection = parse_fields(hook["fields"], resource)
            for event in events:
                record = before if event == "deleted" else after
                if event not in hook["events"] or record is None:
                    continue
                data = self._renderer.render(resource, record, selection)
                seen = self._seen.setdefault(hook["id"], set())
                # `fields` is the watch list: an update fires only when a selected field
                # changed, except for the first webhook about an object (docs/vendors/clio.md §3.16).
                first = str(record["id"]) not in seen
                if event == "updated" and not first and before is not None:
                    unchanged = self._renderer.render(resource, before, selection) == data
                    if unchanged:
                        continue
                seen.add(str(record["id"]))
                payload = {"data": data, "meta": {"event": event, "webhook_id": hook["id"]}}
                self._outbox.append(
                    _Outgoing(hook["id"], "event", event, _json(payload), 1, self._clock.now())
                )

    def flush(self) -> int:
        """Deliver everything that is due; return the number of attempts made."""
        attempts = 0
        for _ in range(100):  # deliveries can cause more events; stop runaway loops
            with self._lock:
                now = self._clock.now()
                due = [o for o in self._outbox if o.due_at <= now]
                self._outbox = [o for o in self._outbox if o.due_at > now]
            if not due:
                break
            for outgoing in due:
                attempts += self._send(outgoing)
        return attempts

    def _send(self, outgoing: _Outgoing) -> int:
        with self._lock:
            hook = self._hooks.find(outgoing.webhook_id)
            if hook is None or (outgoing.kind == "event" and not self._live(hook)):
                return 0  # deleted, disabled or expired webhooks stop delivering
        headers = {"Content-Type": "application/json", "User-Agent": "Clio-Sandbox"}
        if outgoing.kind == "handshake":
            headers["X-Hook-Secret"] = hook["shared_secret"]
        else:
            # Hex encoding is UNCONFIRMED in docs/vendors/clio.md §3.16; third-party receivers assume hex.
            headers["X-Hook-Signature"] = hmac_sha256_hex(hook["shared_secret"], outgoing.body)
        result = deliver_with(self._deliver, hook["url"], headers, outgoing.body)
        with self._lock:
            self.deliveries.append(
                {
                    "webhook_id": outgoing.webhook_id,
                    "kind": outgoing.kind,
                    "event": outgoing.event,
                    "url": hook["url"],
                    "attempt": outgoing.attempt,
                    "status": result.status,
                    "at": iso_timestamp(self._clock.now()),
                    "body": outgoing.body.decode(),
                }
            )
            if hook["id"] not in self._hooks:
                return 1
            if outgoing.kind == "handshake":
                echoed = result.header("X-Hook-Secret")
                if result.status == 200 and echoed == hook["shared_secret"]:
                    self._hooks.update(hook["id"], {"status": "enabled"})
            elif result.status == 410:
                # docs/vendors/clio.md §3.16: 410 Gone counts as success and disables the subscription.
                self._hooks.update(hook["id"], {"status": "suspended"})
            elif not 200 <= result.status < 400 and outgoing.attempt <= RETRY_ATTEMPTS:
                delay = RETRY_BASE_SECONDS * 2 ** (outgoing.attempt - 1)
                outgoing.attempt += 1
                outgoing.due_at = self._clock.now() + timedelta(seconds=delay)
                self._outbox.append(outgoing)
        return 1

    def _queue_handshake(self, hook: Record) -> None:
        # The handshake body is not documented beyond "the id of the webhook" (docs/vendors/clio.md §3.16).
        body = _json({"webhook_id": hook["id"]})
        self._outbox.append(_Outgoing(hook["id"], "handshake", None, body, 1, self._clock.now()))

    def _live(self, hook: Record) -> bool:
        expires = parse_timestamp(hook["expires_at"])
        return bool(hook["status"] == "enabled" and expires > self._clock.now())

    def _existing(self, webhook_id: object) -> Record:
        hook = self._hooks.find(webhook_id)
        if hook is None:
            raise not_found(f"Webhook {webhook_id} not found")
        return hook

    def _check_keys(self, data: Mapping[str, Any]) -> None:
        unknown = sorted(set(data) - WEBHOOKS.write_keys)
        if unknown:
            raise bad_request(f"Unknown parameters for Webhook: {', '.join(unknown)}")

    def _url(self, value: Any) -> str:
        if not isinstance(value, str):
            raise unprocessable("url must be a string")
        parts = urlsplit(value)
        schemes = ("https", "http") if self._allow_http else ("https",)
        if parts.scheme not in schemes or not parts.netloc:
            raise unprocessable("url must use the https scheme")
        return value

    def _expiry(self, value: Any) -> datetime:
        now = self._clock.now()
        if value is None:
            return now + DEFAULT_LIFETIME
        if not isinstance(value, str):
            raise unprocessable("expires_at must be an ISO-8601 timestamp")
        try:
            expires = parse_timestamp(value)
        except ValueError:
            raise unprocessable("expires_at must be an ISO-8601 timestamp") from None
        if expires <= now:
            raise unprocessable("expires_at must be in the future")
        if expires > now + MAX_LIFETIME:
            raise unprocessable("expires_at cannot be more than 31 days from now")
        return expires


def _model(value: Any) -> str:
    # docs/vendors/clio.md §3.16: model takes the name or its numeric id.
    if isinstance(value, str) and value in WEBHOOK_MODELS:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        for name, number in WEBHOOK_MODELS.items():
            if number == value:
                return name
    raise unprocessable(f"Invalid model: {value}")


def _fields(value: Any, model: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise unprocessable("fields must be a non-empty string")
    if len(value) > MAX_FIELDS_LENGTH:
        raise unprocessable(f"fields cannot be longer than {MAX_FIELDS_LENGTH} characters")
    resource = MODEL_RESOURCES.get(model)
    if resource is not None:
        parse_fields(value, resource)
    return value


def _events(value: Any, model: str) -> list[str]:
    allowed = allowed_events(model)
    if value is None:
        return list(allowed)  # not documented; the sandbox subscribes to every event
    if not isinstance(value, list) or not value or not all(isinstance(e, str) for e in value):
        raise unprocessable("events must be a non-empty list of event names")
    invalid = [event for event in value if event not in allowed]
    if invalid:
        raise unprocessable(f"Invalid events for {model}: {', '.join(invalid)}")
    return list(dict.fromkeys(value))


def _json(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
