"""Assigning a matter to an unassigned activity: captured again with that matter, once, privately."""

from __future__ import annotations

import json

import pytest

from config.settings import FirmSettings
from core.assign import assign_matter
from core.capture import engine_for
from core.errors import BillsyncError
from core.models import ActivityStatus, EntryState
from core.store.reports import ReportStore
from core.store.store import Store
from tests.factories import activity, client, matter, timekeeper

CANARY = "CANARY-assign-privileged-7731"
FIRM = FirmSettings.model_validate({"name": "Test LLP", "capture": {"enabled": True, "store_raw_payload": True}})


def unassigned_activity(store: Store, firm_id: str) -> str:
    store.save_reference(firm_id, [timekeeper(), client(), matter(), matter(id="m2", number="HARB-0002")])
    lost = activity(matter_id=None, counterpart=None, body=f"Privileged: {CANARY}")
    engine_for(firm_id, FIRM, store).capture([lost])
    [row] = ReportStore(store.engine).activity_rows(firm_id)
    assert row.status is ActivityStatus.UNASSIGNED
    return row.id


def test_an_assigned_activity_becomes_one_entry_on_that_matter(store: Store, firm_id: str) -> None:
    activity_id = unassigned_activity(store, firm_id)
    done = assign_matter(store, firm_id, FIRM, activity_id, "m2")
    assert done.status is ActivityStatus.CAPTURED and done.entry is not None
    [row] = ReportStore(store.engine).activity_rows(firm_id)
    assert (row.id, row.status, row.matter_id, row.entry_id) == (
        activity_id,
        ActivityStatus.CAPTURED,
        "m2",
        done.entry.id,
    )
    [entry] = store.entries(firm_id)
    assert (
        entry.matter_id == "m2" and entry.raw_seconds == 600 and entry.billed_seconds == 720
    )  # rounded up to 6 minutes
    assert entry.state is EntryState.NEEDS_REVIEW and entry.rate == timekeeper().default_rate
    assert entry.activity_key == ("test", "a1")
    with pytest.raises(BillsyncError, match="is captured, not unassigned"):
        assign_matter(store, firm_id, FIRM, activity_id, "m1")
    assert len(store.entries(firm_id)) == 1
    # The body the firm keeps in the raw payload never reaches the entry or its outbox write.
    tables = {table: json.dumps(rows, default=str) for table, rows in store.iter_tables()}
    assert CANARY in tables["activities"]  # planted: the firm keeps raw payloads
    assert CANARY not in tables["time_entries"] and CANARY not in tables["outbox"]


def test_a_bad_assignment_changes_nothing(store: Store, firm_id: str) -> None:
    activity_id = unassigned_activity(store, firm_id)
    with pytest.raises(BillsyncError, match="no matter 'm9'"):
        assign_matter(store, firm_id, FIRM, activity_id, "m9")
    with pytest.raises(BillsyncError, match="no activity nope"):
        assign_matter(store, firm_id, FIRM, "nope", "m1")
    [row] = ReportStore(store.engine).activity_rows(firm_id)
    assert row.status is ActivityStatus.UNASSIGNED and store.entries(firm_id) == []
