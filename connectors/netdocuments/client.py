"""A plain client for NetDocuments' REST API v1, on core.http: regional hosts, endpoints, the log.

It knows HTTP and NetDocuments, nothing of billsync's models (mapping.py's job). Vendor facts are
cited as "docs/vendors/netdocuments.md §n". Sign-in (both grants, docs/vendors/netdocuments.md §3)
is auth.py's; a 401 (NetDocuments expires idle tokens after 45-90 minutes) renews the token once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import quote

import requests
from pydantic import SecretStr

from connectors.netdocuments import mapping
from connectors.netdocuments.auth import CONNECTOR, Grant, NetDocumentsAuth
from core.bearer import BearerAuth
from core.connector import Context
from core.errors import Fatal, Retryable
from core.http import Refusal, json_answer
from core.tokens import OAuthToken

Region = Literal["us", "eu", "au", "de", "ca", "dev"]

# docs/vendors/netdocuments.md §1: the web host serves the consent page; the API host is "api." + the web host.
WEB_HOSTS: Mapping[str, str] = {
    "us": "vault.netvoyage.com",
    "eu": "eu.netdocuments.com",  # EU and UK
    "au": "au.netdocuments.com",
    "de": "de.netdocuments.com",
    "ca": "can.netdocuments.com",
    "dev": "ducot.netdocuments.com",
}
Json = dict[str, Any]


class NetDocumentsNotFound(Fatal):
    """404: no such document, cabinet or route."""


class NetDocumentsForbidden(Fatal):
    """403: the account lacks the right (the log probably needs repository admin, docs/vendors/netdocuments.md §6)."""


# What NetDocuments' refusals mean; any other 4xx stays core's Fatal.
REFUSALS: Mapping[int, Refusal] = MappingProxyType(
    {
        403: Refusal(
            NetDocumentsForbidden,
            "{request}: HTTP 403: the NetDocuments account lacks the right "
            "(the repository log probably needs repository-admin rights)",
        ),
        404: Refusal(NetDocumentsNotFound, "{request}: HTTP 404"),
    }
)


def api_host(region: str) -> str:
    """The REST and token host of a region (docs/vendors/netdocuments.md §1)."""
    return "api." + WEB_HOSTS[region]


class NetDocumentsClient:
    """Talks to one firm's NetDocuments repository through the firm's HttpClient and TokenStore."""

    def __init__(
        self,
        ctx: Context,
        *,
        client_id: str,
        client_secret: SecretStr,
        repository_id: str,
        region: Region = "us",
        grant: Grant = "client_credentials",
        scope: str = "full",
        base_url: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._ctx = ctx
        self.repository_id = repository_id
        # A base_url (the sandbox) stands in for "https://": every regional host is a path under it.
        root = base_url.rstrip("/") if base_url else "https:/"
        self.api_root = f"{root}/{api_host(region)}"
        self.web_root = f"{root}/{WEB_HOSTS[region]}"
        self.token_url = f"{self.api_root}/v1/OAuth"  # token and refresh (docs/vendors/netdocuments.md §3)
        self.auth = NetDocumentsAuth(
            ctx,
            client_id=client_id,
            client_secret=client_secret,
            repository_id=repository_id,
            grant=grant,
            scope=scope,
            token_url=self.token_url,
            authorize_endpoint=f"{self.web_root}/neWeb2/OAuth.aspx",
            rate_key=self._rate_key(),
            clock=clock or (lambda: datetime.now(UTC)),
        )
        # docs/vendors/netdocuments.md §3: a 401 means the token expired (idle tokens do early); renew and retry once.
        self._bearer = BearerAuth(
            ctx.http,
            vendor=CONNECTOR,
            token=lambda force: self.auth.token(force=force).access_token,
            reconnect="NetDocuments rejected a freshly issued access token (HTTP 401): the app's access was revoked "
            "or the token belongs to another region",
            refusals=REFUSALS,
            headers={"Accept": "application/json"},
        )

    # -- reads ----------------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET /v1/{path} as JSON."""
        return json_answer(self._send("GET", self._url(path), params=params), "GET")

    def user_info(self) -> Json:
        """The account the token belongs to (GET /v1/User/info)."""
        return _object(self.get("User/info"), "User/info")

    def cabinets(self) -> list[Json]:
        """The account's cabinets with their workspace attribute numbers (GET /v1/User/cabinets)."""
        return _list(self.get("User/cabinets"), "User/cabinets")

    def repository_users(self) -> list[Json]:
        """Every user of the repository (GET /v1/Repository/{id}/users)."""
        return _list(self.get(f"Repository/{self.repository_id}/users"), "Repository users")

    def document_info(self, doc_id: str) -> Json | None:
        """A document's profile (GET /v1/Document/{id}/info), or None when it is gone."""
        try:
            return _object(self.get(f"Document/{quote(doc_id, safe='')}/info"), "Document info")
        except NetDocumentsNotFound:
            return None

    def log(self, start: datetime, end: datetime) -> list[Json]:
        """The consolidated repository log between start and end (both sent to the second).

        docs/vendors/netdocuments.md §6: a JSON array that may start with a byte-order mark; no paging token.
        """
        params = {
            "start": mapping.query_time(start),
            "end": mapping.query_time(end),
            "Logtype": "consolidated",
            "format": "json",
        }
        response = self._send("GET", self._url(f"Repository/{self.repository_id}/log"), params=params)
        try:
            return mapping.parse_log_body(response.content)
        except mapping.MappingError as exc:
            # A body cut short or garbled in transit; the read is safe to repeat.
            raise Retryable(f"GET repository log: {exc}") from None

    def log_events(self, start: datetime, end: datetime) -> Iterator[Json]:
        """Every log entry from start to end, read again from the newest date until nothing is new.

        Whether the log caps rows per call is UNCONFIRMED (docs/vendors/netdocuments.md §6): a capped answer ends early,
        so the next call starts at the newest date seen (inclusive, duplicates skipped) and the
        read ends only when a call brings nothing new.
        """
        seen: set[tuple[str, ...]] = set()
        frm = start
        while True:
            fresh: list[tuple[datetime, Json]] = []
            for item in self.log(frm, end):
                try:
                    event = mapping.log_event(item)
                except mapping.MappingError:
                    yield item  # the caller reports it; it cannot be deduplicated or ordered
                    continue
                if event.key not in seen:
                    seen.add(event.key)
                    fresh.append((event.at, item))
            if not fresh:
                return
            yield from (item for _, item in fresh)
            newest = max(at for at, _ in fresh)
            if newest <= frm:
                return  # a full second of events and nothing later: nothing more to ask for
            frm = newest

    # -- sign-in (auth.py; the connector reaches it through the client) ---------------------------

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """The consent page for the authorization-code grant (`/neWeb2/OAuth.aspx`)."""
        return self.auth.authorize_url(redirect_uri, state)

    def exchange_code(self, code: str, redirect_uri: str) -> OAuthToken:
        """Trade an authorization code for tokens (POST /v1/OAuth, credentials in the body)."""
        return self.auth.exchange_code(code, redirect_uri)

    # -- plumbing -------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.api_root}/v1/{path.strip('/')}"

    def _rate_key(self) -> str:
        # docs/vendors/netdocuments.md §9: limits are undocumented; one bucket per firm and repository.
        digest = hashlib.sha256(f"{self._ctx.firm}|{self.repository_id}".encode()).hexdigest()[:16]
        return f"{CONNECTOR}:{digest}"

    def _send(self, method: str, url: str, *, params: Mapping[str, str] | None = None) -> requests.Response:
        return self._bearer.request(method, url, rate_key=self._rate_key(), params=dict(params) if params else None)


def _object(body: Any, what: str) -> Json:
    if not isinstance(body, dict):
        raise Fatal(f"NetDocuments answered {what} without a JSON object")
    return body


def _list(body: Any, what: str) -> list[Json]:
    if not isinstance(body, list):
        raise Fatal(f"NetDocuments answered {what} without a JSON array")
    return [item for item in body if isinstance(item, dict)]
