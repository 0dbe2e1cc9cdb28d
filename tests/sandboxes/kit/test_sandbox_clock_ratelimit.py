"""Tests for the sandbox clocks and the fixed-window rate limiter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from billsync_sandboxes.kit import FakeClock, FixedWindowRateLimiter, ShiftedClock, SystemClock

START = datetime(2026, 4, 6, 15, 0, 0, tzinfo=UTC)


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(START)
    assert clock.now() == START
    clock.advance(1.5)
    clock.sleep(30)  # sleeping advances instantly
    assert clock.now() == START + timedelta(seconds=31.5)
    clock.set(START + timedelta(days=1))
    assert clock.now() == START + timedelta(days=1)
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(START)
    with pytest.raises(ValueError):
        FakeClock(datetime(2026, 1, 1))  # naive


def test_shifted_clock_starts_where_set_and_runs_in_real_time() -> None:
    # The demo's sources stand at the end of October 2026 whatever today's date is.
    clock = ShiftedClock(START)
    first = clock.now()
    assert START <= first < START + timedelta(seconds=5)
    clock.sleep(0.05)  # sleeping really waits, and the clock moves with it
    assert clock.now() - first >= timedelta(seconds=0.05)
    assert clock.now() < START + timedelta(seconds=5)  # nowhere near the wall clock
    with pytest.raises(ValueError):
        ShiftedClock(datetime(2026, 1, 1))  # naive


def test_system_clock_is_timezone_aware() -> None:
    assert SystemClock().now().tzinfo is not None


def test_fixed_window_counts_per_key_and_resets() -> None:
    clock = FakeClock(START)
    limiter = FixedWindowRateLimiter(2, clock, window_seconds=60)
    first = limiter.hit("a")
    assert (first.allowed, first.remaining, first.reset_at) == (True, 1, int(START.timestamp()) + 60)
    assert limiter.hit("a").remaining == 0
    refused = limiter.hit("a")
    assert not refused.allowed and refused.retry_after == 60
    assert refused.headers()["Retry-After"] == "60"
    assert limiter.hit("b").allowed  # another key has its own window
    clock.advance(59.5)
    assert limiter.hit("a").retry_after == 1  # rounded up, never 0
    clock.advance(0.5)
    again = limiter.hit("a")
    assert again.allowed and again.remaining == 1
    assert again.headers() == {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "1",
        "X-RateLimit-Reset": str(int(START.timestamp()) + 120),
    }


def test_limit_can_change_and_keys_can_be_forgotten() -> None:
    clock = FakeClock(START)
    limiter = FixedWindowRateLimiter(1, clock)
    limiter.hit("a")
    assert not limiter.hit("a").allowed
    limiter.set_limit(3)
    assert limiter.hit("a").remaining == 1
    limiter.forget("a")
    assert limiter.hit("a").remaining == 2
    with pytest.raises(ValueError):
        limiter.set_limit(0)
