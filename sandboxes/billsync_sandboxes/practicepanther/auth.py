"""OAuth 2.0 authorization-code grant as PracticePanther runs it (pp.md §2)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from billsync_sandboxes.practicepanther.errors import OAuthError, PracticePantherError
from core.sandbox import Clock

# pp.md §2: access tokens last about 24 h (expires_in 86399-86400).
DEFAULT_TOKEN_TTL_SECONDS = 86_400
CODE_TTL_SECONDS = 600  # not documented; the usual OAuth server default
SCOPE = "full"  # pp.md §2: the single scope


def denied() -> PracticePantherError:
    """401 for a missing, unknown, expired or revoked bearer token (ASP.NET's default text)."""
    return PracticePantherError(401, "Authorization has been denied for this request.")


@dataclass(slots=True)
class AccessToken:
    """An issued access token; token_id is the only part safe to log."""

    token_id: str
    value: str
    user_id: str
    refresh_token: str
    expires_at: datetime
    revoked: bool = False


class TokenStore:
    """Issues and checks tokens. Refresh tokens rotate: each works once (pp.md §2, conservative)."""

    def __init__(self, clock: Clock, seed: int, ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS) -> None:
        self._clock = clock
        # Sandbox credentials are not secrets; a seeded PRNG keeps runs reproducible.
        self._rng = random.Random(f"pp-oauth-{seed}")  # noqa: S311
        self.ttl_seconds = ttl_seconds
        self._codes: dict[str, tuple[str, str, datetime]] = {}
        self._tokens: dict[str, AccessToken] = {}
        self._refresh: dict[str, str] = {}  # live refresh token -> user id
        self._count = 0

    def authorize(self, user_id: str, redirect_uri: str) -> str:
        """Approve the app for a user and return a one-time authorization code."""
        code = self._random()
        self._codes[code] = (user_id, redirect_uri, self._clock.now() + timedelta(seconds=CODE_TTL_SECONDS))
        return code

    def exchange(self, code: str, redirect_uri: str | None) -> AccessToken:
        """Trade an authorization code (once, same redirect_uri) for tokens."""
        grant = self._codes.pop(code, None)
        if grant is None or grant[2] <= self._clock.now() or redirect_uri != grant[1]:
            raise OAuthError(400, "invalid_grant")
        return self.issue(grant[0])

    def issue(self, user_id: str) -> AccessToken:
        """A fresh access token with a new refresh token."""
        refresh_token = self._random()
        self._refresh[refresh_token] = user_id
        return self._new_access(user_id, refresh_token)

    def refresh(self, refresh_token: str) -> AccessToken:
        """Spend a refresh token for a new pair; older access tokens from it stop working."""
        user_id = self._refresh.pop(refresh_token, None)
        if user_id is None:
            raise OAuthError(400, "invalid_grant")
        for token in self._tokens.values():
            if token.refresh_token == refresh_token:
                token.revoked = True
        return self.issue(user_id)

    def authenticate(self, header: str | None) -> AccessToken:
        """Resolve an Authorization header to a live token, or raise 401."""
        if not header or not header.lower().startswith("bearer "):
            raise denied()
        token = self._tokens.get(header[7:].strip())
        if token is None or token.revoked or token.expires_at <= self._clock.now():
            raise denied()
        return token

    def revoke_all(self) -> None:
        """Revoke every token, as a user revoking the app or changing a password would (pp.md §2)."""
        for token in self._tokens.values():
            token.revoked = True
        self._refresh.clear()

    def response(self, token: AccessToken) -> dict[str, object]:
        """The token endpoint body."""
        remaining = (token.expires_at - self._clock.now()).total_seconds()
        return {
            "token_type": "bearer",
            "access_token": token.value,
            "expires_in": max(0, int(remaining)),
            "refresh_token": token.refresh_token,
            "scope": SCOPE,
        }

    def _new_access(self, user_id: str, refresh_token: str) -> AccessToken:
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
