"""Webhook health per firm: a delivery seen recently means polling can relax."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta


class WebhookHealth:
    """Remembers when each firm last received a verified webhook delivery (thread-safe)."""

    def __init__(self, fresh_for: timedelta, clock: Callable[[], datetime]) -> None:
        self._fresh_for = fresh_for
        self._clock = clock
        self._last_seen: dict[str, datetime] = {}
        self._lock = threading.Lock()  # the HTTP server reports from its own threads

    def seen(self, firm: str) -> None:
        """Record a delivery for `firm` now."""
        with self._lock:
            self._last_seen[firm] = self._clock()

    def last_seen(self, firm: str) -> datetime | None:
        """When `firm` last received a verified delivery, if ever."""
        with self._lock:
            return self._last_seen.get(firm)

    def healthy(self, firm: str) -> bool:
        """Whether `firm` received a delivery within the freshness window."""
        with self._lock:
            last = self._last_seen.get(firm)
        return last is not None and self._clock() - last <= self._fresh_for
