"""The OAuth 2 authorization-code grant (RFC 6749 §4.1) and its refresh (§6), the same for every vendor."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from pydantic import SecretStr

from core.errors import AuthFailed, Fatal
from core.http import HttpClient, json_answer, request_line
from core.tokens import OAuthToken


@dataclass(frozen=True)
class OAuthApp:
    """billsync's app at one vendor's OAuth server: who it is there, and where it asks.

    The client credentials travel in the form body of each token request (never in a URL, a
    message or a log line); `rate_key` paces the token endpoint.
    """

    vendor: str  # as people read it, e.g. "PracticePanther"
    connector: str  # as `billsync connect` names it
    client_id: str
    client_secret: SecretStr = field(repr=False)
    authorize_endpoint: str
    token_url: str
    rate_key: str

    def authorization_url(self, redirect_uri: str, state: str) -> str:
        """The vendor's consent page, where the person granting access goes."""
        query = urlencode(
            {"response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri, "state": state}
        )
        return f"{self.authorize_endpoint}?{query}"

    def exchange_code(self, http: HttpClient, code: str, redirect_uri: str, *, now: datetime) -> OAuthToken:
        """Trade an authorization code for tokens: a form-encoded POST to the token endpoint."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "client_secret": self.client_secret.get_secret_value(),
        }
        try:
            # Not repeatable: an authorization code works once. A lost answer means connecting again.
            response = http.request(
                "POST", self.token_url, rate_key=self.rate_key, data=form, headers={"Accept": "application/json"}
            )
        except Fatal as exc:
            raise AuthFailed(f"{self.vendor} refused the authorization code: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            raise AuthFailed(
                f"{self.vendor}'s token endpoint answered with an unreadable body: connect again"
            ) from None
        if not isinstance(body, dict):
            raise AuthFailed(f"{self.vendor}'s token endpoint did not answer with a JSON object: connect again")
        return OAuthToken.from_response(body, now)

    def refresh(
        self, http: HttpClient, token: OAuthToken, *, repeatable: bool, refused: str, now: datetime
    ) -> OAuthToken:
        """Spend the refresh token for a new access token: a form-encoded POST with the client's credentials.

        `repeatable` says whether the vendor's refresh tokens survive use: then a lost answer may be
        asked for again; where they rotate, a second try with the same one would be refused. A
        refusal of the grant (400 invalid_grant and the like) is AuthFailed with the `refused`
        message. A refresh token the answer leaves out is kept.
        """
        if not token.refresh_token:
            raise AuthFailed(
                f"the stored {self.vendor} token has no refresh token: run `billsync connect {self.connector}`"
            )
        form = {
            "grant_type": "refresh_token",
            "refresh_token": token.refresh_token,
            "client_id": self.client_id,
            "client_secret": self.client_secret.get_secret_value(),
        }
        try:
            response = http.request(
                "POST",
                self.token_url,
                rate_key=self.rate_key,
                idempotent=repeatable,
                data=form,
                headers={"Accept": "application/json"},
            )
        except Fatal:
            raise AuthFailed(refused) from None
        body = json_answer(response, "POST", idempotent=repeatable)
        if not isinstance(body, dict):
            raise Fatal(f"{request_line('POST', self.token_url)}: expected a JSON object")
        return OAuthToken.from_response(body, now, previous=token)
