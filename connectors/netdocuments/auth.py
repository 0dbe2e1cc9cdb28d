"""NetDocuments' own sign-in (docs/vendors/netdocuments.md §3): the tokens the client's requests carry.

Two ways in: a service account (client_credentials, the default: a harvester that reads the
repository log needs no person), or a person's grant (authorization_code, with refresh tokens).
Either way the token lives encrypted in core's TokenStore and is renewed before it expires; the
client's BearerAuth asks for a forced renewal after a 401 (NetDocuments expires idle tokens after
45-90 minutes).

A service account signs in with HTTP Basic whose user is "{client_id}|{repository_id}", which no
standard OAuth client sends: the token request is written here, by hand, on core's HttpClient.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote, urlencode

from pydantic import SecretStr

from core.connector import Context
from core.errors import AuthFailed, Fatal
from core.http import json_answer
from core.oauth import OAuthApp
from core.tokens import OAuthToken

CONNECTOR = "netdocuments"
Grant = Literal["client_credentials", "authorization_code"]
# docs/vendors/netdocuments.md §3: tokens live 45-90 minutes idle; a missing or unreadable expires_in gets the shortest
# lifetime anyone reports (the Ruby gem's 30 minutes).
FALLBACK_TOKEN_SECONDS = 30 * 60


class NetDocumentsAuth:
    """One firm's NetDocuments tokens: acquired, renewed and saved in the firm's TokenStore."""

    def __init__(
        self,
        ctx: Context,
        *,
        client_id: str,
        client_secret: SecretStr,
        repository_id: str,
        grant: Grant,
        scope: str,
        token_url: str,
        authorize_endpoint: str,
        rate_key: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._ctx = ctx
        self.repository_id = repository_id
        self.grant = grant
        self.scope = scope
        self.token_url = token_url  # token and refresh (docs/vendors/netdocuments.md §3)
        self._rate_key = rate_key
        self._clock = clock
        self.oauth = OAuthApp(
            vendor="NetDocuments",
            connector=CONNECTOR,
            client_id=client_id,
            client_secret=client_secret,
            authorize_endpoint=authorize_endpoint,
            token_url=token_url,
            rate_key=rate_key,
        )

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
                "POST", self.token_url, rate_key=self._rate_key, idempotent=True, data=body, headers=headers
            )
        except (Fatal, AuthFailed):
            raise AuthFailed(
                f"NetDocuments refused {refusal} (expired, revoked or wrong region?): "
                f"check the netdocuments settings{'' if self.grant == 'client_credentials' else ' and reconnect'}"
            ) from None
        answer = json_answer(response, "POST", idempotent=True)
        if not isinstance(answer, dict):
            raise Fatal("NetDocuments answered token without a JSON object")
        return OAuthToken.from_response(_readable_expiry(answer), self._clock(), previous=previous)


def _readable_expiry(body: dict[str, Any]) -> dict[str, Any]:
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
