"""A per-key fixed-window rate limiter driven by an injectable clock."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from billsync_sandboxes.kit.clock import Clock


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of one request against a rate limit."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: int
    retry_after: int

    def headers(self) -> dict[str, str]:
        """Return the conventional X-RateLimit-* headers (plus Retry-After when refused)."""
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


@dataclass(slots=True)
class _Window:
    start: float
    count: int


class FixedWindowRateLimiter:
    """Counts requests per key in fixed windows that open on a key's first request."""

    def __init__(self, limit: int, clock: Clock, window_seconds: float = 60.0) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._limit = limit
        self._clock = clock
        self._window_seconds = window_seconds
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        """The number of requests allowed per window."""
        return self._limit

    def set_limit(self, limit: int) -> None:
        """Change the limit; windows already open keep their counts."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._limit = limit

    def hit(self, key: str) -> RateDecision:
        """Count one request for key and say whether it may proceed."""
        now = self._clock.now().timestamp()
        with self._lock:
            window = self._windows.get(key)
            if window is None or now >= window.start + self._window_seconds:
                window = _Window(start=now, count=0)
                self._windows[key] = window
            end = window.start + self._window_seconds
            reset_at = math.ceil(end)
            if window.count >= self._limit:
                return RateDecision(
                    allowed=False,
                    limit=self._limit,
                    remaining=0,
                    reset_at=reset_at,
                    retry_after=max(1, math.ceil(end - now)),
                )
            window.count += 1
            return RateDecision(
                allowed=True,
                limit=self._limit,
                remaining=self._limit - window.count,
                reset_at=reset_at,
                retry_after=0,
            )

    def forget(self, key: str) -> None:
        """Drop the window of a key (e.g. a revoked token)."""
        with self._lock:
            self._windows.pop(key, None)
