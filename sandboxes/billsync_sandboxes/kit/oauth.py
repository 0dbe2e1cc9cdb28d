"""The OAuth 2.0 authorization-code grant every OAuth vendor's sandbox serves (RFC 6749 §4.1).

A vendor's token store subclasses `AuthorizationCodeTokens` and keeps only what its vendor does
differently: the error it answers a refused grant or a bad bearer token with, whether a refresh
token rotates, how redirect URIs are compared, extra fields in the token response, token lifetimes.
Nothing here knows any vendor.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from billsync_sandboxes.kit.clock import Clock

# None of the vendors with a sandbox documents it; ten minutes is the usual OAuth server default (Doorkeeper).
CODE_TTL_SECONDS = 600

UserId = TypeVar("UserId")


@dataclass(slots=True)
class AccessToken(Generic[UserId]):
    """An issued access token; token_id is the only part safe to log."""

    token_id: str
    value: str
    user_id: UserId
    refresh_token: str
    expires_at: datetime
    revoked: bool = False


@dataclass(slots=True)
class CodeGrant(Generic[UserId]):
    """What an authorization code stands for until it is redeemed (once) or expires."""

    user_id: UserId
    redirect_uri: str
    expires_at: datetime


class AuthorizationCodeTokens(ABC, Generic[UserId]):
    """Issues codes and bearer tokens and checks them; the vendor's subclass says how it refuses.

    Invariants: a code is redeemed at most once; every access token carries the refresh token it
    was issued under; a token is live until revoked or expired by the store's clock. Values come
    from a PRNG seeded by `rng_label`, so the same seed issues the same tokens in the same order.
    """

    def __init__(self, clock: Clock, *, rng_label: str, ttl_seconds: int) -> None:
        self._clock = clock
        # Sandbox credentials are not secrets; a seeded PRNG keeps runs reproducible.
        self._rng = random.Random(rng_label)  # noqa: S311
        self.ttl_seconds = ttl_seconds
        self._codes: dict[str, CodeGrant[UserId]] = {}
        self._tokens: dict[str, AccessToken[UserId]] = {}
        self._refresh: dict[str, UserId] = {}  # live refresh token -> user id
        self._count = 0

    @abstractmethod
    def unauthorized(self) -> Exception:
        """The vendor's 401 for a missing, unknown, expired or revoked bearer token."""

    def authorize(self, user_id: UserId, redirect_uri: str) -> str:
        """Approve the app for a user and return a one-time authorization code."""
        code = self._random()
        expires = self._clock.now() + timedelta(seconds=CODE_TTL_SECONDS)
        self._codes[code] = CodeGrant(user_id, redirect_uri, expires)
        return code

    def redeem_code(self, code: str) -> CodeGrant[UserId] | None:
        """Spend a code: its grant if it was issued and has not expired, else None (spent either way)."""
        grant = self._codes.pop(code, None)
        if grant is None or grant.expires_at <= self._clock.now():
            return None
        return grant

    def issue(self, user_id: UserId) -> AccessToken[UserId]:
        """Create a fresh access token with a new refresh token."""
        refresh_token = self._random()
        self._refresh[refresh_token] = user_id
        return self._new_access(user_id, refresh_token)

    def revoke_issued_under(self, refresh_token: str) -> None:
        """Revoke every access token issued under refresh_token (the refresh token itself stays)."""
        for token in self._tokens.values():
            if token.refresh_token == refresh_token:
                token.revoked = True

    def authenticate(self, header: str | None) -> AccessToken[UserId]:
        """Resolve an Authorization header to a live token, or raise the vendor's 401."""
        if not header or not header.lower().startswith("bearer "):
            raise self.unauthorized()
        token = self._tokens.get(header[7:].strip())
        if token is None or token.revoked or token.expires_at <= self._clock.now():
            raise self.unauthorized()
        return token

    def response(self, token: AccessToken[UserId]) -> dict[str, object]:
        """The token endpoint's body (RFC 6749 §5.1); expires_in counts down on the store's clock."""
        remaining = (token.expires_at - self._clock.now()).total_seconds()
        return {
            "token_type": "bearer",
            "access_token": token.value,
            "expires_in": max(0, int(remaining)),
            "refresh_token": token.refresh_token,
        }

    def _new_access(self, user_id: UserId, refresh_token: str) -> AccessToken[UserId]:
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
