"""The errors the Microsoft 365 sandbox answers with, in Graph's error body shape."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
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

    def body(self, now: datetime, client_request_id: str | None = None) -> Json:
        """Graph's error shape, innerError included."""
        return error_body(self.code, self.message, now, client_request_id)


def error_body(code: str, message: str, now: datetime, client_request_id: str | None = None) -> Json:
    """{"error": {code, message, innerError}}: every Graph error, alone or in a $batch, carries innerError.

    innerError says when the request failed and under which ids (Graph's "error responses" and
    "JSON batching" pages): Graph echoes the caller's client-request-id header; without one the
    sandbox repeats its request-id (UNCONFIRMED). The date is UTC without an offset, as Graph writes it.
    """
    request_id = str(uuid.uuid4())
    inner = {
        "date": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": client_request_id or request_id,
    }
    return {"error": {"code": code, "message": message, "innerError": inner}}
