"""A plain client for NetDocuments' REST API v1, on core.http: regional hosts, OAuth, the log.

It knows HTTP and NetDocuments, nothing of billsync's models (mapping.py's job). Vendor facts are
cited as "docs/vendors/netdocuments.md §n".

Two ways in (docs/vendors/netdocuments.md §3): a service account (client_credentials, the default: a harvester that
reads the repository log needs no person), or a person's grant (authorization_code, with refresh
tokens). Either way the token lives encrypted in core's TokenStore and is renewed before it
expires, and a 401 (NetDocuments expires idle tokens after 45-90 minutes) renews it once.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import quote, urlencode

import requests
from pydantic import SecretStr

from connectors.netdocuments import mapping
from core.bearer import BearerAuth
from core.connector import Context
from core.errors import AuthFailed, Fatal, Retryable
from core.http import Refusal, json_answer
from core.oauth import OAuthApp
from core.tokens import OAuthToken

CONNECTOR = "netdocuments"
Grant = Literal["client_credentials", "authorization_code"]
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
# docs/vendors/netdocuments.md §3: tokens live 45-90 minutes idle; a missing or unreadable expires_in gets the shortest
# lifetime anyone reports (the Ruby gem's 30 minutes).
FALLBACK_TOKEN_SECONDS = 30 * 60

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
        self.grant = grant
        self.scope = scope
        self._clock = clock or (lambda: datetime.now(UTC))
        # A base_url (the sandbox) stands in for "https://": every regional host is a path under it.
        root = base_url.rstrip("/") if base_url else "https:/"
        self.api_root = f"{root}/{api_host(region)}"
        self.web_root = f"{root}/{WEB_HOSTS[region]}"
        self.token_url = f"{self.api_root}/v1/OAuth"  # token and refresh (docs/vendors/netdocuments.md §3)
        self.oauth = OAuthApp(
            vendor="NetDocuments",
            connector=CONNECTOR,
            client_id=client_id,
            client_secret=client_secret,
            authorize_endpoint=f"{self.web_root}/neWeb2/OAuth.aspx",
            token_url=self.token_url,
            rate_key=self._rate_key(),
        )
        # docs/vendors/netdocuments.md §3: a 401 means the token expired (idle tokens do early); renew and retry once.
        self._bearer = BearerAuth(
            ctx.http,
            vendor=CONNECTOR,
            token=lambda force: self.token(force=force).access_token,
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

    # -- OAuth (docs/vendors/netdocuments.md §3) ------------------------------------------------

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """The consent page for the authorization-code grant (`/neWeb2/OAuth.aspx`)."""
        url = self.oauth.authorization_url(redirect_uri, state)
        return f"{url}&{urlencode({'scope': self.scope})}"

    def exchange_code(self, code: str, redirect_uri: str) -> OAuthToken:
        """Trade an authorization code for tokens (POST /v1/OAuth, credentials in the body)."""
        token = self.oauth.exchange_code(self._ctx.http, code, redirect_uri, now=self._clock())
        return token if token.expires_at else _with_fallback_expiry(token, self._clock())

    def token(self, *, force: bool = False) -> OAuthToken:
        """A usable access token: the stored one, or a renewed one (saved before use)."""
        tokens, firm = self._ctx.tokens, self._ctx.firm
        if self.grant == "client_credentials" and tokens.get(firm, CONNECTOR) is None:
            # A service account needs no person: the first use acquires the first token.
            fresh = self._client_credentials()
            tokens.save(firm, CONNECTOR, fresh)
            return fresh
        return tokens.current(firm, CONNECTOR, self._renew, force=force)

    def _renew(self, token: OAuthToken) -> OAuthToken:
        if self.grant == "client_credentials":
            return self._client_credentials()
        return self._refresh(token)

    def _client_credentials(self) -> OAuthToken:
        """A service-account token: Basic base64("{client_id}|{repository_id}:{secret}")
        (docs/vendors/netdocuments.md §3)."""
        user = f"{self.oauth.client_id}|{self.repository_id}"
        # docs/vendors/netdocuments.md §3 [HLX]: the scope needs a literal space between scopes, so the body is written
        # by hand (a form encoder would send "+").
        body = f"grant_type=client_credentials&scope={quote(self.scope, safe=' ')}"
        return self._token_request(user, body, previous=None, refusal="the service account's credentials")

    def _refresh(self, token: OAuthToken) -> OAuthToken:
        if not token.refresh_token:
            raise AuthFailed("the stored NetDocuments token has no refresh token: run `billsync connect netdocuments`")
        body = urlencode({"grant_type": "refresh_token", "refresh_token": token.refresh_token})
        return self._token_request(self.oauth.client_id, body, previous=token, refusal="the refresh token")

    def _token_request(self, user: str, body: str, *, previous: OAuthToken | None, refusal: str) -> OAuthToken:
        secret = self.oauth.client_secret.get_secret_value()
        basic = base64.b64encode(f"{user}:{secret}".encode()).decode()
        headers = {
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        try:
            # A token request is refused or answered; repeating one changes nothing at ND.
            response = self._ctx.http.request(
                "POST", self.token_url, rate_key=self._rate_key(), idempotent=True, data=body, headers=headers
            )
        except (Fatal, AuthFailed):
            raise AuthFailed(
                f"NetDocuments refused {refusal} (expired, revoked or wrong region?): "
                f"check the netdocuments settings{'' if self.grant == 'client_credentials' else ' and reconnect'}"
            ) from None
        answer = _object(json_answer(response, "POST", idempotent=True), "token")
        return OAuthToken.from_response(_readable_expiry(answer), self._clock(), previous=previous)

    # -- plumbing -------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.api_root}/v1/{path.strip('/')}"

    def _rate_key(self) -> str:
        # docs/vendors/netdocuments.md §9: limits are undocumented; one bucket per firm and repository.
        digest = hashlib.sha256(f"{self._ctx.firm}|{self.repository_id}".encode()).hexdigest()[:16]
        return f"{CONNECTOR}:{digest}"

    def _send(self, method: str, url: str, *, params: Mapping[str, str] | None = None) -> requests.Response:
        return self._bearer.request(method, url, rate_key=self._rate_key(), params=dict(params) if params else None)


def _readable_expiry(body: Json) -> Json:
    """docs/vendors/netdocuments.md §3: `expires_in` may come as a JSON string; anything unreadable gets the
    fallback."""
    raw = body.get("expires_in")
    try:
        seconds = float(str(raw).strip())
        if not seconds > 0:
            raise ValueError
    except ValueError:
        seconds = FALLBACK_TOKEN_SECONDS
    return {**body, "expires_in": seconds}


def _with_fallback_expiry(token: OAuthToken, now: datetime) -> OAuthToken:
    return OAuthToken(
        access_token=token.access_token,
        refresh_token=token.refresh_token,
        expires_at=now + timedelta(seconds=FALLBACK_TOKEN_SECONDS),
        extra=token.extra,
    )


def _object(body: Any, what: str) -> Json:
    if not isinstance(body, dict):
        raise Fatal(f"NetDocuments answered {what} without a JSON object")
    return body


def _list(body: Any, what: str) -> list[Json]:
    if not isinstance(body, list):
        raise Fatal(f"NetDocuments answered {what} without a JSON array")
    return [item for item in body if isinstance(item, dict)]
