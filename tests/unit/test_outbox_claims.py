"""Outbox claims for several replicas: each row is one worker's at a time, and a stale worker is fenced out."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from core.models import EntryState
from core.store.sync_state import SENDING, LeaseLost, SyncState
from tests.capture import capture_engine
from tests.factories import T0, activity, client, matter, timekeeper


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def captured(store, firm_id: str, n: int) -> None:
    """n activities captured: n entries, each with a create waiting in the outbox."""
    store.save_reference(firm_id, [timekeeper(), client(), matter()])
    engine = capture_engine(store, firm_id)
    engine.capture([activity(external_id=f"c{i}", started_at=T0 + timedelta(hours=i)) for i in range(n)])


def test_a_claimed_row_is_nobody_elses_until_its_lease_runs_out(store, firm_id) -> None:
    captured(store, firm_id, 3)
    clock = Clock()
    a = SyncState(store.engine, clock, worker="replica-a", lease=timedelta(minutes=10))
    b = SyncState(store.engine, clock, worker="replica-b", lease=timedelta(minutes=10))
    mine = a.claim(firm_id)
    assert len(mine) == 3 and b.claim(firm_id) == []
    clock.now += timedelta(minutes=11)  # replica a hung or died
    taken = b.claim(firm_id)
    assert sorted(r.id for r in taken) == sorted(r.id for r in mine)
    by_id = {m.id: m for m in mine}
    assert all(t.fence == by_id[t.id].fence + 1 for t in taken)


def test_a_stale_worker_is_fenced_out_of_every_change(store, firm_id) -> None:
    captured(store, firm_id, 1)
    clock = Clock()
    a = SyncState(store.engine, clock, worker="replica-a", lease=timedelta(minutes=10))
    b = SyncState(store.engine, clock, worker="replica-b", lease=timedelta(minutes=10))
    [stale] = a.claim(firm_id)
    clock.now += timedelta(minutes=11)
    [fresh] = b.claim(firm_id)
    with pytest.raises(LeaseLost):
        a.mark_sending(firm_id, stale)  # nothing may be sent on a lost claim
    with pytest.raises(LeaseLost):
        a.complete(firm_id, stale, "remote-by-a", EntryState.POSTED)
    [entry] = store.entries(firm_id)
    assert entry.remote_id is None  # the stale completion changed nothing
    b.mark_sending(firm_id, fresh)
    b.complete(firm_id, fresh, "remote-by-b", EntryState.POSTED)
    [entry] = store.entries(firm_id)
    assert entry.remote_id == "remote-by-b" and b.counts(firm_id) == {"done": 1}


def test_a_released_row_can_be_claimed_again_at_once(store, firm_id) -> None:
    captured(store, firm_id, 1)
    clock = Clock()
    a = SyncState(store.engine, clock, worker="replica-a")
    b = SyncState(store.engine, clock, worker="replica-b")
    [row] = a.claim(firm_id)
    a.mark_sending(firm_id, row)
    a.mark_retry(firm_id, row, "timed out", clock.now, outcome_known=False)  # releases the claim
    [again] = b.claim(firm_id)
    assert again.status == SENDING  # b must look the write up before sending anything


@pytest.mark.postgres
def test_concurrent_claims_on_postgresql_never_share_a_row(postgres_url, firm_id) -> None:
    from core.store.store import Store

    store = Store.open(postgres_url)
    try:
        captured(store, firm_id, 60)
        claims: dict[str, list[str]] = {}
        start = threading.Barrier(3)

        def claim(name: str) -> None:
            state = SyncState(store.engine, worker=name)
            start.wait()
            got: list[str] = []
            while rows := state.claim(firm_id, limit=5):
                got += [r.id for r in rows]
            claims[name] = got

        threads = [threading.Thread(target=claim, args=(f"replica-{n}",)) for n in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        every = [row for rows in claims.values() for row in rows]
        assert len(every) == len(set(every)) == 60  # each row claimed once, none left out
        assert sum(1 for rows in claims.values() if rows) >= 2  # the work was actually shared
    finally:
        store.close()


def test_the_due_count_before_a_drain_is_what_a_drain_would_claim(store, firm_id) -> None:
    """The drain's total and ETA: due rows by operation and unknown outcome, counted without claiming."""
    captured(store, firm_id, 5)
    clock = Clock()
    a = SyncState(store.engine, clock, worker="replica-a", lease=timedelta(minutes=10))
    b = SyncState(store.engine, clock, worker="replica-b", lease=timedelta(minutes=10))
    [first, second, *_] = a.claim(firm_id, limit=5)
    a.mark_sending(firm_id, first)
    a.mark_retry(firm_id, first, "timed out", clock.now, outcome_known=False)  # due now, outcome unknown
    a.mark_retry(firm_id, second, "HTTP 429", clock.now + timedelta(minutes=2), outcome_known=True)  # later
    assert b.due(firm_id) == {("create", True): 1}  # the other three are a's; second waits
    clock.now += timedelta(minutes=11)  # a's lease ran out; second's retry time has come
    assert b.due(firm_id) == {("create", True): 1, ("create", False): 4}
    assert len(b.claim(firm_id)) == 5
    assert b.due(firm_id) == {}  # all claimed now
