"""OAuth 2.0 authorization-code grant as Clio Manage runs it (docs/vendors/clio.md §1).

The grant itself is the kit's (billsync_sandboxes.kit.oauth); what is Clio's: the Doorkeeper error texts,
an optional redirect_uri at the token endpoint, refresh tokens that never rotate, and revoking one
app authorization at a time.
"""

from __future__ import annotations

from billsync_sandboxes.clio.errors import OAuthError, invalid_token
from billsync_sandboxes.kit import Clock
from billsync_sandboxes.kit.oauth import AccessToken as KitAccessToken
from billsync_sandboxes.kit.oauth import AuthorizationCodeTokens

# docs/vendors/clio.md §1: the FAQ says 30 days, a third-party doc 7; the sandbox uses the shorter.
DEFAULT_TOKEN_TTL_SECONDS = 7 * 24 * 3600

_INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)

AccessToken = KitAccessToken[int]
"""An issued access token for a Clio user id; token_id is the only part safe to log."""


class TokenStore(AuthorizationCodeTokens[int]):
    """Issues, refreshes, checks and revokes tokens; refresh tokens never rotate."""

    def __init__(self, clock: Clock, seed: int, ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS) -> None:
        super().__init__(clock, rng_label=f"clio-oauth-{seed}", ttl_seconds=ttl_seconds)

    def unauthorized(self) -> Exception:
        """Doorkeeper's invalid_token 401 (docs/vendors/clio.md §1)."""
        return invalid_token()

    def exchange(self, code: str, redirect_uri: str | None) -> AccessToken:
        """Trade an authorization code (once) for tokens; redirect_uri is checked only when sent."""
        grant = self.redeem_code(code)
        if grant is None:
            raise OAuthError(400, "invalid_grant", _INVALID_GRANT)
        if redirect_uri is not None and redirect_uri != grant.redirect_uri:
            raise OAuthError(400, "invalid_grant", _INVALID_GRANT)
        return self.issue(grant.user_id)

    def refresh(self, refresh_token: str) -> AccessToken:
        """Issue a new access token; the refresh token stays the same (docs/vendors/clio.md §1)."""
        user_id = self._refresh.get(refresh_token)
        if user_id is None:
            raise OAuthError(400, "invalid_grant", _INVALID_GRANT)
        # Conservative: earlier access tokens from this refresh token stop working.
        self.revoke_issued_under(refresh_token)
        return self._new_access(user_id, refresh_token)

    def revoke(self, value: str) -> bool:
        """Revoke an access token and its refresh token (the app is deauthorized)."""
        token = self._tokens.get(value)
        if token is None:
            return False
        self._refresh.pop(token.refresh_token, None)
        self.revoke_issued_under(token.refresh_token)
        return True
