"""What the Microsoft 365 sandbox sends out (docs/vendors/microsoft365.md §7): the validation
handshake a new subscription's URLs must pass, basic change notifications and lifecycle
notifications.

The tenant (state.py) decides which subscriptions hear of a change and keeps them; this module
shapes each delivery as Graph does and posts it. Every function is given the poster to use, read
from the tenant at call time, so a test may swap the tenant's `post` between deliveries.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from billsync_sandboxes.microsoft365.errors import GraphError, Json

VALIDATION_TIMEOUT_SECONDS = 10.0  # §7: the handshake must be answered within 10 seconds
ANSWER_BYTES_KEPT = 4096  # of a receiver's answer: room for the echoed validation token
# What each kind of stored item is called in a subscription and in a notification's @odata.type.
KIND_NAMES = {"events": "event", "messages": "message", "callRecords": "callRecord"}

# post(url, headers, body) -> (status, headers, body): Graph's handshake reads the answer's body,
# so the sandbox's poster returns it (billsync_sandboxes.kit.webhooks' Deliver gives status and headers only).
Post = Callable[[str, Mapping[str, str], bytes], tuple[int, Mapping[str, str], bytes]]


def http_post(url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, Mapping[str, str], bytes]:
    """POST for real; an unreachable receiver or a timeout answers status 0."""
    try:
        response = requests.post(url, data=body, headers=dict(headers), timeout=VALIDATION_TIMEOUT_SECONDS)
    except requests.RequestException:
        return 0, {}, b""
    return response.status_code, dict(response.headers), response.content[:ANSWER_BYTES_KEPT]


def validate_endpoint(post: Post, url: str) -> None:
    """The handshake (§7): POST {url}?validationToken=...; the receiver must answer 200, text/plain,
    with the decoded token. Raises Graph's 400 ValidationError when it does not."""
    token = f"Validation: Testing client application reachability for subscription Request-Id: {secrets.token_hex(8)}"
    target = f"{url}{'&' if '?' in url else '?'}validationToken={quote(token)}"
    status, headers, answer = _send(post, target, {"Content-Type": "text/plain; charset=utf-8"}, b"")
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "").lower()
    if status != 200 or not content_type.startswith("text/plain") or answer.decode(errors="replace") != token:
        raise GraphError(
            400,
            "ValidationError",
            "Subscription validation request failed. Notification endpoint must respond with 200 OK to "
            f"validation request. ({urlsplit(url).netloc})",
        )


def notify_change(
    post: Post,
    subscriptions: Iterable[Json],
    *,
    tenant_id: str,
    kind: str,
    user: Json | None,
    item: Mapping[str, Any],
    change: str,
) -> int:
    """Deliver a basic change notification (§7) to each live subscription watching this resource;
    the number delivered (answered 2xx)."""
    kind_name = KIND_NAMES[kind]
    delivered = 0
    for subscription in subscriptions:
        if subscription["_kind"] != kind_name or subscription.get("_user") != (str(user["id"]) if user else None):
            continue
        if change not in str(subscription["changeType"]).split(","):
            continue
        if (
            kind == "messages"
            and str(item.get("parentFolderId", "sentitems")).lower() != "sentitems"
            and ("sentitems" in subscription["resource"].lower())
        ):
            continue
        resource_path = (
            f"communications/callRecords/{item['id']}"
            if user is None
            else f"Users/{user['id']}/{'Events' if kind == 'events' else 'Messages'}/{item['id']}"
        )
        data: Json = {
            "@odata.type": f"#Microsoft.Graph.{kind_name[0].upper()}{kind_name[1:]}",
            "@odata.id": resource_path,
            "id": item["id"],
        }
        if "@odata.etag" in item:
            data["@odata.etag"] = item["@odata.etag"]
        notification = {
            "subscriptionId": subscription["id"],
            "subscriptionExpirationDateTime": subscription["expirationDateTime"],
            "changeType": change,
            "resource": resource_path,
            "resourceData": data,
            "clientState": subscription.get("clientState"),
            "tenantId": tenant_id,
        }
        delivered += _deliver(post, subscription["notificationUrl"], {"value": [notification]})
    return delivered


def notify_lifecycle(post: Post, subscription: Json, event: str, *, tenant_id: str) -> int:
    """Deliver one lifecycle notification (§7) to the subscription's lifecycle URL (else its
    notification URL); 1 when delivered, else 0."""
    notification = {
        "subscriptionId": subscription["id"],
        "subscriptionExpirationDateTime": subscription["expirationDateTime"],
        "tenantId": tenant_id,
        "clientState": subscription.get("clientState"),
        "lifecycleEvent": event,
    }
    url = subscription.get("lifecycleNotificationUrl") or subscription["notificationUrl"]
    return _deliver(post, str(url), {"value": [notification]})


def _deliver(post: Post, url: str, payload: Json) -> int:
    status, _, _ = _send(post, url, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(payload).encode())
    return 1 if 200 <= status < 300 else 0


def _send(post: Post, url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, Mapping[str, str], bytes]:
    try:
        return post(url, headers, body)
    except Exception:  # any receiver failure is a failed delivery, as for Graph
        return 0, {}, b""
