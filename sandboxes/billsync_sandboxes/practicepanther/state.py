"""The sandbox of PracticePanther's REST API v2, kept to its documented behaviour and limits.

See connectors/practicepanther/README.md ("Sandbox") and docs/vendors/practicepanther.md for the facts it follows.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from billsync_sandboxes.kit import (
    Clock,
    FixedWindowRateLimiter,
    Record,
    RecordCollection,
)
from billsync_sandboxes.kit.base import SandboxBase
from billsync_sandboxes.practicepanther.admin import build_admin_app
from billsync_sandboxes.practicepanther.api import build_api_app
from billsync_sandboxes.practicepanther.api.resources import (
    ALL_RESOURCES,
    BY_NAME,
    MATTERS,
    READ_ONLY,
    REF_TARGETS,
    TASKS,
    TIME_ENTRIES,
    Resource,
    render,
)
from billsync_sandboxes.practicepanther.auth import DEFAULT_TOKEN_TTL_SECONDS, TokenStore
from billsync_sandboxes.practicepanther.errors import PracticePantherError

DEFAULT_CLIENT_ID = "billsync-pp-sandbox-client"
DEFAULT_CLIENT_SECRET = "billsync-pp-sandbox-secret"  # noqa: S105 - a public sandbox value
# docs/vendors/practicepanther.md §5: one integrator reports 300 requests per 5 minutes (UNCONFIRMED).
DEFAULT_RATE_LIMIT = 300
RATE_WINDOW_SECONDS = 300.0


class PracticePantherSandbox(SandboxBase):
    """One simulated PracticePanther firm: records, tokens, rate limit, faults and a request log."""

    def __init__(
        self,
        seed: Mapping[str, Any] | None = None,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        rate_limit: int = DEFAULT_RATE_LIMIT,
        rate_window_seconds: float = RATE_WINDOW_SECONDS,
        clock: Clock | None = None,
        rng_seed: int = 0,
        token_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS,
        authorize_user_id: str | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        super().__init__(clock=clock, rng_seed=rng_seed)
        self.collections: dict[str, RecordCollection] = {
            r.name: RecordCollection(r.name, self.clock, string_ids=True) for r in ALL_RESOURCES
        }
        self.tokens = TokenStore(self.clock, rng_seed, token_ttl_seconds)
        self.rate_limiter = FixedWindowRateLimiter(rate_limit, self.clock, window_seconds=rate_window_seconds)
        # Ids are UUIDs (docs/vendors/practicepanther.md §3); seeded so runs repeat.
        self._rng = random.Random(f"pp-ids-{rng_seed}")  # noqa: S311
        self._authorize_user_id = authorize_user_id
        self._load(seed or {})

    # -- what the API does --------------------------------------------------------------------

    def new_id(self) -> str:
        """A fresh UUID."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def create(self, resource: Resource, body: Mapping[str, Any]) -> Record:
        """POST: validate, fill server fields, store; returns the stored record."""
        with self.lock:
            record = self._validated(resource, body)
            record["id"] = self.new_id()
            self._server_fields(resource, record, None)
            return self.collections[resource.name].insert(record)

    def replace(self, resource: Resource, record_id: str, body: Mapping[str, Any]) -> Record:
        """PUT ?id=: a full replace; every field the body omits is nulled (docs/vendors/practicepanther.md §3)."""
        with self.lock:
            existing = self.existing(resource, record_id)
            record = self._validated(resource, body)
            self._server_fields(resource, record, existing)
            changes = {key: record.get(key) for key in set(existing) | set(record) if key not in READ_ONLY}
            changes.pop("etag", None)
            _, after = self.collections[resource.name].update(existing["id"], changes)
            return after

    def remove(self, resource: Resource, record_id: str) -> Record:
        """DELETE ?id=."""
        with self.lock:
            existing = self.existing(resource, record_id)
            return self.collections[resource.name].delete(existing["id"])

    def render(self, record: Record) -> Record:
        """A stored record in PP's answer shape."""
        return render(record, self.collections)

    # -- what a person does in PP's UI (the admin API) -------------------------------------------

    def add(self, collection: str, record: Mapping[str, Any]) -> Record:
        """Add a record in PP's full shape; a missing id or timestamps are filled in."""
        resource = self._resource(collection)
        with self.lock:
            stored = dict(record)
            stored.setdefault("id", self.new_id())
            return self.render(self.collections[resource.name].insert(stored))

    def update(self, collection: str, record_id: str, changes: Mapping[str, Any]) -> Record:
        """Change some fields, as a person editing the record would (updated_at moves)."""
        resource = self._resource(collection)
        with self.lock:
            existing = self.existing(resource, record_id)
            _, after = self.collections[resource.name].update(existing["id"], changes)
            return self.render(after)

    def delete(self, collection: str, record_id: str) -> Record:
        """Delete a record as a person would."""
        resource = self._resource(collection)
        with self.lock:
            return self.render(self.remove(resource, record_id))

    def records(self, collection: str) -> list[Record]:
        """Every record of a collection in PP's shape."""
        resource = self._resource(collection)
        with self.lock:
            return [self.render(r) for r in self.collections[resource.name].all()]

    # -- tokens and apps --------------------------------------------------------------------------

    def authorizing_user_id(self) -> str:
        """The user who approves /oauth/authorize requests."""
        if self._authorize_user_id is not None:
            return self._authorize_user_id
        users = self.collections["users"].all()
        if not users:
            raise PracticePantherError(400, "the sandbox has no users to authorize as")
        return str(users[0]["id"])

    def issue_token(self, user_id: str | None = None) -> dict[str, object]:
        """Mint tokens without the OAuth dance (tests and demos)."""
        with self.lock:
            chosen = self.authorizing_user_id() if user_id is None else user_id
            if chosen not in self.collections["users"]:
                raise PracticePantherError(404, f"User {chosen} not found")
            return self.tokens.response(self.tokens.issue(chosen))

    def api_app(self) -> FastAPI:
        """The app serving /api/v2/... and /oauth/..., to be mounted at /practicepanther."""
        return build_api_app(self)

    def admin_app(self) -> FastAPI:
        """The admin app, to be mounted at /_sandbox/practicepanther."""
        return build_admin_app(self)

    # -- internals ---------------------------------------------------------------------------------

    def _validated(self, resource: Resource, body: Mapping[str, Any]) -> Record:
        if not isinstance(body, Mapping):
            raise PracticePantherError(400, "The request is invalid.", {"value": ["A JSON object is required."]})
        record: Record = {k: v for k, v in body.items() if k not in READ_ONLY}
        problems: dict[str, list[str]] = {}
        for name in resource.required:
            if record.get(name) in (None, ""):
                problems[f"value.{name}"] = [f"The {name} field is required."]
        for ref_field, target in REF_TARGETS.items():
            ref = record.get(ref_field)
            if ref is None:
                continue
            if not isinstance(ref, Mapping) or not ref.get("id"):
                problems[f"value.{ref_field}.id"] = ["The id field is required."]
            elif ref["id"] not in self.collections[target]:
                problems[f"value.{ref_field}.id"] = [f"No {target} record has id {ref['id']}."]
            else:
                record[ref_field] = {"id": str(ref["id"])}
        hours = record.get("hours")
        if resource is TIME_ENTRIES and hours is not None and (not isinstance(hours, int | float) or hours < 0):
            problems["value.hours"] = ["hours must be a non-negative number."]
        if problems:
            raise PracticePantherError(400, "The request is invalid.", problems)
        return record

    def _server_fields(self, resource: Resource, record: Record, existing: Record | None) -> None:
        if resource is TIME_ENTRIES:
            matter = self.collections["matters"].peek(record["matter_ref"]["id"])
            if matter is not None and matter.get("account_ref"):
                record["account_ref"] = {"id": matter["account_ref"]["id"]}
            record.setdefault("is_billed", existing.get("is_billed", False) if existing else False)
            if record.get("rate") is None:
                # docs/vendors/practicepanther.md §9: a blank rate takes PP's default rate for the user and matter.
                user = self.collections["users"].peek(record["billed_by_user_ref"]["id"])
                record["rate"] = default_rate(matter or {}, user or {})
        if resource is TASKS and record.get("status") is None:
            record["status"] = "NotCompleted"  # docs/vendors/practicepanther.md §3: a null status breaks the PP UI
        if resource is MATTERS:
            record["display_name"] = f"{record.get('number') or ''} - {record.get('name')}".strip(" -")

    def _load(self, seed: Mapping[str, Any]) -> None:
        unknown = set(seed) - set(BY_NAME)
        if unknown:
            raise ValueError(f"unknown PracticePanther seed collections: {sorted(unknown)}")
        for name, records in seed.items():
            for record in records:
                stored = dict(record)
                stored.setdefault("id", self.new_id())
                self.collections[name].insert(stored)

    def _resource(self, collection: str) -> Resource:
        resource = BY_NAME.get(collection)
        if resource is None:
            raise PracticePantherError(404, f"Unknown collection: {collection}")
        return resource

    def existing(self, resource: Resource, record_id: str) -> Record:
        """A copy of one stored record, or a 404."""
        record = self.collections[resource.name].find(str(record_id).lower())
        if record is None:
            raise PracticePantherError(404, f"{resource.path} {record_id} was not found.")
        return record


def default_rate(matter: Mapping[str, Any], user: Mapping[str, Any]) -> float:
    """The rate PP gives an entry posted without one: the matter's rate rules, else the user's own.

    PP's rules, which its API does not expose (kept as sandbox bookkeeping, never served): a
    matter's `rate_rules` are `{"user_id": …, "rate": …}` for one user, `{"role": …, "rate": …}`
    for a role (a user's `role`), `{"rate": …}` for everyone on the matter. A user's rule beats
    its role's, which beats everyone's; without one, the user's `default_rate`.
    """
    rules = [r for r in matter.get("rate_rules") or [] if isinstance(r, Mapping) and r.get("rate") is not None]
    for applies in (
        lambda r: r.get("user_id") is not None and str(r["user_id"]) == str(user.get("id")),
        lambda r: r.get("user_id") is None and r.get("role") is not None and r["role"] == user.get("role"),
        lambda r: r.get("user_id") is None and r.get("role") is None,
    ):
        found = [r for r in rules if applies(r)]
        if found:
            return float(found[0]["rate"])
    return float(user.get("default_rate", 0))


def create_app(sandbox: PracticePantherSandbox) -> FastAPI:
    """Mount the API at /practicepanther and the admin API at /_sandbox/practicepanther."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.mount("/_sandbox/practicepanther", sandbox.admin_app())
    app.mount("/practicepanther", sandbox.api_app())
    return app
