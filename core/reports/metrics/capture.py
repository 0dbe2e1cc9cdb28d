"""Capture rate and the capture funnel.

Definition (docs/billing-domain.md §7, "billable-hour capture rate", for the daemon): captured activity
time that became approved entries ÷ captured activity time judged billable.

- An activity's time is the duration capture gives it: its entry's raw seconds when it has one,
  else what the engine would have used: the source's actual duration for kinds set to "actual",
  the kind's fixed minutes otherwise (the firm's capture policy).
- Judged billable: every activity capture did not rule out on purpose. Excluded: kinds the firm
  does not capture, capture switched off, work someone already logged by hand ("covered"),
  activities merged into another activity's entry (the same stretch of work, counted once), and
  entries on non-billable work (flat-fee, contingency or non-billable matters).
- Approved: the entry is approved, posted billable to the PMS, or billed.
- The rest is the leak, by where it stopped: not a timekeeper (the actor is unknown or may not
  record time), unassigned (no matter found), blocked (a Block rule), rejected (by a reviewer),
  deleted (in the PMS), and awaiting review (not lost yet, but not approved either).

Edge case: no time judged billable gives an undefined rate ("—"), never 0 % or 100 %.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from core.models import ActivityStatus, EntryState, TimeEntry
from core.policy import CapturePolicy
from core.reports.metrics.hours import APPROVED
from core.reports.metrics.ratio import Ratio
from core.store.reports import ActivityRow

# The funnel's buckets, in the order a funnel chart shows them.
BUCKETS = ("approved", "awaiting_review", "blocked", "rejected", "deleted", "unassigned", "not_timekeeper")
LEAKS = BUCKETS[1:]
_BY_STATE = {
    EntryState.DRAFT: "awaiting_review",
    EntryState.NEEDS_REVIEW: "awaiting_review",
    EntryState.BLOCKED: "blocked",
    EntryState.REJECTED: "rejected",
    EntryState.DELETED_REMOTELY: "deleted",
} | {state: "approved" for state in APPROVED}
_BY_STATUS = {ActivityStatus.UNASSIGNED: "unassigned", ActivityStatus.NOT_TIMEKEEPER: "not_timekeeper"}


@dataclass
class Funnel:
    """Seconds of activity time judged billable, by bucket."""

    seconds: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))

    @property
    def judged(self) -> int:
        """All activity time judged billable."""
        return sum(self.seconds.values())

    @property
    def rate(self) -> Ratio:
        """Approved ÷ judged billable."""
        return Ratio(Decimal(self.seconds["approved"]), Decimal(self.judged))


def bucket_of(activity: ActivityRow, entry: TimeEntry | None) -> str | None:
    """Where an activity sits in the funnel; None when it was not judged billable."""
    if activity.status is ActivityStatus.CAPTURED:
        if entry is None or not entry.billable:
            return None
        return _BY_STATE[entry.state]
    return _BY_STATUS.get(activity.status)


def activity_seconds(activity: ActivityRow, entry: TimeEntry | None, policy: CapturePolicy) -> int:
    """The activity's time as capture counts it."""
    if entry is not None:
        return entry.raw_seconds
    kind = policy.kind(activity.kind)
    if kind.duration == "actual" and activity.raw_seconds is not None:
        return activity.raw_seconds
    return kind.minutes * 60


def funnel(activities: Iterable[ActivityRow], entries: Mapping[str, TimeEntry], policy: CapturePolicy) -> Funnel:
    """The funnel over `activities`; `entries` by id, to find each captured activity's entry."""
    result = Funnel()
    for activity in activities:
        entry = (
            entries.get(activity.entry_id) if activity.status is ActivityStatus.CAPTURED and activity.entry_id else None
        )
        bucket = bucket_of(activity, entry)
        if bucket is not None:
            result.seconds[bucket] += activity_seconds(activity, entry, policy)
    return result
