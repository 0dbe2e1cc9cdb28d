"""Assigning a matter to an activity in the unassigned queue: decide it again, now with that matter.

The capture engine decides it as it decides any parked activity again (`CaptureEngine.reconsider`):
timekeeper, duration, overlap, rating, rules, state, outbox write, with the matter as the
activity's explicit link, which comes first in matter precedence (docs/billing-domain.md §8). The link
is kept with the activity's stored facts, so the person's choice holds if the activity must wait
again (the matter is closed, say) and is decided again later. The activity's row is updated in
place, and only while it is still unassigned: it keeps its id and still gives at most one entry,
ever, even when two people assign it at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from config.settings import FirmSettings
from core.capture import engine_for
from core.errors import BillsyncError
from core.models import ActivityStatus, TimeEntry
from core.store.store import CaptureConflict, Store


@dataclass(frozen=True, slots=True)
class Assignment:
    """What re-capture made of the activity: usually an entry; else the status and why."""

    activity_id: str
    status: ActivityStatus
    reason: str
    entry: TimeEntry | None


def assign_matter(store: Store, firm_id: str, firm: FirmSettings, activity_id: str, matter_id: str) -> Assignment:
    """Capture an unassigned activity again with `matter_id`; a clear error if it cannot be."""
    stored = store.stored_activity(firm_id, activity_id)
    if stored is None:
        raise BillsyncError(f"no activity {activity_id} for firm {firm_id}")
    if stored.status is not ActivityStatus.UNASSIGNED:
        raise BillsyncError(f"activity {activity_id} is {stored.status.value}, not unassigned")
    if matter_id not in store.load_reference(firm_id).matters:
        raise BillsyncError(f"no matter {matter_id!r} in the firm's reference data")
    if not firm.capture.enabled:
        raise BillsyncError(f"capture is off for firm {firm_id}: nothing is captured")
    linked = replace(stored, activity=stored.activity.model_copy(update={"matter_id": matter_id}))
    try:
        engine_for(firm_id, firm, store).reconsider([linked])
    except CaptureConflict:
        raise BillsyncError(f"activity {activity_id} is not in the unassigned queue any more") from None
    after = store.stored_activity(firm_id, activity_id)
    assert after is not None  # activity rows are never deleted
    captured = after.entry_id if after.status is ActivityStatus.CAPTURED else None
    entry = store.entries(firm_id, ids=[captured]) if captured is not None else []
    return Assignment(activity_id, after.status, after.reason, entry[0] if entry else None)
