"""The state store: SQLite file by default (WAL), PostgreSQL by URL.

All SQL lives here. Callers pass and get canonical models or small row records; nothing
outside this package builds a query.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    Dialect,
    Engine,
    Table,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    make_url,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from core.errors import BillsyncError
from core.matching import ReferenceData
from core.models import (
    PARKED_STATUSES,
    Activity,
    ActivityCategory,
    ActivityKind,
    ActivityStatus,
    Client,
    ClientRateTable,
    EntryState,
    Finding,
    Matter,
    RemoteBill,
    RemotePayment,
    TimeEntry,
    Timekeeper,
)
from core.private_files import create_private
from core.store import migrate
from core.store.schema import activities, outbox, reference_records, time_entries
from core.store.sync_state import PENDING

_CHUNK = 500  # keys per IN (...) query: well under every database's parameter limit
# Entries in these states no longer count toward caps, daily totals or duplicates.
_INACTIVE = (EntryState.REJECTED.value, EntryState.DELETED_REMOTELY.value, EntryState.BLOCKED.value)
ReferenceRecord = Timekeeper | Client | ClientRateTable | Matter | ActivityCategory
_REFERENCE_MODELS: dict[str, type[ReferenceRecord]] = {
    "timekeeper": Timekeeper,
    "client": Client,
    "client_rates": ClientRateTable,
    "matter": Matter,
    "category": ActivityCategory,
}
# What the PMS says was billed and paid: read-only copies, kept beside the reference data.
# Bills feed payments, billing and reports; payments (PracticePanther's) are kept but nothing reads them.
_LEDGER_MODELS: dict[str, type[RemoteBill | RemotePayment]] = {"bill": RemoteBill, "payment": RemotePayment}


# The PMS's own time rounding is kept beside the reference data, one row per connector.
_TIME_INCREMENT = "time_increment"


class IncrementRead(NamedTuple):
    """The time increment a PMS reported, and when billsync read it."""

    minutes: int | None  # None: the PMS has no rounding of its own
    read_at: datetime


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes under WAL
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB of page cache: bulk capture touches many index pages
    cursor.close()


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for other databases, memory and SQLite's own URI filenames."""
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine for `url`, with SQLite tuned for one writer and many readers.

    A SQLite database file that does not exist yet is created here, empty and 0600: it holds the
    encrypted tokens and the firm's client data, and SQLite would create it world-readable.
    """
    database = sqlite_file(url)
    if database is not None:
        create_private(database)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class DayEntry(NamedTuple):
    """The parts of an existing entry that overlap, daily-cap and duplicate checks need.

    A tuple of plain values: the garbage collector stops tracking it, which matters because a
    long capture run keeps tens of thousands of them.
    """

    id: str
    matter_id: str
    started_at: datetime
    ended_at: datetime
    billed_seconds: int
    narrative: str


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    """What capture decided about one activity."""

    id: str
    activity: Activity
    status: ActivityStatus
    reason: str = ""
    timekeeper_id: str | None = None
    matter_id: str | None = None
    entry_id: str | None = None
    was: ActivityStatus | None = None  # a stored activity decided again: the parked status it had


@dataclass(frozen=True, slots=True)
class StoredActivity:
    """An activity as capture stored it, and what capture made of it (parked ones are decided again)."""

    id: str
    activity: Activity  # what capture decided on: the stored payload, else the activity's own columns
    status: ActivityStatus
    reason: str
    timekeeper_id: str | None
    matter_id: str | None
    entry_id: str | None  # its entry, or the one it was merged into


class CaptureConflict(BillsyncError):
    """Another worker decided some of a batch's parked activities meanwhile: nothing of the batch was stored."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A pending write to the PMS, stored in the entry's own transaction."""

    id: str
    entry_id: str
    operation: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class EntryQuery:
    """Which entries to read: every field narrows, None (or empty) does not.

    Made from what a person typed by `core.reports.review_filter`; ids here are the store's own.
    """

    states: tuple[EntryState, ...] = ()
    timekeeper_ids: tuple[str, ...] | None = None
    matter_ids: tuple[str, ...] | None = None
    client_ids: tuple[str, ...] | None = None
    first_day: date | None = None  # work date on or after
    last_day: date | None = None  # work date on or before
    finding: str | None = None  # only entries with a finding of this rule
    clean: bool = False  # only entries without any finding


# An id as people type it: the end (or the start) of a 32-character hex id, at least this long.
SHORT_ID_MIN = 4


class Store:
    """Reads and writes billsync's state for any number of firms."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, upgrade: bool = True) -> Store:
        """Connect to `url` and, by default, bring its schema up to date."""
        engine = make_engine(url)
        if upgrade:
            migrate.upgrade(engine)
        return cls(engine)

    @classmethod
    def open_existing(cls, url: str) -> Store | None:
        """The store at `url` as it is, never created or migrated; None when there is none to read.

        For commands that only look (check-config): a SQLite file is not created by looking.
        """
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and not (parsed.database and Path(parsed.database).is_file()):
            return None
        store = cls(make_engine(url))
        try:
            with store.engine.connect() as conn:
                if inspect(conn).has_table(reference_records.name):
                    return store
        except SQLAlchemyError:
            pass  # unreachable or not a billsync database: nothing stored to read
        store.close()
        return None

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    # Reference data -----------------------------------------------------------------------

    def save_reference(
        self,
        firm: str,
        records: Iterable[ReferenceRecord | RemoteBill | RemotePayment],
    ) -> None:
        """Insert or replace reference records (timekeepers, clients, matters, categories, bills, payments)."""
        kinds: dict[type, str] = {model: kind for kind, model in (_REFERENCE_MODELS | _LEDGER_MODELS).items()}
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            for record in records:
                kind = kinds[type(record)]
                key = {"firm_id": firm, "kind": kind, "id": record.id}
                data = json.loads(record.model_dump_json())
                conn.execute(reference_records.delete().filter_by(**key))
                conn.execute(reference_records.insert().values(**key, data=data, updated_at=now))

    def load_reference(self, firm: str) -> ReferenceData:
        """The firm's reference data, indexed for capture."""
        loaded: dict[str, list[Any]] = {kind: [] for kind in _REFERENCE_MODELS}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(reference_records.c.kind, reference_records.c.data).where(
                    reference_records.c.firm_id == firm, reference_records.c.kind.in_(list(_REFERENCE_MODELS))
                )
            )
            for kind, data in rows:
                loaded[kind].append(_REFERENCE_MODELS[kind].model_validate(data))
        clients = _with_agreed_rates(loaded["client"], loaded["client_rates"])
        return ReferenceData(loaded["timekeeper"], clients, loaded["matter"], loaded["category"])

    def save_time_increment(self, firm: str, connector: str, minutes: int | None) -> None:
        """Keep the increment the PMS rounds time to (None: it has none), as just read."""
        key = {"firm_id": firm, "kind": _TIME_INCREMENT, "id": connector}
        with self.engine.begin() as conn:
            conn.execute(reference_records.delete().filter_by(**key))
            row = key | {"data": {"minutes": minutes}, "updated_at": datetime.now(UTC)}
            conn.execute(reference_records.insert().values(**row))

    def time_increment(self, firm: str, connector: str) -> IncrementRead | None:
        """The increment last read from the PMS `connector`; None if it was never read."""
        r = reference_records.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(r.data, r.updated_at).where(r.firm_id == firm, r.kind == _TIME_INCREMENT, r.id == connector)
            ).one_or_none()
        if row is None:
            return None
        minutes = row.data.get("minutes")
        return IncrementRead(minutes if isinstance(minutes, int) else None, row.updated_at)

    def load_bills(self, firm: str) -> list[RemoteBill]:
        """Bills read from the PMS, oldest first."""
        r = reference_records.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(r.data).where(r.firm_id == firm, r.kind == "bill"))
            bills = [RemoteBill.model_validate(data) for (data,) in rows]
        return sorted(bills, key=lambda b: (b.issued_on or date.min, b.id))

    # Capture ------------------------------------------------------------------------------

    def known_activities(self, firm: str, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (source, external_id) keys this firm has already captured, whatever became of them."""
        return set(self.seen_activities(firm, keys))

    def seen_activities(
        self, firm: str, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredActivity | None]:
        """The keys this firm has seen before: None for a settled activity, else the parked activity as stored.

        One query per source and chunk of keys; the parked ones (rare) are then read whole by id.
        """
        by_source: dict[str, list[str]] = {}
        for source, external_id in keys:
            by_source.setdefault(source, []).append(external_id)
        a = activities.c
        seen: dict[tuple[str, str], StoredActivity | None] = {}
        parked_ids: list[str] = []
        parked = [status.value for status in PARKED_STATUSES]
        with self.engine.connect() as conn:
            for source, ids in by_source.items():
                for start in range(0, len(ids), _CHUNK):
                    rows = conn.execute(
                        select(a.external_id, a.id, a.status.in_(parked)).where(
                            a.firm_id == firm, a.source == source, a.external_id.in_(ids[start : start + _CHUNK])
                        )
                    )
                    for external_id, row_id, is_parked in rows:
                        seen[(source, external_id)] = None
                        if is_parked:
                            parked_ids.append(row_id)
            for start in range(0, len(parked_ids), _CHUNK):
                query = _STORED_QUERY.where(a.firm_id == firm, a.id.in_(parked_ids[start : start + _CHUNK]))
                for row in conn.execute(query):
                    found = _stored_from_row(row._mapping)
                    seen[(found.activity.source, found.activity.external_id)] = found
        return seen

    def stored_activity(self, firm: str, activity_id: str) -> StoredActivity | None:
        """One activity by its row id, as capture stored it; None when the firm has no such activity."""
        a = activities.c
        with self.engine.connect() as conn:
            row = conn.execute(_STORED_QUERY.where(a.firm_id == firm, a.id == activity_id)).first()
        return None if row is None else _stored_from_row(row._mapping)

    def parked_actors(self, firm: str) -> set[str]:
        """Every actor with an activity parked as not a timekeeper (capture asks which of them now are)."""
        a = activities.c
        query = select(a.actor).distinct().where(a.firm_id == firm, a.status == ActivityStatus.NOT_TIMEKEEPER.value)
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def parked_activities(
        self,
        firm: str,
        *,
        actors: Collection[str],
        kinds: Collection[ActivityKind],
        unassigned_since: datetime | None = None,
        batch_size: int = 2000,
    ) -> Iterator[list[StoredActivity]]:
        """Parked activities capture might now decide otherwise, in batches (by id: keyset paging).

        That is every unassigned one (its matter depends on reference data and contact rules),
        or only those decided since `unassigned_since`; those parked as not a timekeeper whose
        actor is one of `actors`; and those parked as a kind not captured whose kind is one of
        `kinds`. Each batch is one query on the (firm_id, status) index; no connection stays
        open between batches, so capture may store each batch before the next is read.
        """
        a = activities.c
        unassigned = a.status == ActivityStatus.UNASSIGNED.value
        wanted = [unassigned if unassigned_since is None else and_(unassigned, a.captured_at >= unassigned_since)]
        if actors:
            wanted.append(and_(a.status == ActivityStatus.NOT_TIMEKEEPER.value, a.actor.in_(sorted(actors))))
        if kinds:
            enabled = sorted(kind.value for kind in kinds)
            wanted.append(and_(a.status == ActivityStatus.KIND_DISABLED.value, a.kind.in_(enabled)))
        statuses = [status.value for status in PARKED_STATUSES]
        after = ""
        while True:
            query = (
                _STORED_QUERY.where(a.firm_id == firm, a.status.in_(statuses), or_(*wanted), a.id > after)
                .order_by(a.id)
                .limit(batch_size)
            )
            with self.engine.connect() as conn:
                batch = [_stored_from_row(row._mapping) for row in conn.execute(query)]
            if not batch:
                return
            yield batch
            after = batch[-1].id

    def entries_by_day(self, firm: str, first: date, last: date) -> dict[tuple[str, date], list[DayEntry]]:
        """Live entries with a work date from `first` to `last`, by (timekeeper, work date)."""
        t = time_entries.c
        days: dict[tuple[str, date], list[DayEntry]] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    t.timekeeper_id,
                    t.work_date,
                    t.id,
                    t.matter_id,
                    t.started_at,
                    t.ended_at,
                    t.billed_seconds,
                    t.narrative,
                ).where(t.firm_id == firm, t.work_date.between(first, last), t.state.not_in(_INACTIVE))
            )
            for timekeeper_id, work_date, *entry in rows:
                days.setdefault((timekeeper_id, work_date), []).append(DayEntry(*entry))
        return days

    def billable_totals(self, firm: str, matter_ids: Sequence[str]) -> dict[str, Decimal]:
        """Each matter's live billable entry amounts, summed (what counts toward its cap)."""
        t = time_entries.c
        totals = {matter_id: Decimal("0.00") for matter_id in matter_ids}
        with self.engine.connect() as conn:
            for start in range(0, len(matter_ids), _CHUNK):
                rows = conn.execute(  # SUM keeps the column's Money type: it comes back as Decimal
                    select(t.matter_id, func.sum(t.amount))
                    .where(
                        t.firm_id == firm,
                        t.matter_id.in_(matter_ids[start : start + _CHUNK]),
                        t.billable.is_(True),
                        t.state.not_in(_INACTIVE),
                    )
                    .group_by(t.matter_id)
                )
                totals.update({matter_id: total for matter_id, total in rows})
        return totals

    def save_capture(
        self,
        firm: str,
        records: Sequence[ActivityRecord],
        entries: Sequence[TimeEntry],
        outbox_items: Sequence[OutboxItem],
        *,
        store_payload: bool = False,
    ) -> None:
        """Store activities, their entries and the outbox writes in one transaction.

        A record with `was` set is a stored parked activity decided again: its row is updated in
        place, and only while it still has that status. If another worker decided any of them
        meanwhile, CaptureConflict is raised and nothing of the batch is stored, so an activity
        never gets two outcomes, and never two entries (the database's constraint says so too).
        """
        now = datetime.now(UTC)
        entry_activity = {r.entry_id: r.id for r in records if r.status is ActivityStatus.CAPTURED}
        with self.engine.begin() as conn:
            _update_parked(conn, firm, [r for r in records if r.was is not None], store_payload)
            rows = [_activity_values(r, store_payload) for r in records if r.was is None]
            _bulk_insert(conn, activities, ACTIVITY_COLUMNS, rows, {"firm_id": firm, "captured_at": now})
            rows = [_entry_values(e, entry_activity[e.id]) for e in entries]
            shared = {
                "firm_id": firm,
                "created_at": now,
                "updated_at": now,
                "remote_id": None,
                "rejection_reason": None,
            }
            _bulk_insert(conn, time_entries, ENTRY_COLUMNS, rows, shared)
            rows = [(item.id, item.entry_id, item.operation, item.idempotency_key) for item in outbox_items]
            shared = {
                "firm_id": firm,
                "created_at": now,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": None,
                "last_error": None,
                "claimed_by": None,
                "lease_until": None,
                "fence": 0,
            }
            _bulk_insert(conn, outbox, OUTBOX_COLUMNS, rows, shared)

    # Entries ------------------------------------------------------------------------------

    def entries(
        self, firm: str, states: Iterable[EntryState] | None = None, ids: Sequence[str] | None = None
    ) -> list[TimeEntry]:
        """The firm's time entries, oldest first; optionally only some states or some ids."""
        query = select(time_entries, activities.c.source, activities.c.external_id).join(
            activities,
            (activities.c.firm_id == time_entries.c.firm_id) & (activities.c.id == time_entries.c.activity_id),
        )
        query = query.where(time_entries.c.firm_id == firm).order_by(time_entries.c.started_at, time_entries.c.id)
        if states is not None:
            query = query.where(time_entries.c.state.in_([s.value for s in states]))
        if ids is None:
            with self.engine.connect() as conn:
                return [_entry_from_row(row._mapping) for row in conn.execute(query)]
        found: list[TimeEntry] = []
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = query.where(time_entries.c.id.in_(ids[start : start + _CHUNK]))
                found.extend(_entry_from_row(row._mapping) for row in conn.execute(chunk))
        return found

    def find_entries(self, firm: str, query: EntryQuery) -> list[TimeEntry]:
        """The firm's entries `query` picks, oldest first.

        Timekeeper, matter, client, dates and state are one indexed SQL query; the findings
        (a JSON list per entry) are then read in Python, the same on SQLite and PostgreSQL.
        """
        t = time_entries.c
        select_entries = select(time_entries, activities.c.source, activities.c.external_id).join(
            activities, (activities.c.firm_id == t.firm_id) & (activities.c.id == t.activity_id)
        )
        conditions = [t.firm_id == firm]
        if query.states:
            conditions.append(t.state.in_([s.value for s in query.states]))
        for column, wanted in ((t.timekeeper_id, query.timekeeper_ids), (t.matter_id, query.matter_ids)):
            if wanted is not None:
                conditions.append(column.in_(list(wanted)))
        if query.client_ids is not None:
            conditions.append(t.client_id.in_(list(query.client_ids)))
        if query.first_day is not None:
            conditions.append(t.work_date >= query.first_day)
        if query.last_day is not None:
            conditions.append(t.work_date <= query.last_day)
        statement = select_entries.where(*conditions).order_by(t.started_at, t.id)
        with self.engine.connect() as conn:
            found = [_entry_from_row(row._mapping) for row in conn.execute(statement)]
        if query.clean:
            found = [e for e in found if not e.findings]
        if query.finding is not None:
            found = [e for e in found if any(f.rule == query.finding for f in e.findings)]
        return found

    def ids_like(self, firm: str, kind: str, short: str) -> list[str]:
        """The firm's entry (`kind` "entry") or activity ids that end or start with `short`, at most two.

        `short` is lower-case hex of at least SHORT_ID_MIN characters (checked by the caller),
        so it holds no LIKE wildcard.
        """
        table = time_entries if kind == "entry" else activities
        ids = table.c.id
        query = (
            select(ids)
            .where(table.c.firm_id == firm, or_(ids.like(f"%{short}"), ids.like(f"{short}%")))
            .order_by(ids)
            .limit(2)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def all_ids(self, firm: str, kind: str) -> list[str]:
        """Every entry (`kind` "entry") or activity id of the firm: to find the shortest unique ends."""
        table = time_entries if kind == "entry" else activities
        with self.engine.connect() as conn:
            return list(conn.execute(select(table.c.id).where(table.c.firm_id == firm)).scalars())

    def reject_entry(self, firm: str, entry_id: str, reason: str | None, *, was: Collection[EntryState]) -> bool:
        """Reject an entry that is in one of the states `was`, keeping `reason`; False when it is not."""
        t = time_entries.c
        with self.engine.begin() as conn:
            result = conn.execute(
                update(time_entries)
                .where(t.firm_id == firm, t.id == entry_id, t.state.in_([s.value for s in was]))
                .values(state=EntryState.REJECTED.value, rejection_reason=reason, updated_at=datetime.now(UTC))
            )
        return bool(result.rowcount)

    def reopen_entry(self, firm: str, entry_id: str) -> bool:
        """Undo a rejection: the entry waits for review again, without its reason; False if not rejected."""
        t = time_entries.c
        with self.engine.begin() as conn:
            result = conn.execute(
                update(time_entries)
                .where(t.firm_id == firm, t.id == entry_id, t.state == EntryState.REJECTED.value)
                .values(state=EntryState.NEEDS_REVIEW.value, rejection_reason=None, updated_at=datetime.now(UTC))
            )
        return bool(result.rowcount)

    def save_revision(self, firm: str, entry: TimeEntry, *, was: EntryState) -> bool:
        """Store a person's edit of an entry (narrative, time, matter and what follows from them).

        Only while the entry is still in state `was`: False when someone moved it meanwhile.
        """
        t = time_entries.c
        findings = [{"rule": f.rule, "severity": f.severity.value, "message": f.message} for f in entry.findings]
        with self.engine.begin() as conn:
            result = conn.execute(
                update(time_entries)
                .where(t.firm_id == firm, t.id == entry.id, t.state == was.value)
                .values(
                    matter_id=entry.matter_id,
                    client_id=entry.client_id,
                    narrative=entry.narrative,
                    billed_seconds=entry.billed_seconds,
                    rate=entry.rate,
                    amount=entry.amount,
                    billable=entry.billable,
                    task_code=entry.task_code,
                    suggested_matter=entry.suggested_matter,
                    state=entry.state.value,
                    findings=findings,
                    updated_at=datetime.now(UTC),
                )
            )
        return bool(result.rowcount)

    def unassigned(self, firm: str) -> list[tuple[str, str, str, str]]:
        """The unassigned queue: (activity id, kind, title, reason), oldest first."""
        a = activities.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(a.id, a.kind, a.title, a.reason)
                .where(a.firm_id == firm, a.status == ActivityStatus.UNASSIGNED.value)
                .order_by(a.started_at)
            )
            return [(activity_id, kind, title, reason) for activity_id, kind, title, reason in rows]

    def set_entry_state(self, firm: str, entry_id: str, state: EntryState) -> None:
        """Move an entry to `state`; a tombstone (deleted remotely) never changes again."""
        t = time_entries.c
        with self.engine.begin() as conn:
            result = conn.execute(
                update(time_entries)
                .where(t.firm_id == firm, t.id == entry_id, t.state != EntryState.DELETED_REMOTELY.value)
                .values(state=state.value, updated_at=datetime.now(UTC))
            )
            if result.rowcount == 0:
                _require_entry(conn, firm, entry_id)

    def iter_tables(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Every table's rows as dicts: for audits such as the privilege canary test."""
        with self.engine.connect() as conn:
            for table in (reference_records, activities, time_entries, outbox):
                yield table.name, [dict(r._mapping) for r in conn.execute(select(table))]


def _with_agreed_rates(clients: list[Client], tables: list[ClientRateTable]) -> list[Client]:
    """Each client with the rates its PMS's rate table agrees for it (the table wins)."""
    agreed: dict[str, dict[str, Decimal]] = {}
    for table in tables:
        for client_id, rates in table.rates.items():
            agreed.setdefault(client_id, {}).update(rates)
    return [c.model_copy(update={"rates": {**c.rates, **agreed[c.id]}}) if c.id in agreed else c for c in clients]


def _bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]], constants: dict[str, Any]
) -> None:
    """Insert many rows with one executemany: `rows` hold `columns` in order, `constants` the rest.

    On SQLite each value goes through its column type's bind processor for this dialect, the
    very function `conn.execute` would use, so a row written here is stored as the same text
    as one written by any other statement (one datetime format per column: SQLite compares and
    orders that text). Only the columns that have a processor pay for one, shared values are
    converted once, and SQLAlchemy's per-row parameter assembly is skipped: the capture batch
    is the hottest write path billsync has.
    """
    if not rows:
        return
    dialect = conn.dialect
    if dialect.name != "sqlite":
        # PostgreSQL drivers adapt JSON and friends themselves and SQLAlchemy batches the
        # rows into multi-row INSERTs ("insertmanyvalues"): the ordinary path is the fast one.
        conn.execute(table.insert(), [constants | dict(zip(columns, row, strict=True)) for row in rows])
        return
    names = [*columns, *constants]
    statement = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"  # noqa: S608 - our own column names
    converters = [(i, proc) for i, name in enumerate(columns) if (proc := _bind_processor(table, name, dialect))]
    shared = tuple(_bound(table, name, value, dialect) for name, value in constants.items())
    params: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(row)
        for i, convert in converters:
            values[i] = convert(values[i])
        params.append((*values, *shared))
    conn.exec_driver_sql(statement, params)


def _update_parked(conn: Connection, firm: str, records: Sequence[ActivityRecord], store_payload: bool) -> None:
    """Update parked activities decided again, each only while it keeps the status it was read with.

    One executemany; then one read (per chunk) checks that every row now says what this worker
    decided. Inside the transaction the updated rows are this worker's (locked on PostgreSQL;
    SQLite has one writer), so a row that says anything else was decided by another worker first.
    """
    if not records:
        return
    a = activities.c
    statement = (
        update(activities)
        .where(a.firm_id == firm, a.id == bindparam("row_id"), a.status == bindparam("was"))
        .values(
            status=bindparam("new_status"),
            reason=bindparam("new_reason"),
            timekeeper_id=bindparam("new_timekeeper_id"),
            matter_id=bindparam("new_matter_id"),
            entry_id=bindparam("new_entry_id"),
            payload=bindparam("new_payload", type_=activities.c.payload.type),
            captured_at=datetime.now(UTC),  # when capture last decided it
        )
    )
    conn.execute(
        statement,
        [
            {
                "row_id": r.id,
                "was": r.was.value if r.was is not None else None,
                "new_status": r.status.value,
                "new_reason": r.reason,
                "new_timekeeper_id": r.timekeeper_id,
                "new_matter_id": r.matter_id,
                "new_entry_id": r.entry_id,
                "new_payload": _payload(r, store_payload),
            }
            for r in records
        ],
    )
    decided = {r.id: (r.status.value, r.entry_id) for r in records}
    ids = list(decided)
    now_stored: dict[str, tuple[str, str | None]] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = conn.execute(
            select(a.id, a.status, a.entry_id).where(a.firm_id == firm, a.id.in_(ids[start : start + _CHUNK]))
        )
        now_stored.update((row_id, (status, entry_id)) for row_id, status, entry_id in rows)
    taken = [row_id for row_id, outcome in decided.items() if now_stored.get(row_id) != outcome]
    if taken:
        raise CaptureConflict(
            f"{len(taken)} parked activities were decided by another worker meanwhile (e.g. {taken[0]}): "
            "nothing of this batch was stored; the next cycle decides again"
        )


def _bind_processor(table: Table, name: str, dialect: Dialect) -> Callable[[Any], Any] | None:
    # The dialect's implementation of the type, not the generic one: a generic DateTime (or a
    # TypeDecorator over it) has no processor, and sqlite3's own adapter would then store
    # '2026-10-01 13:00:00+00:00' where SQLAlchemy stores '2026-10-01 13:00:00.000000'.
    column_type = table.c[name].type
    processor: Callable[[Any], Any] | None = column_type.dialect_impl(dialect).bind_processor(dialect)
    return processor


def _bound(table: Table, name: str, value: Any, dialect: Dialect) -> Any:
    proc = _bind_processor(table, name, dialect)
    return proc(value) if proc else value


def _require_entry(conn: Connection, firm: str, entry_id: str) -> None:
    t = time_entries.c
    found = conn.execute(select(t.state).where(t.firm_id == firm, t.id == entry_id)).scalar_one_or_none()
    if found is None:
        raise KeyError(f"no entry {entry_id} for firm {firm}")


# Enum members below go in as they are: they are `str` subclasses, which every driver binds as
# text, and skipping `.value` (a property call per member) is measurable on the capture path.

ACTIVITY_COLUMNS = (
    "id", "source", "external_id", "kind", "actor", "started_at", "ended_at", "raw_seconds", "title",
    "status", "reason", "timekeeper_id", "matter_id", "entry_id", "payload",
)  # fmt: skip


def _activity_values(record: ActivityRecord, store_payload: bool) -> tuple[Any, ...]:
    a = record.activity
    return (
        record.id, a.source, a.external_id, a.kind, a.actor, a.started_at, a.ended_at, a.actual_seconds, a.title,
        record.status, record.reason, record.timekeeper_id, record.matter_id, record.entry_id,
        _payload(record, store_payload),
    )  # fmt: skip


def _payload(record: ActivityRecord, store_payload: bool) -> dict[str, Any] | None:
    """The activity as capture saw it: kept while it is parked, so it can be decided again from the
    same facts (its counterparts' addresses, its source's matter link, ...); kept always, body
    included, only when the firm asks (`store_raw_payload`)."""
    if not store_payload and record.status not in PARKED_STATUSES:
        return None
    facts = record.activity.model_dump(mode="json")  # never the body: it is excluded from dumps
    return facts | {"body": record.activity.body} if store_payload else facts


_STORED_QUERY = select(
    activities.c.id, activities.c.source, activities.c.external_id, activities.c.kind, activities.c.actor,
    activities.c.started_at, activities.c.ended_at, activities.c.raw_seconds, activities.c.title, activities.c.status,
    activities.c.reason, activities.c.timekeeper_id, activities.c.matter_id, activities.c.entry_id,
    activities.c.payload,
)  # fmt: skip


def _stored_from_row(r: Any) -> StoredActivity:
    return StoredActivity(
        id=r["id"],
        activity=_activity_from_row(r),
        status=ActivityStatus(r["status"]),
        reason=r["reason"],
        timekeeper_id=r["timekeeper_id"],
        matter_id=r["matter_id"],
        entry_id=r["entry_id"],
    )


def _activity_from_row(r: Any) -> Activity:
    """An activity as capture stored it: from its payload when there is one (the body too, when the
    firm keeps bodies), else from the columns every activity row keeps (then its counterparts'
    addresses, matter link and workspace are unknown: rows stored before payloads were kept)."""
    payload = r["payload"]
    if payload:
        return Activity.model_validate(payload if isinstance(payload, dict) else json.loads(payload))
    return Activity(
        source=r["source"],
        external_id=r["external_id"],
        kind=ActivityKind(r["kind"]),
        actor=r["actor"],
        started_at=r["started_at"],
        ended_at=r["ended_at"],
        duration_seconds=r["raw_seconds"],
        title=r["title"],
    )


ENTRY_COLUMNS = (
    "id", "activity_id", "timekeeper_id", "matter_id", "client_id", "work_date", "started_at", "ended_at",
    "raw_seconds", "billed_seconds", "rate", "amount", "billable", "narrative", "kind", "category_id",
    "task_code", "activity_code", "suggested_matter", "state", "findings",
)  # fmt: skip


def _entry_values(e: TimeEntry, activity_id: str) -> tuple[Any, ...]:
    findings = [{"rule": f.rule, "severity": f.severity, "message": f.message} for f in e.findings]
    return (
        e.id, activity_id, e.timekeeper_id, e.matter_id, e.client_id, e.work_date, e.started_at, e.ended_at,
        e.raw_seconds, e.billed_seconds, e.rate, e.amount, e.billable, e.narrative, e.kind, e.category_id,
        e.task_code, e.activity_code, e.suggested_matter, e.state, findings,
    )  # fmt: skip


OUTBOX_COLUMNS = ("id", "entry_id", "operation", "idempotency_key")


def _entry_from_row(row: Any) -> TimeEntry:
    return TimeEntry(
        id=row["id"],
        activity_key=(row["source"], row["external_id"]),
        timekeeper_id=row["timekeeper_id"],
        matter_id=row["matter_id"],
        client_id=row["client_id"],
        work_date=row["work_date"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        raw_seconds=row["raw_seconds"],
        billed_seconds=row["billed_seconds"],
        rate=row["rate"],
        amount=row["amount"],
        billable=row["billable"],
        narrative=row["narrative"],
        kind=row["kind"],
        category_id=row["category_id"],
        task_code=row["task_code"],
        activity_code=row["activity_code"],
        suggested_matter=row["suggested_matter"],
        state=row["state"],
        findings=tuple(Finding.model_validate(f) for f in row["findings"]),
        remote_id=row["remote_id"],
        rejection_reason=row["rejection_reason"],
    )
