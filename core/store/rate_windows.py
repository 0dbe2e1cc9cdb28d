"""A vendor's rate limit shared by every replica through the database.

A vendor counts requests per token, whichever replica sends them. Each replica learns the
window from the vendor's X-RateLimit-Remaining / X-RateLimit-Reset headers (and 429s), and
every request takes one of the remaining requests from one shared row first, so three
replicas together never send more than the vendor allows. The row is read and changed under
a row lock (PostgreSQL); on SQLite one process is the only writer anyway.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, Row, Update, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from core.http import retry_after_seconds
from core.store.schema import rate_windows

_UNKNOWN_WAIT = 60.0  # a 429 without Retry-After: wait a minute, as the in-process limiter does


class SharedRateLimiter:
    """core.http's limiter interface (wait_seconds, observe), kept in the `rate_windows` table."""

    shared = True

    def __init__(
        self, engine: Engine, firm: str, *, reserve: int = 1, clock: Callable[[], float] = time.time
    ) -> None:
        self._engine = engine
        self._firm = firm
        self._reserve = reserve  # requests kept back for other work in the same window
        self._clock = clock

    def wait_seconds(self, key: str) -> float:
        """0 when a request may go now (one request of the window is taken for it), else how long to wait."""
        now = self._now()
        with self._engine.begin() as conn:
            row = self._locked(conn, key)
            if row is None:
                return 0.0  # nothing learnt yet: the first response tells
            if row.blocked_until is not None and row.blocked_until > now:
                return float((row.blocked_until - now).total_seconds())
            if row.reset_at <= now:
                return 0.0  # the vendor's window is over; the next response says what is left
            if row.remaining <= self._reserve:
                return float((row.reset_at - now).total_seconds())
            conn.execute(self._row(key).values(remaining=row.remaining - 1))
            return 0.0

    def observe(self, key: str, status: int, headers: Mapping[str, str]) -> None:
        """Learn from a response: the window's remaining requests, its reset, or a 429's wait."""
        now = self._now()
        blocked: datetime | None = None
        if status == 429:
            delay = retry_after_seconds(headers, now.timestamp())
            blocked = now + timedelta(seconds=delay if delay is not None else _UNKNOWN_WAIT)
        window = _window(headers)
        if window is None and blocked is None:
            return
        with self._engine.begin() as conn:
            row = self._locked(conn, key)
            if row is None:
                if window is None:
                    assert blocked is not None
                    window = (0, blocked)
                self._insert(conn, key, window[0], window[1], blocked)
                return
            values: dict[str, object] = {}
            if window is not None:
                remaining, reset_at = window
                if reset_at > row.reset_at:
                    values |= {"remaining": remaining, "reset_at": reset_at}  # a new window
                elif reset_at == row.reset_at and remaining < row.remaining:
                    # The same window: other replicas' requests in flight are already counted
                    # here, the vendor's figure may not know them yet: keep the lower one.
                    values["remaining"] = remaining
            if blocked is not None and (row.blocked_until is None or blocked > row.blocked_until):
                values["blocked_until"] = blocked
            if values:
                conn.execute(self._row(key).values(**values))

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _row(self, key: str) -> Update:
        r = rate_windows.c
        return update(rate_windows).where(r.firm_id == self._firm, r.rate_key == key)

    def _locked(self, conn: Connection, key: str) -> Row[int, datetime, datetime | None] | None:
        r = rate_windows.c
        return conn.execute(
            select(r.remaining, r.reset_at, r.blocked_until)
            .where(r.firm_id == self._firm, r.rate_key == key)
            .with_for_update()
        ).first()

    def _insert(self, conn: Connection, key: str, remaining: int, reset_at: datetime, blocked: datetime | None) -> None:
        values = {
            "firm_id": self._firm,
            "rate_key": key,
            "remaining": remaining,
            "reset_at": reset_at,
            "blocked_until": blocked,
        }
        try:
            with conn.begin_nested():
                conn.execute(rate_windows.insert().values(**values))
        except IntegrityError:
            pass  # another replica learnt the same window first


def _window(headers: Mapping[str, str]) -> tuple[int, datetime] | None:
    remaining, reset = headers.get("X-RateLimit-Remaining"), headers.get("X-RateLimit-Reset")
    if remaining is None or reset is None:
        return None
    try:
        return int(remaining), datetime.fromtimestamp(float(reset), UTC)
    except (ValueError, OverflowError, OSError):
        return None
