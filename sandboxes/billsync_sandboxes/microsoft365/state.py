"""The sandbox of Microsoft Graph v1.0 and Entra's token endpoint, kept to the documented behaviour.

What it follows is in connectors/microsoft365/README.md ("Sandbox") and docs/vendors/microsoft365.md.
Seed (Graph's own JSON shapes): {"users": [user...], "events": {upn: [event...]},
"messages": {upn: [message...]}, "callRecords": [callRecord with "participants_v2": [...]...]}.

Delta tokens are opaque to clients but carry their own state here (base64 JSON): the change
sequence a round reads up to, its window or filter, and an offset for skiptokens. Every change to
a mailbox's items is numbered; a round returns the items whose last change falls in its range.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.types import ASGIApp

from billsync_sandboxes.kit import (
    Clock,
    FixedWindowRateLimiter,
    parse_timestamp,
)
from billsync_sandboxes.kit.base import SandboxBase
from billsync_sandboxes.microsoft365 import webhooks
from billsync_sandboxes.microsoft365.admin import build_admin_app
from billsync_sandboxes.microsoft365.api import build_api_app, public_subscription
from billsync_sandboxes.microsoft365.errors import GraphError, Json

DEFAULT_TENANT = "8a5e1f4c-0000-4000-8000-0000000b111e"
DEFAULT_CLIENT_ID = "5b0f7e2a-0000-4000-8000-000000c11e47"
DEFAULT_CLIENT_SECRET = "billsync-sandbox-graph-secret"  # noqa: S105 - a public sandbox value
# §2: the least-privileged application permissions billsync asks for.
DEFAULT_ROLES = frozenset({"Calendars.Read", "Mail.ReadBasic.All", "CallRecords.Read.All", "User.Read.All"})
TOKEN_TTL_SECONDS = 3599
# §8: 10,000 requests per 10 minutes and 4 concurrent requests per app x mailbox.
MAILBOX_REQUESTS_PER_WINDOW = 10_000
MAILBOX_WINDOW_SECONDS = 600.0
MAILBOX_CONCURRENCY = 4
CONCURRENCY_RETRY_AFTER = 1  # seconds; Graph's value for this case is UNCONFIRMED
CALL_RECORD_RETENTION = timedelta(days=30)
# §7 "Maximum expiration" (the cited, conservative figures).
MAX_SUBSCRIPTION_MINUTES = {"event": 4230, "message": 4230, "callRecord": 4230, "user": 41760}
BODY_FIELDS = frozenset({"body", "bodyPreview", "uniqueBody"})
SEED_KEYS = frozenset({"users", "events", "messages", "callRecords"})
# The @odata.type of each member of a call participant's identity set, which the SDKs read to pick
# the model (without it a user is a bare `identity`). A user is a userIdentity, as Graph's own
# participants_v2 answers show; the others take the types the communicationsIdentitySet resource gives.
IDENTITY_TYPES = {
    "user": "#microsoft.graph.userIdentity",
    "phone": "#microsoft.graph.communicationsPhoneIdentity",
    "guest": "#microsoft.graph.communicationsGuestIdentity",
    "application": "#microsoft.graph.communicationsApplicationIdentity",
    "applicationInstance": "#microsoft.graph.communicationsApplicationInstanceIdentity",
    "encrypted": "#microsoft.graph.communicationsEncryptedIdentity",
    "onPremises": "#microsoft.graph.communicationsUserIdentity",
    "azureCommunicationServicesUser": "#microsoft.graph.azureCommunicationServicesUserIdentity",
}


def graph_time(moment: datetime) -> str:
    """An instant as Graph writes it: UTC with a Z."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class MailboxItems:
    """One mailbox's events or messages, with the number of each item's last change."""

    items: dict[str, Json] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)  # id -> sequence of its last change
    deleted: set[str] = field(default_factory=set)
    generation: int = 0  # sync state older than this generation was evicted (410)


def encode_token(state: Mapping[str, Any]) -> str:
    """An opaque delta/skip token."""
    return base64.urlsafe_b64encode(json.dumps(state, sort_keys=True).encode()).decode().rstrip("=")


def decode_token(token: str) -> Json:
    """The state inside a token, or a 400 when it is not one of ours."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise GraphError(400, "BadRequest", "Invalid delta or skip token.") from None
    if not isinstance(decoded, dict):
        raise GraphError(400, "BadRequest", "Invalid delta or skip token.")
    return decoded


class Microsoft365Sandbox(SandboxBase):
    """One simulated Microsoft 365 tenant: users, mailboxes, call records, tokens, subscriptions."""

    def __init__(
        self,
        seed: Mapping[str, Any] | None = None,
        *,
        tenant_id: str = DEFAULT_TENANT,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        roles: frozenset[str] = DEFAULT_ROLES,
        certificate_pem: str | None = None,
        clock: Clock | None = None,
        post: webhooks.Post = webhooks.http_post,
        rng_seed: int = 0,
    ) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.roles = roles
        self.certificate_pem = certificate_pem  # the app's public certificate, for client assertions
        super().__init__(clock=clock, rng_seed=rng_seed)
        self.post = post
        self.limiter = FixedWindowRateLimiter(MAILBOX_REQUESTS_PER_WINDOW, self.clock, MAILBOX_WINDOW_SECONDS)
        self.in_flight: dict[str, int] = {}
        self.tokens: dict[str, tuple[str, datetime]] = {}  # access token -> (client id, expiry)
        self.revoked = False  # admin: the app's consent was withdrawn
        self.users: list[Json] = []
        self.mailboxes: dict[tuple[str, str], MailboxItems] = {}  # (kind, user id) -> items
        self.call_records: dict[str, Json] = {}
        self.subscriptions: dict[str, Json] = {}
        self.validations: list[str] = []  # notification URLs validated (for tests)
        self.sequence = 0
        self._load(seed or {})

    # -- records ------------------------------------------------------------------------------------

    def _load(self, seed: Mapping[str, Any]) -> None:
        unknown = set(seed) - SEED_KEYS
        if unknown:
            raise ValueError(f"unknown Microsoft 365 seed collections: {sorted(unknown)}")
        for user in seed.get("users") or []:
            self.users.append(dict(user))
        for kind in ("events", "messages"):
            for mailbox, items in (seed.get(kind) or {}).items():
                for item in items:
                    self.put(kind, mailbox, item)
        for record in seed.get("callRecords") or []:
            self.put_call_record(record)

    def user(self, key: str) -> Json:
        """A user by id or user principal name (case-insensitive), or 404."""
        lowered = key.lower()
        for user in self.users:
            if str(user.get("id")).lower() == lowered or str(user.get("userPrincipalName", "")).lower() == lowered:
                return user
        raise GraphError(404, "Request_ResourceNotFound", f"Resource '{key}' does not exist.")

    def box(self, kind: str, mailbox: str) -> MailboxItems:
        """A mailbox's events or messages."""
        user = self.user(mailbox)
        return self.mailboxes.setdefault((kind, str(user["id"])), MailboxItems())

    def put(self, kind: str, mailbox: str, item: Mapping[str, Any]) -> Json:
        """Add or replace an event or message (as its owner does in Outlook); queues notifications."""
        with self.lock:
            box = self.box(kind, mailbox)
            stored = copy.deepcopy(dict(item))
            stored.setdefault("id", f"AAMk{secrets.token_hex(12)}")
            stored.setdefault("@odata.etag", f'W/"{secrets.token_hex(8)}"')
            change = "updated" if stored["id"] in box.items else "created"
            if change == "updated":
                stored["@odata.etag"] = f'W/"{secrets.token_hex(8)}"'
            self.sequence += 1
            box.items[stored["id"]] = stored
            box.changed[stored["id"]] = self.sequence
            box.deleted.discard(stored["id"])
            user = self.user(mailbox)
        self.notify(kind, user, stored, change)
        return stored

    def remove(self, kind: str, mailbox: str, item_id: str) -> None:
        """Delete an event or message."""
        with self.lock:
            box = self.box(kind, mailbox)
            if item_id not in box.items:
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            removed = box.items.pop(item_id)
            self.sequence += 1
            box.changed[item_id] = self.sequence
            box.deleted.add(item_id)
            user = self.user(mailbox)
        self.notify(kind, user, removed, "deleted")

    def put_call_record(self, record: Mapping[str, Any]) -> Json:
        """Add a call record (Teams writes one after the call ends)."""
        with self.lock:
            stored = copy.deepcopy(dict(record))
            stored.setdefault("id", secrets.token_hex(16))
            stored.setdefault("version", 1)
            stored.setdefault("lastModifiedDateTime", stored.get("endDateTime"))
            for participant in [stored.get("organizer_v2"), *(stored.get("participants_v2") or [])]:
                _type_identities(participant)
            self.call_records[str(stored["id"])] = stored
        self.notify("callRecords", None, stored, "created")
        return stored

    def expire_delta_tokens(self, mailbox: str | None = None) -> None:
        """Evict sync state (Graph's cache filled up): older tokens get 410 SyncStateNotFound."""
        with self.lock:
            for (_, user_id), box in self.mailboxes.items():
                if mailbox is None or user_id == str(self.user(mailbox)["id"]):
                    box.generation += 1

    # -- tokens -------------------------------------------------------------------------------------

    def issue_token(self, client_id: str) -> Json:
        """A client-credentials access token."""
        with self.lock:
            token = secrets.token_urlsafe(32)
            self.tokens[token] = (client_id, self.clock.now() + timedelta(seconds=TOKEN_TTL_SECONDS))
        return {
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL_SECONDS,
            "ext_expires_in": TOKEN_TTL_SECONDS,
            "access_token": token,
        }

    def authenticate(self, authorization: str | None) -> str:
        """The client id behind a bearer token, or 401."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        with self.lock:
            found = self.tokens.get(token)
        if found is None or self.revoked:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
        if found[1] <= self.clock.now():
            raise GraphError(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
        return found[0]

    def require(self, *roles: str) -> None:
        """403 unless the app holds one of the roles (application permissions, §2)."""
        if not self.roles & set(roles):
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")

    # -- throttling ---------------------------------------------------------------------------------

    def enter_mailbox(self, client_id: str, user_id: str) -> str:
        """Count a request against the app x mailbox limits (§8); 429 with Retry-After when over."""
        key = f"{client_id}|{user_id}"
        with self.lock:
            if self.in_flight.get(key, 0) >= MAILBOX_CONCURRENCY:
                raise GraphError(
                    429,
                    "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.",
                    {"Retry-After": str(CONCURRENCY_RETRY_AFTER)},
                )
            decision = self.limiter.hit(key)
            if not decision.allowed:
                raise GraphError(
                    429,
                    "ApplicationThrottled",
                    "Application is over its resource limit.",
                    {"Retry-After": str(decision.retry_after)},
                )
            self.in_flight[key] = self.in_flight.get(key, 0) + 1
        return key

    def leave_mailbox(self, key: str) -> None:
        """The request is answered: free its concurrency slot."""
        with self.lock:
            self.in_flight[key] = max(self.in_flight.get(key, 1) - 1, 0)

    # -- delta rounds -------------------------------------------------------------------------------

    def delta(self, kind: str, mailbox: str, query: Mapping[str, str], page_size: int, base: str) -> Json:
        """One page of a calendarView or sent-items delta round (§4, §5)."""
        with self.lock:
            box = self.box(kind, mailbox)
            token = query.get("$deltatoken") or query.get("$skiptoken")
            if token:
                state = decode_token(token)
                if int(state.get("g", 0)) != box.generation or state.get("m") != str(self.user(mailbox)["id"]):
                    raise GraphError(
                        410,
                        "SyncStateNotFound",
                        "The sync state generation is not found; "
                        f"generation={state.get('g')};[highest={box.generation}]",
                        {"Location": self._path_only(base, kind, mailbox) + "?$deltatoken="},
                    )
                if "$deltatoken" in query:
                    state = {**state, "u": self.sequence, "o": 0}
            else:
                state = self._new_round(kind, mailbox, query) | {"g": box.generation}
            window = state.get("w")
            since_filter = state.get("f")
            changed = sorted(
                (seq, item_id) for item_id, seq in box.changed.items() if int(state["s"]) < seq <= int(state["u"])
            )
            entries: list[Json] = []
            for _, item_id in changed:
                item = box.items.get(item_id)
                initial = int(state["s"]) == 0
                if item is None or not self._in_range(kind, item, window, since_filter):
                    if not initial and (item is not None or item_id in box.deleted):
                        entries.append(self._removed(kind, item_id))
                    continue
                entries.append(self._shape(kind, item, state.get("sel")))
            offset = int(state.get("o", 0))
            page = entries[offset : offset + page_size]
            body: Json = {"@odata.context": f"{base}/$metadata#Collection({kind[:-1]})", "value": page}
            path = self._path_only(base, kind, mailbox)
            if offset + page_size < len(entries):
                body["@odata.nextLink"] = f"{path}?$skiptoken={encode_token({**state, 'o': offset + page_size})}"
            else:
                done = {k: v for k, v in state.items() if k not in ("u", "o")} | {"s": int(state["u"])}
                body["@odata.deltaLink"] = f"{path}?$deltatoken={encode_token(done)}"
            return body

    def _new_round(self, kind: str, mailbox: str, query: Mapping[str, str]) -> Json:
        state: Json = {"k": kind, "m": str(self.user(mailbox)["id"]), "s": 0, "u": self.sequence, "o": 0}
        if kind == "events":
            if "$select" in query or "$filter" in query or "$orderby" in query or "$expand" in query:
                raise GraphError(400, "BadRequest", "The query option is not supported by calendarView delta.")
            try:
                start = parse_timestamp(query["startDateTime"])
                end = parse_timestamp(query["endDateTime"])
            except (KeyError, ValueError):
                raise GraphError(
                    400,
                    "ErrorInvalidParameter",
                    "This request requires a time window specified by the query "
                    "string parameters StartDateTime and EndDateTime.",
                ) from None
            state["w"] = [graph_time(start), graph_time(end)]
        else:
            if "$search" in query or ("$orderby" in query and query["$orderby"] != "receivedDateTime desc"):
                raise GraphError(400, "BadRequest", "The query option is not supported by message delta.")
            raw_filter = query.get("$filter")
            if raw_filter:
                parts = raw_filter.split()
                if len(parts) != 3 or parts[0] != "receivedDateTime" or parts[1] not in ("ge", "gt"):
                    raise GraphError(400, "BadRequest", "Only receivedDateTime ge|gt filters a message delta.")
                state["f"] = graph_time(parse_timestamp(parts[2]))
            if query.get("$select"):
                state["sel"] = query["$select"]
        return state

    def _in_range(self, kind: str, item: Json, window: Any, since_filter: Any) -> bool:
        if kind == "events" and window:
            start, end = _event_time(item, "start"), _event_time(item, "end")
            return start < parse_timestamp(window[1]) and end > parse_timestamp(window[0])
        if kind == "messages" and since_filter:
            return parse_timestamp(str(item.get("receivedDateTime"))) >= parse_timestamp(since_filter)
        return True

    def _removed(self, kind: str, item_id: str) -> Json:
        odata = "#microsoft.graph.event" if kind == "events" else "#microsoft.graph.message"
        return {"@odata.type": odata, "id": item_id, "@removed": {"reason": "deleted"}}

    def _shape(self, kind: str, item: Json, select: str | None) -> Json:
        shaped = copy.deepcopy(item)
        if kind == "messages":
            shaped["@odata.type"] = "#microsoft.graph.message"
            if not self.roles & {"Mail.Read", "Mail.ReadWrite"}:
                # Mail.ReadBasic.All reads everything "except for body, bodyPreview, uniqueBody, ..." (§2).
                for name in BODY_FIELDS:
                    shaped.pop(name, None)
            if select:
                wanted = {f.strip() for f in select.split(",")} | {"id", "@odata.type", "@odata.etag"}
                shaped = {k: v for k, v in shaped.items() if k in wanted}
        else:
            shaped["@odata.type"] = "#microsoft.graph.event"
        return shaped

    def _path_only(self, base: str, kind: str, mailbox: str) -> str:
        folder = "calendarView/delta" if kind == "events" else "mailFolders/sentitems/messages/delta"
        return f"{base}/users/{quote(mailbox)}/{folder}"

    def event(self, mailbox: str, event_id: str, select: str | None) -> Json:
        """GET /users/{id}/events/{id}, with $select."""
        with self.lock:
            item = self.box("events", mailbox).items.get(event_id)
            if item is None:
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            shaped = copy.deepcopy(item)
        if select:
            wanted = {f.strip() for f in select.split(",")} | {"id", "@odata.etag"}
            shaped = {k: v for k, v in shaped.items() if k in wanted}
        return shaped

    # -- call records -------------------------------------------------------------------------------

    def call_record_list(self, query: Mapping[str, str]) -> list[Json]:
        """Call records still retained, filtered on startDateTime (§6), without participants or sessions."""
        now = self.clock.now()
        floor: datetime | None = None
        raw_filter = query.get("$filter")
        if raw_filter:
            parts = raw_filter.split()
            if len(parts) != 3 or parts[0] != "startDateTime" or parts[1] not in ("ge", "gt"):
                raise GraphError(400, "BadRequest", "Only startDateTime comparisons filter the call records list.")
            floor = parse_timestamp(parts[2])
        found = []
        with self.lock:
            for record in self.call_records.values():
                start, end = parse_timestamp(record["startDateTime"]), parse_timestamp(record["endDateTime"])
                if end < now - CALL_RECORD_RETENTION or (floor is not None and start < floor):
                    continue
                found.append({k: v for k, v in record.items() if k not in ("participants_v2", "sessions")})
        return sorted(found, key=lambda r: (r["startDateTime"], r["id"]))

    def call_record(self, record_id: str) -> Json:
        """One retained call record."""
        with self.lock:
            record = self.call_records.get(record_id)
        if record is None or parse_timestamp(record["endDateTime"]) < self.clock.now() - CALL_RECORD_RETENTION:
            raise GraphError(404, "NotFound", "Call record not found.")
        return record

    # -- subscriptions and notifications ------------------------------------------------------------

    def create_subscription(self, body: Mapping[str, Any], client_id: str) -> Json:
        """POST /subscriptions: validate the resource, lifetime and URLs (handshake), then store."""
        resource = str(body.get("resource") or "")
        kind, user = self._resource(resource)
        now = self.clock.now()
        try:
            expires = parse_timestamp(str(body.get("expirationDateTime")))
        except ValueError:
            raise GraphError(400, "ExtensionError", "expirationDateTime is required.") from None
        self._check_lifetime(kind, expires, now)
        client_state = body.get("clientState")
        if client_state is not None and len(str(client_state)) > 128:
            raise GraphError(400, "ExtensionError", "clientState may hold at most 128 characters.")
        notification_url = str(body.get("notificationUrl") or "")
        lifecycle_url = body.get("lifecycleNotificationUrl")
        for url in dict.fromkeys(u for u in (notification_url, lifecycle_url) if u):
            self._validate_endpoint(str(url))
        subscription_id = secrets.token_hex(16)
        subscription: Json = {
            "@odata.context": "$metadata#subscriptions/$entity",
            "id": subscription_id,
            "resource": resource,
            "applicationId": client_id,
            "changeType": str(body.get("changeType") or ""),
            "clientState": client_state,
            "notificationUrl": notification_url,
            "lifecycleNotificationUrl": lifecycle_url,
            "expirationDateTime": graph_time(expires),
            "creatorId": client_id,
            "latestSupportedTlsVersion": "v1_2",
            "notificationUrlAppId": None,
            "_kind": kind,
            "_user": user,
        }
        with self.lock:
            self.subscriptions[subscription_id] = subscription
        return public_subscription(subscription)

    def renew_subscription(self, subscription_id: str, body: Mapping[str, Any]) -> Json:
        """PATCH /subscriptions/{id} with a new expirationDateTime (within the resource's maximum)."""
        subscription = self.live_subscription(subscription_id)
        try:
            expires = parse_timestamp(str(body.get("expirationDateTime")))
        except ValueError:
            raise GraphError(400, "ExtensionError", "expirationDateTime is required.") from None
        self._check_lifetime(subscription["_kind"], expires, self.clock.now())
        with self.lock:
            subscription["expirationDateTime"] = graph_time(expires)
            subscription.pop("_needs_reauthorization", None)
        return public_subscription(subscription)

    def live_subscription(self, subscription_id: str) -> Json:
        """A subscription that has not expired, or 404 (Graph deletes expired ones)."""
        with self.lock:
            subscription = self.subscriptions.get(subscription_id)
            if subscription is not None and parse_timestamp(subscription["expirationDateTime"]) <= self.clock.now():
                del self.subscriptions[subscription_id]
                subscription = None
        if subscription is None:
            raise GraphError(404, "ResourceNotFound", f"The object was not found: {subscription_id}")
        return subscription

    def live_subscriptions(self) -> list[Json]:
        """Every subscription that has not expired."""
        with self.lock:
            ids = list(self.subscriptions)
        found = []
        for subscription_id in ids:
            try:
                found.append(self.live_subscription(subscription_id))
            except GraphError:
                continue
        return found

    def delete_subscription(self, subscription_id: str) -> None:
        """DELETE /subscriptions/{id}."""
        self.live_subscription(subscription_id)
        with self.lock:
            self.subscriptions.pop(subscription_id, None)

    def _resource(self, resource: str) -> tuple[str, str | None]:
        parts = [p for p in resource.strip("/").split("/") if p]
        lowered = [p.lower() for p in parts]
        if lowered == ["communications", "callrecords"]:
            self.require("CallRecords.Read.All")
            return "callRecord", None
        if len(parts) >= 3 and lowered[0] in ("users", "me"):
            user = str(self.user(parts[1])["id"])
            tail = "/".join(lowered[2:])
            if tail == "events":
                self.require("Calendars.Read", "Calendars.ReadWrite")
                return "event", user
            if tail in ("messages", "mailfolders('sentitems')/messages", "mailfolders/sentitems/messages"):
                self.require("Mail.ReadBasic.All", "Mail.Read", "Mail.ReadBasic")
                return "message", user
        raise GraphError(400, "InvalidRequest", f"Resource '{resource}' is not supported for subscriptions.")

    def _check_lifetime(self, kind: str, expires: datetime, now: datetime) -> None:
        maximum = timedelta(minutes=MAX_SUBSCRIPTION_MINUTES[kind])
        if expires <= now:
            raise GraphError(400, "ExtensionError", "Subscription expiration can only be in the future.")
        if expires > now + maximum:
            raise GraphError(
                400,
                "ExtensionError",
                f"Subscription expiration can only be {MAX_SUBSCRIPTION_MINUTES[kind]} minutes in the future.",
            )

    def _validate_endpoint(self, url: str) -> None:
        webhooks.validate_endpoint(self.post, url)
        self.validations.append(url)

    def notify(self, kind: str, user: Json | None, item: Mapping[str, Any], change: str) -> int:
        """Deliver basic change notifications to the subscriptions watching this resource (§7)."""
        return webhooks.notify_change(
            self.post,
            self.live_subscriptions(),
            tenant_id=self.tenant_id,
            kind=kind,
            user=user,
            item=item,
            change=change,
        )

    def lifecycle(self, subscription_id: str, event: str) -> int:
        """Send a lifecycle notification (§7); subscriptionRemoved also removes the subscription."""
        if event not in ("reauthorizationRequired", "subscriptionRemoved", "missed"):
            raise GraphError(400, "BadRequest", f"unknown lifecycle event {event}")
        subscription = self.live_subscription(subscription_id)
        if event == "subscriptionRemoved":
            if subscription["_kind"] not in ("event", "message"):
                raise GraphError(400, "BadRequest", "subscriptionRemoved is sent only for Outlook resources")
            with self.lock:
                self.subscriptions.pop(subscription_id, None)
        if event == "missed" and subscription["_kind"] not in ("event", "message"):
            raise GraphError(400, "BadRequest", "missed is sent only for Outlook resources")
        return webhooks.notify_lifecycle(self.post, subscription, event, tenant_id=self.tenant_id)

    def reauthorize(self, subscription_id: str) -> None:
        """POST /subscriptions/{id}/reauthorize."""
        subscription = self.live_subscription(subscription_id)
        with self.lock:
            subscription.pop("_needs_reauthorization", None)

    # -- apps ---------------------------------------------------------------------------------------

    def api_app(self) -> ASGIApp:
        """Graph at /graph/v1.0 and Entra at /login, to be mounted at /microsoft365."""
        return build_api_app(self)

    def admin_app(self) -> ASGIApp:
        """The admin API, to be mounted at /_sandbox/microsoft365."""
        return build_admin_app(self)


def _type_identities(participant: Any) -> None:
    """Give each member of a participant's identity set its @odata.type, unless the seed gave one."""
    identity = participant.get("identity") if isinstance(participant, dict) else None
    if not isinstance(identity, dict):
        return
    for member, odata_type in IDENTITY_TYPES.items():
        if isinstance(identity.get(member), dict):
            identity[member].setdefault("@odata.type", odata_type)


def _event_time(item: Mapping[str, Any], name: str) -> datetime:
    value = item.get(name) or {}
    text = str(value.get("dateTime") or "")
    head, dot, rest = text.partition(".")
    text = f"{head}.{rest[:6]}" if dot else head
    moment = datetime.fromisoformat(text)
    zone = str(value.get("timeZone") or "UTC")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC if zone.upper() == "UTC" else ZoneInfo(zone))
