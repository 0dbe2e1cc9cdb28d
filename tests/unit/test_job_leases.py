"""Job leases: one replica runs a firm's job at a time, once per period across replicas."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from core.store.leases import JobLeases


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


LEASE = timedelta(minutes=30)


def test_one_replica_at_a_time_and_a_dead_holder_loses_the_job(store, firm_id) -> None:
    clock = Clock()
    a, b = JobLeases(store.engine, "replica-a", clock), JobLeases(store.engine, "replica-b", clock)
    assert a.try_start(firm_id, "poll", lease=LEASE)
    assert not b.try_start(firm_id, "poll", lease=LEASE)
    assert a.holder(firm_id, "poll") == "replica-a"
    clock.now += LEASE + timedelta(seconds=1)  # replica a died mid-run
    assert b.try_start(firm_id, "poll", lease=LEASE)
    a.finish(firm_id, "poll")  # a's late finish does not release b's run
    assert b.holder(firm_id, "poll") == "replica-b"


def test_a_job_runs_once_per_period_across_replicas(store, firm_id) -> None:
    clock = Clock()
    a, b = JobLeases(store.engine, "replica-a", clock), JobLeases(store.engine, "replica-b", clock)
    gap = timedelta(hours=12)
    assert a.try_start(firm_id, "reconcile", lease=LEASE, min_gap=gap)
    clock.now += timedelta(minutes=5)
    a.finish(firm_id, "reconcile")
    clock.now += timedelta(minutes=1)
    assert not b.try_start(firm_id, "reconcile", lease=LEASE, min_gap=gap)  # a ran it already this period
    assert b.try_start(firm_id, "reconcile", lease=LEASE)  # asked for now (a doorbell): no gap
    b.finish(firm_id, "reconcile")
    clock.now += gap
    assert a.try_start(firm_id, "reconcile", lease=LEASE, min_gap=gap)  # the next period


def test_jobs_and_firms_are_leased_apart(store, firm_id) -> None:
    clock = Clock()
    a, b = JobLeases(store.engine, "replica-a", clock), JobLeases(store.engine, "replica-b", clock)
    assert a.try_start(firm_id, "poll", lease=LEASE)
    assert b.try_start(firm_id, "reconcile", lease=LEASE)
    assert b.try_start(f"{firm_id}-other", "poll", lease=LEASE)


@pytest.mark.postgres
def test_replicas_racing_for_a_job_on_postgresql_start_it_once(postgres_url, firm_id) -> None:
    from core.store.store import Store

    store = Store.open(postgres_url)
    try:
        won: list[str] = []
        start = threading.Barrier(6)

        def race(name: str) -> None:
            leases = JobLeases(store.engine, name)
            start.wait()
            if leases.try_start(firm_id, "poll", lease=LEASE, min_gap=timedelta(minutes=1)):
                won.append(name)

        threads = [threading.Thread(target=race, args=(f"replica-{n}",)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert len(won) == 1
    finally:
        store.close()
