"""App-only tokens for Microsoft Graph from msal's ConfidentialClientApplication (docs/vendors/microsoft365.md §1).

One msal app per connector, built on first use and kept for the life of the process, so that
`acquire_token_for_client` answers from msal's own in-memory token cache (msal >= 1.23) and asks
Entra only on a miss or when less than five minutes are left. The cache is deliberately not
persisted: a client-credentials grant has no refresh token and no user, so a stored cache would
put a bearer token at rest only to save one token request per process start.

The sandbox stands in for Entra on plain http on loopback. msal accepts only https authorities
(`msal.authority.canonicalize`), so for a loopback authority host the app is given the https
spelling of the same address plus msal's documented `http_client` hook: a requests session that
sends requests for that one loopback address over http. `instance_discovery=False` keeps msal from
asking login.microsoftonline.com about an authority it does not know. Nothing else changes.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msal  # type: ignore[import-untyped]  # msal ships no type information
import requests
from pydantic import SecretStr

from core.errors import AuthFailed, Retryable

LOOPBACK_NAMES = frozenset({"localhost"})


class LoopbackHttpSession(requests.Session):
    """A requests session for msal that reaches one loopback authority over plain http."""

    def __init__(self, netloc: str, timeout: tuple[float, float], transport: requests.Session | None = None) -> None:
        super().__init__()
        self._netloc = netloc
        self._timeout = timeout
        if transport is not None:  # the firm's transport adapters (tests mount an in-process one)
            for prefix, adapter in transport.adapters.items():
                self.mount(prefix, adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """Send as msal asks, downgrading https to http for the loopback authority only."""
        parts = urlsplit(url if isinstance(url, str) else url.decode())
        if parts.scheme == "https" and parts.netloc == self._netloc:
            parts = parts._replace(scheme="http")
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, urlunsplit(parts), *args, **kwargs)


def is_loopback(host: str | None) -> bool:
    """Whether a host name is this machine (the only place plain http is accepted)."""
    if not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class GraphAuth:
    """Access tokens for Graph, from a client secret or a certificate, for one tenant."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        credential: str | Mapping[str, str],
        authority_host: str,
        scope: str,
        timeout: tuple[float, float] = (5.0, 30.0),
        transport: requests.Session | None = None,
    ) -> None:
        host = urlsplit(authority_host.rstrip("/"))
        if host.scheme not in ("https", "http") or not host.netloc:
            raise ValueError(f"authority_host must be an https URL, got {authority_host!r}")
        if host.scheme == "http" and not is_loopback(host.hostname):
            raise ValueError("authority_host may use plain http only on loopback (the sandbox)")
        # A tenant-specific authority: /common and /organizations are unreliable for app-only tokens.
        self.authority = urlunsplit(("https", host.netloc, f"{host.path}/{tenant_id}", "", ""))
        self._loopback_netloc = host.netloc if host.scheme == "http" else None
        self._client_id = client_id
        self._credential = credential
        self._scope = scope
        self._timeout = timeout
        self._transport = transport
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    def token(self, *, force: bool = False) -> str:
        """A usable access token, from msal's cache when it holds one; `force` asks Entra for a new one.

        A forced token follows Graph refusing one msal still held as valid (revoked consent, clock
        skew): a fresh app and cache get a new one.
        """
        if force:
            self.forget()
        result = self._acquire()
        token = result.get("access_token")
        if isinstance(token, str) and token:
            return token
        error = str(result.get("error") or "unknown_error")
        description = str(result.get("error_description") or "").splitlines()
        detail = description[0] if description else "no description"
        if error in ("temporarily_unavailable", "server_error"):
            raise Retryable(f"Microsoft Entra could not issue a token now ({error}): {detail}")
        raise AuthFailed(
            f"Microsoft Entra refused billsync's app credentials ({error}): {detail}; check tenant_id, client_id, "
            "the client secret or certificate, and that an administrator granted consent"
        )

    def forget(self) -> None:
        """Drop the msal app and its cache (after Graph rejected a token it still considered valid)."""
        with self._lock:
            self._app = None

    def _acquire(self) -> dict[str, Any]:
        app = self._application()
        try:
            result = app.acquire_token_for_client(scopes=[self._scope])
        except requests.RequestException as exc:
            raise Retryable(f"Microsoft Entra not reachable ({type(exc).__name__})") from None
        return dict(result or {})

    def _application(self) -> msal.ConfidentialClientApplication:
        with self._lock:
            if self._app is None:
                self._app = self._build()
            return self._app

    def _build(self) -> msal.ConfidentialClientApplication:
        http_client: requests.Session | None = None
        if self._loopback_netloc is not None:
            http_client = LoopbackHttpSession(self._loopback_netloc, self._timeout, self._transport)
        try:
            return msal.ConfidentialClientApplication(
                self._client_id,
                client_credential=self._credential,
                authority=self.authority,
                # Entra's well-known hosts skip discovery anyway; any other host (a sovereign
                # cloud's alias, the sandbox) is trusted because the firm configured it.
                instance_discovery=False,
                http_client=http_client,
                timeout=None if http_client is not None else self._timeout,
            )
        except requests.RequestException as exc:
            raise Retryable(f"Microsoft Entra not reachable ({type(exc).__name__})") from None
        except ValueError as exc:
            # msal raises ValueError when the tenant's OpenID configuration cannot be read (unknown tenant).
            first = str(exc).splitlines()[0] if str(exc) else "authority rejected"
            raise AuthFailed(f"Microsoft Entra authority {self.authority} is not usable: {first}") from None


def client_credential(
    secret: SecretStr | None,
    private_key: SecretStr | None,
    thumbprint: str | None,
    passphrase: SecretStr | None = None,
) -> str | dict[str, str]:
    """msal's client_credential: a secret string, or a PEM certificate dict (docs/vendors/microsoft365.md §1)."""
    if secret is not None:
        return secret.get_secret_value()
    if private_key is None or not thumbprint:
        raise ValueError("give client_secret, or certificate_private_key with certificate_thumbprint")
    credential = {"private_key": private_key.get_secret_value(), "thumbprint": thumbprint}
    if passphrase is not None:
        credential["passphrase"] = passphrase.get_secret_value()
    return credential
