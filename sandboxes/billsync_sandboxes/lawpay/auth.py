"""How LawPay knows its caller: the secret key (or, for tokens, the public key) as HTTP Basic user
(docs/vendors/lawpay.md §2)."""

from __future__ import annotations

import base64


def basic_user(authorization: str | None) -> str | None:
    """The user of an HTTP Basic header (the key; the password is empty), or None when there is none."""
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization.split(None, 1)[1]).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    user, _, _password = decoded.partition(":")
    return user
