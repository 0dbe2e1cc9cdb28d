"""Graph change notifications: the validation handshake, clientState checks, lifecycle events, renewal.

A delivery is a doorbell (docs/vendors/microsoft365.md §7): it names the streams to re-poll and the delta
rounds do the reading. Graph subscribes one resource per subscription, so billsync's single
Subscription per firm stands for all of them: its id is a digest of the set (so a changed set is
saved), `expires_at` is the earliest expiry, and its encrypted secret is a JSON object holding
the clientState every subscription shares, the notification URL, and subscription id -> resource.
Graph itself is the list of record: `ensure` reads GET /subscriptions and mends what it finds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

import structlog

from connectors.microsoft365 import mapping
from connectors.microsoft365.client import GraphClient, GraphNotFound
from connectors.microsoft365.streams import MailboxDirectory, iso
from core.connector import InboundRequest, Subscription, WebhookResult
from core.errors import Fatal, InvalidSignature, Retryable
from core.logging import per_record

CALENDAR, MAIL, CALLS = "calendar_events", "sent_mail", "teams_calls"
ALL_STREAMS = (CALENDAR, MAIL, CALLS)
# §7 "Maximum expiration": 4,230 minutes for event, message and callRecord in the cited docs.
# Newer quotes give Outlook 10,080; the shorter is the conservative reading (README).
MAX_LIFETIME: Mapping[str, timedelta] = MappingProxyType(
    {CALENDAR: timedelta(minutes=4230), MAIL: timedelta(minutes=4230), CALLS: timedelta(minutes=4230)}
)
# Ask for a little less, so a clock running ahead of Graph's never asks for too much.
LIFETIME_MARGIN = timedelta(minutes=30)
# Renewal runs every 6 hours: a day's notice leaves several tries before a subscription lapses.
RENEW_BEFORE = timedelta(hours=24)
CHANGE_TYPES: Mapping[str, str] = MappingProxyType(
    {CALENDAR: "created,updated,deleted", MAIL: "created,updated", CALLS: "created"}
)
CLIENT_STATE_BYTES = 48  # 64 url-safe characters; Graph allows 128 (§7)


@dataclass(frozen=True)
class SubscriptionState:
    """What billsync keeps about its Graph subscriptions (inside Subscription.secret, encrypted)."""

    client_state: str = field(repr=False)
    notification_url: str
    resources: Mapping[str, str]  # subscription id -> resource

    @classmethod
    def load(cls, subscription: Subscription | None) -> SubscriptionState | None:
        """Read the state back from a stored Subscription; None when there is none or it is unreadable."""
        if subscription is None or not subscription.secret:
            return None
        try:
            data = json.loads(subscription.secret)
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("clientState"), str) or not data["clientState"]:
            return None
        resources = data.get("resources")
        resources = resources if isinstance(resources, dict) else {}
        mapped = {str(k): str(v) for k, v in resources.items()}
        return cls(data["clientState"], str(data.get("notificationUrl") or ""), mapped)

    def dump(self) -> str:
        """The JSON kept in Subscription.secret."""
        return json.dumps(
            {
                "clientState": self.client_state,
                "notificationUrl": self.notification_url,
                "resources": dict(sorted(self.resources.items())),
            },
            sort_keys=True,
        )


def desired_resources(mailboxes: list[str], *, calls: bool = True) -> dict[str, str]:
    """resource -> stream, for every subscription billsync needs (§7 example resources)."""
    wanted: dict[str, str] = {}
    for mailbox in mailboxes:
        wanted[f"/users/{mailbox}/events"] = CALENDAR
        wanted[f"/users/{mailbox}/mailFolders('sentitems')/messages"] = MAIL
    if calls:
        wanted["/communications/callRecords"] = CALLS
    return wanted


def stream_of(resource: str) -> str | None:
    """The stream a subscription resource (or a notification's resource path) feeds."""
    lowered = resource.lower()
    if "callrecords" in lowered:
        return CALLS
    if "/events" in lowered or lowered.startswith("events"):
        return CALENDAR
    if "messages" in lowered:
        return MAIL
    return None


class GraphWebhooks:
    """core.connector.WebhookHandler for Microsoft Graph change notifications."""

    def __init__(
        self,
        client: GraphClient,
        directory: MailboxDirectory,
        *,
        clock: Callable[[], datetime],
        log: structlog.stdlib.BoundLogger | None = None,
        calls: bool = True,
    ) -> None:
        self._client = client
        self._directory = directory
        self._clock = clock
        self._log = log
        self._calls = calls

    # -- deliveries -------------------------------------------------------------------------------

    def handle(self, request: InboundRequest, subscription: Subscription | None) -> WebhookResult:
        """Answer the validation handshake, or verify a delivery and name the streams to re-poll."""
        token = request.query.get("validationToken")
        if token is not None:
            # §7: 200, text/plain, the URL-decoded token as the body (the server decoded the query).
            return WebhookResult(
                reply_status=200, reply_headers={"Content-Type": "text/plain; charset=utf-8"}, reply_body=token.encode()
            )
        state = SubscriptionState.load(subscription)
        if state is None:
            raise InvalidSignature("Graph notification, but no subscription is known to verify its clientState")
        notifications = _notifications(request.body)
        for notification in notifications:
            given = str(notification.get("clientState") or "")
            if not hmac.compare_digest(given.encode(), state.client_state.encode()):
                raise InvalidSignature("Graph notification with a wrong or missing clientState")
        streams: set[str] = set()
        for notification in notifications:
            subscription_id = str(notification.get("subscriptionId") or "")
            resource = state.resources.get(subscription_id) or str(notification.get("resource") or "")
            stream = stream_of(resource)
            streams.update((stream,) if stream else ALL_STREAMS)
            lifecycle = notification.get("lifecycleEvent")
            if lifecycle == "reauthorizationRequired":
                self._reauthorize(subscription_id)
            elif lifecycle == "subscriptionRemoved" and resource and stream:
                self._recreate(resource, stream, state)
            # "missed" and plain changes: the delta re-poll catches up on everything since the last round.
        return WebhookResult(
            streams=sorted(streams), delivery_id=_delivery_id(notifications, request.body), reply_status=202
        )

    def _reauthorize(self, subscription_id: str) -> None:
        try:
            self._client.post(f"subscriptions/{quote(subscription_id)}/reauthorize")
        except (Fatal, Retryable) as exc:
            self._warn("graph subscription not reauthorized; the next renewal recreates it", exc)

    def _recreate(self, resource: str, stream: str, state: SubscriptionState) -> None:
        if not state.notification_url:
            return
        try:
            self._create(resource, stream, state.notification_url, state.client_state, self._clock())
        except (Fatal, Retryable) as exc:
            self._warn("graph subscription not recreated; the next renewal tries again", exc)

    # -- subscriptions ----------------------------------------------------------------------------

    def ensure(self, callback_url: str, current: Subscription | None) -> Subscription | None:
        """Create the subscriptions billsync needs at `callback_url`; renew those expiring within a day."""
        now = self._clock()
        desired = desired_resources(self._directory.mailboxes(), calls=self._calls)
        state = SubscriptionState.load(current)
        mine = [
            sub
            for page in self._client.pages("subscriptions")
            for sub in page.get("value") or []
            if isinstance(sub, dict) and sub.get("notificationUrl") == callback_url
        ]
        if state is None or state.notification_url != callback_url:
            # The clientState of what is there is not known to us: start over with a new one.
            for sub in mine:
                self._client.delete(f"subscriptions/{quote(str(sub['id']))}")
            mine = []
            client_state = secrets.token_urlsafe(CLIENT_STATE_BYTES)
        else:
            client_state = state.client_state
        kept: dict[str, dict[str, Any]] = {}
        for sub in mine:
            resource = str(sub.get("resource") or "")
            if resource not in desired or resource in kept or _expires(sub) <= now:
                self._client.delete(f"subscriptions/{quote(str(sub['id']))}")
                continue
            kept[resource] = sub
        for resource, stream in desired.items():
            try:
                existing = kept.get(resource)
                if existing is None:
                    kept[resource] = self._create(resource, stream, callback_url, client_state, now)
                elif _expires(existing) - now < RENEW_BEFORE:
                    kept[resource] = self._client.patch(
                        f"subscriptions/{quote(str(existing['id']))}",
                        {"expirationDateTime": iso(now + MAX_LIFETIME[stream] - LIFETIME_MARGIN)},
                    )
            except GraphNotFound:
                kept.pop(resource, None)  # removed meanwhile: the next renewal recreates it
            except Fatal as exc:
                # One mailbox outside the access policy must not stop the others; polling covers it.
                # A DEBUG line each, counted in the renewal run's summary line, which becomes a warning.
                if self._log is not None:
                    per_record(
                        self._log,
                        f"graph subscription for a {stream} resource not made",
                        warning=True,
                        problem=str(exc),
                    )
        if not kept:
            return None
        resources = {str(sub["id"]): resource for resource, sub in kept.items()}
        fresh = SubscriptionState(client_state, callback_url, resources)
        digest = hashlib.sha256(fresh.dump().encode()).hexdigest()[:32]
        return Subscription(
            id=f"graph:{len(resources)}:{digest}",
            expires_at=min(_expires(sub) for sub in kept.values()),
            secret=fresh.dump(),
        )

    def _create(
        self, resource: str, stream: str, callback_url: str, client_state: str, now: datetime
    ) -> dict[str, Any]:
        # Graph validates notificationUrl and lifecycleNotificationUrl with the handshake before it answers.
        return self._client.post(
            "subscriptions",
            {
                "changeType": CHANGE_TYPES[stream],
                "notificationUrl": callback_url,
                "lifecycleNotificationUrl": callback_url,
                "resource": resource,
                "expirationDateTime": iso(now + MAX_LIFETIME[stream] - LIFETIME_MARGIN),
                "clientState": client_state,
            },
        )

    def _warn(self, message: str, exc: Exception) -> None:
        if self._log is not None:
            self._log.warning(message, problem=str(exc))


def _notifications(body: bytes) -> list[Mapping[str, Any]]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidSignature("Graph notification with a malformed JSON body") from None
    value = payload.get("value") if isinstance(payload, dict) else None
    if not isinstance(value, list) or not value or not all(isinstance(n, dict) for n in value):
        raise InvalidSignature("Graph notification without a list of notifications")
    return value


def _delivery_id(notifications: list[Mapping[str, Any]], body: bytes) -> str | None:
    # No delivery id is documented. A redelivery repeats subscription, change, item and the
    # item's etag; a later change to the same item carries a new etag (Outlook resources).
    # Lifecycle events repeat word for word when they recur, so they are never deduplicated.
    if any(n.get("lifecycleEvent") for n in notifications):
        return None
    parts: list[str] = []
    for n in notifications:
        raw = n.get("resourceData")
        data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        etag = data.get("@odata.etag")
        if not etag:
            return "graph:sha256:" + hashlib.sha256(body).hexdigest()
        parts.append("|".join(str(x) for x in (n.get("subscriptionId"), n.get("changeType"), data.get("id"), etag)))
    return "graph:" + hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()


def _expires(sub: Mapping[str, Any]) -> datetime:
    try:
        return mapping.parse_instant(sub.get("expirationDateTime"), "expirationDateTime")
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)  # unreadable: renew it
