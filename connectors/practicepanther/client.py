"""A plain client for PracticePanther's REST API v2, on core.http: its endpoints, paging and refusals.

It knows HTTP and PracticePanther, nothing of billsync's models (that is mapping.py's job). Vendor
facts are cited as "docs/vendors/practicepanther.md §n".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr

from core.bearer import BearerAuth
from core.connector import Context
from core.errors import AuthFailed, Fatal, HttpAnswer
from core.http import Refusal, json_answer
from core.oauth import OAuthApp
from core.tokens import OAuthToken

CONNECTOR = "practicepanther"
DEFAULT_HOST = "https://app.practicepanther.com"  # docs/vendors/practicepanther.md §3
# docs/vendors/practicepanther.md §4: no documented maximum; third-party clients bound $top to 1-200.
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 100
# A deterministic order that updates cannot reshuffle (docs/vendors/practicepanther.md §4: always send $orderby).
ORDER_BY = "created_at asc,id asc"

Json = dict[str, Any]


class PracticePantherNotFound(Fatal):
    """404: the record or route does not exist."""


class PracticePantherRejected(Fatal):
    """400: PP refused the request as invalid (its modelState names the fields)."""


class PracticePantherNotAllowed(Fatal):
    """405: the resource has no such verb (invoices and payments are read-only, docs/vendors/practicepanther.md §11)."""


def _invalid_grant(answer: HttpAnswer) -> bool:
    # docs/vendors/practicepanther.md §2: PP-MCP-R reports 400 invalid_grant when the access token needs a refresh.
    body = answer.json()
    return isinstance(body, dict) and body.get("error") == "invalid_grant"


def _invalid_fields(request: str, answer: HttpAnswer) -> str:
    body = answer.json()
    # Field names only: modelState messages may echo record content.
    fields = sorted(body.get("modelState") or {}) if isinstance(body, dict) else []
    return f"{request}: HTTP 400, invalid fields {fields}"


# What PracticePanther's refusals mean (docs/vendors/practicepanther.md §6); any other 4xx stays core's Fatal.
REFUSALS: Mapping[int, Refusal | tuple[Refusal, ...]] = MappingProxyType(
    {
        400: (
            Refusal(AuthFailed, "{request}: access token refused (invalid_grant)", when=_invalid_grant),
            Refusal(PracticePantherRejected, _invalid_fields),
        ),
        404: Refusal(PracticePantherNotFound),
        405: Refusal(PracticePantherNotAllowed),
    }
)


class PracticePantherClient:
    """Talks to one firm's PracticePanther account through the firm's HttpClient and TokenStore."""

    def __init__(
        self,
        ctx: Context,
        *,
        client_id: str,
        client_secret: SecretStr,
        base_url: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        self._ctx = ctx
        self.page_size = page_size
        self._clock = clock or (lambda: datetime.now(UTC))
        host = (base_url or DEFAULT_HOST).rstrip("/")
        self.api_root = f"{host}/api/v2"
        self.oauth = OAuthApp(
            vendor="PracticePanther",
            connector=CONNECTOR,
            client_id=client_id,
            client_secret=client_secret,
            authorize_endpoint=f"{host}/oauth/authorize",
            token_url=f"{host}/oauth/token",
            rate_key=self._rate_key(),
        )
        # docs/vendors/practicepanther.md §6: a 401 (or 400 invalid_grant) means refresh and retry once.
        self._bearer = BearerAuth(
            ctx.http,
            vendor=CONNECTOR,
            token=lambda force: self._token(force=force).access_token,
            reconnect="PracticePanther rejected a freshly refreshed access token (HTTP 401): the app was revoked; "
            "run `billsync connect practicepanther`",
            refusals=REFUSALS,
            headers={"Accept": "application/json"},
        )

    # -- reads ----------------------------------------------------------------------------------

    def get(self, path: str, record_id: str) -> Json:
        """One record: GET /{path}/{id}."""
        return _object(self._send("GET", f"{self._url(path)}/{record_id}"), "GET")

    def me(self) -> Json:
        """The user the token belongs to (GET /users/me)."""
        return _object(self._send("GET", self._url("users/me")), "GET")

    def pages(self, path: str, params: Mapping[str, str] | None = None) -> Iterator[list[Json]]:
        """Every page of a list: $top/$skip with a fixed $orderby until a short page
        (docs/vendors/practicepanther.md §4)."""
        skip = 0
        seen: set[str] = set()
        while True:
            query = {**(params or {}), "$top": str(self.page_size), "$skip": str(skip), "$orderby": ORDER_BY}
            body = json_answer(self._send("GET", self._url(path), params=query), "GET")
            if not isinstance(body, list):
                raise Fatal(f"GET {path}: PracticePanther answered a list request without a JSON array")
            page = [record for record in body if isinstance(record, dict)]
            ids = {str(record.get("id")) for record in page}
            if page and ids <= seen:
                # A full page of records already seen: $skip was ignored; stop instead of looping.
                raise Fatal(f"GET {path}: PracticePanther repeated a page; $skip seems ignored")
            seen |= ids
            yield page
            if len(body) < self.page_size:
                return
            skip += len(body)

    # -- writes ---------------------------------------------------------------------------------

    def create(self, path: str, body: Mapping[str, Any]) -> Json:
        """POST the object. Not idempotent at PP: an unknown outcome raises Indeterminate."""
        return _object(self._send("POST", self._url(path), json_body=body), "POST")

    def replace(self, path: str, record_id: str, body: Mapping[str, Any]) -> Json:
        """PUT /{path}?id=: a full replace (docs/vendors/practicepanther.md §3); callers GET and merge first."""
        return _object(self._send("PUT", self._url(path), params={"id": record_id}, json_body=body), "PUT")

    def delete(self, path: str, record_id: str) -> None:
        """DELETE /{path}?id=."""
        self._send("DELETE", self._url(path), params={"id": record_id})

    # -- OAuth (docs/vendors/practicepanther.md §2) ---------------------------------------------

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """PP's consent page for the authorization-code grant."""
        return self.oauth.authorization_url(redirect_uri, state)

    def exchange_code(self, code: str, redirect_uri: str) -> OAuthToken:
        """Trade an authorization code for tokens (form-encoded POST to /oauth/token)."""
        return self.oauth.exchange_code(self._ctx.http, code, redirect_uri, now=self._clock())

    def _token(self, *, force: bool) -> OAuthToken:
        return self._ctx.tokens.current(self._ctx.firm, CONNECTOR, self._refresh, force=force)

    def _refresh(self, token: OAuthToken) -> OAuthToken:
        """Spend the refresh token for a new pair; TokenStore saves it before use
        (docs/vendors/practicepanther.md §2)."""
        return self.oauth.refresh(
            self._ctx.http,
            token,
            # Refresh tokens reportedly rotate (docs/vendors/practicepanther.md §2), so a second try with the same one
            # would be refused. TokenStore serialises refreshes per firm. A refresh answer without a
            # refresh token keeps the old one (as PP-MCP-A does, docs/vendors/practicepanther.md §2).
            repeatable=False,
            # invalid_grant / invalid_client: spent, expired or revoked (docs/vendors/practicepanther.md §2).
            refused="PracticePanther refused the refresh token (spent, expired or revoked): "
            "run `billsync connect practicepanther`",
            now=self._clock(),
        )

    # -- plumbing -------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.api_root}/{path.strip('/')}"

    def _rate_key(self) -> str:
        # docs/vendors/practicepanther.md §5: the limit's scope is unknown; one bucket per firm survives token rotation.
        return "practicepanther:" + hashlib.sha256(self._ctx.firm.encode()).hexdigest()[:16]

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        return self._bearer.request(
            method,
            url,
            rate_key=self._rate_key(),
            idempotent=False,  # only safe methods (GET, PUT, DELETE) are retried by core.http
            params=dict(params) if params else None,
            json=dict(json_body) if json_body is not None else None,
        )


def _object(response: requests.Response, method: str) -> Json:
    body = json_answer(response, method)
    if not isinstance(body, dict):
        raise Fatal(f"{method} {_short(response.url or '')}: expected a JSON object")
    return body


def _short(url: str) -> str:
    # Paths only in messages and logs: query strings can carry personal data.
    return urlsplit(url).path or url.split("?", 1)[0]
