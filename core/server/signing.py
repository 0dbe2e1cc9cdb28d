"""Standard Webhooks v1 signatures (HMAC-SHA256) for the generic ingest endpoint.

Follows the spec and its reference Python library (reliability.md §2): the signed content is
`{webhook-id}.{webhook-timestamp}.{raw body}`, the header is a space-separated list of
`v1,<base64>` signatures (several during a secret rotation; other versions are skipped), the
secret is base64 with an optional `whsec_` prefix, and the timestamp must be within 5 minutes
either side of now.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

from core.errors import ConfigError, InvalidSignature

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret
TOLERANCE_SECONDS = 5 * 60
MAX_ID_LENGTH = 255  # the dedupe table's column


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret (prefix optional); ConfigError when malformed."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("ingest_secret must be 'whsec_' followed by base64") from None
    if not key:
        raise ConfigError("ingest_secret is empty")
    return key


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature of one message."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def verify(key: bytes, headers: Mapping[str, str], body: bytes, now: float) -> str:
    """Check the webhook-* headers (lower-case names) and return the message id; InvalidSignature if not."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not msg_id or not stamp or not signatures:
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature header")
    if len(msg_id) > MAX_ID_LENGTH:
        raise InvalidSignature(f"webhook-id longer than {MAX_ID_LENGTH} characters")
    if not stamp.isascii() or not stamp.isdigit():
        raise InvalidSignature("webhook-timestamp is not an integer number of seconds")
    timestamp = int(stamp)
    if timestamp < now - TOLERANCE_SECONDS:
        raise InvalidSignature("webhook-timestamp is too old")
    if timestamp > now + TOLERANCE_SECONDS:
        raise InvalidSignature("webhook-timestamp is too far in the future")
    expected = sign(key, msg_id, timestamp, body).removeprefix("v1,").encode()
    for candidate in signatures.split(" "):
        version, _, value = candidate.partition(",")
        # Every candidate is compared in constant time; only the final answer depends on them all.
        if version == "v1" and hmac.compare_digest(expected, value.encode()):
            return msg_id
    raise InvalidSignature("no valid webhook-signature")
