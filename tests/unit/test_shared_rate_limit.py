"""A vendor's rate limit shared through the database: replicas together never exceed one token's limit."""

from __future__ import annotations

import threading

import pytest

from core.store.rate_windows import SharedRateLimiter

KEY = "clio:token-hash"


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


def window(remaining: int, reset: float) -> dict[str, str]:
    return {"X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(int(reset))}


def test_replicas_share_one_window(store, firm_id) -> None:
    clock = Clock()
    replicas = [SharedRateLimiter(store.engine, firm_id, clock=clock) for _ in range(3)]
    assert replicas[0].wait_seconds(KEY) == 0  # nothing known yet
    replicas[0].observe(KEY, 200, window(6, clock.now + 60))
    granted = 0
    for turn in range(12):
        if replicas[turn % 3].wait_seconds(KEY) == 0:
            granted += 1
    assert granted == 5  # 6 left, one kept in reserve: across all three replicas, not each
    assert replicas[1].wait_seconds(KEY) == pytest.approx(60)
    clock.now += 61  # the vendor's window is over: requests go again until the next answer says
    assert replicas[2].wait_seconds(KEY) == 0


def test_the_lower_count_wins_within_a_window_and_a_new_window_resets_it(store, firm_id) -> None:
    clock = Clock()
    a, b = (SharedRateLimiter(store.engine, firm_id, clock=clock) for _ in range(2))
    a.observe(KEY, 200, window(10, clock.now + 60))
    for _ in range(4):
        assert a.wait_seconds(KEY) == 0  # 6 left here
    b.observe(KEY, 200, window(8, clock.now + 60))  # an answer sent before a's requests counted
    assert sum(b.wait_seconds(KEY) == 0 for _ in range(10)) == 5  # min(6, 8) = 6, less the reserve
    b.observe(KEY, 200, window(50, clock.now + 120))  # the vendor opened a new window
    assert a.wait_seconds(KEY) == 0


def test_a_429_seen_by_one_replica_holds_them_all(store, firm_id) -> None:
    clock = Clock()
    a, b = (SharedRateLimiter(store.engine, firm_id, clock=clock) for _ in range(2))
    a.observe(KEY, 429, {"Retry-After": "30"})
    assert b.wait_seconds(KEY) == pytest.approx(30)
    clock.now += 31
    assert b.wait_seconds(KEY) == 0


def test_firms_and_tokens_do_not_share_windows(store, firm_id) -> None:
    clock = Clock()
    a = SharedRateLimiter(store.engine, firm_id, clock=clock)
    other_firm = SharedRateLimiter(store.engine, f"{firm_id}-2", clock=clock)
    a.observe(KEY, 200, window(1, clock.now + 60))
    assert a.wait_seconds(KEY) > 0
    assert other_firm.wait_seconds(KEY) == 0 and a.wait_seconds("clio:other-token") == 0


@pytest.mark.postgres
def test_concurrent_replicas_on_postgresql_take_exactly_the_window(postgres_url, firm_id) -> None:
    from core.store.store import Store

    store = Store.open(postgres_url)
    try:
        clock = Clock()
        SharedRateLimiter(store.engine, firm_id, clock=clock).observe(KEY, 200, window(41, clock.now + 60))
        granted: list[int] = []
        start = threading.Barrier(4)

        def replica() -> None:
            limiter = SharedRateLimiter(store.engine, firm_id, clock=clock)
            start.wait()
            granted.append(sum(limiter.wait_seconds(KEY) == 0 for _ in range(25)))

        threads = [threading.Thread(target=replica) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sum(granted) == 40  # 41 left less one in reserve, under the row lock: never more
    finally:
        store.close()
