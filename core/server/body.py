"""Request bodies read defensively: a size cap before reading, a time limit, JSON with a nesting cap."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import ClientDisconnect, Request

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
BODY_TIMEOUT_SECONDS = 30.0  # the [server] default; core/serving.py closes the connection a little later


class BodyRejected(Exception):
    """The body cannot be accepted; `status` and the message say why.

    `close`: the rest of the body was not read, so the connection cannot carry another request.
    """

    def __init__(self, status: int, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.close = close

    @property
    def headers(self) -> Mapping[str, str] | None:
        """The answer's headers: `Connection: close` when the connection must end with it."""
        return {"Connection": "close"} if self.close else None


async def read_body(request: Request, limit: int = MAX_BODY_BYTES, timeout: float = BODY_TIMEOUT_SECONDS) -> bytes:
    """The raw body, or BodyRejected: 413 as soon as it is known to exceed `limit` bytes, 408 when it
    has not all arrived within `timeout` seconds, 400 when the client went away before sending it all."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BodyRejected(400, "Content-Length is not a number", close=True)
        if int(declared) > limit:
            raise BodyRejected(413, f"body larger than {limit} bytes", close=True)
    try:
        async with asyncio.timeout(timeout):
            return await _read(request, limit)
    except TimeoutError:
        raise BodyRejected(408, f"the body did not arrive within {timeout:g} s", close=True) from None
    except ClientDisconnect:
        # Nobody reads the answer; what matters is that this is no server error and logs no traceback.
        raise BodyRejected(400, "the client disconnected before sending the whole body", close=True) from None


async def _read(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    # Chunked uploads declare no length: count while reading and stop at the first byte too many.
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyRejected(413, f"body larger than {limit} bytes", close=True)
        chunks.append(chunk)
    return b"".join(chunks)


def require_json(request: Request) -> None:
    """BodyRejected(415) unless the content type is application/json (any parameters)."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise BodyRejected(415, "content type must be application/json")


def parse_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a JSON document no deeper than `max_depth`; BodyRejected(400) otherwise."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise BodyRejected(400, f"JSON nested deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise BodyRejected(400, "body is not valid JSON") from None
    if _depth(value) > max_depth:
        raise BodyRejected(400, f"JSON nested deeper than {max_depth} levels")
    return value


def _depth(value: Any) -> int:
    # Iterative, so a deep document cannot exhaust the interpreter's stack here either.
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest
