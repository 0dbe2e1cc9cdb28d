"""The sandbox of NetDocuments' REST API v1, keeping to what the reference documents.

See connectors/netdocuments/README.md ("Sandbox") and docs/vendors/netdocuments.md. One repository in one region; its
hosts are served as path prefixes (`/{host}/v1/...`), so a client pointed at another region's host is refused as it
would be.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from billsync_sandboxes.kit import Clock, FixedWindowRateLimiter
from billsync_sandboxes.kit.base import SandboxBase
from billsync_sandboxes.netdocuments.admin import build_admin_app
from billsync_sandboxes.netdocuments.api import WEB_HOSTS, build_api_app
from billsync_sandboxes.netdocuments.auth import TokenStore
from billsync_sandboxes.netdocuments.errors import NetDocumentsError

DEFAULT_CLIENT_ID = "AP-SANDBOX1"
DEFAULT_CLIENT_SECRET = "billsync-nd-sandbox-secret"  # noqa: S105 - a public sandbox value
DEFAULT_REPOSITORY = "CA-SANDBOX1"
# docs/vendors/netdocuments.md §9: rate limits are undocumented. Microsoft's wrapper holds itself to 100 calls per
# minute per connection; the sandbox uses that figure (UNCONFIRMED) and sends no Retry-After.
DEFAULT_RATE_LIMIT = 100
RATE_WINDOW_SECONDS = 60.0
# docs/vendors/netdocuments.md §6: whether the log caps rows per call is UNCONFIRMED. The sandbox caps at this many
# (oldest first, no paging token), so a client that trusts one call to hold everything loses events.
DEFAULT_LOG_ROW_CAP = 500
SEED_KEYS = frozenset({"region", "repository", "cabinets", "customAttributes", "users", "documents", "log"})


class NetDocumentsSandbox(SandboxBase):
    """One simulated repository: users, cabinets, documents, the activity log, tokens, limits, faults."""

    def __init__(
        self,
        seed: Mapping[str, Any] | None = None,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        rate_limit: int = DEFAULT_RATE_LIMIT,
        log_row_cap: int = DEFAULT_LOG_ROW_CAP,
        clock: Clock | None = None,
        rng_seed: int = 0,
    ) -> None:
        data = copy.deepcopy(dict(seed or {}))
        unknown = set(data) - SEED_KEYS
        if unknown:
            raise ValueError(f"unknown NetDocuments seed keys: {sorted(unknown)}")
        self.client_id = client_id
        self.client_secret = client_secret
        super().__init__(clock=clock, rng_seed=rng_seed)
        self.region: str = data.get("region", "us")
        if self.region not in WEB_HOSTS:
            raise ValueError(f"unknown NetDocuments region {self.region!r}: one of {sorted(WEB_HOSTS)}")
        self.repository: dict[str, Any] = data.get("repository") or {"id": DEFAULT_REPOSITORY, "name": "Sandbox"}
        self.cabinets: list[dict[str, Any]] = list(data.get("cabinets", []))
        self.custom_attributes: dict[str, list[dict[str, Any]]] = dict(data.get("customAttributes", {}))
        self.users: list[dict[str, Any]] = list(data.get("users", []))
        self.documents: dict[str, dict[str, Any]] = {}
        for document in data.get("documents", []):
            self.add_document(document)
        self.log: list[dict[str, Any]] = []
        for entry in data.get("log", []):
            self.append_log(entry)
        self.tokens = TokenStore(self.clock, rng_seed)
        self.rate_limiter = FixedWindowRateLimiter(rate_limit, self.clock, window_seconds=RATE_WINDOW_SECONDS)
        self.log_row_cap = log_row_cap

    @property
    def repository_id(self) -> str:
        """The repository's CA- id."""
        return str(self.repository["id"])

    def hosts(self) -> tuple[str, str]:
        """(web host, API host) of the repository's region (docs/vendors/netdocuments.md §1)."""
        web = WEB_HOSTS[self.region]
        return web, f"api.{web}"

    # -- what people do in NetDocuments (the admin API and the seed) ------------------------------

    def add_document(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """Store a document profile ({standardAttributes, customAttributes, misc}, docs/vendors/netdocuments.md §5)."""
        with self.lock:
            stored = copy.deepcopy(dict(document))
            standard = stored.get("standardAttributes")
            if not isinstance(standard, dict) or not standard.get("id"):
                raise ValueError("a document needs standardAttributes.id")
            if standard["id"] in self.documents:
                raise ValueError(f"duplicate document {standard['id']}")
            stored.setdefault("customAttributes", [])
            stored.setdefault("misc", {"archived": False, "deleted": False})
            self.documents[str(standard["id"])] = stored
            return copy.deepcopy(stored)

    def update_profile(self, doc_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change standard attributes and set custom attributes ({"customAttributes": [{id, value}]})."""
        with self.lock:
            document = self._document(doc_id)
            for key, value in changes.get("standardAttributes", {}).items():
                if key != "id":
                    document["standardAttributes"][key] = value
            for attribute in changes.get("customAttributes", []):
                kept = [a for a in document["customAttributes"] if a.get("id") != attribute.get("id")]
                document["customAttributes"] = [*kept, dict(attribute)]
            return copy.deepcopy(document)

    def append_log(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Add a raw log entry ({"activity": {...}}, docs/vendors/netdocuments.md §6)."""
        with self.lock:
            activity = entry.get("activity")
            if not isinstance(activity, Mapping) or not isinstance(activity.get("date"), str):
                raise ValueError("a log entry needs activity.date")
            stored = copy.deepcopy(dict(entry))
            self.log.append(stored)
            return stored

    def act(self, user: str, action: str, doc_id: str, at: datetime | None = None) -> dict[str, Any]:
        """A person acting on a document now (or at `at`): the log gains the event; an edit bumps the profile."""
        with self.lock:
            person = self.user(user)
            document = self._document(doc_id)
            when = (at or self.clock.now()).strftime("%Y-%m-%dT%H:%M:%S")
            standard = document["standardAttributes"]
            if action.lower() in ("edit", "new version", "check in"):
                standard["modified"], standard["modifiedBy"] = when, person.get("displayName", "")
                if action.lower() == "new version":
                    standard["version"] = int(standard.get("version") or 1) + 1
            return self.append_log(log_entry(when, action, person, document))

    def user(self, key: str) -> dict[str, Any]:
        """A user by id or e-mail."""
        for candidate in self.users:
            if key in (candidate.get("id"), str(candidate.get("email", "")).lower()):
                return candidate
        raise NetDocumentsError(404, "not_found", f"No user {key}.")

    def document_profile(self, doc_id: str) -> dict[str, Any]:
        """A document as GET /v1/Document/{id}/info answers: the profile, never the contents."""
        document = self._document(doc_id)
        return {key: copy.deepcopy(value) for key, value in document.items() if key != "contents"}

    def _document(self, doc_id: str) -> dict[str, Any]:
        document = self.documents.get(doc_id)
        if document is None or document.get("misc", {}).get("deleted"):
            raise NetDocumentsError(404, "not_found", f"Document {doc_id} was not found.")
        return document

    # -- apps ---------------------------------------------------------------------------------------

    def issue_service_token(self, scope: str = "full") -> dict[str, Any]:
        """Mint a service-account token without the token endpoint (tests and demos)."""
        with self.lock:
            return self.tokens.response(self.tokens.issue("service", frozenset(scope.split()), with_refresh=False))

    def api_app(self) -> FastAPI:
        """The app serving /{host}/v1/... and the consent page, mounted at /netdocuments."""
        return build_api_app(self)

    def admin_app(self) -> FastAPI:
        """The admin app, mounted at /_sandbox/netdocuments."""
        return build_admin_app(self)


def log_entry(when: str, action: str, user: Mapping[str, Any], document: Mapping[str, Any]) -> dict[str, Any]:
    """A log entry in the shape Splunk reads (docs/vendors/netdocuments.md §6)."""
    standard = document.get("standardAttributes", {})
    return {
        "activity": {
            "date": when,
            "name": action,
            "desc": f"{action} {standard.get('name', '')}".strip(),
            "host": "sandbox",
            "user": {
                "id": user.get("id"),
                "name": user.get("displayName"),
                "guid": user.get("guid", user.get("id")),
                "email": user.get("email"),
            },
            "source": {"name": "Web"},
            "storageObject": {"docId": standard.get("id"), "name": standard.get("name")},
        }
    }


def create_app(sandbox: NetDocumentsSandbox) -> FastAPI:
    """Mount the API at /netdocuments and the admin API at /_sandbox/netdocuments."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.mount("/_sandbox/netdocuments", sandbox.admin_app())
    app.mount("/netdocuments", sandbox.api_app())
    return app
