"""The OAuth 2 authorization-code grant (RFC 6749 §4.1), the same for every vendor that uses it."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from pydantic import SecretStr

from core.errors import AuthFailed, Fatal
from core.http import HttpClient
from core.tokens import OAuthToken


def authorization_url(endpoint: str, client_id: str, redirect_uri: str, state: str) -> str:
    """The vendor's consent page, where the person granting access goes."""
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "state": state})
    return f"{endpoint}?{query}"


def exchange_code(
    http: HttpClient,
    *,
    vendor: str,
    token_url: str,
    client_id: str,
    client_secret: SecretStr,
    code: str,
    redirect_uri: str,
    rate_key: str,
    now: datetime,
) -> OAuthToken:
    """Trade an authorization code for tokens: a form-encoded POST to the token endpoint."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "client_secret": client_secret.get_secret_value(),
    }
    try:
        # Not repeatable: an authorization code works once. A lost answer means connecting again.
        response = http.request("POST", token_url, rate_key=rate_key, data=form, headers={"Accept": "application/json"})
    except Fatal as exc:
        raise AuthFailed(f"{vendor} refused the authorization code: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        raise AuthFailed(f"{vendor}'s token endpoint answered with an unreadable body: connect again") from None
    if not isinstance(body, dict):
        raise AuthFailed(f"{vendor}'s token endpoint did not answer with a JSON object: connect again")
    return OAuthToken.from_response(body, now)
