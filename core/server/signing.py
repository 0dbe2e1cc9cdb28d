"""Standard Webhooks v1 signatures (HMAC-SHA256) for the generic ingest endpoint.

Follows the spec and its reference Python library (docs/reliability.md §2): the signed content is
`{webhook-id}.{webhook-timestamp}.{raw body}`, the header is a space-separated list of
`v1,<base64>` signatures (several during a secret rotation; other versions are skipped), and the
timestamp must be within 5 minutes either side of now. The key comes from the firm's secret through
`core.ingest_secret.secret_key`, the one reading the settings use too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from core.errors import InvalidSignature

TOLERANCE_SECONDS = 5 * 60
MAX_ID_LENGTH = 255  # the dedupe table's column


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
