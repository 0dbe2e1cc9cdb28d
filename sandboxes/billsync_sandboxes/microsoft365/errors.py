"""The errors the Microsoft 365 stand-in answers with, in Graph's error body shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Json = dict[str, Any]


class GraphError(Exception):
    """A Graph error answer: status, code, message (and headers such as Retry-After)."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> Json:
        """Graph's error shape."""
        return {"error": {"code": self.code, "message": self.message}}
