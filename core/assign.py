"""Assigning a matter to an activity in the unassigned queue: capture it again, now with that matter.

The capture engine runs exactly as it does for a new activity (timekeeper, duration, overlap,
rating, rules, state, outbox write), with the matter as an explicit link, which comes first in
matter precedence (billing-domain.md §8). Only two things differ, and `_Recapture` does them: the
activity is already known (capture would skip it), and its stored row is updated in place instead
of inserted, so it keeps its id and still gives at most one entry, ever.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from config.settings import FirmSettings
from core.capture import engine_for
from core.errors import BillsyncError
from core.models import ActivityStatus, TimeEntry
from core.store.reports import AlreadyAssigned, ReportStore
from core.store.store import ActivityRecord, OutboxItem, Store


@dataclass(frozen=True, slots=True)
class Assignment:
    """What re-capture made of the activity: usually an entry; else the status and why."""

    activity_id: str
    status: ActivityStatus
    reason: str
    entry: TimeEntry | None


def assign_matter(store: Store, firm_id: str, firm: FirmSettings, activity_id: str, matter_id: str) -> Assignment:
    """Capture an unassigned activity again with `matter_id`; a clear error if it cannot be."""
    reports = ReportStore(store.engine)
    found = reports.activity(firm_id, activity_id)
    if found is None:
        raise BillsyncError(f"no activity {activity_id} for firm {firm_id}")
    activity, status = found
    if status is not ActivityStatus.UNASSIGNED:
        raise BillsyncError(f"activity {activity_id} is {status.value}, not unassigned")
    reference = store.load_reference(firm_id)
    if matter_id not in reference.matters:
        raise BillsyncError(f"no matter {matter_id!r} in the firm's reference data")
    recapture = _Recapture(store, reports, activity_id)
    engine = engine_for(firm_id, firm, recapture)
    engine.capture([activity.model_copy(update={"matter_id": matter_id})])
    if recapture.saved is None:
        raise BillsyncError(f"capture made nothing of activity {activity_id} (is capture off for the firm?)")
    return recapture.saved


class _Recapture(Store):
    """The store as the engine sees it while it re-captures one activity it has seen before."""

    def __init__(self, store: Store, reports: ReportStore, activity_id: str) -> None:
        super().__init__(store.engine)
        self._reports = reports
        self._activity_id = activity_id
        self.saved: Assignment | None = None

    def known_activities(self, firm: str, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Nothing is known: the one activity passed in is to be captured again."""
        return set()

    def save_capture(
        self,
        firm: str,
        records: Sequence[ActivityRecord],
        entries: Sequence[TimeEntry],
        outbox_items: Sequence[OutboxItem],
        *,
        store_payload: bool = False,
    ) -> None:
        """Update the activity's row in place, with its entry and outbox write, in one transaction."""
        [record] = records
        entry = entries[0] if entries else None
        try:
            self._reports.assign(
                firm,
                self._activity_id,
                status=record.status,
                reason=record.reason,
                timekeeper_id=record.timekeeper_id,
                matter_id=record.matter_id,
                entry_id=record.entry_id,
                entry=entry,
                outbox_items=outbox_items,
            )
        except AlreadyAssigned as exc:
            raise BillsyncError(str(exc)) from None
        self.saved = Assignment(self._activity_id, record.status, record.reason, entry)
