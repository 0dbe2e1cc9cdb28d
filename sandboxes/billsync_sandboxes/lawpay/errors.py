"""The LawPay sandbox's error answers, and the timestamp format its modules share."""

from __future__ import annotations

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
        """The JSON error body (docs/vendors/lawpay.md §12)."""
        message: Json = {"code": self.code, "level": "error", "message": str(self), "facility": "gateway"}
        if self.context:
            message["context"] = self.context
        return {"messages": [message]}


def stamp(when: datetime) -> str:
    """yyyy-MM-dd'T'HH:mm:ss.SSS'Z'."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
