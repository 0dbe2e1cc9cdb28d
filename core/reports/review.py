"""What a person must act on, and the actions: approve or reject an entry, assign a matter.

Approve and reject do what `billsync review approve|reject` does (core/cli/local.py): the
state change through `Store.set_entry_state`, and for an approved entry already in the PMS (as
non-billable, waiting for review) an update queued in the outbox so the next sync makes it
billable there. A blocked entry can be rejected (it was never written anywhere) but not approved:
a Block finding is fixed at its cause, not waved through. Assigning a matter re-captures the
activity (`core/assign.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from config.settings import FirmSettings
from core.assign import Assignment, assign_matter
from core.billing.model import PreBill, PreBillStatus
from core.errors import BillsyncError
from core.models import ActivityStatus, EntryState, TimeEntry
from core.payments.reconcile import Match
from core.reports.facts import FirmFacts
from core.store.reports import ActivityRow
from core.store.store import Store
from core.store.sync_state import SyncState

_REJECTABLE = (EntryState.NEEDS_REVIEW, EntryState.BLOCKED)


@dataclass(frozen=True)
class ReviewQueue:
    """Everything waiting for a person, oldest first."""

    unassigned: list[ActivityRow]
    entries: list[TimeEntry]  # needs review or blocked, with their findings
    mismatches: list[PreBill]  # pre-bills whose PMS bill differs
    unmatched: list[Match]  # gateway payments nobody can place


def review_queue(facts: FirmFacts) -> ReviewQueue:
    """The firm's review queue, from the same facts the reports read."""
    return ReviewQueue(
        unassigned=[a for a in facts.activities if a.status is ActivityStatus.UNASSIGNED],
        entries=[e for e in facts.entries if e.state in _REJECTABLE],
        mismatches=[p for p in facts.prebills if p.status is PreBillStatus.MISMATCH],
        unmatched=list(facts.ledger.unmatched),
    )


def approve_entry(store: Store, firm_id: str, entry_id: str, *, via: str = "review page") -> TimeEntry:
    """Approve an entry waiting for review: it becomes billable (in the PMS at the next sync).

    The one approval path: the review pages, `billsync review approve` and the demo all use it."""
    entry = _entry(store, firm_id, entry_id)
    if entry.state is not EntryState.NEEDS_REVIEW:
        raise BillsyncError(f"cannot approve {entry_id}: it is {entry.state.value}, not needs_review")
    store.set_entry_state(firm_id, entry_id, EntryState.APPROVED)
    if entry.remote_id is not None:
        SyncState(store.engine).enqueue_update(firm_id, entry_id)
    structlog.get_logger().info("entry approved", firm=firm_id, entry=entry_id, via=via)
    return entry


def reject_entry(store: Store, firm_id: str, entry_id: str) -> TimeEntry:
    """Reject an entry waiting for review or blocked: it is never billed."""
    entry = _entry(store, firm_id, entry_id)
    if entry.state not in _REJECTABLE:
        raise BillsyncError(f"cannot reject {entry_id}: it is {entry.state.value}, not needs_review or blocked")
    store.set_entry_state(firm_id, entry_id, EntryState.REJECTED)
    structlog.get_logger().info("entry rejected", firm=firm_id, entry=entry_id, via="review page")
    return entry


def assign_activity(store: Store, firm_id: str, firm: FirmSettings, activity_id: str, matter: str) -> Assignment:
    """Give an unassigned activity a matter (by id or by its number) and capture it again."""
    reference = store.load_reference(firm_id)
    wanted = matter.strip()
    matter_id = wanted if wanted in reference.matters else None
    if matter_id is None:
        by_number = [m.id for m in reference.matters.values() if m.number.lower() == wanted.lower()]
        if len(by_number) != 1:
            raise BillsyncError(f"no matter with id or number {wanted!r}")
        matter_id = by_number[0]
    done = assign_matter(store, firm_id, firm, activity_id, matter_id)
    structlog.get_logger().info(
        "activity assigned", firm=firm_id, activity=activity_id, matter=matter_id, outcome=done.status.value
    )
    return done


def _entry(store: Store, firm_id: str, entry_id: str) -> TimeEntry:
    found = store.entries(firm_id, ids=[entry_id])
    if not found:
        raise BillsyncError(f"there is no entry {entry_id}")
    return found[0]
