"""One sync cycle for one firm: poll every stream, capture, write back, reconcile.

A firm has one PMS (it gives the reference data and takes the entries) and may
have further activity sources (`FirmSettings.sources`): their streams are polled after the
PMS's, through the same capture engine, and their stream names are qualified as
"<connector>:<stream>" wherever one name must say which connector it belongs to.

The connector does the vendor's talking; this module decides what happens to what it reads
and writes, with the store as the single source of truth:

- Records and cursors: a page's records are stored before its cursor, so a crash in between
  re-reads the page and finds every activity already known. The cursor never runs ahead.
- Reference before activity: the people, clients and matters are read first, in every poll and
  in a backfill, because capture judges each activity against them.
- Nothing parked is lost: an activity parked for a reason that can change (not a timekeeper,
  no matter, a closed matter, a kind not captured) is decided again by the first poll after
  the reason goes (a user added or enabled, a contact rule or matter number that appears, a
  matter assigned or reopened, a kind switched on): each poll, right after it reads the
  reference data, looks at every parked activity the new reference data or policy could
  decide otherwise (`_reconsider_parked`), and at any its sources send again. Only an activity
  that produced an entry (or merged into one, or was logged by hand) is settled and never
  decided again, so a tombstone is never recreated. Deciding again updates the activity's row
  in place, in the same transaction as its entry and outbox write, and only while it is still
  parked: one activity gives at most one entry, ever, whichever replica gets there first (the
  other stores nothing, CaptureConflict; the database's one-entry-per-activity constraint
  says so too).
- Write-back: an outbox row is marked "sending" before each attempt. A row found in "sending"
  had an outcome nobody saw, so the entry is looked up at the vendor before anything is sent
  again: one activity gives at most one remote entry, ever. The write's key is made from the
  activity alone, so an entry written by an earlier store (one lost, or thrown away and built
  again from nothing) carries the same marker: an entry for work older than this store's first
  entry is looked up before its first write too, and taken over when it is found, in the state the
  PMS shows: waiting for review, as an entry written for review does, until the reconcile reads it
  billable there (approved before: posted), whatever this store's review mode. A writer that
  can look for many entries at once (FindsManyEntries) is asked once per matter for all of a
  drain's such entries (a first sync would otherwise cost a lookup per entry); an entry whose
  write had an unknown outcome is always looked up on its own, right before it is sent again.
- Time rounding: the PMS's own increment is read and stored after the reference
  data and before any capture, so an entry's billed seconds are a whole number of the PMS's
  increment (unless the firm set its own) and the PMS never rounds them again.
- Review round-trip: the PMS is the user interface. Edits made there flow back; an entry made
  billable there counts as approval; an entry deleted there becomes a tombstone. The rate the PMS
  shows on the entry is the entry's rate (a price a person typed is the top of the hierarchy; a
  PMS that chose the rate itself, as PracticePanther does for an entry written without one, is
  followed); the amount is priced again under the same agreement. A UTBMS task code set on the
  entry there wins over the matter's phase.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog

from core.connector import (
    Connector,
    FindsManyEntries,
    InboundRequest,
    RemoteEntry,
    Stream,
    StreamRole,
    TimeRounding,
    WebhookResult,
    WritePace,
    Writer,
)
from core.engine import CaptureEngine, CaptureResult
from core.errors import BillsyncError, Fatal, Indeterminate, InvalidSignature, Retryable, ShuttingDown
from core.logging import per_record, tallied
from core.models import EntryState, TimeEntry, Timekeeper
from core.progress import LONG_WORK_SECONDS, NoProgress, Progress, RateLimit, write_forecast
from core.store.store import CaptureConflict, Store
from core.store.sync_state import DEFAULT_LEASE, SENDING, LeaseLost, OutboxRow, SyncState
from core.timezones import iana_name
from core.tokens import Subscription, TokenStore

# The PMS's streams whose records are stored as they are, before any activity is read:
# its reference data, and its bills and payments (read-only ledger copies). The rest are captured.
STORED_ROLES = frozenset({StreamRole.REFERENCE, StreamRole.BILLS, StreamRole.PAYMENTS})


# How far back a look at the unassigned activities reaches before the previous look began: far
# longer than a capture batch's transaction, and than clocks of replicas may disagree.
PARKED_OVERLAP = timedelta(minutes=10)
# Work that began up to this long after a store's first entry is still looked up before it is
# written: an earlier store may have run until shortly before, and the vendors' clocks differ.
EARLIER_STORE_MARGIN = timedelta(hours=1)
# Entries in these states are not written any more when their write's turn comes.
NOT_WRITTEN = frozenset({EntryState.DELETED_REMOTELY, EntryState.REJECTED, EntryState.BLOCKED})
# An entry an earlier store wrote is taken over in these states as waiting for review; the
# reconcile then follows the PMS (billable there: posted, as an entry approved there is).
_TAKEN_OVER_FOR_REVIEW = frozenset({EntryState.NEEDS_REVIEW, EntryState.APPROVED})


@dataclass(frozen=True)
class _ParkedPass:
    """A look at every unassigned activity: with which inputs (reference data, policy), and when."""

    inputs: str
    started: datetime


@dataclass
class _GroupedLookups:
    """One drain's grouped lookups of entries an earlier store may have written (FindsManyEntries).

    `waiting` holds, by matter, the (key, entry) of the drain's due creates that need the lookup,
    until their matter is asked (when the first of them is written); `answers` holds each asked
    key's entry as it was asked about and what was found (a remote id, or None: looked for, not
    there). An answer stands until the row is sent: only this store's own attempts could write the
    entry since, and a row with an attempt of unknown outcome is in "sending", looked up on its own.
    A key not answered (its group's lookup failed, or it was not due when the drain began, or its
    entry changed since) is looked up on its own: nothing is written without a look.
    """

    writer: FindsManyEntries
    waiting: dict[str, list[tuple[str, TimeEntry]]]
    answers: dict[str, tuple[TimeEntry, str | None]] = field(default_factory=dict)
    asked: int = 0  # groups asked so far: a listing each (at least), for the drain's progress

    def answer(self, key: str, entry: TimeEntry, log: Any) -> tuple[bool, str | None]:
        """(asked, remote id found): the group's answer for this key, asking its matter first if need be."""
        if key not in self.answers:
            group = self.waiting.pop(entry.matter_id, None)
            if group is not None:
                self._ask(group, log)
        asked = self.answers.pop(key, None)
        if asked is None or _lookup_fields(asked[0]) != _lookup_fields(entry):
            return False, None
        return True, asked[1]

    def _ask(self, group: list[tuple[str, TimeEntry]], log: Any) -> None:
        self.asked += 1
        try:
            found = self.writer.find_time_entries(group)
        except ShuttingDown:
            raise
        except BillsyncError as exc:  # each entry of the group is looked up on its own instead
            per_record(log, "grouped lookup failed", reason=type(exc).__name__, warning=True, error=str(exc))
            return
        remote_ids = Counter(found.get(key) for key, _ in group)
        for key, entry in group:
            remote_id = found.get(key)
            if remote_id is None or remote_ids[remote_id] == 1:  # one remote entry is never taken over twice
                self.answers[key] = (entry, remote_id)


def _as_written(entry: TimeEntry) -> tuple[object, ...]:
    """What a write sends of an entry: an approved entry goes billable and becomes posted."""
    approved = entry.state in (EntryState.APPROVED, EntryState.POSTED) and entry.billable
    return (approved, entry.narrative, entry.billed_seconds, entry.rate, entry.matter_id, entry.task_code)


def _lookup_fields(entry: TimeEntry) -> tuple[object, ...]:
    """What a lookup matches an entry by: the same values get the same answer."""
    return (entry.matter_id, entry.work_date, entry.timekeeper_id, entry.narrative)


@dataclass
class SyncReport:
    """What one cycle did, for the summary line and the CLI."""

    records_read: Counter[str] = field(default_factory=Counter)  # by stream ("<connector>:<stream>" for a source)
    read_by_role: Counter[StreamRole] = field(default_factory=Counter)  # the same records, by their stream's role
    record_errors: list[str] = field(default_factory=list)
    capture: CaptureResult = field(default_factory=CaptureResult)
    written: int = 0
    recovered: int = 0  # writes found at the vendor after a lost response
    already_written: int = 0  # entries an earlier store wrote, found at the vendor and taken over
    # Of those, the ids taken over this cycle: their state is the one the PMS shows, settled by the
    # reconcile (billable there: approved; still not billable: waiting for review).
    taken_over: set[str] = field(default_factory=set)
    taken_over_approved: int = 0  # taken over and found billable in the PMS: approved before
    updated: int = 0
    write_failures: list[str] = field(default_factory=list)
    deferred: int = 0  # writes that will be retried later
    remote_edits: int = 0
    priced_by_pms: int = 0  # entries sent without a rate that the PMS priced itself: not a person's edit
    tombstones: int = 0
    approvals_from_pms: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing needs a person's attention."""
        return not self.write_failures


class SyncRunner:
    """Runs cycles for one firm against its PMS (reference data, activity, written entries) and its activity sources."""

    def __init__(
        self,
        *,
        firm: str,
        pms: Connector,
        store: Store,
        make_engine: Callable[[], CaptureEngine],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        retry_delay: timedelta = timedelta(minutes=2),
        tokens: TokenStore | None = None,
        sources: Sequence[Connector] = (),
        after_poll: Callable[[SyncReport], object] | None = None,
        claim_lease: timedelta = DEFAULT_LEASE,
        parked_overlap: timedelta = PARKED_OVERLAP,
    ) -> None:
        self.firm = firm
        self.tokens = tokens  # holds the webhook subscription's signing secret, encrypted
        self.pms = pms  # the firm's practice-management system: gives reference data, takes the entries
        self.sources = tuple(sources)  # further activity sources, polled after it
        self._after_poll = after_poll  # e.g. follow the PMS bills a poll brought in
        self.store = store
        self.state = SyncState(store.engine, clock, lease=claim_lease)
        self._make_engine = make_engine  # rebuilt after reference data changes
        self._parked_pass: _ParkedPass | None = None  # the last look at the parked activities
        self._parked_overlap = parked_overlap
        self._clock = clock
        self._retry_delay = retry_delay
        self._log = structlog.get_logger().bind(firm=firm, connector=pms.name)
        self._pricing: CaptureEngine | None = None  # prices edits from the PMS during a reconcile
        self._born: datetime | None = None  # when this store made its first entry for the firm

    def run_once(self, *, only_streams: Iterable[str] | None = None, progress: Progress | None = None) -> SyncReport:
        """Poll, capture, drain the outbox, reconcile: one whole cycle, each phase told to `progress`,
        and one summary line."""
        progress = progress or NoProgress()
        report = SyncReport()
        with tallied() as tally:  # per-record detail is DEBUG; the summary counts it
            self.poll(report, only_streams=only_streams, progress=progress)
            writer = self.pms.writer()
            if writer is not None:
                self.drain_outbox(writer, report, progress=progress)
                self.reconcile(writer, report, progress=progress)
        progress.finish()
        emit = self._log.warning if tally.warnings else self._log.info
        emit(
            "sync cycle",
            read=sum(report.records_read.values()),
            entries=sum(report.capture.states.values()),
            written=report.written,
            updated=report.updated,
            recovered=report.recovered,
            already_written=report.already_written,
            taken_over_approved=report.taken_over_approved,
            deferred=report.deferred,
            failures=len(report.write_failures),
            tombstones=report.tombstones,
            **tally.figures,  # e.g. the PMS bills the poll followed (core.logging.figures)
            **({"details": tally.details()} if tally.counts else {}),
        )
        return report

    # Reading ---------------------------------------------------------------------------------

    def poll(
        self, report: SyncReport, *, only_streams: Iterable[str] | None = None, progress: Progress | None = None
    ) -> None:
        """Read every stream from its cursor: reference streams first, then activity streams.

        `only_streams` names streams to read; a source's streams are named "<connector>:<stream>",
        the PMS's by their plain name. The PMS's reference streams are
        read with them whatever they name: activity is matched against the reference data, so a
        re-poll of a few streams (a webhook's) reads the people, clients and matters first, or a
        call by someone not yet read would be stored as "not a timekeeper" and, being known, never
        captured again.
        """
        wanted = set(only_streams) if only_streams is not None else None

        def chosen(connector: Connector, qualify: bool) -> list[Stream]:
            def asked(stream: Stream) -> bool:
                if wanted is None or f"{connector.name}:{stream.name}" in wanted:
                    return True
                return not qualify and (stream.name in wanted or stream.role is StreamRole.REFERENCE)

            return [s for s in connector.streams() if asked(s)]

        progress = progress or NoProgress()
        streams = chosen(self.pms, qualify=False)
        self._read_reference(report, [s for s in streams if s.role in STORED_ROLES], progress)
        self.read_time_increment(report)
        engine = self._make_engine()  # sees the reference data and the PMS's rounding just stored
        progress.start("capturing parked activities")
        before = report.capture.reconsidered
        self._reconsider_parked(engine, report)
        progress.advance(report.capture.reconsidered - before)
        capture = lambda records: report.capture.merge(engine.capture(records))  # noqa: E731
        for stream in (s for s in streams if s.role not in STORED_ROLES):
            progress.start(f"capturing {stream.name}", unit="read")
            self._read_stream(self.pms, stream, report, capture, progress=progress)
        for source in self.sources:
            for stream in chosen(source, qualify=True):
                progress.start(f"capturing {source.name}:{stream.name}", unit="read")
                self._read_stream(source, stream, report, capture, qualify=True, progress=progress)
        progress.finish()
        if self._after_poll is not None:
            self._after_poll(report)

    def refresh_reference(self, report: SyncReport, progress: Progress | None = None) -> None:
        """Read the PMS's people, clients, matters and categories from their cursors."""
        wanted = [s for s in self.pms.streams() if s.role is StreamRole.REFERENCE]
        self._read_reference(report, wanted, progress or NoProgress())

    def _read_reference(self, report: SyncReport, streams: Iterable[Stream], progress: Progress) -> None:
        for stream in streams:
            progress.start(f"reading {stream.name}", unit="read")
            self._read_stream(self.pms, stream, report, self._store_reference, progress=progress)
        progress.finish()

    def _reconsider_parked(self, engine: CaptureEngine, report: SyncReport) -> None:
        """Decide the parked activities again with the reference data just read.

        Every unassigned activity is looked at when the reference data or the policy changed
        since this runner's last look (and on its first). Otherwise only those decided since
        then, less an overlap: a poll elsewhere may have decided some with older reference data
        while this one looked. Activities parked as not a timekeeper, or as a kind not captured,
        are found by their actor or kind every time: that query is exact and cheap.
        """
        started = datetime.now(UTC)  # the store stamps each decision with the wall clock too
        inputs = engine.parking_inputs
        last = self._parked_pass
        since = last.started - self._parked_overlap if last is not None and last.inputs == inputs else None
        try:
            report.capture.merge(engine.reconsider_parked(unassigned_since=since))
        except CaptureConflict as exc:  # another replica decided some of them first: fine, next poll
            self._log.warning("parked activities decided elsewhere meanwhile", error=str(exc))
            return
        self._parked_pass = _ParkedPass(inputs, started)

    def _read_stream(
        self,
        connector: Connector,
        stream: Stream,
        report: SyncReport,
        store_records: Callable[[list[Any]], None],
        *,
        qualify: bool = False,
        progress: Progress | None = None,
    ) -> None:
        """Read one stream from its cursor, page by page; each page counts as its records done."""
        name = connector.name
        label = f"{name}:{stream.name}" if qualify else stream.name
        cursor = self.state.cursor(self.firm, name, stream.name)
        for page in stream.read(cursor):
            records = list(page.records)
            if records:
                store_records(records)  # before the cursor: a crash here re-reads, never skips
            self.state.save_cursor(self.firm, name, stream.name, page.cursor)
            report.records_read[label] += len(records)
            report.read_by_role[stream.role] += len(records)
            if progress is not None:
                progress.advance(len(records), requests=1)
            report.record_errors.extend(f"{label}: {error}" for error in (*page.errors, *_zone_problems(records)))

    def _store_reference(self, records: list[Any]) -> None:
        self.store.save_reference(self.firm, records)

    def read_time_increment(self, report: SyncReport) -> None:
        """Read and store the PMS's own time rounding, before anything is captured.

        The increment entries are rounded to defaults to it, so every poll reads it first (a firm
        that changes its rounding in the PMS is followed at the next poll), and so does a backfill.
        A refusal is reported in `record_errors` and the last one read is kept.
        """
        pms = self.pms
        if not isinstance(pms, TimeRounding):
            return  # the PMS has no rounding of its own: the firm's increment or 6 minutes
        try:
            minutes = pms.time_increment_minutes()
        except Fatal as exc:  # e.g. the connected user may not read billing settings
            name = self.pms.name
            report.record_errors.append(f"{name}: time rounding not read, the last one read is kept: {exc}")
            return
        self.store.save_time_increment(self.firm, self.pms.name, minutes)

    # Webhooks: a delivery is a doorbell ---------------------------------------------------------

    @property
    def connectors(self) -> tuple[Connector, ...]:
        """The PMS, then the activity sources."""
        return (self.pms, *self.sources)

    def ensure_webhooks(self, callback_url: str, connector: str | None = None) -> Subscription | None:
        """Create or renew a connector's webhook subscription (the PMS's by default)."""
        chosen = self._named(connector)
        handler = chosen.webhooks()
        if handler is None or self.tokens is None:
            return None
        current = self.tokens.subscription(self.firm, chosen.name)
        fresh = handler.ensure(callback_url, current)
        if fresh != current:
            self.tokens.save_subscription(self.firm, chosen.name, fresh)
        return fresh

    def receive_webhook(self, request: InboundRequest, connector: str | None = None) -> tuple[WebhookResult, list[str]]:
        """Verify a delivery (InvalidSignature when it fails) and say which streams to re-poll.

        A redelivery of a delivery already seen asks for nothing. The caller answers the vendor
        with the result at once and re-polls (`poll(only_streams=...)`) in the background.
        """
        chosen = self._named(connector)
        handler = chosen.webhooks()
        if handler is None:
            raise InvalidSignature(f"{chosen.name} does not send webhooks")
        name = chosen.name
        subscription = self.tokens.subscription(self.firm, name) if self.tokens is not None else None
        result = handler.handle(request, subscription)
        if result.delivery_id is not None and not self.state.first_delivery(self.firm, name, result.delivery_id):
            return result, []
        if chosen is self.pms:
            return result, list(result.streams)
        return result, [f"{name}:{stream}" for stream in result.streams]

    def _named(self, connector: str | None) -> Connector:
        if connector is None:
            return self.pms
        for candidate in self.connectors:
            if candidate.name == connector:
                return candidate
        raise InvalidSignature(f"{connector} is not connected for firm {self.firm}")

    # Writing ---------------------------------------------------------------------------------

    def drain_outbox(self, writer: Writer, report: SyncReport, *, progress: Progress | None = None) -> None:
        """Attempt every due write once; failures are rescheduled or held, never re-sent blindly.

        The due writes are counted before the first is claimed (one grouped query): the phase's
        total, and with the writer's cost per write and its vendor's limit, the ETA; a drain the
        limit makes long is announced first (core.progress.write_forecast).
        """
        progress = progress or NoProgress()
        pace = writer if isinstance(writer, WritePace) else None  # None: the measured pace only
        cost: Callable[[OutboxRow], int] = lambda row: 1  # noqa: E731 - a writer that cannot say
        due = self.state.due(self.firm)
        total = sum(due.values())
        grouped = self._grouped_lookups(writer)  # before the first claim, which hides its rows from it
        lookups = len(grouped.waiting) if grouped is not None else 0  # a listing per matter, at least
        if pace is None:
            progress.start(f"writing to {self.pms.name}", total=total)
        else:
            per_minute = pace.requests_per_minute()
            limit = RateLimit(pace.vendor, per_minute) if per_minute else None
            requests = lookups + sum(
                count * pace.requests_per_write(operation, unknown_outcome=unknown)
                for (operation, unknown), count in due.items()
            )
            progress.start(f"writing to {pace.vendor}", total=total, requests=requests, limit=limit)
            if limit is not None and total and requests * 60.0 / limit.per_minute >= LONG_WORK_SECONDS:
                progress.forecast(write_forecast(total, requests, limit))
            cost = lambda row: pace.requests_per_write(row.operation, unknown_outcome=row.status == SENDING)  # noqa: E731
        try:
            self._drain(writer, report, progress, cost, grouped)
        finally:
            progress.finish()

    def _drain(
        self,
        writer: Writer,
        report: SyncReport,
        progress: Progress,
        cost: Callable[[OutboxRow], int],
        grouped: _GroupedLookups | None,
    ) -> None:
        attempted: set[str] = set()
        while True:
            claimed = self.state.claim(self.firm)
            rows = [row for row in claimed if row.id not in attempted]
            # A row due again already (a retry with no wait) waits for the next run: hand it back.
            self.state.release(self.firm, [row for row in claimed if row.id in attempted])
            if not rows:
                return
            entries = {e.id: e for e in self.store.entries(self.firm, ids=[row.entry_id for row in rows])}
            try:
                for row in rows:
                    attempted.add(row.id)
                    asked = grouped.asked if grouped is not None else 0
                    try:
                        self._drain_one(writer, row, entries.get(row.entry_id), report, grouped)
                    except LeaseLost:
                        # Another replica took the row over after this one's lease ran out: its
                        # writes are now that replica's to finish (it looks before re-sending).
                        per_record(self._log, "outbox row taken over by another worker", row=row.id)
                    listings = (grouped.asked if grouped is not None else 0) - asked
                    progress.advance(1, requests=cost(row) + listings)
            finally:
                # Whatever this run claimed and did not settle (it stopped on an error) is handed
                # back at once; a row left in "sending" is still looked up before anything is sent.
                self.state.release(self.firm, rows)
                # Taken over from an earlier store: the PMS's state is the entry's (the reconcile reads it).
                created = [row.entry_id for row in rows if row.operation == "create"]
                sent = [entries[i] for i in created if i in entries and i not in report.taken_over]
                self._catch_up(sent)

    def _catch_up(self, sent: list[TimeEntry]) -> None:
        """Queue an update for an entry a person changed while its create was on its way.

        The create went as the entry stood when this page was read; an approval or an edit made
        since found no remote id, so queued nothing (core.reports.review re-reads the remote id
        after its own write). This re-read comes after the remote id was stored: of the two
        sides, at least one sees the other's write, and a second queued update is merged into
        the first (SyncState.enqueue_update).
        """
        sent = [entry for entry in sent if entry.remote_id is None]
        if not sent:
            return
        now = {e.id: e for e in self.store.entries(self.firm, ids=[entry.id for entry in sent])}
        for before in sent:
            after = now.get(before.id)
            if after is not None and after.remote_id is not None and _as_written(after) != _as_written(before):
                self.state.enqueue_update(self.firm, before.id)

    def _grouped_lookups(self, writer: Writer) -> _GroupedLookups | None:
        """The drain's due creates an earlier store may have written, by matter; None for a writer
        that looks for one entry at a time."""
        if not isinstance(writer, FindsManyEntries):
            return None
        due = self.state.due_creates(self.firm)
        entries = {e.id: e for e in self.store.entries(self.firm, ids=[entry_id for entry_id, _ in due])}
        waiting: dict[str, list[tuple[str, TimeEntry]]] = {}
        for entry_id, key in due:
            entry = entries.get(entry_id)
            if entry is None or entry.remote_id is not None or entry.state in NOT_WRITTEN:
                continue
            if self._may_be_written_already(entry):
                waiting.setdefault(entry.matter_id, []).append((key, entry))
        return _GroupedLookups(writer, waiting)

    def _drain_one(
        self,
        writer: Writer,
        row: OutboxRow,
        entry: TimeEntry | None,
        report: SyncReport,
        grouped: _GroupedLookups | None = None,
    ) -> None:
        if entry is None or entry.state in NOT_WRITTEN:
            self.state.complete(self.firm, row, None, None)  # nothing to write any more
            return
        try:
            self._attempt(writer, row, entry, report, grouped)
        except ShuttingDown:
            # Not sent (the client refused before sending): due again at once on the next start.
            # A row already in "sending" keeps its unknown outcome: looked up before sending.
            known = row.status != SENDING
            self.state.mark_retry(self.firm, row, "not sent: billsync was stopping", self._clock(), outcome_known=known)
            raise
        except Indeterminate as exc:
            # The vendor may have done it: next time, look before sending.
            report.deferred += 1
            self.state.mark_retry(self.firm, row, str(exc), self._clock() + self._retry_delay, outcome_known=False)
        except Retryable as exc:
            # A row already in "sending" keeps its unknown outcome even when this attempt (the
            # lookup, say) was refused: the next attempt must look before it sends.
            report.deferred += 1
            known = row.status != SENDING
            self.state.mark_retry(self.firm, row, str(exc), self._next_attempt(exc), outcome_known=known)
        except Fatal as exc:
            report.write_failures.append(f"entry {entry.id}: {exc}")
            self.state.mark_failed(self.firm, row, str(exc))

    def _attempt(
        self,
        writer: Writer,
        row: OutboxRow,
        entry: TimeEntry,
        report: SyncReport,
        grouped: _GroupedLookups | None = None,
    ) -> None:
        billable = entry.state is EntryState.APPROVED and entry.billable
        after = EntryState.POSTED if entry.state is EntryState.APPROVED else None
        if row.operation == "update":
            if entry.remote_id is None:
                return  # its create is still queued and will carry the latest state
            self.state.mark_sending(self.firm, row)
            writer.update_time_entry(entry.remote_id, entry, billable=billable)
            self.state.complete(self.firm, row, None, after)
            report.updated += 1
            return
        if entry.remote_id is not None:
            self.state.complete(self.firm, row, None, None)
            return
        unknown_outcome = row.status == SENDING
        self.state.mark_sending(self.firm, row)  # the recovery point, stored before the request
        if unknown_outcome or self._may_be_written_already(entry):
            asked, found = False, None
            if grouped is not None and not unknown_outcome:
                asked, found = grouped.answer(row.idempotency_key, entry, self._log)
            if not asked:
                found = writer.find_time_entry(row.idempotency_key, entry)
            if found is not None:
                if unknown_outcome:  # this store's own write: it went as the entry's state says
                    self.state.complete(self.firm, row, found, after)
                    report.recovered += 1
                    return
                # An earlier store's write: what the PMS shows decides the entry's state, not this
                # store's review mode. It waits for review as an entry written for review does
                # until the reconcile reads it; billable there, it was approved (see _apply).
                taken = EntryState.NEEDS_REVIEW if entry.state in _TAKEN_OVER_FOR_REVIEW else None
                self.state.complete(self.firm, row, found, taken)
                report.already_written += 1
                report.taken_over.add(entry.id)
                return
        remote_id = writer.write_time_entry(entry, row.idempotency_key, billable=billable)
        self.state.complete(self.firm, row, remote_id, after)
        report.written += 1

    def _may_be_written_already(self, entry: TimeEntry) -> bool:
        """Whether another store (an earlier one, since lost or thrown away) may have written this entry.

        The idempotency key is made from the activity alone (core.engine.idempotency_key_for), so such an
        entry carries the same marker. Only work that began before this store made its first entry
        (less a margin for the vendors' clocks) can have been seen by an earlier store: a backfill,
        or the first syncs of a rebuilt store. Those are looked up before their first write (a
        FindsManyEntries writer once per matter for a whole drain, others one lookup each); later
        work is written at once, as before.
        """
        if self._born is None:
            self._born = self.state.first_entry_at(self.firm)
        return self._born is None or entry.started_at < self._born + EARLIER_STORE_MARGIN

    def _next_attempt(self, exc: Retryable) -> datetime:
        wait = timedelta(seconds=exc.retry_after) if exc.retry_after else self._retry_delay
        return self._clock() + wait

    # Review round-trip -----------------------------------------------------------------------

    def reconcile(self, writer: Writer, report: SyncReport, *, progress: Progress | None = None) -> None:
        """Pull edits, approvals and deletions made in the PMS into the store."""
        progress = progress or NoProgress()
        self._pricing = None  # built on first need: it reads the reference data as it is now
        remote_ids = self.state.remote_ids(self.firm)
        # An entry whose update is still queued (deferred by a retry) would read back the PMS's
        # old values (a matter billsync moved it from, say) over the person's edit: read it once sent.
        waiting = self.state.updates_waiting(self.firm)
        ids = [entry_id for entry_id in remote_ids.values() if entry_id not in waiting]
        live = sorted(self.store.entries(self.firm, ids=ids), key=lambda e: (e.work_date, e.id))
        pace = writer if isinstance(writer, WritePace) else None
        progress.start(f"reading back from {pace.vendor if pace else self.pms.name}", total=len(live))
        chunk = 200  # in work-date order, so each batch spans a short window of days
        for start in range(0, len(live), chunk):
            batch = {e.remote_id: e for e in live[start : start + chunk] if e.remote_id is not None}
            days = [e.work_date for e in batch.values()]
            counted = 0
            for remote in writer.read_time_entries(list(batch), work_dates=(min(days), max(days))):
                entry = batch.get(remote.remote_id)
                if entry is not None:
                    self._apply(entry, remote, report)
                    progress.advance(1)  # one by one as each is applied, not all at the end
                    counted += 1
            progress.advance(len(live[start : start + chunk]) - counted)  # those the vendor no longer has
        progress.finish()

    def _priced(self, entry: TimeEntry, rate: Decimal, billed_seconds: int) -> Decimal:
        if self._pricing is None:
            self._pricing = self._make_engine()
        return self._pricing.priced_again(entry, rate=rate, billed_seconds=billed_seconds)

    def _apply(self, entry: TimeEntry, remote: RemoteEntry, report: SyncReport) -> None:
        if remote.deleted:
            self.state.apply_remote(self.firm, entry.id, {"state": EntryState.DELETED_REMOTELY.value})
            report.tombstones += 1
            return
        changes: dict[str, object] = {}
        if remote.billed:
            changes["state"] = EntryState.BILLED.value
        elif remote.billable and entry.state is EntryState.NEEDS_REVIEW:
            changes["state"] = EntryState.POSTED.value  # made billable in the PMS: approved there
            if entry.id in report.taken_over:
                report.taken_over_approved += 1  # approved before this store existed, not just now
            else:
                report.approvals_from_pms += 1
        if remote.narrative != entry.narrative:
            changes["narrative"] = remote.narrative
        rate = remote.rate if remote.rate is not None else entry.rate
        if remote.billed_seconds != entry.billed_seconds or rate != entry.rate:
            changes["billed_seconds"] = remote.billed_seconds
            changes["rate"] = rate
            changes["amount"] = self._priced(entry, rate, remote.billed_seconds)
        if remote.task_code and remote.task_code != entry.task_code:
            changes["task_code"] = remote.task_code
        if remote.matter_id != entry.matter_id:
            changes["matter_id"] = remote.matter_id
        if changes:
            self.state.apply_remote(self.firm, entry.id, changes)
        edited = sorted(set(changes) - {"state"})  # an approval or a bill is not an edit of the entry
        # An entry sent without a rate (rate 0: the PMS's own data priced nothing) that comes back
        # priced, and otherwise as sent, was priced by the PMS's rate rules, not edited by a person.
        priced_there = entry.rate == 0 and remote.billed_seconds == entry.billed_seconds and rate > 0
        if priced_there and set(edited) <= {"billed_seconds", "rate", "amount"}:
            report.priced_by_pms += 1
            per_record(self._log, "priced by the PMS", entry=entry.id)
        elif edited:
            report.remote_edits += 1
            per_record(self._log, "edited in the PMS", reason=",".join(edited), entry=entry.id)


def _zone_problems(records: Iterable[Any]) -> Iterator[str]:
    """Users whose time zone no table knows: stored all the same; their work dates use the firm's zone."""
    for record in records:
        if isinstance(record, Timekeeper) and record.time_zone is not None and iana_name(record.time_zone) is None:
            shown = record.time_zone[:80]  # the vendor's text, quoted as data
            yield (
                f"user {record.id}: time zone {shown!r} is not an IANA, Rails or Windows zone name; "
                "work dates use the firm's time zone (capture.time_zone)"
            )
