"""OAuth as NetDocuments runs it (docs/vendors/netdocuments.md §3): three grants on POST /v1/OAuth, regional, expiring
tokens."""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from billsync_sandboxes.kit import Clock
from billsync_sandboxes.netdocuments.errors import NetDocumentsError

# docs/vendors/netdocuments.md §3: "45 to 90 minutes (based on scope) of no activity", and 24-48 hours at most. The
# sandbox takes the short ends: the client must cope with the earliest expiry NetDocuments allows.
IDLE_SECONDS = 45 * 60
MAX_AGE_SECONDS = 24 * 3600
# What expires_in announces (as a JSON string, docs/vendors/netdocuments.md §3 [PE], INFERRED). It is longer than the
# idle limit on purpose: the announced lifetime does not protect an idle token.
ANNOUNCED_SECONDS = 3600
CODE_TTL_SECONDS = 600  # not documented; the usual OAuth server default
SCOPES = frozenset({"read", "organize", "edit", "delete_doc", "delete_container", "lookup", "admin", "full"})


def unauthorized(message: str = "The access token is missing, expired or not valid here.") -> NetDocumentsError:
    """401: docs/vendors/netdocuments.md §3 'An expired token gives 401 Unauthorized'."""
    return NetDocumentsError(401, "invalid_token", message)


@dataclass(slots=True)
class AccessToken:
    """An issued token; token_id is the only part safe to log."""

    token_id: str
    value: str
    user_id: str
    scopes: frozenset[str]
    issued_at: datetime
    last_used: datetime
    refresh_token: str | None
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    """What an Authorization: Basic header (or the form body) names."""

    client_id: str
    repository_id: str | None
    secret: str


def basic_credentials(header: str | None, form: dict[str, str]) -> BasicCredentials | None:
    """Basic base64(user:secret), where user is "client_id" or "client_id|repository_id"; else the body."""
    if header and header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        user, _, secret = decoded.partition(":")
        client_id, _, repository = user.partition("|")
        return BasicCredentials(client_id, repository or None, secret)
    if form.get("client_id"):
        # docs/vendors/netdocuments.md §3 [PPC tokenBodyTemplate]: credentials in the body work for the code flow.
        return BasicCredentials(form["client_id"], None, form.get("client_secret", ""))
    return None


class TokenStore:
    """Issues and checks tokens. Refresh tokens rotate: each works once (UNCONFIRMED, conservative)."""

    def __init__(self, clock: Clock, seed: int) -> None:
        self._clock = clock
        # Sandbox credentials are not secrets; a seeded PRNG keeps runs reproducible.
        self._rng = random.Random(f"nd-oauth-{seed}")  # noqa: S311
        self._codes: dict[str, tuple[str, str, frozenset[str], datetime]] = {}
        self._tokens: dict[str, AccessToken] = {}
        self._refresh: dict[str, tuple[str, frozenset[str]]] = {}
        self._count = 0

    def authorize(self, user_id: str, redirect_uri: str, scopes: frozenset[str]) -> str:
        """A one-time code for a person's grant."""
        code = self._random()
        self._codes[code] = (user_id, redirect_uri, scopes, self._clock.now() + timedelta(seconds=CODE_TTL_SECONDS))
        return code

    def exchange(self, code: str, redirect_uri: str | None) -> AccessToken:
        """Trade a code (once, same redirect_uri) for an access and a refresh token."""
        grant = self._codes.pop(code, None)
        if grant is None or grant[3] <= self._clock.now() or redirect_uri != grant[1]:
            raise NetDocumentsError(400, "invalid_grant", "The authorization code is not valid.")
        return self.issue(grant[0], grant[2], with_refresh=True)

    def refresh(self, refresh_token: str) -> AccessToken:
        """Spend a refresh token for a new pair."""
        found = self._refresh.pop(refresh_token, None)
        if found is None:
            raise NetDocumentsError(400, "invalid_grant", "The refresh token is not valid.")
        return self.issue(found[0], found[1], with_refresh=True)

    def issue(self, user_id: str, scopes: frozenset[str], *, with_refresh: bool) -> AccessToken:
        """A fresh access token (and refresh token for a person's grant)."""
        self._count += 1
        now = self._clock.now()
        refresh = self._random() if with_refresh else None
        token = AccessToken(f"tok-{self._count}", self._random(), user_id, scopes, now, now, refresh)
        self._tokens[token.value] = token
        if refresh is not None:
            self._refresh[refresh] = (user_id, scopes)
        return token

    def authenticate(self, header: str | None) -> AccessToken:
        """A live token for an Authorization header; each use restarts its idle clock."""
        if not header or not header.lower().startswith("bearer "):
            raise unauthorized("No access token was sent.")
        token = self._tokens.get(header[7:].strip())
        now = self._clock.now()
        if token is None or token.revoked:
            raise unauthorized()
        if now - token.last_used >= timedelta(seconds=IDLE_SECONDS) or now - token.issued_at >= timedelta(
            seconds=MAX_AGE_SECONDS
        ):
            token.revoked = True
            raise unauthorized("The access token has expired.")
        token.last_used = now
        return token

    def revoke_all(self) -> None:
        """Revoke every token and refresh token (an administrator removing the app)."""
        for token in self._tokens.values():
            token.revoked = True
        self._refresh.clear()

    def response(self, token: AccessToken) -> dict[str, Any]:
        """The token endpoint's body; expires_in is a string (docs/vendors/netdocuments.md §3, INFERRED)."""
        body: dict[str, Any] = {
            "access_token": token.value,
            "token_type": "bearer",
            "expires_in": str(ANNOUNCED_SECONDS),
        }
        if token.refresh_token is not None:
            body["refresh_token"] = token.refresh_token
        return body

    def _random(self) -> str:
        return f"{self._rng.getrandbits(192):048x}"


def scopes_of(text: str | None) -> frozenset[str]:
    """Space-delimited scopes (docs/vendors/netdocuments.md §3); unknown ones are refused."""
    scopes = frozenset((text or "").split())
    if not scopes or not scopes <= SCOPES:
        raise NetDocumentsError(400, "invalid_scope", "The requested scope is not valid.")
    return scopes
