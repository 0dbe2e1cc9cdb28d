"""OAuth 2.0 authorization-code grant as PracticePanther runs it (docs/vendors/practicepanther.md §2).

The grant itself is the kit's (billsync_sandboxes.kit.oauth); what is PracticePanther's: ASP.NET's 401
text, a bare {"error"} body, an exact redirect_uri at the token endpoint, rotating refresh
tokens, the single scope, and revoking everything at once.
"""

from __future__ import annotations

from billsync_sandboxes.kit import Clock
from billsync_sandboxes.kit.oauth import AccessToken as KitAccessToken
from billsync_sandboxes.kit.oauth import AuthorizationCodeTokens
from billsync_sandboxes.practicepanther.errors import OAuthError, PracticePantherError

# docs/vendors/practicepanther.md §2: access tokens last about 24 h (expires_in 86399-86400).
DEFAULT_TOKEN_TTL_SECONDS = 86_400
SCOPE = "full"  # docs/vendors/practicepanther.md §2: the single scope

AccessToken = KitAccessToken[str]
"""An issued access token for a PracticePanther user id; token_id is the only part safe to log."""


def denied() -> PracticePantherError:
    """401 for a missing, unknown, expired or revoked bearer token (ASP.NET's default text)."""
    return PracticePantherError(401, "Authorization has been denied for this request.")


class TokenStore(AuthorizationCodeTokens[str]):
    """Issues and checks tokens. Refresh tokens rotate: each works once (docs/vendors/practicepanther.md §2,
    conservative)."""

    def __init__(self, clock: Clock, seed: int, ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS) -> None:
        super().__init__(clock, rng_label=f"pp-oauth-{seed}", ttl_seconds=ttl_seconds)

    def unauthorized(self) -> Exception:
        """ASP.NET's 401 (see denied)."""
        return denied()

    def exchange(self, code: str, redirect_uri: str | None) -> AccessToken:
        """Trade an authorization code (once, same redirect_uri) for tokens."""
        grant = self.redeem_code(code)
        if grant is None or redirect_uri != grant.redirect_uri:
            raise OAuthError(400, "invalid_grant")
        return self.issue(grant.user_id)

    def refresh(self, refresh_token: str) -> AccessToken:
        """Spend a refresh token for a new pair; older access tokens from it stop working."""
        user_id = self._refresh.pop(refresh_token, None)
        if user_id is None:
            raise OAuthError(400, "invalid_grant")
        self.revoke_issued_under(refresh_token)
        return self.issue(user_id)

    def revoke_all(self) -> None:
        """Revoke every token, as a user revoking the app or changing a password would
        (docs/vendors/practicepanther.md §2)."""
        for token in self._tokens.values():
            token.revoked = True
        self._refresh.clear()

    def response(self, token: AccessToken) -> dict[str, object]:
        """The token endpoint body, with PracticePanther's scope."""
        return {**super().response(token), "scope": SCOPE}
