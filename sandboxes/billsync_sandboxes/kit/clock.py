"""Clocks for sandboxes: the real one, one set to another moment that then runs in real time, and a
fake one tests move by hand."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

# A Monday during US peak hours, so sandbox timestamps look like a working day.
DEFAULT_FAKE_START = datetime(2026, 4, 6, 15, 0, 0, tzinfo=UTC)


class Clock(Protocol):
    """What sandboxes need from time: the current instant and a way to wait."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait for the given number of seconds."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for the given number of seconds."""
        time.sleep(seconds)


class ShiftedClock:
    """A wall clock set to `start` when made: it then runs in real time (sleeping really waits).

    The demo's sandboxes stand as they did when the demo month ended, so what a vendor keeps only
    for a while (Teams call records: 30 days) is measured from that moment, not from today.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ShiftedClock needs a timezone-aware start time")
        self._start = start
        self._began = time.monotonic()

    def now(self) -> datetime:
        """`start` plus the real time elapsed since the clock was made."""
        return self._start + timedelta(seconds=time.monotonic() - self._began)

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for the given number of seconds."""
        time.sleep(seconds)


class FakeClock:
    """A clock that only moves when told to; sleeping advances it instantly."""

    def __init__(self, start: datetime = DEFAULT_FAKE_START) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start time")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the fake current time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        """Jump to a given time (forwards only)."""
        with self._lock:
            if when < self._now:
                raise ValueError("a clock cannot go backwards")
            self._now = when

    def sleep(self, seconds: float) -> None:
        """Advance instead of waiting, so tests never sleep for real."""
        self.advance(seconds)
