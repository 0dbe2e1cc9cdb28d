"""Fault injection: chosen routes fail with a given probability, from a seeded RNG."""

from __future__ import annotations

import fnmatch
import random
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import anyio.to_thread
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from billsync_sandboxes.kit.clock import Clock


class FaultKind(StrEnum):
    """What goes wrong."""

    TOO_MANY_REQUESTS = "429"
    SERVER_ERROR = "500"
    BAD_GATEWAY = "502"
    TIMEOUT = "timeout"
    RESET = "reset"
    TRUNCATE = "truncate"

    @property
    def status(self) -> int | None:
        """The HTTP status this fault answers with, or None for connection-level faults."""
        return int(self.value) if self.value.isdigit() else None


class ConnectionDropped(Exception):
    """Raised inside the ASGI app so the server aborts the connection mid-response."""


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One fault: which requests it hits, what happens, and how often."""

    route: str
    kind: FaultKind
    probability: float = 1.0
    methods: frozenset[str] = field(default_factory=frozenset)
    delay_seconds: float = 30.0
    retry_after: int = 60

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if self.delay_seconds < 0 or self.retry_after < 0:
            raise ValueError("delay_seconds and retry_after must not be negative")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FaultRule:
        """Build a rule from JSON such as {"route": "/api/v4/activities*", "kind": "500"}."""
        unknown = set(raw) - {
            "route",
            "kind",
            "probability",
            "methods",
            "delay_seconds",
            "retry_after",
        }
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        if not isinstance(raw.get("route"), str):
            raise ValueError("route must be a glob pattern string")
        methods = raw.get("methods") or []
        if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
            raise ValueError("methods must be a list of HTTP method names")
        return cls(
            route=raw["route"],
            kind=FaultKind(str(raw.get("kind"))),
            probability=float(raw.get("probability", 1.0)),
            methods=frozenset(m.upper() for m in methods),
            delay_seconds=float(raw.get("delay_seconds", 30.0)),
            retry_after=int(raw.get("retry_after", 60)),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of the rule."""
        return {
            "route": self.route,
            "kind": self.kind.value,
            "probability": self.probability,
            "methods": sorted(self.methods),
            "delay_seconds": self.delay_seconds,
            "retry_after": self.retry_after,
        }

    def matches(self, method: str, paths: Iterable[str]) -> bool:
        """Say whether the rule covers this request (any of the given path spellings)."""
        if self.methods and method.upper() not in self.methods:
            return False
        return any(fnmatch.fnmatchcase(path, self.route) for path in paths)


class FaultInjector:
    """Holds the active fault rules and draws from a seeded RNG to decide which fire."""

    def __init__(self, seed: int = 0) -> None:
        # Fault draws are simulation, not security: a seeded PRNG keeps runs reproducible.
        self._rng = random.Random(seed)  # noqa: S311
        self._rules: tuple[FaultRule, ...] = ()
        self._lock = threading.Lock()

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        """The active rules, in the order they are tried."""
        return self._rules

    def set_rules(self, rules: Sequence[FaultRule], seed: int | None = None) -> None:
        """Replace the active rules; reseed the RNG when a seed is given."""
        with self._lock:
            self._rules = tuple(rules)
            if seed is not None:
                self._rng.seed(seed)

    def clear(self) -> None:
        """Remove every rule."""
        self.set_rules(())

    def pick(self, method: str, *paths: str) -> FaultRule | None:
        """Return the first matching rule whose draw fires, or None."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, paths) and self._rng.random() < rule.probability:
                    return rule
        return None


class DroppedConnection(Response):
    """Waits (on the injected clock), starts a response, then aborts the connection."""

    def __init__(self, clock: Clock, delay_seconds: float = 0.0) -> None:
        super().__init__(status_code=200)
        self._clock = clock
        self._delay = delay_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Sleep, then send headers and raise so the server closes the socket."""
        if self._delay:
            await anyio.to_thread.run_sync(self._clock.sleep, self._delay)
        # ASGI cannot close a socket before a response starts (servers answer 500 instead),
        # so the drop happens right after the headers, with no body.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
            }
        )
        raise ConnectionDropped("sandbox fault: connection dropped")


def connection_fault(fault: FaultRule, clock: Clock) -> DroppedConnection | None:
    """The answer to a connection-level fault before the request is served, else None.

    A timeout drops the connection after the rule's delay, a reset at once; what the other kinds
    answer is the vendor's to say (its error body for a status, the real answer cut for a truncation).
    """
    if fault.kind is FaultKind.TIMEOUT:
        return DroppedConnection(clock, fault.delay_seconds)
    if fault.kind is FaultKind.RESET:
        return DroppedConnection(clock)
    return None


class TruncatedResponse(Response):
    """Sends a response's headers and only the first half of its body, then aborts."""

    def __init__(self, inner: Response) -> None:
        super().__init__(status_code=inner.status_code)
        self._inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send a cut-off body under the full Content-Length."""
        body = bytes(self._inner.body)
        await send(
            {
                "type": "http.response.start",
                "status": self._inner.status_code,
                "headers": self._inner.raw_headers,
            }
        )
        # Ending the message short of Content-Length makes a real server abort the
        # connection (the client sees an incomplete read); in-process clients get the
        # short body.
        await send({"type": "http.response.body", "body": body[: len(body) // 2]})
