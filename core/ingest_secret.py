"""The signed ingest endpoint's secret, read exactly as the Standard Webhooks reference library reads it.

One reading for the whole program: the settings (so `check-config` and every command) and the
daemon's ingest endpoint both call `secret_key`, so a secret one of them accepts the other never
refuses. The reference Python library (`standardwebhooks`, `Webhook.__init__`) strips `whsec_`,
appends `==` and decodes with `base64.b64decode` in its lenient mode: unpadded base64 is accepted,
characters outside the base64 alphabet (spaces, `-`, `_`) are skipped, a remainder of one
character is refused, and so is a secret that decodes to nothing. A sender that signs with that
library and the same secret therefore signs with the same key (tests/server/test_server_signing.py
checks it against the library itself).
"""

from __future__ import annotations

import base64
import binascii

from core.errors import ConfigError

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret (prefix optional); ConfigError saying what is wrong.

    The message never repeats the secret: it ends up in logs and terminals."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        # The padding the reference library adds: b64decode ignores what it does not need.
        key = base64.b64decode(encoded + "==")
    except (binascii.Error, ValueError):
        raise ConfigError(
            "must be 'whsec_' followed by base64, e.g. 'whsec_' and 32 random bytes in base64"
        ) from None
    if not key:
        raise ConfigError("holds no key: write 'whsec_' followed by base64")
    return key
