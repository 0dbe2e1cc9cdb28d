"""What a person must act on, and the actions: approve, reject, reopen and edit entries, assign a matter.

The review pages and `billsync review ...` (core/cli/local.py) act through these functions, on
one entry or on every entry a `ReviewFilter` picks (core/reports/review_filter.py). Approving
an entry already in the PMS (as non-billable, waiting for review) queues an update in the
outbox so the next sync makes it billable there. A blocked entry can be rejected (it was never
written anywhere) but not approved: a Block finding is fixed at its cause, not waved through.
A rejection keeps the reviewer's reason; reopening undoes it. An edit runs the capture engine's
pricing and rules again (`CaptureEngine.revised`). Assigning a matter re-captures the activity
(`core/assign.py`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

import structlog

from config.settings import FirmSettings
from core.assign import Assignment, assign_matter
from core.billing.model import PreBill, PreBillStatus
from core.capture import engine_for
from core.errors import BillsyncError
from core.logging import per_record
from core.models import ActivityStatus, EntryState, MatterStatus, Severity, TimeEntry
from core.payments.reconcile import Match
from core.reports.facts import FirmFacts
from core.reports.review_filter import ReviewFilter, matching_entries
from core.store.reports import ActivityRow
from core.store.store import Store
from core.store.sync_state import SyncState
from core.text import without_controls

_REJECTABLE = (EntryState.NEEDS_REVIEW, EntryState.BLOCKED)
_REASON_LIMIT = 500  # characters of a rejection reason kept
_NARRATIVE_LIMIT = 500  # the narrative column's size
_MAX_HOURS = Decimal(24)


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


def approve_entry(
    store: Store, firm_id: str, entry_id: str, *, via: str = "review page", by: str | None = None
) -> TimeEntry:
    """Approve an entry waiting for review: it becomes billable (in the PMS at the next sync).

    One person's action, so one INFO line ("entries approved", count 1): see `approve_entries`."""
    return approve_entries(store, firm_id, [entry_id], via=via, by=by)[0]


def approve_entries(
    store: Store,
    firm_id: str,
    entry_ids: list[str],
    *,
    via: str = "review page",
    by: str | None = None,
    described: str = "",
) -> list[TimeEntry]:
    """Approve entries waiting for review, as one person's action.

    The one approval path: the review pages, `billsync review approve` and the demo all use it.
    The audit trail is one INFO line per action ("entries approved": count, via, the filter
    described, who if known), written even when an entry midway refuses (those before it stay
    approved); each entry is a DEBUG line (core.logging.per_record)."""
    done: list[TimeEntry] = []
    try:
        for entry_id in entry_ids:
            done.append(_approve_one(store, firm_id, entry_id))
    finally:
        if done:
            _audit("entries approved", firm_id, done, via=via, by=by, described=described)
    return done


def _approve_one(store: Store, firm_id: str, entry_id: str) -> TimeEntry:
    entry = _entry(store, firm_id, entry_id)
    if entry.state is not EntryState.NEEDS_REVIEW:
        raise BillsyncError(f"cannot approve {entry_id}: it is {entry.state.value}, not needs_review")
    store.set_entry_state(firm_id, entry_id, EntryState.APPROVED)
    # The remote id is read again after the approval is stored: a create that was on its way when
    # `entry` was read has its id by now, or its drain sees the approval (core.sync._catch_up).
    if _entry(store, firm_id, entry_id).remote_id is not None:
        SyncState(store.engine).enqueue_update(firm_id, entry_id)
    per_record(structlog.get_logger(), "entry approved", firm=firm_id, entry=entry_id)
    return entry


def _audit(event: str, firm_id: str, done: list[TimeEntry], *, via: str, by: str | None, described: str) -> None:
    """The one INFO line of a person's action on entries (a single entry's id is named)."""
    fields: dict[str, object] = {"firm": firm_id, "count": len(done), "via": via}
    if len(done) == 1:
        fields["entry"] = done[0].id
    if described:
        fields["filter"] = described
    if by:
        fields["by"] = by
    structlog.get_logger().info(event, **fields)


def reject_entry(
    store: Store, firm_id: str, entry_id: str, reason: str | None = None, *, via: str = "review page"
) -> TimeEntry:
    """Reject an entry waiting for review or blocked: it is never billed; `reason` is kept with it.
    One person's action: one INFO line, as for approvals."""
    entry = _reject_one(store, firm_id, entry_id, reason)
    _audit("entries rejected", firm_id, [entry], via=via, by=None, described="")
    return entry


def _reject_one(store: Store, firm_id: str, entry_id: str, reason: str | None) -> TimeEntry:
    entry = _entry(store, firm_id, entry_id)
    said = reason.strip()[:_REASON_LIMIT] if reason and reason.strip() else None
    if entry.state not in _REJECTABLE or not store.reject_entry(firm_id, entry_id, said, was=_REJECTABLE):
        state = _entry(store, firm_id, entry_id).state
        raise BillsyncError(f"cannot reject {entry_id}: it is {state.value}, not needs_review or blocked")
    per_record(structlog.get_logger(), "entry rejected", firm=firm_id, entry=entry_id)
    return entry


def reopen_entry(store: Store, firm_id: str, entry_id: str, *, via: str = "review page") -> TimeEntry:
    """Undo a rejection: the entry waits for review again (written to the PMS at the next sync if it
    never was), and its reason is dropped. One person's action: one INFO line."""
    entry = _reopen_one(store, firm_id, entry_id)
    _audit("entries reopened", firm_id, [entry], via=via, by=None, described="")
    return entry


def _reopen_one(store: Store, firm_id: str, entry_id: str) -> TimeEntry:
    entry = _entry(store, firm_id, entry_id)
    if entry.state is not EntryState.REJECTED or not store.reopen_entry(firm_id, entry_id):
        raise BillsyncError(f"cannot reopen {entry_id}: it is {entry.state.value}, not rejected")
    if entry.remote_id is None:
        SyncState(store.engine).enqueue_create(firm_id, entry_id)  # its write ended unsent while rejected
    per_record(structlog.get_logger(), "entry reopened", firm=firm_id, entry=entry_id)
    return entry


@dataclass(frozen=True)
class Edit:
    """What a person changes in an entry; None leaves that part as it is."""

    narrative: str | None = None
    hours: Decimal | None = None  # the billed time, as typed
    matter: str | None = None  # id or number


def edit_entry(
    store: Store, firm_id: str, firm: FirmSettings, entry_id: str, edit: Edit
) -> tuple[TimeEntry, TimeEntry]:
    """Change an entry waiting for review (or blocked) and run the capture engine's pricing and rules again.

    Returns (before, after). An entry already in the PMS gets one queued update (the outbox), so
    the PMS takes the change once, a move to another matter included (re-rated for that matter;
    the update carries matter, narrative, time and price). A written entry is not moved to a
    matter where it would be blocked: a blocked entry is never written, so the PMS would keep the
    old matter. One never written gets its write queued when the edit makes it postable.
    """
    before = _entry(store, firm_id, entry_id)
    if before.state is EntryState.BILLED:
        raise BillsyncError(
            f"cannot edit {entry_id}: it is on a bill in {firm.pms}; void or delete the bill there first"
        )
    if before.state not in _REJECTABLE:
        raise BillsyncError(f"cannot edit {entry_id}: it is {before.state.value}, not needs_review or blocked")
    if edit.narrative is None and edit.hours is None and edit.matter is None:
        raise BillsyncError("say what to change: --narrative, --hours or --matter")
    engine = engine_for(firm_id, firm, store)
    matter_id = before.matter_id if edit.matter is None else matter_by_id_or_number(store, firm_id, edit.matter)
    moved = matter_id != before.matter_id
    narrative = before.narrative if edit.narrative is None else without_controls(edit.narrative).strip()
    if not narrative or len(narrative) > _NARRATIVE_LIMIT:
        raise BillsyncError(f"a narrative is 1 to {_NARRATIVE_LIMIT} characters")
    seconds = before.billed_seconds if edit.hours is None else _seconds(edit.hours)
    after = engine.revised(before, matter_id=matter_id, narrative=narrative, billed_seconds=seconds)
    if moved and before.remote_id is not None and after.state is EntryState.BLOCKED:
        # A blocked entry is never written, so the PMS would keep it on the old matter for good.
        why = "; ".join(f.message for f in after.findings if f.severity is Severity.BLOCK)
        raise BillsyncError(
            f"entry {entry_id} is in {firm.pms} already and would be blocked on"
            f" {edit.matter.strip()[:40] if edit.matter else matter_id}: {why or 'a rule blocks it'}; nothing changed"
        )
    if not store.save_revision(firm_id, after, was=before.state):
        raise BillsyncError(f"entry {entry_id} changed meanwhile: look at it again")
    sync = SyncState(store.engine)
    if _entry(store, firm_id, entry_id).remote_id is not None:  # read after the edit: see _approve_one
        sync.enqueue_update(firm_id, entry_id)
    elif after.state is EntryState.NEEDS_REVIEW:
        sync.enqueue_create(firm_id, entry_id)
    structlog.get_logger().info("entry edited", firm=firm_id, entry=entry_id, state=after.state.value)
    return before, _entry(store, firm_id, entry_id)  # as stored: money in cents


@dataclass
class Bulk:
    """What a bulk action did: the entries it changed, and how many it skipped, by why."""

    done: list[TimeEntry] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def summary(self, verb: str, wanted: ReviewFilter) -> str:
        """ "approved 12 entries of ava@… (3 skipped: findings)"."""
        noun = "entry" if len(self.done) == 1 else "entries"
        described = wanted.describe()
        line = f"{verb} {len(self.done)} {noun}" + (f" {described}" if described else "")
        if self.skipped:
            line += f" ({', '.join(f'{count} skipped: {why}' for why, count in self.skipped.most_common())})"
        return line


def approve_matching(
    store: Store, firm_id: str, wanted: ReviewFilter, *, via: str = "review page", by: str | None = None
) -> Bulk:
    """Approve every entry waiting for review that the filter picks.

    Blocked entries it picks are skipped (a Block finding is fixed at its cause), and with
    `clean` so are entries with any finding: both are counted, so the person hears of them."""
    _require_narrowing(wanted, "approve", via)
    picked = matching_entries(store, firm_id, replace(wanted, clean=False), states=_bulk_states(wanted, "approved"))
    bulk = Bulk()
    chosen: list[str] = []
    for entry in picked:
        if entry.state is EntryState.BLOCKED:
            bulk.skipped["blocked"] += 1
        elif wanted.clean and entry.findings:
            bulk.skipped["findings"] += 1
        else:
            chosen.append(entry.id)
    bulk.done = approve_entries(store, firm_id, chosen, via=via, by=by, described=wanted.describe())
    return bulk


def reject_matching(
    store: Store, firm_id: str, wanted: ReviewFilter, reason: str | None, *, via: str = "review page"
) -> Bulk:
    """Reject every entry waiting for review or blocked that the filter picks, keeping the reason."""
    _require_narrowing(wanted, "reject", via)
    bulk = Bulk()
    try:
        for entry in matching_entries(store, firm_id, wanted, states=_bulk_states(wanted, "rejected")):
            bulk.done.append(_reject_one(store, firm_id, entry.id, reason))
    finally:
        if bulk.done:
            _audit("entries rejected", firm_id, bulk.done, via=via, by=None, described=wanted.describe())
    return bulk


def reopen_matching(store: Store, firm_id: str, wanted: ReviewFilter, *, via: str = "review page") -> Bulk:
    """Reopen every rejected entry the filter picks: they wait for review again."""
    _require_narrowing(wanted, "reopen", via)
    bulk = Bulk()
    try:
        for entry in matching_entries(store, firm_id, wanted, states=(EntryState.REJECTED,)):
            bulk.done.append(_reopen_one(store, firm_id, entry.id))
    finally:
        if bulk.done:
            _audit("entries reopened", firm_id, bulk.done, via=via, by=None, described=wanted.describe())
    return bulk


def _bulk_states(wanted: ReviewFilter, done: str) -> tuple[EntryState, ...]:
    """The states a bulk action acts on: those the filter names, of those waiting for a person."""
    states = tuple(s for s in (wanted.states or _REJECTABLE) if s in _REJECTABLE)
    if not states:
        named = ", ".join(s.value for s in wanted.states)
        raise BillsyncError(f"entries that are {named} are not {done} in bulk: only needs_review or blocked ones")
    return states


def _require_narrowing(wanted: ReviewFilter, verb: str, via: str) -> None:
    """Refuse a bulk action without a filter, in the words of where the person is."""
    if wanted.narrows:
        return
    if via == "command line":
        raise BillsyncError(
            f"name the entries to {verb}: their ids, or a filter (--clean, --timekeeper, --matter, --client, "
            "--from/--to, --finding); `review list` with the same filter shows what it picks"
        )
    raise BillsyncError(
        f"to {verb} many entries at once, filter first: a timekeeper, matter, client, from/to dates, a finding,"
        " or no findings; the list then shows what it picks"
    )


def matter_by_id_or_number(store: Store, firm_id: str, matter: str) -> str:
    """The id of the matter a person named by its id or number (case aside)."""
    reference = store.load_reference(firm_id)
    wanted = matter.strip()
    if wanted in reference.matters:
        return wanted
    by_number = [m.id for m in reference.matters.values() if m.number.lower() == wanted.lower()]
    if len(by_number) != 1:
        raise BillsyncError(f"no matter with id or number {wanted!r}")
    return by_number[0]


def _seconds(typed: Decimal) -> int:
    """Billed seconds for hours as typed; whole seconds only (the PMS stores seconds)."""
    if not typed.is_finite() or typed <= 0 or typed > _MAX_HOURS:
        raise BillsyncError(f"hours must be more than 0 and at most {_MAX_HOURS} (e.g. 1.2)")
    seconds = typed * 3600
    if seconds != seconds.to_integral_value():
        # A second is 1/3600 h: two decimals always make whole seconds (0.01 h = 36 s); more only
        # some do (0.0025 h = 9 s; 0.001 h = 3.6 s does not).
        rounded = max(typed.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), Decimal("0.01"))
        raise BillsyncError(
            f"{typed} h is {seconds.normalize():f} seconds, and billsync bills whole seconds:"
            f" give hours that come to whole seconds (any 2 decimals do, e.g. {rounded})"
        )
    return int(seconds)


def assign_activity(store: Store, firm_id: str, firm: FirmSettings, activity_id: str, matter: str) -> Assignment:
    """Give an unassigned activity a matter (by id or by its number) and capture it again.

    A closed matter is refused before anything changes: capture would park the activity again."""
    matter_id = matter_by_id_or_number(store, firm_id, matter)
    chosen = store.load_reference(firm_id).matters[matter_id]
    if chosen.status is MatterStatus.CLOSED:
        raise BillsyncError(f"cannot assign {activity_id} to matter {chosen.number}: it is closed; nothing changed")
    done = assign_matter(store, firm_id, firm, activity_id, matter_id)
    structlog.get_logger().info(
        "activity assigned", firm=firm_id, activity=activity_id, matter=matter_id, outcome=done.status.value
    )
    return done


def _entry(store: Store, firm_id: str, entry_id: str) -> TimeEntry:
    found = store.entries(firm_id, ids=[entry_id])
    if not found:
        raise BillsyncError(f"no such entry: {entry_id}")
    return found[0]
