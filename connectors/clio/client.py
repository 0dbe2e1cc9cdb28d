"""A plain client for Clio Manage's REST API v4, on core.http: its endpoints, paging and refusals.

It knows HTTP and Clio, and nothing of billsync's models (that is mapping.py's job). Vendor facts
are cited as "docs/vendors/clio.md §n".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from pydantic import SecretStr

from core.bearer import BearerAuth, token_rate_key
from core.connector import Context
from core.errors import BillsyncError, Fatal, HttpAnswer, Retryable
from core.http import Refusal, json_answer
from core.oauth import OAuthApp
from core.tokens import OAuthToken

CONNECTOR = "clio"
# docs/vendors/clio.md §2 "API versioning": pin the version we test against; 4.0.13 is the 2026-04 default.
API_VERSION = "4.0.13"
# docs/vendors/clio.md §2 "Pagination": 200 is the default and maximum for the endpoints billsync lists.
MAX_PAGE_LIMIT = 200
# docs/vendors/clio.md §2 "Rate limits": 50 requests a minute per access token at peak (more off-peak); each
# answer's X-RateLimit-Limit says the limit in force, which replaces this once one is seen.
DOCUMENTED_REQUESTS_PER_MINUTE = 50
# docs/vendors/clio.md §1 "Regions": one host per region serves both OAuth and the API, and a token only
# works in its own region.
REGION_HOSTS: Mapping[str, str] = MappingProxyType(
    {
        "us": "https://app.clio.com",
        "eu": "https://eu.app.clio.com",
        "ca": "https://ca.app.clio.com",
        "au": "https://au.app.clio.com",
    }
)

Json = dict[str, Any]
Params = Mapping[str, str | Sequence[str]]  # a sequence repeats the parameter: ids[]=1&ids[]=2


class ClioNotFound(Fatal):
    """404 (or 405): the record or route does not exist."""


class ClioForbidden(Fatal):
    """403: the app's permissions or the connecting user's role do not allow this (docs/vendors/clio.md §1)."""


class ClioRejected(Fatal):
    """422: Clio refused the request as invalid, e.g. a change to an activity on a bill."""


class ClioVersionGone(Fatal):
    """410: the pinned X-API-VERSION is invalid or retired (docs/vendors/clio.md §2)."""


class ClioConflict(Retryable):
    """412: the record changed since it was read (If-Match); read it again and retry."""


def _version_gone(request: str, answer: HttpAnswer) -> str:
    return f"{request}: Clio no longer serves X-API-VERSION {API_VERSION} (HTTP 410)"


# What Clio's refusals mean (docs/vendors/clio.md §2 "Errors"); any other 4xx stays core's Fatal.
REFUSALS: Mapping[int, Refusal] = MappingProxyType(
    {
        403: Refusal(
            ClioForbidden,
            "{fatal}: the Clio app lacks a permission or the connected user's role forbids it; "
            "re-authorize after adding permissions (docs/vendors/clio.md §1)",
        ),
        404: Refusal(ClioNotFound),
        405: Refusal(ClioNotFound),
        410: Refusal(ClioVersionGone, _version_gone),
        412: Refusal(ClioConflict, "{request}: the record changed since it was read (HTTP 412)"),
        422: Refusal(ClioRejected),
    }
)


class ClioClient:
    """Talks to one firm's Clio Manage account through the firm's HttpClient and TokenStore."""

    def __init__(
        self,
        ctx: Context,
        *,
        client_id: str,
        client_secret: SecretStr,
        region: str = "us",
        base_url: str | None = None,
        page_limit: int = MAX_PAGE_LIMIT,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if base_url is None and region not in REGION_HOSTS:
            raise ValueError(f"unknown Clio region {region!r}; expected one of {sorted(REGION_HOSTS)}")
        if not 1 <= page_limit <= MAX_PAGE_LIMIT:
            raise ValueError(f"page_limit must be between 1 and {MAX_PAGE_LIMIT}")
        self._ctx = ctx
        self._page_limit = page_limit
        self._clock = clock or (lambda: datetime.now(UTC))
        host = (base_url or REGION_HOSTS[region]).rstrip("/")
        self.api_root = f"{host}/api/v4"
        self.token_url = f"{host}/oauth/token"
        self.oauth = OAuthApp(
            vendor="Clio",
            connector=CONNECTOR,
            client_id=client_id,
            client_secret=client_secret,
            authorize_endpoint=f"{host}/oauth/authorize",
            token_url=self.token_url,
            rate_key="clio-oauth",
        )
        # Requests a minute Clio's last answer said this token may make (X-RateLimit-Limit, per
        # 60 s window); None before any answer carried one. For progress estimates only: pacing
        # is core.http's, from X-RateLimit-Remaining and Reset.
        self.limit_seen: int | None = None
        self._bearer = BearerAuth(
            ctx.http,
            vendor=CONNECTOR,  # docs/vendors/clio.md §2 "Rate limits": per access token
            token=lambda force: self._token(force=force).access_token,
            reconnect="Clio rejected a freshly refreshed access token (HTTP 401): the app was disconnected or the "
            "token belongs to another region; run `billsync connect clio`",
            refusals=REFUSALS,
        )

    # -- reads ----------------------------------------------------------------------------------

    def get(
        self, path: str, *, fields: str, params: Mapping[str, str] | None = None, etag: str | None = None
    ) -> Json | None:
        """One record (`data`), or None when `etag` still matches (304, docs/vendors/clio.md §2 "ETags")."""
        headers = {"If-None-Match": etag} if etag else None
        response = self._send("GET", self._url(path), params={**(params or {}), "fields": fields}, headers=headers)
        if response.status_code == 304:
            return None
        return _data_object(_object(response, "GET"))

    def pages(self, path: str, *, fields: str, params: Params | None = None) -> Iterator[list[Json]]:
        """Every page of a list, by cursor: order=id(asc), no offset, following meta.paging.next."""
        # docs/vendors/clio.md §2 "Pagination": cursor paging only with an explicit order=id(asc) and no
        # offset; offset paging stops at 10,000 records with a 422.
        query: dict[str, str | Sequence[str]] | None = {
            **(params or {}),
            "fields": fields,
            "order": "id(asc)",
            "limit": str(self._page_limit),
        }
        url: str | None = self._url(path)
        followed: set[str] = set()
        while url is not None:
            body = _object(self._send("GET", url, params=query), "GET")
            records = body.get("data")
            if not isinstance(records, list):
                raise Fatal(f"GET {path}: Clio answered a list request without a data list")
            yield [record for record in records if isinstance(record, dict)]
            url = self._next_url(body, path, followed)
            # The next link is a full URL that already carries the query (docs/vendors/clio.md §2); keep
            # `fields` on it regardless, since without it Clio returns only id and etag.
            query = None if url is None or "fields" in parse_qs(urlsplit(url).query) else {"fields": fields}

    def who_am_i(self, fields: str = "id,name,email") -> Json:
        """The user the token belongs to (GET /users/who_am_i)."""
        found = self.get("users/who_am_i", fields=fields)
        if found is None:  # no etag was sent, so a 304 cannot happen
            raise Fatal("GET users/who_am_i answered 304 without a conditional request")
        return found

    def utbms_codes(self, fields: str = "id,code,name,type,utbms_set_id") -> list[Json]:
        """Every UTBMS code the account offers (GET /utbms/codes, docs/vendors/clio.md §3.15)."""
        return [code for page in self.pages("utbms/codes", fields=fields) for code in page]

    def billing_settings(self, fields: str = "rounding,use_decimal_rounding") -> Json:
        """The firm's billing settings (GET /settings/billing, docs/vendors/clio.md §3.15): one record."""
        found = self.get("settings/billing", fields=fields)
        if found is None:  # no etag was sent, so a 304 cannot happen
            raise Fatal("GET settings/billing answered 304 without a conditional request")
        return found

    # -- writes ---------------------------------------------------------------------------------

    def create(self, path: str, data: Mapping[str, Any], *, fields: str) -> Json:
        """POST {"data": ...}. Not idempotent at Clio: an unknown outcome raises Indeterminate."""
        # docs/vendors/clio.md §6: no idempotency key is documented and Clio is not known to dedupe POSTs,
        # so core.http must never re-send this blindly.
        response = self._send("POST", self._url(path), params={"fields": fields}, json_body={"data": dict(data)})
        return _data_object(_object(response, "POST"))

    def update(self, path: str, data: Mapping[str, Any], *, fields: str, if_match: str | None = None) -> Json:
        """PATCH {"data": ...}; with `if_match`, a concurrent change gives ClioConflict (412)."""
        headers = {"If-Match": if_match} if if_match else None
        response = self._send(
            "PATCH", self._url(path), params={"fields": fields}, json_body={"data": dict(data)}, headers=headers
        )
        return _data_object(_object(response, "PATCH"))

    def put(self, path: str, *, headers: Mapping[str, str]) -> None:
        """PUT without a body, at the path exactly as documented (the webhook activation,
        docs/vendors/clio.md §3.16)."""
        self._send("PUT", f"{self.api_root}/{path.strip('/')}", headers=headers)

    def delete(self, path: str) -> None:
        """DELETE one record."""
        self._send("DELETE", self._url(path))

    # -- plumbing -------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        # docs/vendors/clio.md §2: paths are /api/v4/<resource>.json.
        return f"{self.api_root}/{path.strip('/')}.json"

    def _next_url(self, body: Json, path: str, followed: set[str]) -> str | None:
        meta = body.get("meta")
        paging = meta.get("paging") if isinstance(meta, dict) else None
        next_url = paging.get("next") if isinstance(paging, dict) else None
        if not next_url:
            return None
        if not isinstance(next_url, str) or not next_url.startswith(self.api_root + "/"):
            # The bearer token goes with every request: never follow a link to another host.
            raise Fatal(f"GET {path}: refusing to follow a paging link outside {self.api_root}")
        if next_url in followed:
            raise Fatal(f"GET {path}: Clio repeated a paging link; stopping instead of looping")
        followed.add(next_url)
        return next_url

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """Clio's consent page for the authorization-code grant (docs/vendors/clio.md §1)."""
        return self.oauth.authorization_url(redirect_uri, state)

    def exchange_code(self, code: str, redirect_uri: str) -> OAuthToken:
        """Trade an authorization code for tokens (form-encoded POST to /oauth/token)."""
        return self.oauth.exchange_code(self._ctx.http, code, redirect_uri, now=self._clock())

    def _token(self, *, force: bool) -> OAuthToken:
        return self._ctx.tokens.current(self._ctx.firm, CONNECTOR, self._refresh, force=force)

    def _refresh(self, token: OAuthToken) -> OAuthToken:
        """Exchange the refresh token for a new access token (docs/vendors/clio.md §1)."""
        return self.oauth.refresh(
            self._ctx.http,
            token,
            # Manage refresh tokens are reusable and never rotated (docs/vendors/clio.md §1), so a second try
            # only mints another access token; one missing from the answer is kept.
            repeatable=True,
            # invalid_grant (400): the refresh token was revoked, or belongs to another region.
            refused="Clio refused the refresh token (revoked or another region): run `billsync connect clio`",
            now=self._clock(),
        )

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        json_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        # docs/vendors/clio.md §4 item 16: refresh once on 401, then give up (BearerAuth).
        try:
            response = self._bearer.request(
                method,
                url,
                params=dict(params) if params else None,
                json=dict(json_body) if json_body is not None else None,
                headers={"X-API-VERSION": API_VERSION, "Accept": "application/json", **(headers or {})},
                idempotent=False,  # only safe methods are retried by core.http; POST/PATCH never
            )
        except BillsyncError as exc:
            if exc.answer is not None:  # a refusal says the limit in force too
                self._learn_limit(exc.answer.headers)
            raise
        self._learn_limit(response.headers)
        return response

    def _learn_limit(self, headers: Mapping[str, str]) -> None:
        said = headers.get("X-RateLimit-Limit", "")
        if said.isdigit() and int(said) > 0:
            self.limit_seen = int(said)

    def requests_per_minute(self) -> int:
        """The limit Clio last said this token has (X-RateLimit-Limit), else the documented one."""
        return self.limit_seen if self.limit_seen is not None else DOCUMENTED_REQUESTS_PER_MINUTE


def rate_key(access_token: str) -> str:
    """The rate-limit bucket of a token (docs/vendors/clio.md §2: limits are per token), without the token."""
    return token_rate_key(CONNECTOR, access_token)


def _object(response: requests.Response, method: str, *, idempotent: bool = False) -> Json:
    body = json_answer(response, method, idempotent=idempotent)
    if not isinstance(body, dict):
        raise Fatal(f"{method} {_short(response.url or '')}: expected a JSON object")
    return body


def _data_object(body: Json) -> Json:
    data = body.get("data")
    if not isinstance(data, dict):
        raise Fatal("Clio answered without a data object")
    return data


def _short(url: str) -> str:
    # Paths only in messages and logs: query strings can carry personal data.
    return urlsplit(url).path or url.split("?", 1)[0]
