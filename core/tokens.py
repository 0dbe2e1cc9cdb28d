"""Vendor credentials are state, not configuration: stored encrypted, refreshed under a lock, saved before use.

OAuth tokens, and the shared secrets that sign webhook deliveries, both live here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine, select

from core.errors import AuthFailed, ConfigError, NotConnected
from core.store.schema import oauth_tokens, webhook_subscriptions

# Refresh a little before expiry, so a token never expires between check and use.
EXPIRY_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class OAuthToken:
    """Credentials for one vendor account. Never logged: repr hides the secrets."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # e.g. the account's region

    def expired(self, now: datetime) -> bool:
        """Whether it is time to refresh."""
        return self.expires_at is not None and now >= self.expires_at - EXPIRY_MARGIN

    @classmethod
    def from_response(cls, body: dict[str, Any], now: datetime, previous: OAuthToken | None = None) -> OAuthToken:
        """A token from an OAuth token-endpoint answer; a refresh token not sent again is kept."""
        if not body.get("access_token"):
            raise AuthFailed("the token endpoint answered without an access token")
        expires_in = body.get("expires_in")
        return cls(
            access_token=str(body["access_token"]),
            refresh_token=body.get("refresh_token") or (previous.refresh_token if previous else None),
            expires_at=now + timedelta(seconds=float(expires_in)) if expires_in is not None else None,
            extra=previous.extra if previous else {},
        )


@dataclass(frozen=True)
class Subscription:
    """A webhook subscription at the vendor, as billsync must remember it."""

    id: str
    expires_at: datetime
    secret: str | None = field(default=None, repr=False)  # signs deliveries; stored encrypted


def fernet_from_key(key: str | bytes) -> Fernet:
    """A Fernet cipher from a url-safe base64 32-byte key, with a clear error when it is not one."""
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        raise ConfigError(
            "the secret key must be 32 url-safe base64-encoded bytes; make one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
        ) from None


class TokenStore:
    """Encrypted tokens per (firm, connector), with one refresh at a time per account."""

    def __init__(
        self, engine: Engine, cipher: Fernet, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._engine = engine
        self._cipher = cipher
        self._clock = clock
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def get(self, firm: str, connector: str) -> OAuthToken | None:
        """The stored token, decrypted, or None when the account was never connected."""
        with self._engine.connect() as conn:
            ciphertext = conn.execute(
                select(oauth_tokens.c.ciphertext).where(
                    oauth_tokens.c.firm_id == firm, oauth_tokens.c.connector == connector
                )
            ).scalar_one_or_none()
        if ciphertext is None:
            return None
        data = json.loads(self._decrypt(ciphertext, connector))
        expires = data.get("expires_at")
        return OAuthToken(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token"),
            expires_at=datetime.fromisoformat(expires) if expires else None,
            extra=data.get("extra") or {},
        )

    def save(self, firm: str, connector: str, token: OAuthToken) -> None:
        """Encrypt and store a token (insert or replace)."""
        data = asdict(token) | {"expires_at": token.expires_at.isoformat() if token.expires_at else None}
        ciphertext = self._cipher.encrypt(json.dumps(data).encode()).decode()
        key = {"firm_id": firm, "connector": connector}
        with self._engine.begin() as conn:
            conn.execute(oauth_tokens.delete().filter_by(**key))
            conn.execute(oauth_tokens.insert().values(**key, ciphertext=ciphertext, updated_at=self._clock()))

    def current(
        self, firm: str, connector: str, refresh: Callable[[OAuthToken], OAuthToken], *, force: bool = False
    ) -> OAuthToken:
        """A usable token: refreshed (and saved before it is used) when it has expired or `force` says so."""
        token = self.get(firm, connector)
        if token is None:
            raise NotConnected(connector, firm)
        if not force and not token.expired(self._clock()):
            return token
        with self._lock(firm, connector):
            latest = self.get(firm, connector)  # another thread may have refreshed meanwhile
            if latest is not None and latest.access_token != token.access_token and not latest.expired(self._clock()):
                return latest
            fresh = refresh(latest or token)
            self.save(firm, connector, fresh)
            return fresh

    def subscription(self, firm: str, connector: str) -> Subscription | None:
        """The webhook subscription billsync holds at the vendor, its secret decrypted."""
        w = webhook_subscriptions.c
        with self._engine.connect() as conn:
            row = conn.execute(
                select(w.subscription_id, w.expires_at, w.secret_ciphertext).where(
                    w.firm_id == firm, w.connector == connector
                )
            ).first()
        if row is None:
            return None
        secret = self._decrypt(row.secret_ciphertext, connector).decode() if row.secret_ciphertext else None
        return Subscription(id=row.subscription_id, expires_at=row.expires_at, secret=secret)

    def save_subscription(self, firm: str, connector: str, subscription: Subscription | None) -> None:
        """Remember (or forget, with None) the vendor's webhook subscription; the secret is encrypted."""
        key = {"firm_id": firm, "connector": connector}
        with self._engine.begin() as conn:
            conn.execute(webhook_subscriptions.delete().filter_by(**key))
            if subscription is not None:
                secret = subscription.secret
                conn.execute(
                    webhook_subscriptions.insert().values(
                        **key,
                        subscription_id=subscription.id,
                        expires_at=subscription.expires_at,
                        secret_ciphertext=self._cipher.encrypt(secret.encode()).decode() if secret else None,
                        updated_at=self._clock(),
                    )
                )

    def _decrypt(self, ciphertext: str, connector: str) -> bytes:
        try:
            return self._cipher.decrypt(ciphertext.encode())
        except InvalidToken:
            raise ConfigError(f"stored {connector} secret cannot be decrypted: wrong secret key?") from None

    def _lock(self, firm: str, connector: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault((firm, connector), threading.Lock())
