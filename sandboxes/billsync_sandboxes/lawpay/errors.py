"""The LawPay sandbox's error answers and small formats shared by its modules."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

Json = dict[str, Any]


class GatewayError(Exception):
    """An answer in the gateway's error shape: {"messages": [{code, level, message, facility}]}."""

    def __init__(self, status: int, code: str, message: str, context: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.context = context

    def body(self) -> Json:
        """The JSON error body (lawpay.md §12)."""
        message: Json = {"code": self.code, "level": "error", "message": str(self), "facility": "gateway"}
        if self.context:
            message["context"] = self.context
        return {"messages": [message]}


def stamp(when: datetime) -> str:
    """yyyy-MM-dd'T'HH:mm:ss.SSS'Z'."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def basic_user(authorization: str | None) -> str | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization.split(None, 1)[1]).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    user, _, _password = decoded.partition(":")
    return user
