"""The store's review reads and writes, on SQLite and PostgreSQL: filtered entries, ids typed short,
a rejection's reason kept and dropped again, an edit stored only while the entry is as it was read."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from core.models import EntryState
from core.store.store import EntryQuery, Store
from tests.capture import capture_engine
from tests.factories import T0, activity, client, matter, timekeeper


def captured(store: Store, firm_id: str) -> dict[str, str]:
    """Three entries: u1's on m1 on Oct 5 and 6, u2's on m2 on Oct 5 (a duplicate of nothing); ids by activity."""
    store.save_reference(
        firm_id,
        [
            timekeeper(),
            timekeeper(id="u2", name="Sam Lee", email="sam@firm.example"),
            client(),
            matter(),
            matter(id="m2", number="HARB-0002"),
        ],
    )
    capture_engine(store, firm_id).capture(
        [
            activity(external_id="a1"),
            activity(external_id="a2", started_at=T0 + timedelta(days=1)),
            activity(external_id="a3", actor="u2", matter_id="m2"),
        ]
    )
    return {e.activity_key[1]: e.id for e in store.entries(firm_id)}


def picked(store: Store, firm_id: str, **query: object) -> set[str]:
    return {e.activity_key[1] for e in store.find_entries(firm_id, EntryQuery(**query))}  # type: ignore[arg-type]


def test_find_entries_narrows_by_each_field(store: Store, firm_id: str) -> None:
    captured(store, firm_id)
    assert picked(store, firm_id) == {"a1", "a2", "a3"}
    assert picked(store, firm_id, timekeeper_ids=("u2",)) == {"a3"}
    assert picked(store, firm_id, matter_ids=("m1",)) == {"a1", "a2"}
    assert picked(store, firm_id, client_ids=("c1",)) == {"a1", "a2", "a3"}
    assert picked(store, firm_id, client_ids=("c9",)) == set()
    assert picked(store, firm_id, first_day=date(2026, 10, 6)) == {"a2"}
    assert picked(store, firm_id, last_day=date(2026, 10, 5)) == {"a1", "a3"}
    assert picked(store, firm_id, states=(EntryState.APPROVED,)) == set()
    assert picked(store, firm_id, clean=True) == {"a1", "a2", "a3"}
    assert picked(store, firm_id, finding="duplicate") == set()


def test_ids_typed_short_match_their_end_or_start(store: Store, firm_id: str) -> None:
    ids = captured(store, firm_id)
    full = ids["a1"]
    assert store.ids_like(firm_id, "entry", full[-10:]) == [full]
    assert store.ids_like(firm_id, "entry", full) == [full]
    assert len(store.ids_like(firm_id, "entry", full[:6])) == 2  # made in the same second: a shared start
    assert store.ids_like(firm_id, "entry", "ffffffffffffff") == []
    assert store.ids_like("another-firm", "entry", full) == []


def test_a_rejection_keeps_its_reason_until_reopened(store: Store, firm_id: str) -> None:
    ids = captured(store, firm_id)
    waiting = (EntryState.NEEDS_REVIEW, EntryState.BLOCKED)
    assert store.reject_entry(firm_id, ids["a1"], "not our work", was=waiting)
    [entry] = store.entries(firm_id, ids=[ids["a1"]])
    assert (entry.state, entry.rejection_reason) == (EntryState.REJECTED, "not our work")
    assert not store.reject_entry(firm_id, ids["a1"], "again", was=waiting)  # not waiting any more
    assert store.reopen_entry(firm_id, ids["a1"])
    [entry] = store.entries(firm_id, ids=[ids["a1"]])
    assert (entry.state, entry.rejection_reason) == (EntryState.NEEDS_REVIEW, None)
    assert not store.reopen_entry(firm_id, ids["a1"])


def test_an_edit_is_stored_only_while_the_entry_is_as_read(store: Store, firm_id: str) -> None:
    ids = captured(store, firm_id)
    [entry] = store.entries(firm_id, ids=[ids["a1"]])
    edited = entry.model_copy(update={"billed_seconds": 4320, "amount": Decimal("480.00"), "narrative": "Call"})
    assert store.save_revision(firm_id, edited, was=EntryState.NEEDS_REVIEW)
    [stored] = store.entries(firm_id, ids=[ids["a1"]])
    assert (stored.billed_seconds, stored.raw_seconds, stored.amount, stored.narrative) == (
        4320,
        entry.raw_seconds,
        Decimal("480.00"),
        "Call",
    )
    store.set_entry_state(firm_id, ids["a1"], EntryState.APPROVED)
    assert not store.save_revision(firm_id, edited, was=EntryState.NEEDS_REVIEW)
