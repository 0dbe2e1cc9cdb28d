"""OAuth 2.0 authorization-code grant as Clio Manage runs it (clio.md §1)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from billsync_sandboxes.clio.errors import OAuthError, invalid_token
from core.sandbox import Clock

# clio.md §1: the FAQ says 30 days, a third-party doc 7; the sandbox uses the shorter.
DEFAULT_TOKEN_TTL_SECONDS = 7 * 24 * 3600
# Not documented by Clio; ten minutes is the usual OAuth server default (Doorkeeper).
CODE_TTL_SECONDS = 600

_INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)


@dataclass(slots=True)
class AccessToken:
    """An issued access token; token_id is the only part safe to log."""

    token_id: str
    value: str
    user_id: int
    refresh_token: str
    expires_at: datetime
    revoked: bool = False


@dataclass(slots=True)
class _Code:
    user_id: int
    redirect_uri: str
    expires_at: datetime


class TokenStore:
    """Issues, refreshes, checks and revokes tokens; refresh tokens never rotate."""

    def __init__(
        self, clock: Clock, seed: int, ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS
    ) -> None:
        self._clock = clock
        # Sandbox credentials are not secrets; a seeded PRNG keeps runs reproducible.
        self._rng = random.Random(f"clio-oauth-{seed}")  # noqa: S311
        self.ttl_seconds = ttl_seconds
        self._codes: dict[str, _Code] = {}
        self._tokens: dict[str, AccessToken] = {}
        self._refresh: dict[str, int] = {}
        self._count = 0

    def authorize(self, user_id: int, redirect_uri: str) -> str:
        """Approve the app for a user and return a one-time authorization code."""
        code = self._random()
        expires = self._clock.now() + timedelta(seconds=CODE_TTL_SECONDS)
        self._codes[code] = _Code(user_id, redirect_uri, expires)
        return code

    def exchange(self, code: str, redirect_uri: str | None) -> AccessToken:
        """Trade an authorization code (once) for tokens."""
        grant = self._codes.pop(code, None)
        if grant is None or grant.expires_at <= self._clock.now():
            raise OAuthError(400, "invalid_grant", _INVALID_GRANT)
        if redirect_uri is not None and redirect_uri != grant.redirect_uri:
            raise OAuthError(400, "invalid_grant", _INVALID_GRANT)
        return self.issue(grant.user_id)

    def issue(self, user_id: int) -> AccessToken:
        """Create a fresh access token with a new refresh token."""
        refresh_token = self._random()
        self._refresh[refresh_token] = user_id
        return self._new_access(user_id, refresh_token)

    def refresh(self, refresh_token: str) -> AccessToken:
        """Issue a new access token; the refresh token stays the same (clio.md §1)."""
        user_id = self._refresh.get(refresh_token)
        if user_id is None:
            raise OAuthError(400, "invalid_grant", _INVALID_GRANT)
        # Conservative: earlier access tokens from this refresh token stop working.
        for token in self._tokens.values():
            if token.refresh_token == refresh_token:
                token.revoked = True
        return self._new_access(user_id, refresh_token)

    def authenticate(self, header: str | None) -> AccessToken:
        """Resolve an Authorization header to a live token, or raise 401."""
        if not header or not header.lower().startswith("bearer "):
            raise invalid_token()
        token = self._tokens.get(header[7:].strip())
        if token is None or token.revoked or token.expires_at <= self._clock.now():
            raise invalid_token()
        return token

    def revoke(self, value: str) -> bool:
        """Revoke an access token and its refresh token (the app is deauthorized)."""
        token = self._tokens.get(value)
        if token is None:
            return False
        self._refresh.pop(token.refresh_token, None)
        for other in self._tokens.values():
            if other.refresh_token == token.refresh_token:
                other.revoked = True
        return True

    def response(self, token: AccessToken) -> dict[str, object]:
        """Return the token endpoint body (clio.md §1 "Token response")."""
        remaining = (token.expires_at - self._clock.now()).total_seconds()
        return {
            "token_type": "bearer",
            "access_token": token.value,
            "expires_in": max(0, int(remaining)),
            "refresh_token": token.refresh_token,
        }

    def _new_access(self, user_id: int, refresh_token: str) -> AccessToken:
        self._count += 1
        token = AccessToken(
            token_id=f"tok-{self._count}",
            value=self._random(),
            user_id=user_id,
            refresh_token=refresh_token,
            expires_at=self._clock.now() + timedelta(seconds=self.ttl_seconds),
        )
        self._tokens[token.value] = token
        return token

    def _random(self) -> str:
        return f"{self._rng.getrandbits(192):048x}"
