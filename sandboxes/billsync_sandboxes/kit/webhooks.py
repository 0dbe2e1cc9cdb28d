"""Webhook delivery plumbing shared by vendor sandboxes: signing and HTTP posting."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import requests

DEFAULT_DELIVERY_TIMEOUT = 5.0

# deliver(url, headers, body) returns the receiver's status code, or (status, headers)
# when the caller needs response headers (e.g. a handshake that echoes a secret).
Deliver = Callable[[str, Mapping[str, str], bytes], "int | tuple[int, Mapping[str, str]]"]


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What the receiver answered; status 0 means it could not be reached."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """Look up a response header case-insensitively."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


def deliver_with(deliver: Deliver, url: str, headers: Mapping[str, str], body: bytes) -> DeliveryResult:
    """Call a Deliver function and normalise its answer; exceptions count as unreachable."""
    try:
        raw = deliver(url, headers, body)
    except Exception:  # any receiver failure is a failed delivery, as for a real sender
        return DeliveryResult(status=0)
    if isinstance(raw, tuple):
        status, response_headers = raw
        return DeliveryResult(status=int(status), headers=dict(response_headers))
    return DeliveryResult(status=int(raw))


def http_deliver(
    url: str, headers: Mapping[str, str], body: bytes, timeout: float = DEFAULT_DELIVERY_TIMEOUT
) -> tuple[int, Mapping[str, str]]:
    """POST a webhook body for real; unreachable receivers and timeouts give status 0."""
    try:
        response = requests.post(url, data=body, headers=dict(headers), timeout=timeout)
    except requests.RequestException:
        return 0, {}
    return response.status_code, dict(response.headers)


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    """Return the lowercase hex HMAC-SHA256 of body keyed by secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
