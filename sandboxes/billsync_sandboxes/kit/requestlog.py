"""A log of the requests a sandbox received, so tests can count and inspect them."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billsync_sandboxes.kit.clock import Clock
from billsync_sandboxes.kit.faults import FaultKind
from billsync_sandboxes.kit.records import iso_timestamp

# Inner layers write notes about a request (token id, injected fault) into this scope key.
SCOPE_NOTES = "billsync.sandbox.notes"


def note(scope: Scope, **values: str | None) -> None:
    """Attach facts about the current request for the request log."""
    notes = scope.get(SCOPE_NOTES)
    if isinstance(notes, dict):
        notes.update(values)


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request as the sandbox saw it; never holds credentials."""

    at: str
    method: str
    path: str
    query: str
    status: int | None
    token_id: str | None
    fault: str | None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return asdict(self)


class RequestLog:
    """An append-only, thread-safe list of LoggedRequest."""

    def __init__(self) -> None:
        self._entries: list[LoggedRequest] = []
        self._lock = threading.Lock()

    def append(self, entry: LoggedRequest) -> None:
        """Record one request."""
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[LoggedRequest]:
        """Return a snapshot of every request so far."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget every request."""
        with self._lock:
            self._entries.clear()


class RequestLogMiddleware:
    """ASGI middleware that records method, path, query, status and the notes inner layers add."""

    def __init__(self, app: ASGIApp, log: RequestLog, clock: Clock) -> None:
        self.app = app
        self.log = log
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request through and log it, even when the connection is dropped."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        notes: dict[str, str | None] = {}
        scope[SCOPE_NOTES] = notes
        status: list[int] = []

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            query = scope.get("query_string", b"")
            self.log.append(
                LoggedRequest(
                    at=iso_timestamp(self.clock.now()),
                    method=str(scope["method"]),
                    path=str(scope["path"]),
                    query=query.decode("latin-1") if isinstance(query, bytes) else "",
                    status=None if _dropped(notes.get("fault")) or not status else status[0],
                    token_id=notes.get("token_id"),
                    fault=notes.get("fault"),
                )
            )


def _dropped(fault: str | None) -> bool:
    # Connection-level faults never deliver a complete response, so they have no status.
    return fault is not None and fault in FaultKind.__members__.values() and (FaultKind(fault).status is None)
