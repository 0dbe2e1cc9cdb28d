"""The capture engine: from "an activity happened" to "this is the entry we would write, and why".

For each activity, in order: firm opt-in and kind policy; actor -> timekeeper (permission
aware); matter resolution; duration (raw seconds kept, rounded up per entry); cross-source
overlap (one entry per stretch of work); narrative; rating; rules; state. Activities, entries
and outbox writes of a batch are stored in one transaction, so a crash loses nothing and
repeats nothing.

Time is rounded once: a fixed block or an actual duration is rounded up to the increment in
effect (`CapturePolicy.increment`: the firm's, else its PMS's own rounding, else
6 minutes) and the entry carries those billed seconds to the PMS as they are. A block that is
a whole number of increments is billed exactly as configured (15 minutes under a 15-minute or
5-minute increment is 900 s); `billsync check-config` names every block that is not.

Invariants:
- One activity gives at most one entry, ever (also a database constraint).
- Settled is settled: an activity that became an entry, merged into one or was logged by hand
  is never decided again, so a deleted entry (a tombstone) is never recreated.
- Parked is not lost: an activity that stopped short for a reason that can change
  (`PARKED_STATUSES`: not a timekeeper, no matter or a closed one, a kind not captured) keeps
  its facts in the store and is decided again, by the same steps, whenever its source sends it
  again and in every poll (`reconsider_parked`), until it becomes an entry. Its row is updated
  in place and only while it is still parked, so two workers deciding it at once store one
  outcome (the other gets CaptureConflict and stores nothing).

An entry's rate is the rate hierarchy's (core/rating.py), the one written to the PMS; the agreed
discount is in its amount only. When the PMS later shows another rate or length for the entry (a
person's edit, or the rate PracticePanther chose for an entry written without one), `priced_again`
prices it under the same agreement; a matter's cap is then held by its pre-bill (core/billing).
A reviewer's edit of narrative, hours or matter (`revised`, from `billsync review edit`) is priced
and checked by the same rating, caps and rules as capture, with the raw seconds kept.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.agreements import agreed_price
from core.ids import new_id
from core.matching import MatterResolver, ReferenceData
from core.models import (
    PARKED_STATUSES,
    Activity,
    ActivityKind,
    ActivityStatus,
    BillingMethod,
    EntryState,
    Finding,
    Matter,
    Severity,
    TimeEntry,
    Timekeeper,
)
from core.narrative import narrative_for
from core.policy import CapturePolicy, ReviewMode
from core.rating import MatterCaps, rate_entry
from core.rules import EntryFacts, RuleRunner
from core.store.store import ActivityRecord, DayEntry, OutboxItem, Store, StoredActivity
from core.timezones import zone
from core.units import billed_seconds

# UTBMS activity codes by kind (docs/billing-domain.md §4); a firm can override each in its policy.
DEFAULT_ACTIVITY_CODES: dict[ActivityKind, str] = {
    ActivityKind.CALL: "A106",
    ActivityKind.SMS: "A106",
    ActivityKind.EMAIL: "A106",
    ActivityKind.DOCUMENT: "A103",
    ActivityKind.NOTE: "A103",
    ActivityKind.EVENT: "A106",
    ActivityKind.TASK: "A101",
}
_APPEARANCE_WORDS = ("hearing", "trial", "court", "deposition", "mediation", "arbitration")
_POSTABLE = (EntryState.NEEDS_REVIEW, EntryState.APPROVED)
# As the store counts toward a matter's cap (store._INACTIVE): these entries do not.
_NOT_COUNTED = (EntryState.REJECTED, EntryState.DELETED_REMOTELY, EntryState.BLOCKED)
_DAY = timedelta(days=1)


def idempotency_key_for(activity_key: tuple[str, str]) -> str:
    """The idempotency key of the write of an activity's entry: the same in every store, ever.

    It is made from the activity alone (its source and id there), never from the entry's row id,
    so a store rebuilt from nothing, deciding the same activity again, looks for and finds the
    entry an earlier store wrote under it (core.sync) instead of writing a second one. 49
    characters: the outbox keeps 64.
    """
    source, external_id = activity_key
    digest = hashlib.sha256(f"{source}\x1f{external_id}".encode()).hexdigest()[:40]
    return f"billsync-a{digest}"


def decide_state(findings: Iterable[Finding], review: ReviewMode) -> EntryState:
    """Block wins; then the review mode decides what waits for a person."""
    severities = {f.severity for f in findings}
    if Severity.BLOCK in severities:
        return EntryState.BLOCKED
    if review is ReviewMode.ALL or Severity.REVIEW in severities:
        return EntryState.NEEDS_REVIEW
    if review is ReviewMode.FLAGGED and Severity.WARN in severities:
        return EntryState.NEEDS_REVIEW
    return EntryState.APPROVED


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Whether two stretches of work overlap; an instant (start == end) counts if inside the other."""
    if a_start == a_end and b_start == b_end:
        return a_start == b_start
    if a_start == a_end:
        return b_start <= a_start < b_end
    if b_start == b_end:
        return a_start <= b_start < a_end
    return a_start < b_end and b_start < a_end


@dataclass
class CaptureResult:
    """What one capture run did, in counts (entries themselves are in the store)."""

    seen: int = 0
    already_known: int = 0  # seen before: settled, or parked and nothing new to decide
    statuses: Counter[ActivityStatus] = field(default_factory=Counter)  # outcomes stored by this run
    states: Counter[EntryState] = field(default_factory=Counter)
    unassigned: list[tuple[str, str, str]] = field(default_factory=list)  # source, id, reason
    # The stored parked activities decided again, by id: one poll may meet the same one twice (the
    # look at the parked queue, then its source sending it again) and it is one activity decided again.
    reconsidered_ids: set[str] = field(default_factory=set)
    unparked: int = 0  # ...of which the reason had gone: they became entries (or merged into one) now

    @property
    def reconsidered(self) -> int:
        """How many parked activities were decided again (each once, however often it was met)."""
        return len(self.reconsidered_ids)

    def merge(self, other: CaptureResult) -> None:
        """Add another run's counts to this one."""
        self.seen += other.seen
        self.already_known += other.already_known
        self.reconsidered_ids |= other.reconsidered_ids
        self.unparked += other.unparked
        self.statuses.update(other.statuses)
        self.states.update(other.states)
        self.unassigned.extend(other.unassigned)


class _Day:
    """One timekeeper's live entries on one work date, indexed by matter, with their total."""

    __slots__ = ("by_matter", "seconds")

    def __init__(self, entries: Iterable[DayEntry] = ()) -> None:
        self.seconds = 0
        self.by_matter: dict[str, list[DayEntry]] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: DayEntry) -> None:
        """Count a new entry in the day."""
        self.seconds += entry.billed_seconds
        self.by_matter.setdefault(entry.matter_id, []).append(entry)

    def on_matter(self, matter_id: str) -> list[DayEntry]:
        """The day's entries on one matter."""
        return self.by_matter.get(matter_id, [])


class _DayLedger:
    """Each timekeeper's entries per work date, loaded from the store once and kept current."""

    def __init__(self, load: Callable[[date, date], dict[tuple[str, date], list[DayEntry]]]) -> None:
        self._load = load  # every entry with a work date in [first, last], grouped by day
        self._days: dict[tuple[str, date], _Day] = {}
        self._loaded: tuple[date, date] | None = None

    def cover(self, first: date, last: date) -> None:
        """Make sure the days from `first` to `last` are loaded, querying only the missing ones."""
        if self._loaded is None:
            gaps = [(first, last)]
        else:
            low, high = self._loaded
            gaps = [(first, low - _DAY)] if first < low else []
            gaps += [(high + _DAY, last)] if last > high else []
            first, last = min(first, low), max(last, high)
        for gap_first, gap_last in gaps:
            for key, entries in self._load(gap_first, gap_last).items():
                self._days.setdefault(key, _Day(entries))
        self._loaded = (first, last)

    def day(self, timekeeper_id: str, day: date) -> _Day:
        """The timekeeper's entries on one date (within the covered range), kept up to date."""
        key = (timekeeper_id, day)
        found = self._days.get(key)
        if found is None:
            found = self._days[key] = _Day()
        return found


class CaptureEngine:
    """Turns activities into time entries for one firm; every dependency is passed in."""

    def __init__(
        self,
        *,
        firm: str,
        policy: CapturePolicy,
        rules: RuleRunner,
        reference: ReferenceData,
        store: Store,
        make_id: Callable[[], str] = new_id,
        persist: bool = True,
        pms_increment: int | None = None,
    ) -> None:
        """`pms_increment`: the PMS's own time rounding in minutes, when it has one."""
        self.firm = firm
        self.policy = policy
        self._rules = rules
        self._reference = reference
        self._store = store
        self._make_id = make_id
        self._persist = persist  # False: decide and count, store nothing (a dry run)
        self._resolver = MatterResolver(reference, policy)
        self.increment_minutes = policy.increment(pms_increment)
        self._increment = self.increment_minutes * 60
        self._ledger = _DayLedger(lambda first, last: store.entries_by_day(firm, first, last))
        capped = [m.id for m in reference.matters.values() if m.cap_amount is not None]
        self._caps = MatterCaps(lambda: store.billable_totals(firm, capped))
        self._firm_zone = ZoneInfo(policy.time_zone)  # validated when the policy was loaded
        self._zones: dict[str | None, ZoneInfo] = {}
        allowed = policy.timekeepers
        self._allowed = None if allowed == "all" else frozenset(allowed)

    def capture(self, activities: Iterable[Activity], *, batch_size: int = 2000) -> CaptureResult:
        """Capture every activity not seen before; safe to call again with the same input.

        An activity seen before is skipped when it is settled, and decided again, from the facts
        its source sends now, when it is parked (`PARKED_STATUSES`).
        """
        result = CaptureResult()
        if not self.policy.enabled:
            for _ in activities:
                result.seen += 1
                result.statuses[ActivityStatus.CAPTURE_OFF] += 1
            return result
        for batch in _batches(activities, batch_size):
            result.merge(self._capture_batch(batch))
        return result

    @property
    def parking_inputs(self) -> str:
        """A digest of what decides whether an activity is parked: the reference data and the policy."""
        inputs = f"{self._reference.digest}|{self.policy.model_dump_json()}"
        return hashlib.sha256(inputs.encode()).hexdigest()

    def reconsider_parked(self, *, unassigned_since: datetime | None = None, batch_size: int = 2000) -> CaptureResult:
        """Decide again every stored parked activity whose reason may have gone; capture it if it has.

        Which ones: those parked as not a timekeeper whose actor now is one (with this engine's
        reference data and timekeeper list); those of a kind the firm did not capture and now
        does; and the unassigned ones, all of them, or only those stored since `unassigned_since`
        when the caller knows the reference data and policy have not changed since it last
        looked at all of them. The store finds them with one indexed query per batch.
        """
        if not self.policy.enabled:
            return CaptureResult()
        actors = {actor for actor in self._store.parked_actors(self.firm) if self._is_timekeeper(actor)}
        kinds = {kind for kind in ActivityKind if self.policy.kind(kind).enabled}
        result = CaptureResult()
        batches = self._store.parked_activities(
            self.firm, actors=actors, kinds=kinds, unassigned_since=unassigned_since, batch_size=batch_size
        )
        for batch in batches:
            result.merge(self.reconsider(batch))
        return result

    def reconsider(self, parked: Sequence[StoredActivity]) -> CaptureResult:
        """Decide these stored parked activities again, from their stored facts."""
        settled = [p.id for p in parked if p.status not in PARKED_STATUSES]
        if settled:
            raise ValueError(f"activity {settled[0]} is settled: it is never decided again")
        return self._decide([(p.activity, p) for p in parked])

    def _capture_batch(self, batch: list[Activity]) -> CaptureResult:
        unique: dict[tuple[str, str], Activity] = {}
        for activity in batch:
            unique.setdefault((activity.source, activity.external_id), activity)
        seen = self._store.seen_activities(self.firm, list(unique))
        todo: list[tuple[Activity, StoredActivity | None]] = []
        settled = 0
        for key, activity in unique.items():
            if key not in seen:
                todo.append((activity, None))
            elif (parked := seen[key]) is not None:
                todo.append((activity, parked))
            else:
                settled += 1
        result = self._decide(todo)
        result.seen += len(batch)
        result.already_known += len(batch) - len(unique) + settled
        return result

    def _decide(self, items: Sequence[tuple[Activity, StoredActivity | None]]) -> CaptureResult:
        """Decide each activity (new, or parked and stored) and store the outcomes that changed.

        Policy, identity and matter are decided first for the whole batch; then one query loads
        the days of the activities that will become entries (a day either side covers time
        zones), and those are turned into entries, or merged, in order.
        """
        result = CaptureResult()
        judged = [(activity, parked, self._judge(activity, parked)) for activity, parked in items]
        days = [activity.started_at.date() for activity, _, verdict in judged if isinstance(verdict, _Ready)]
        if days:
            self._ledger.cover(min(days) - timedelta(days=2), max(days) + timedelta(days=1))
        records: list[ActivityRecord] = []
        entries: list[TimeEntry] = []
        outbox: list[OutboxItem] = []
        for activity, parked, verdict in judged:
            record, entry = self._enter(activity, verdict) if isinstance(verdict, _Ready) else (verdict, None)
            if parked is not None:
                result.reconsidered_ids.add(parked.id)
                if _unchanged(record, parked):
                    if activity is not parked.activity:  # its source sent it again, with nothing new
                        result.already_known += 1
                    continue
                record = replace(record, was=parked.status)
                if record.status not in PARKED_STATUSES:
                    result.unparked += 1
            records.append(record)
            result.statuses[record.status] += 1
            if record.status is ActivityStatus.UNASSIGNED:
                result.unassigned.append((activity.source, activity.external_id, record.reason))
            if entry is not None:
                entries.append(entry)
                result.states[entry.state] += 1
                if entry.state in _POSTABLE:
                    key = idempotency_key_for(entry.activity_key)
                    outbox.append(OutboxItem(self._make_id(), entry.id, "create", key))
        if self._persist and records:
            self._store.save_capture(self.firm, records, entries, outbox, store_payload=self.policy.store_raw_payload)
        return result

    def _judge(self, activity: Activity, parked: StoredActivity | None) -> ActivityRecord | _Ready:
        """Policy, identity and matter: the activity's outcome when it stops short of an entry."""
        record_id = parked.id if parked is not None else self._make_id()  # a stored one keeps its row

        def outcome(status: ActivityStatus, reason: str, timekeeper_id: str | None = None) -> ActivityRecord:
            return ActivityRecord(record_id, activity, status, reason, timekeeper_id=timekeeper_id)

        if not self.policy.kind(activity.kind).enabled:
            return outcome(ActivityStatus.KIND_DISABLED, f"{activity.kind.value} capture is off")
        timekeeper = self._reference.timekeeper_for(activity.actor)
        why_not = self._why_not_timekeeper(timekeeper)
        if why_not or timekeeper is None:
            return outcome(ActivityStatus.NOT_TIMEKEEPER, why_not)
        if activity.covered_by_time_entry:
            reason = "already has a time entry logged by hand"
            return outcome(ActivityStatus.COVERED, reason, timekeeper_id=timekeeper.id)
        match = self._resolver.resolve(activity)
        if match.matter is None:
            return outcome(ActivityStatus.UNASSIGNED, match.reason, timekeeper_id=timekeeper.id)
        return _Ready(record_id, timekeeper, match.matter, match.suggested)

    def _enter(self, activity: Activity, ready: _Ready) -> tuple[ActivityRecord, TimeEntry | None]:
        """Duration, overlap, rating, rules and state: the entry an activity becomes, or the one it merges into."""
        timekeeper, matter = ready.timekeeper, ready.matter

        def outcome(status: ActivityStatus, reason: str, entry_id: str) -> ActivityRecord:
            return ActivityRecord(ready.record_id, activity, status, reason, timekeeper.id, matter.id, entry_id)

        kind_policy = self.policy.kind(activity.kind)
        actual = activity.actual_seconds
        raw_seconds = actual if kind_policy.duration == "actual" and actual is not None else kind_policy.minutes * 60
        ended_at = activity.ended_at or activity.started_at
        work_date = activity.started_at.astimezone(self._zone(timekeeper.time_zone)).date()
        day = self._ledger.day(timekeeper.id, work_date)
        survivor = self._overlapping(timekeeper.id, matter.id, work_date, activity.started_at, ended_at)
        if survivor is not None:
            reason = f"overlaps entry {survivor.id} on the same matter: one entry for both"
            return outcome(ActivityStatus.MERGED, reason, survivor.id), None

        entry, facts = self._draft_entry(
            activity=activity,
            timekeeper=timekeeper,
            matter=matter,
            suggested=ready.suggested,
            raw_seconds=raw_seconds,
            work_date=work_date,
            day=day,
        )
        findings = self._rules.findings(entry, facts)
        entry = entry.model_copy(update={"findings": findings, "state": decide_state(findings, self.policy.review)})
        if entry.state is not EntryState.BLOCKED:
            day.add(DayEntry(entry.id, matter.id, activity.started_at, ended_at, entry.billed_seconds, entry.narrative))
        return outcome(ActivityStatus.CAPTURED, "", entry.id), entry

    def _draft_entry(
        self,
        *,
        activity: Activity,
        timekeeper: Timekeeper,
        matter: Matter,
        suggested: bool,
        raw_seconds: int,
        work_date: date,
        day: _Day,
    ) -> tuple[TimeEntry, EntryFacts]:
        kind_policy = self.policy.kind(activity.kind)
        seconds = billed_seconds(raw_seconds, self._increment)
        client = self._reference.clients.get(matter.client_id)
        category = self._reference.categories.get(kind_policy.category_id) if kind_policy.category_id else None
        rated = rate_entry(
            timekeeper=timekeeper,
            matter=matter,
            client=client,
            category=category,
            custom_rate=activity.custom_rate,
            billed_seconds=seconds,
        )
        billable = matter.billable and matter.billing_method is BillingMethod.HOURLY
        amount, capped = self._caps.apply(matter, rated.amount) if billable else (rated.amount, False)
        narrative = narrative_for(activity, matter.number)
        entry = TimeEntry(
            id=self._make_id(),
            activity_key=(activity.source, activity.external_id),
            timekeeper_id=timekeeper.id,
            matter_id=matter.id,
            client_id=matter.client_id,
            work_date=work_date,
            started_at=activity.started_at,
            ended_at=activity.ended_at or activity.started_at,
            raw_seconds=raw_seconds,
            billed_seconds=seconds,
            rate=rated.rate,
            amount=amount,
            billable=billable,
            narrative=narrative,
            kind=activity.kind,
            category_id=category.id if category else None,
            task_code=matter.task_code,
            activity_code=self._activity_code(activity),
            suggested_matter=suggested,
        )
        duplicate_of = next(
            (d.id for d in day.on_matter(matter.id) if d.narrative == narrative and d.billed_seconds == seconds),
            None,
        )
        facts = EntryFacts(
            timekeeper=timekeeper,
            matter=matter,
            client=client,
            day_seconds=day.seconds + seconds,
            duplicate_of=duplicate_of,
            capped=capped,
            suggested=suggested,
        )
        return entry, facts

    def _is_timekeeper(self, actor: str) -> bool:
        return not self._why_not_timekeeper(self._reference.timekeeper_for(actor))

    def revised(self, entry: TimeEntry, *, matter_id: str, narrative: str, billed_seconds: int) -> TimeEntry:
        """`entry` as a person edited it: priced again and checked by the rules again, as capture would.

        The raw seconds stay what the source said; `billed_seconds` is the time the person set,
        billed as it is (it was rounded once, or typed): the `increment` rule says when it is not
        whole increments. On its matter the entry keeps its rate (it may be the PMS's own, read
        back by a sync) and is priced under the agreement (`priced_again`); on another matter it
        is rated by the hierarchy for that matter, as capture rates. The matter's cap counts every
        live entry but this one. Block findings block it; anything else waits for review: an edit
        is not an approval.
        """
        timekeeper = self._reference.timekeepers.get(entry.timekeeper_id)
        matter = self._reference.matters.get(matter_id)
        if timekeeper is None or matter is None:
            missing = f"timekeeper {entry.timekeeper_id}" if timekeeper is None else f"matter {matter_id}"
            raise ValueError(f"{missing} is not in the firm's reference data")
        client = self._reference.clients.get(matter.client_id)
        moved = matter.id != entry.matter_id
        if moved:
            category = self._reference.categories.get(entry.category_id) if entry.category_id else None
            rated = rate_entry(
                timekeeper=timekeeper,
                matter=matter,
                client=client,
                category=category,
                custom_rate=None,
                billed_seconds=billed_seconds,
            )
            rate, amount = rated.rate, rated.amount
        else:
            rate, amount = entry.rate, self.priced_again(entry, rate=entry.rate, billed_seconds=billed_seconds)
        billable = matter.billable and matter.billing_method is BillingMethod.HOURLY
        capped = False
        if billable:
            caps = MatterCaps(lambda: self._totals_without(entry, matter.id))
            amount, capped = caps.apply(matter, amount)
        self._ledger.cover(entry.work_date - _DAY, entry.work_date + _DAY)
        others = [
            d
            for on_matter in self._ledger.day(timekeeper.id, entry.work_date).by_matter.values()
            for d in on_matter
            if d.id != entry.id
        ]
        duplicate_of = next(
            (
                d.id
                for d in others
                if d.matter_id == matter.id and d.narrative == narrative and d.billed_seconds == billed_seconds
            ),
            None,
        )
        draft = entry.model_copy(
            update={
                "matter_id": matter.id,
                "client_id": matter.client_id,
                "narrative": narrative,
                "billed_seconds": billed_seconds,
                "rate": rate,
                "amount": amount,
                "billable": billable,
                "task_code": matter.task_code if moved else entry.task_code,
                "suggested_matter": False if moved else entry.suggested_matter,
            }
        )
        facts = EntryFacts(
            timekeeper=timekeeper,
            matter=matter,
            client=client,
            day_seconds=sum(d.billed_seconds for d in others) + billed_seconds,
            duplicate_of=duplicate_of,
            capped=capped,
            suggested=draft.suggested_matter,
        )
        findings = self._rules.findings(draft, facts)
        blocked = any(f.severity is Severity.BLOCK for f in findings)
        state = EntryState.BLOCKED if blocked else EntryState.NEEDS_REVIEW
        return draft.model_copy(update={"findings": findings, "state": state})

    def _totals_without(self, entry: TimeEntry, matter_id: str) -> dict[str, Decimal]:
        totals = self._store.billable_totals(self.firm, [matter_id])
        counted = entry.billable and entry.state not in _NOT_COUNTED and entry.matter_id == matter_id
        if counted:
            totals[matter_id] -= entry.amount
        return totals

    def priced_again(self, entry: TimeEntry, *, rate: Decimal, billed_seconds: int) -> Decimal:
        """What `entry` costs at the PMS's `rate` and length, under its matter's agreement."""
        return agreed_price(entry, self._reference, rate=rate, billed_seconds=billed_seconds)

    def _why_not_timekeeper(self, timekeeper: Timekeeper | None) -> str:
        if timekeeper is None:
            return "actor is not a known user of the PMS"
        if not timekeeper.enabled:
            return f"user {timekeeper.id} is disabled"
        if not timekeeper.may_record_time:
            return f"user {timekeeper.id} may not record time"
        if self._allowed is not None and timekeeper.id not in self._allowed:
            return f"user {timekeeper.id} is not on the firm's timekeeper list"
        return ""

    def _overlapping(
        self, timekeeper_id: str, matter_id: str, work_date: date, start: datetime, end: datetime
    ) -> DayEntry | None:
        # Work that crosses midnight is filed under its start date: look at the day before too.
        for day in (work_date, work_date - timedelta(days=1)):
            for entry in self._ledger.day(timekeeper_id, day).on_matter(matter_id):
                if overlaps(start, end, entry.started_at, entry.ended_at):
                    return entry
        return None

    def _activity_code(self, activity: Activity) -> str:
        configured = self.policy.kind(activity.kind).activity_code
        if configured:
            return configured
        if activity.kind is ActivityKind.EVENT and any(w in activity.title.lower() for w in _APPEARANCE_WORDS):
            return "A109"  # appear for/attend
        return DEFAULT_ACTIVITY_CODES[activity.kind]

    def _zone(self, name: str | None) -> ZoneInfo:
        # A user without a zone, or with one no table knows (the sync reported it), works in the firm's.
        found = self._zones.get(name)
        if found is None:
            found = self._zones[name] = zone(name, self._firm_zone)
        return found


@dataclass(frozen=True, slots=True)
class _Ready:
    """An activity past policy, identity and matter: it becomes an entry, or merges into one."""

    record_id: str
    timekeeper: Timekeeper
    matter: Matter
    suggested: bool


def _unchanged(record: ActivityRecord, parked: StoredActivity) -> bool:
    """Whether deciding a parked activity again gave what is stored already, from the same facts."""
    same_outcome = (record.status, record.reason, record.timekeeper_id, record.matter_id) == (
        parked.status,
        parked.reason,
        parked.timekeeper_id,
        parked.matter_id,
    )
    # Facts are compared without the body (never dumped): new facts must be stored for the next time.
    return same_outcome and (
        record.activity is parked.activity or record.activity.model_dump() == parked.activity.model_dump()
    )


def _batches(items: Iterable[Activity], size: int) -> Iterator[list[Activity]]:
    batch: list[Activity] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
