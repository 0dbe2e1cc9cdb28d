"""Requests with `Authorization: Bearer`: the one place a vendor's access token is attached and renewed.

A 401 means the vendor refused the request without doing it, so sending it again (even a POST)
with a renewed token is safe; it is sent again once. A second 401 means renewing does not help:
a person must reconnect, and AuthFailed says so in the vendor's words.

The token is never put in a message, a log line or a rate key: `token_rate_key` names a token's
rate-limit bucket by a digest of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import requests

from core.errors import AuthFailed
from core.http import HttpClient, Refusals

# Given force=True, the provider must renew rather than hand back the token it holds.
TokenProvider = Callable[[bool], str]


def token_rate_key(vendor: str, access_token: str) -> str:
    """The rate-limit bucket of one access token (for vendors that limit per token), without the token."""
    return f"{vendor}:" + hashlib.sha256(access_token.encode()).hexdigest()[:16]


class BearerAuth:
    """Sends a vendor's requests through the firm's HttpClient with its bearer token, renewing it once on a 401.

    `token(force)` gives the access token: core.tokens.TokenStore.current for refresh-token vendors,
    msal's cache for app-only Microsoft 365. `reconnect` is the message of the AuthFailed raised when
    a renewed token is refused too. `refusals` are the vendor's names for refusals (core.http.Refusal);
    a refusal the vendor names AuthFailed (an expired token reported as 400) renews the token like a 401.
    """

    def __init__(
        self,
        http: HttpClient,
        *,
        vendor: str,
        token: TokenProvider,
        reconnect: str,
        refusals: Refusals | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._http = http
        self._vendor = vendor
        self._token = token
        self._reconnect = reconnect
        self._refusals = refusals
        self._headers = dict(headers or {})  # sent with every request, after Authorization

    def request(
        self,
        method: str,
        url: str,
        *,
        rate_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send with the current token; on a refusal for the token, renew it and send once more.

        Without `rate_key` the request is paced by its token's bucket (`token_rate_key`).
        """
        try:
            return self._send(self._token(False), method, url, rate_key=rate_key, headers=headers, kwargs=kwargs)
        except AuthFailed as refused:
            if refused.answer is None:  # not the vendor refusing this token (e.g. no account connected)
                raise
        try:
            return self._send(self._token(True), method, url, rate_key=rate_key, headers=headers, kwargs=kwargs)
        except AuthFailed as refused:
            if refused.answer is None:
                raise
            final = AuthFailed(self._reconnect)
            final.answer = refused.answer
            raise final from None

    def _send(
        self,
        access_token: str,
        method: str,
        url: str,
        *,
        rate_key: str | None,
        headers: Mapping[str, str] | None,
        kwargs: dict[str, Any],
    ) -> requests.Response:
        return self._http.request(
            method,
            url,
            rate_key=rate_key if rate_key is not None else token_rate_key(self._vendor, access_token),
            refusals=self._refusals,
            headers={"Authorization": f"Bearer {access_token}", **self._headers, **(headers or {})},
            **kwargs,
        )
