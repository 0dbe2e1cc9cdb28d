"""Billable hours, in real time.

Definition: the raw seconds (the time the work took as captured, before rounding up to the
billing increment; docs/billing-domain.md §8 "keep both raw_seconds and billed_hours") of every time
entry that is billable (an hourly, billable matter) and approved (approved in billsync, posted
billable to the PMS, or billed), with its work date in the period. Entries waiting for review,
blocked, rejected or deleted in the PMS are not billable hours (yet). Hours are seconds / 3600,
exact; outputs show them to two places.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.models import EntryState, TimeEntry

APPROVED = frozenset({EntryState.APPROVED, EntryState.POSTED, EntryState.BILLED})


def is_billable_work(entry: TimeEntry) -> bool:
    """An approved entry on billable work."""
    return entry.billable and entry.state in APPROVED


def billable_seconds(entries: Iterable[TimeEntry]) -> int:
    """Raw seconds of the approved billable entries among `entries`."""
    return sum(e.raw_seconds for e in entries if is_billable_work(e))
