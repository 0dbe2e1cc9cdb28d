"""The background worker: coalesced re-polls, one job per firm at a time, failures contained."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from core.server import BackgroundWork
from tests.server.conftest import wait_for


@pytest.fixture
def worker() -> Iterator[BackgroundWork]:
    work = BackgroundWork(threads=4)
    yield work
    work.close()


def test_repeated_repolls_coalesce_per_firm_and_stream(worker: BackgroundWork) -> None:
    gate = threading.Event()
    polls: list[frozenset[str]] = []

    def poll(streams: frozenset[str]) -> None:
        polls.append(streams)
        gate.wait(5)

    worker.repoll("acme", ["matters"], poll)
    assert wait_for(lambda: len(polls) == 1)
    for _ in range(20):  # a burst of doorbells while the first re-poll runs
        worker.repoll("acme", ["communications", "tasks"], poll)
    worker.repoll("acme", ["communications"], poll)
    assert worker.depth() == 2
    gate.set()
    assert worker.wait_idle(5)
    assert polls == [frozenset({"matters"}), frozenset({"communications", "tasks"})]


def test_never_two_runs_of_one_firm_at_once_but_firms_run_in_parallel(worker: BackgroundWork) -> None:
    lock = threading.Lock()
    running: dict[str, int] = {"a": 0, "b": 0}
    peak: dict[str, int] = {"a": 0, "b": 0}
    both = threading.Barrier(2, timeout=5)

    def job(firm: str, meet: bool) -> None:
        with lock:
            running[firm] += 1
            peak[firm] = max(peak[firm], running[firm])
        if meet:
            both.wait()  # only passes if firm a and firm b run at the same time
        with lock:
            running[firm] -= 1

    worker.submit("a", "capture", lambda: job("a", True))
    worker.submit("b", "capture", lambda: job("b", True))
    for _ in range(10):
        worker.submit("a", "capture", lambda: job("a", False))
        worker.repoll("a", ["x"], lambda _s: job("a", False))
    assert worker.wait_idle(5)
    assert peak == {"a": 1, "b": 1}


def test_a_failing_job_does_not_stop_the_worker(worker: BackgroundWork) -> None:
    done: list[str] = []

    def boom() -> None:
        raise RuntimeError("secret-looking text that must not be logged")

    worker.submit("acme", "capture", boom)
    worker.submit("acme", "capture", lambda: done.append("after"))
    assert worker.wait_idle(5)
    assert done == ["after"]


def test_closed_worker_refuses_work() -> None:
    work = BackgroundWork()
    work.close()
    with pytest.raises(RuntimeError):
        work.submit("acme", "capture", lambda: None)


def test_repolls_of_one_firm_are_debounced() -> None:
    work = BackgroundWork(repoll_interval=0.05)
    times: list[tuple[float, float]] = []

    def poll(_streams: frozenset[str]) -> None:
        started = time.monotonic()
        times.append((started, time.monotonic()))

    try:
        work.repoll("acme", ["a"], poll)
        assert wait_for(lambda: len(times) == 1)
        work.repoll("acme", ["a"], poll)
        assert work.wait_idle(5) and len(times) == 2
        assert times[1][0] - times[0][1] >= 0.05
    finally:
        work.close()
