"""The sandbox of Clio Manage's API v4, kept to its documented behaviour and limits.

See connectors/clio/README.md ("Sandbox") and docs/vendors/clio.md for the facts it follows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI

from billsync_sandboxes.clio.admin import build_admin_app
from billsync_sandboxes.clio.api import build_api_app
from billsync_sandboxes.clio.api.activities import ActivityWriter
from billsync_sandboxes.clio.api.billing import change_bill_state, delete_bill, generate_bill
from billsync_sandboxes.clio.api.fields import Renderer
from billsync_sandboxes.clio.api.resources import (
    ACTIVITIES,
    ALL_RESOURCES,
    BILLING_SETTINGS,
    BILLS,
    BY_NAME,
    MATTERS,
    Resource,
)
from billsync_sandboxes.clio.api.writes import GenericWriter
from billsync_sandboxes.clio.auth import DEFAULT_TOKEN_TTL_SECONDS, TokenStore
from billsync_sandboxes.clio.errors import not_found, unprocessable
from billsync_sandboxes.clio.webhooks import MATTER_STATUS_EVENTS, WebhookHub
from billsync_sandboxes.kit import (
    Clock,
    Deliver,
    FixedWindowRateLimiter,
    Record,
    RecordCollection,
    http_deliver,
)
from billsync_sandboxes.kit.base import SandboxBase

DEFAULT_CLIENT_ID = "billsync-sandbox-client"
DEFAULT_CLIENT_SECRET = "billsync-sandbox-secret"  # noqa: S105 - a public sandbox value
# docs/vendors/clio.md §2: 50 requests per minute per token at peak.
DEFAULT_RATE_LIMIT_PER_MINUTE = 50
SEED_KEYS = frozenset(
    {
        "users",
        "contacts",
        "matters",
        "communications",
        "calendar_entries",
        "tasks",
        "documents",
        "notes",
        "activities",
        "activity_descriptions",
        "activity_rates",
        "utbms_codes",
        "bills",
        "line_items",
        "billing_settings",
    }
)
# docs/vendors/clio.md §4 item 2: rounding is a minute increment, 1 minute by default.
DEFAULT_BILLING_SETTINGS: Mapping[str, Any] = {
    "id": 1,
    "rounding": 1,
    "use_decimal_rounding": False,
    "currency": "USD",
    "currency_sign": "$",
    "tax_rate": 0.0,
    "tax_name": "Tax",
    "apply_tax_by_default": False,
    "apply_secondary_tax_by_default": False,
    "time_on_flat_rate_contingency_matters_is_non_billable": False,
    "use_secondary_tax": False,
    "secondary_tax_rate": 0.0,
    "secondary_tax_rule": "Post",
    "secondary_tax_name": "Secondary Tax",
    "notify_after_bill_created": False,
    "use_utbms_codes": False,
    "multi_currency_billing": False,
    "billing_currencies": [],
}


class ClioSandbox(SandboxBase):
    """One simulated Clio Manage account: its records, tokens, limits, faults and webhooks."""

    def __init__(
        self,
        seed: Mapping[str, Any] | None = None,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        rate_limit_per_minute: int = DEFAULT_RATE_LIMIT_PER_MINUTE,
        clock: Clock | None = None,
        rng_seed: int = 0,
        deliver: Deliver = http_deliver,
        token_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS,
        allow_http_webhooks: bool = False,
        authorize_user_id: int | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        super().__init__(clock=clock, rng_seed=rng_seed)
        self.collections: dict[str, RecordCollection] = {
            r.name: RecordCollection(r.name, self.clock, string_ids=r.string_ids)
            for r in ALL_RESOURCES
        }
        self.renderer = Renderer(self.collections)
        self.tokens = TokenStore(self.clock, rng_seed, token_ttl_seconds)
        self.rate_limiter = FixedWindowRateLimiter(rate_limit_per_minute, self.clock)
        self.webhooks = WebhookHub(
            self.collections,
            self.renderer,
            self.clock,
            deliver,
            lock=self.lock,
            seed=rng_seed,
            allow_http=allow_http_webhooks,
        )
        self.activity_writer = ActivityWriter(self.collections)
        self.generic_writer = GenericWriter(self.collections)
        self._authorize_user_id = authorize_user_id
        self._contact_rates: list[dict[str, Any]] = []  # rates seeded on contacts, moved to their table
        self._load(seed or {})

    # -- records, with webhook events -------------------------------------------------------

    def insert_record(self, resource: Resource, record: Mapping[str, Any]) -> Record:
        """Store a new record and queue `created` webhooks."""
        with self.lock:
            stored = self.collections[resource.name].insert(record)
            self.webhooks.emit(resource, ["created"], None, stored)
            return stored

    def change_record(
        self, resource: Resource, record_id: object, changes: Mapping[str, Any]
    ) -> Record:
        """Update a record and queue `updated` (and matter status) webhooks."""
        with self.lock:
            before, after = self.collections[resource.name].update(record_id, changes)
            events = ["updated"]
            if resource is MATTERS and before.get("status") != after.get("status"):
                status_event = MATTER_STATUS_EVENTS.get(str(after.get("status")))
                if status_event:
                    events.append(status_event)
            self.webhooks.emit(resource, events, before, after)
            return after

    def remove_record(self, resource: Resource, record_id: object) -> Record:
        """Delete a record and queue `deleted` webhooks."""
        with self.lock:
            removed = self.collections[resource.name].delete(record_id)
            self.webhooks.emit(resource, ["deleted"], removed, None)
            return removed

    def check_unlocked(self, activity: Record) -> None:
        """Refuse changes to an activity on a bill (docs/vendors/clio.md §3.13 "Locking")."""
        if self.renderer.activity_figures(activity)["on_bill"]:
            # The real status and body are UNCONFIRMED in docs/vendors/clio.md; 422 is the sandbox's choice.
            raise unprocessable(
                "This activity is on a bill and cannot be changed until the bill is "
                "deleted or voided"
            )

    # -- what a person does in Clio's UI (the admin API) ------------------------------------

    def add(self, collection: str, record: Mapping[str, Any]) -> Record:
        """Add a record in Clio's full shape; id, etag and timestamps are filled in."""
        resource = self._resource(collection)
        with self.lock:
            return self.renderer.full(resource, self.insert_record(resource, record))

    def update(self, collection: str, record_id: object, changes: Mapping[str, Any]) -> Record:
        """Change a record as a person would; billed activities stay locked."""
        resource = self._resource(collection)
        with self.lock:
            existing = self._existing(resource, record_id)
            if resource is ACTIVITIES:
                self.check_unlocked(existing)
            rest = dict(changes)
            if resource is BILLS and "state" in rest:
                change_bill_state(self, existing["id"], str(rest.pop("state")))
            after = self.change_record(resource, existing["id"], rest)
            return self.renderer.full(resource, after)

    def delete(self, collection: str, record_id: object) -> Record:
        """Delete a record as a person would; deleting a bill unlocks its activities."""
        resource = self._resource(collection)
        with self.lock:
            existing = self._existing(resource, record_id)
            if resource is BILLS:
                return self.renderer.full(resource, delete_bill(self, existing["id"]))
            if resource is ACTIVITIES:
                self.check_unlocked(existing)
            return self.renderer.full(resource, self.remove_record(resource, existing["id"]))

    def records(self, collection: str) -> list[Record]:
        """Return every record of a collection in Clio's full shape."""
        resource = self._resource(collection)
        with self.lock:
            return [self.renderer.full(resource, r) for r in self.collections[collection].all()]

    def generate_bill(
        self,
        matter_id: object,
        *,
        state: str = "draft",
        issued_at: str | None = None,
        due_at: str | None = None,
        activity_ids: Sequence[object] | None = None,
    ) -> Record:
        """Generate a bill from a matter's unbilled billable activities, as in Clio's UI."""
        with self.lock:
            bill = generate_bill(
                self,
                matter_id,
                state=state,
                issued_at=issued_at,
                due_at=due_at,
                activity_ids=activity_ids,
            )
            return self.renderer.full(BILLS, bill)

    # -- tokens, webhooks, apps -------------------------------------------------------------

    def authorizing_user_id(self) -> int:
        """Return the user who approves /oauth/authorize requests."""
        if self._authorize_user_id is not None:
            return self._authorize_user_id
        users = self.collections["users"].all()
        if not users:
            raise unprocessable("the sandbox has no users to authorize as")
        owners = [u for u in users if u.get("account_owner")]
        return int((owners or users)[0]["id"])

    def issue_token(self, user_id: int | None = None) -> dict[str, object]:
        """Mint tokens without the OAuth dance (tests and demos)."""
        with self.lock:
            chosen = self.authorizing_user_id() if user_id is None else user_id
            if chosen not in self.collections["users"]:
                raise not_found(f"User {chosen} not found")
            return self.tokens.response(self.tokens.issue(chosen))

    def flush_webhooks(self) -> int:
        """Deliver every webhook that is due; return the number of attempts."""
        return self.webhooks.flush()

    def api_app(self) -> FastAPI:
        """Return the app serving /api/v4/... and /oauth/..., to be mounted at /clio."""
        return build_api_app(self)

    def admin_app(self) -> FastAPI:
        """Return the admin app, to be mounted at /_sandbox/clio."""
        return build_admin_app(self)

    # -- internals ----------------------------------------------------------------------------

    def _load(self, seed: Mapping[str, Any]) -> None:
        unknown = set(seed) - SEED_KEYS
        if unknown:
            raise ValueError(f"unknown Clio seed collections: {sorted(unknown)}")
        settings = seed.get("billing_settings") or {}
        if isinstance(settings, list):
            settings = settings[0] if settings else {}
        self.collections[BILLING_SETTINGS.name].seed([{**DEFAULT_BILLING_SETTINGS, **settings}])
        for name, records in seed.items():
            if name == "contacts":
                self.collections[name].seed([self._rates_apart(contact) for contact in records])
            elif name != "billing_settings":
                self.collections[name].seed(records)
        self.collections["activity_rates"].seed(self._contact_rates)

    def _rates_apart(self, contact: Mapping[str, Any]) -> Mapping[str, Any]:
        """A seeded contact's own `activity_rates[]` and `co_counsel_rate`, kept as activity_rates rows.

        Clio keeps them in one table (docs/vendors/clio.md §3.3) and shows them on the contact; so does the
        sandbox, whichever of the two shapes a seed uses."""
        rest = dict(contact)
        for row in rest.pop("activity_rates", None) or []:
            self._contact_rates.append({**row, "contact_id": contact.get("id")})
        co_counsel = rest.pop("co_counsel_rate", None)
        if isinstance(co_counsel, Mapping):
            self._contact_rates.append({**co_counsel, "co_counsel_contact_id": contact.get("id")})
        return rest

    def _resource(self, collection: str) -> Resource:
        resource = BY_NAME.get(collection)
        if resource is None:
            raise not_found(f"Unknown collection: {collection}")
        return resource

    def _existing(self, resource: Resource, record_id: object) -> Record:
        record = self.collections[resource.name].find(record_id)
        if record is None:
            raise not_found(f"{resource.name} {record_id} not found")
        return record


def create_app(sandbox: ClioSandbox) -> FastAPI:
    """Mount the API at /clio and the admin API at /_sandbox/clio (for tests and demos)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.mount("/_sandbox/clio", sandbox.admin_app())
    app.mount("/clio", sandbox.api_app())
    return app
