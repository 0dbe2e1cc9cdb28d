"""A person's edit of an entry, priced and checked by the capture engine again (`CaptureEngine.revised`)."""

from __future__ import annotations

from decimal import Decimal

from core.engine import CaptureEngine
from core.models import EntryState, Severity
from core.store.store import Store
from tests.capture import capture_engine
from tests.factories import activity, client, matter, timekeeper


def engine(store: Store, firm_id: str) -> CaptureEngine:
    return capture_engine(store, firm_id)


def test_a_capped_matter_counts_every_entry_but_the_one_edited(store: Store, firm_id: str) -> None:
    # Jane bills 400 an hour; the matter may bill 100.00 in all. Her 10-minute call bills 0.2 h = 80.00.
    store.save_reference(firm_id, [timekeeper(), client(), matter(cap_amount=Decimal("100.00"))])
    engine(store, firm_id).capture([activity()])
    [entry] = store.entries(firm_id)
    assert entry.amount == Decimal("80.00")
    # 0.5 h = 200.00, of which 100.00 fits under the cap (not 20.00: the entry's own 80.00 is replaced).
    edited = engine(store, firm_id).revised(entry, matter_id="m1", narrative=entry.narrative, billed_seconds=1800)
    assert (edited.billed_seconds, edited.raw_seconds, edited.amount) == (1800, 600, Decimal("100.00"))
    assert [(f.rule, f.severity) for f in edited.findings] == [("matter_cap", Severity.REVIEW)]
    assert edited.state is EntryState.NEEDS_REVIEW


def test_a_move_rates_the_entry_for_its_new_matter(store: Store, firm_id: str) -> None:
    # Harbor agreed 300 an hour for Jane on its matters: the move to HARB-0002 rates 0.2 h at 300 = 60.00.
    store.save_reference(
        firm_id,
        [
            timekeeper(),
            client(),
            client(id="c2", name="Globex", domains=(), emails=(), phones=(), rates={"u1": Decimal("300")}),
            matter(),
            matter(id="m2", client_id="c2", number="GLOB-0002"),
        ],
    )
    engine(store, firm_id).capture([activity()])
    [entry] = store.entries(firm_id)
    moved = engine(store, firm_id).revised(entry, matter_id="m2", narrative=entry.narrative, billed_seconds=720)
    assert (moved.matter_id, moved.client_id, moved.rate, moved.amount) == (
        "m2",
        "c2",
        Decimal("300"),
        Decimal("60.00"),
    )
