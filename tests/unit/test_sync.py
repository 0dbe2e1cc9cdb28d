"""The sync cycle against an in-memory vendor: exactly-once writes, retries, the review round-trip."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from core.connector import Cursor, InboundRequest, Page, RemoteEntry, StreamRole
from core.engine import CaptureEngine
from core.errors import Fatal, Indeterminate, InvalidSignature, Retryable, ShuttingDown
from core.models import Activity, ActivityStatus, Discount, EntryState, TimeEntry
from core.policy import CapturePolicy, ReviewMode
from core.store.sync_state import SyncState
from core.sync import SyncReport, SyncRunner
from tests.capture import capture_engine
from tests.factories import T0, activity, client, matter, timekeeper
from tests.store_reads import activity_statuses


@dataclass
class Remote:
    """What the fake vendor holds for one entry."""

    key: str
    narrative: str
    seconds: int
    matter_id: str
    billable: bool
    billed: bool = False
    rate: Decimal | None = None  # the rate the PMS shows, once it shows one
    task_code: str | None = None


@dataclass
class FakeWriter:
    """A PMS with no idempotency keys, whose responses can get lost."""

    entries: dict[str, Remote] = field(default_factory=dict)
    lose_next: int = 0  # do the write, then fail as if the response never came
    refuse_next: int = 0  # fail before doing anything (a 429, say)
    reject_all: bool = False
    refuse_find: int = 0  # the lookup itself is refused (a 429) this many times
    refuse_update: int = 0  # an update is refused (a 429) this many times
    calls: list[str] = field(default_factory=list)
    windows: list[tuple[date, date] | None] = field(default_factory=list)  # work dates asked about

    def write_time_entry(self, entry: TimeEntry, key: str, *, billable: bool) -> str:
        self.calls.append("write")
        if self.reject_all:
            raise Fatal("422: matter is closed")
        if self.refuse_next:
            self.refuse_next -= 1
            raise Retryable("429", retry_after=30)
        remote_id = f"r{len(self.entries) + 1}"
        self.entries[remote_id] = Remote(key, entry.narrative, entry.billed_seconds, entry.matter_id, billable)
        if self.lose_next:
            self.lose_next -= 1
            raise Indeterminate("read timed out, outcome unknown")
        return remote_id

    def update_time_entry(self, remote_id: str, entry: TimeEntry, *, billable: bool) -> None:
        self.calls.append("update")
        if self.refuse_update:
            self.refuse_update -= 1
            raise Retryable("429", retry_after=30)
        held = self.entries[remote_id]
        self.entries[remote_id] = replace(held, narrative=entry.narrative, matter_id=entry.matter_id, billable=billable)

    def find_time_entry(self, key: str, entry: TimeEntry) -> str | None:
        self.calls.append("find")
        if self.refuse_find:
            self.refuse_find -= 1
            raise Retryable("429 during the lookup", retry_after=1)
        return next((remote_id for remote_id, r in self.entries.items() if r.key == key), None)

    def read_time_entries(
        self, remote_ids: Sequence[str], *, work_dates: tuple[date, date] | None = None
    ) -> Sequence[RemoteEntry]:
        self.windows.append(work_dates)
        found = []
        for remote_id in remote_ids:
            r = self.entries.get(remote_id)
            if r is None:
                found.append(RemoteEntry(remote_id, None, "", 0, "", False, deleted=True))
            else:
                held = RemoteEntry(remote_id, r.key, r.narrative, r.seconds, r.matter_id, r.billable, billed=r.billed)
                found.append(replace(held, rate=r.rate, task_code=r.task_code))
        return found


@dataclass
class ListStream:
    """A stream over a fixed list; the cursor is how many records were read."""

    name: str
    records: list[object]
    page_size: int = 2
    role: StreamRole = StreamRole.ACTIVITY

    def read(self, since: Cursor) -> Iterator[Page]:
        start = int(since["read"]) if since else 0
        for at in range(start, len(self.records), self.page_size):
            chunk = self.records[at : at + self.page_size]
            yield Page(records=chunk, cursor={"read": at + len(chunk)})  # type: ignore[arg-type]


class FakeConnector:
    name: ClassVar[str] = "fake"
    Settings: ClassVar[type[BaseModel]] = BaseModel

    def __init__(self, activities: list[Activity], writer: FakeWriter, reference: list[object] | None = None) -> None:
        self.reference = ListStream("users", reference or [timekeeper(), client(), matter()], role=StreamRole.REFERENCE)
        self.activity_stream = ListStream("communications", list(activities))
        self._writer = writer

    def check(self) -> None:
        return None

    def streams(self):
        return [self.reference, self.activity_stream]

    def webhooks(self):
        return None

    def writer(self) -> FakeWriter:
        return self._writer


def calls(n: int) -> list[Activity]:
    return [activity(external_id=f"c{i}", started_at=T0 + timedelta(hours=i), title=f"topic {i}") for i in range(n)]


@pytest.fixture
def runner_for(store, firm_id):
    clock = {"now": datetime(2026, 11, 2, 9, tzinfo=UTC)}

    def build(
        connector: FakeConnector, review: ReviewMode = ReviewMode.ALL, firm: str = firm_id, **options: Any
    ) -> SyncRunner:
        def make_engine() -> CaptureEngine:
            return capture_engine(store, firm, review=review)

        return SyncRunner(
            firm=firm,
            pms=connector,
            store=store,
            make_engine=make_engine,
            clock=lambda: clock["now"],
            **options,
        )

    build.clock = clock  # type: ignore[attr-defined]
    return build


def test_a_cycle_writes_each_entry_once_as_non_billable_until_reviewed(runner_for, store, firm_id) -> None:
    writer = FakeWriter()
    runner = runner_for(FakeConnector(calls(3), writer))
    report = runner.run_once()
    assert report.written == 3 and report.capture.states == {EntryState.NEEDS_REVIEW: 3}
    assert all(not r.billable for r in writer.entries.values())  # review = "all"
    assert all(e.remote_id for e in store.entries(firm_id))
    again = runner.run_once()
    assert again.written == 0 and sum(again.records_read.values()) == 0 and len(writer.entries) == 3


def test_a_lost_response_is_found_not_resent(runner_for, store, firm_id) -> None:
    writer = FakeWriter(lose_next=1)
    runner = runner_for(FakeConnector(calls(2), writer))
    first = runner.run_once()
    assert first.written == 1 and first.deferred == 1 and len(writer.entries) == 2
    runner_for.clock["now"] += timedelta(minutes=5)
    second = runner.run_once()
    assert second.recovered == 1 and second.written == 0
    assert len(writer.entries) == 2  # exactly one remote entry per activity
    assert sorted(e.remote_id for e in store.entries(firm_id)) == ["r1", "r2"]


def test_a_refused_write_waits_for_retry_after_then_goes(runner_for, store, firm_id) -> None:
    writer = FakeWriter(refuse_next=1)
    runner = runner_for(FakeConnector(calls(1), writer))
    assert runner.run_once().deferred == 1 and writer.entries == {}
    runner_for.clock["now"] += timedelta(seconds=10)
    assert runner.run_once().written == 0  # Retry-After (30 s) has not passed
    runner_for.clock["now"] += timedelta(seconds=30)
    assert runner.run_once().written == 1
    # The call is older than the store's first entry, so each attempt looks first (an earlier
    # store may have written it); a refused request needs no lookup of its own.
    assert writer.calls == ["find", "write", "find", "write"]


class StoppingWriter(FakeWriter):
    """Writes `before_stop` entries, then the process begins to stop: the client refuses to send."""

    def __init__(self, before_stop: int) -> None:
        super().__init__()
        self.before_stop = before_stop

    def write_time_entry(self, entry: TimeEntry, key: str, *, billable: bool) -> str:
        if len(self.entries) >= self.before_stop:
            self.calls.append("refused")
            raise ShuttingDown("POST /activities: not sent, billsync is stopping")
        return super().write_time_entry(entry, key, billable=billable)


def test_a_drain_stopped_by_the_shutdown_leaves_the_rest_due_at_once_with_no_lookup(runner_for, store, firm_id) -> None:
    writer = StoppingWriter(before_stop=2)
    # Work begun after the store's first entry (+ its 1 h margin): no earlier store can have
    # written it, so any lookup seen here would be for an unknown outcome.
    later = datetime.now(UTC) + timedelta(hours=2)
    work = [activity(external_id=f"c{i}", started_at=later + timedelta(hours=i), title=f"topic {i}") for i in range(5)]
    runner = runner_for(FakeConnector(work, writer))
    report = SyncReport()
    runner.poll(report)
    with pytest.raises(ShuttingDown):
        runner.drain_outbox(writer, report)
    assert report.written == 2 and report.deferred == 0
    assert writer.calls == ["write", "write", "refused"]  # the drain stopped at the first refusal
    assert SyncState(store.engine).counts(firm_id) == {"done": 2, "pending": 3}  # not "sending": nothing was sent
    writer.before_stop = 99  # the next start, the clock not moved: due at once
    again = runner.run_once()
    assert again.written == 3 and again.recovered == 0
    assert writer.calls[3:] == ["write", "write", "write"]  # no lookup first
    assert len(writer.entries) == 5


def test_a_write_that_can_never_succeed_is_held_with_its_reason(runner_for, store, firm_id) -> None:
    writer = FakeWriter(reject_all=True)
    report = runner_for(FakeConnector(calls(1), writer)).run_once()
    assert report.write_failures and "matter is closed" in report.write_failures[0]
    assert SyncState(store.engine).counts(firm_id) == {"failed": 1}


def test_approval_in_billsync_makes_the_remote_entry_billable(runner_for, store, firm_id) -> None:
    writer = FakeWriter()
    runner = runner_for(FakeConnector(calls(1), writer))
    runner.run_once()
    [entry] = store.entries(firm_id)
    store.set_entry_state(firm_id, entry.id, EntryState.APPROVED)
    SyncState(store.engine).enqueue_update(firm_id, entry.id)
    assert runner.run_once().updated == 1
    assert writer.entries["r1"].billable and store.entries(firm_id)[0].state is EntryState.POSTED


def test_a_move_whose_update_waits_for_a_retry_is_not_undone_by_the_read_back(runner_for, store, firm_id) -> None:
    writer = FakeWriter()
    runner = runner_for(FakeConnector(calls(1), writer))
    runner.run_once()
    [entry] = store.entries(firm_id)
    assert writer.entries["r1"].matter_id == entry.matter_id == "m1"
    sync = SyncState(store.engine)
    sync.apply_remote(firm_id, entry.id, {"matter_id": "m2"})  # as `review edit --matter` leaves it
    sync.enqueue_update(firm_id, entry.id)
    writer.refuse_update = 1
    report = runner.run_once()
    assert (report.deferred, report.remote_edits) == (1, 0)  # the PMS still holds m1: not read back
    assert store.entries(firm_id)[0].matter_id == "m2"
    assert writer.entries["r1"].matter_id == "m1"


def test_edits_approvals_and_deletions_in_the_pms_flow_back(runner_for, store, firm_id) -> None:
    writer = FakeWriter()
    runner = runner_for(FakeConnector(calls(3), writer))
    runner.run_once()
    writer.entries["r1"] = replace(
        writer.entries["r1"], narrative="Call with opposing counsel re: settlement", seconds=1800
    )
    writer.entries["r2"] = replace(writer.entries["r2"], billable=True)  # an attorney approved it in the PMS
    del writer.entries["r3"]  # an attorney deleted it in the PMS
    report = runner.run_once()
    # One edit (r1), one approval (r2: not an edit of the entry), one deletion (r3).
    assert (report.remote_edits, report.approvals_from_pms, report.tombstones) == (1, 1, 1)
    first, second, third = store.entries(firm_id)
    assert first.narrative == "Call with opposing counsel re: settlement"
    assert (first.billed_seconds, first.amount) == (1800, first.rate / 2)
    assert second.state is EntryState.POSTED
    assert third.state is EntryState.DELETED_REMOTELY
    # the writer was told the work dates the entries span, for vendors that scan a list window
    days = sorted(e.work_date for e in (first, second, third))
    assert writer.windows[-1] == (days[0], days[-1])


def test_a_rate_or_length_changed_in_the_pms_is_priced_again_under_the_agreement(runner_for, store, firm_id) -> None:
    writer = FakeWriter()
    ten_percent_off = matter(discount=Discount(kind="percent", value=Decimal("10")))
    runner = runner_for(FakeConnector(calls(3), writer, [timekeeper(), client(), ten_percent_off]))
    runner.run_once()
    # By hand: 0.2 h x 400 = 80.00, less 10 % = 72.00.
    assert {(e.billed_seconds, e.amount) for e in store.entries(firm_id)} == {(720, Decimal("72.00"))}
    writer.entries["r1"] = replace(writer.entries["r1"], rate=Decimal("300"), seconds=1800)  # a person's rate
    writer.entries["r2"] = replace(writer.entries["r2"], seconds=1800)  # a person's length only
    writer.entries["r3"] = replace(writer.entries["r3"], rate=Decimal("400"), task_code="L140")  # a code set there
    runner.run_once()
    first, second, third = store.entries(firm_id)
    # By hand: 0.5 h x 300 = 150.00 less 10 % = 135.00; 0.5 h x 400 = 200.00 less 10 % = 180.00
    # (the discount used to be dropped when the length changed).
    assert (first.rate, first.billed_seconds, first.amount) == (Decimal("300"), 1800, Decimal("135.00"))
    assert (second.rate, second.billed_seconds, second.amount) == (Decimal("400"), 1800, Decimal("180.00"))
    assert (third.rate, third.amount, third.task_code) == (Decimal("400"), Decimal("72.00"), "L140")


def test_a_deleted_entry_is_never_recreated_by_sync_or_backfill(runner_for, store, firm_id) -> None:
    writer = FakeWriter()
    activities = calls(2)
    runner = runner_for(FakeConnector(activities, writer))
    runner.run_once()
    del writer.entries["r1"]
    runner.run_once()
    # A backfill reads everything again from the beginning.
    SyncState(store.engine).save_cursor(firm_id, "fake", "communications", None)
    report = runner.run_once()
    assert report.capture.already_known == 2 and report.written == 0
    assert list(writer.entries) == ["r2"]
    assert [e.state for e in store.entries(firm_id)] == [EntryState.DELETED_REMOTELY, EntryState.NEEDS_REVIEW]


def test_a_crash_between_records_and_cursor_rereads_without_duplicates(runner_for, store, firm_id) -> None:
    writer = FakeWriter()
    connector = FakeConnector(calls(4), writer)
    runner = runner_for(connector)
    runner.run_once()
    # Simulate a crash after the last page's records were stored but before its cursor was.
    SyncState(store.engine).save_cursor(firm_id, "fake", "communications", {"read": 2})
    report = runner.run_once()
    assert report.capture.already_known == 2 and report.written == 0 and len(writer.entries) == 4


def test_entries_approved_at_capture_are_written_billable(runner_for, store, firm_id) -> None:
    writer = FakeWriter()
    runner_for(FakeConnector(calls(1), writer), review=ReviewMode.NONE).run_once()
    assert writer.entries["r1"].billable
    assert store.entries(firm_id)[0].state is EntryState.POSTED


def test_entries_an_earlier_store_wrote_are_taken_over_not_written_again(runner_for, store, firm_id) -> None:
    """A store rebuilt from nothing: the idempotency key is the activity's own, so the PMS entry an
    earlier store wrote for it is found by its marker before anything is sent."""
    earlier = FakeWriter()
    runner_for(FakeConnector(calls(3), earlier)).run_once()
    assert len(earlier.entries) == 3
    # The database is lost; the PMS keeps what was written. Every row is the firm's, so a firm
    # id with no rows is a store built from nothing.
    rebuilt = FakeWriter(entries=dict(earlier.entries))
    report = runner_for(FakeConnector(calls(3), rebuilt), firm=f"{firm_id}-rebuilt").run_once()
    assert (report.written, report.already_written, report.recovered) == (0, 3, 0)
    assert len(rebuilt.entries) == 3  # one remote entry per activity, ever
    assert sorted(e.remote_id for e in store.entries(f"{firm_id}-rebuilt")) == ["r1", "r2", "r3"]
    assert rebuilt.calls == ["find", "find", "find"]


def test_entries_taken_over_get_the_state_the_pms_shows_whatever_this_stores_review_mode(
    runner_for, store, firm_id
) -> None:
    """Four entries written for review; one approved in billsync (billable in the PMS), then the
    store is lost. The rebuilt store, though it approves clean entries at once (review mode
    none), takes the three still not billable over as waiting for review and the billable one as
    posted: approved before, neither an approval made now nor an edit."""
    earlier = FakeWriter()
    first = runner_for(FakeConnector(calls(4), earlier))
    first.run_once()
    approved = store.entries(firm_id)[1]
    store.set_entry_state(firm_id, approved.id, EntryState.APPROVED)
    SyncState(store.engine).enqueue_update(firm_id, approved.id)
    assert first.run_once().updated == 1
    assert [r.billable for r in earlier.entries.values()] == [False, True, False, False]

    rebuilt = FakeWriter(entries=dict(earlier.entries))
    report = runner_for(
        FakeConnector(calls(4), rebuilt), firm=f"{firm_id}-rebuilt", review=ReviewMode.NONE
    ).run_once()
    assert (report.written, report.already_written, report.taken_over_approved) == (0, 4, 1)
    assert (report.approvals_from_pms, report.remote_edits) == (0, 0)
    states = {e.remote_id: e.state for e in store.entries(f"{firm_id}-rebuilt")}
    assert states == {
        "r1": EntryState.NEEDS_REVIEW,
        "r2": EntryState.POSTED,
        "r3": EntryState.NEEDS_REVIEW,
        "r4": EntryState.NEEDS_REVIEW,
    }
    assert [r.billable for r in rebuilt.entries.values()] == [False, True, False, False]  # nothing sent


def test_work_newer_than_the_stores_first_entry_is_written_without_a_lookup(runner_for, store, firm_id) -> None:
    writer = FakeWriter()
    connector = FakeConnector(calls(1), writer)
    runner = runner_for(connector)
    runner.run_once()
    assert writer.calls == ["find", "write"]  # older than the store: looked up first
    later = datetime.now(UTC) + timedelta(hours=2)  # begun after the store's first entry (+ 1 h margin)
    connector.activity_stream.records.append(activity(external_id="new", started_at=later, title="new topic"))
    assert runner.run_once().written == 1
    assert writer.calls == ["find", "write", "write"]


@dataclass
class GroupFindingWriter(FakeWriter):
    """A vendor that can list a matter's entries in one go (core.connector.FindsManyEntries)."""

    refuse_many: bool = False  # the grouped listing is refused (a 429, say)
    # Per call: (its entries' matters, comma-joined: one name unless core mixed them; entries asked about)
    groups: list[tuple[str, int]] = field(default_factory=list)
    asked: list[list[tuple[str, TimeEntry]]] = field(default_factory=list)  # each call's (key, entry)

    def find_time_entries(self, wanted: Sequence[tuple[str, TimeEntry]]) -> dict[str, str]:
        self.calls.append("find many")
        self.groups.append((",".join(sorted({entry.matter_id for _, entry in wanted})), len(wanted)))
        self.asked.append(list(wanted))
        if self.refuse_many:
            raise Retryable("429 during the listing", retry_after=1)
        keys = {key for key, _ in wanted}
        return {r.key: remote_id for remote_id, r in self.entries.items() if r.key in keys}


def two_matters() -> list[object]:
    return [timekeeper(), client(), matter(), matter(id="m2", number="HARB-0002", name="Harbor lease")]


def calls_on_two_matters(n: int) -> list[Activity]:
    """Calls alternating between matters m1 and m2 (m1 first), an hour apart."""
    return [call.model_copy(update={"matter_id": "m2"}) if i % 2 else call for i, call in enumerate(calls(n))]


def test_a_first_sync_looks_each_matter_up_once_not_each_entry(runner_for, store, firm_id, monkeypatch) -> None:
    """Every entry of a first sync is older than the store: one grouped lookup per matter covers
    them all, across outbox pages, and each entry is then written once."""
    state_claim = SyncState.claim
    monkeypatch.setattr(SyncState, "claim", lambda self, firm, limit=25: state_claim(self, firm, limit=2))
    writer = GroupFindingWriter()
    report = runner_for(FakeConnector(calls_on_two_matters(7), writer, two_matters())).run_once()
    assert (report.written, report.already_written) == (7, 0)
    # 7 calls alternating from m1: calls 0, 2, 4, 6 on m1 and 1, 3, 5 on m2.
    assert writer.groups == [("m1", 4), ("m2", 3)]
    assert writer.calls == ["find many", "write", "find many", *["write"] * 6]
    assert len(writer.entries) == 7


def test_core_asks_for_one_matters_entries_per_call_whatever_their_dates(
    runner_for, store, firm_id, monkeypatch
) -> None:
    """FindsManyEntries' promise: each call is one matter's entries (never empty, no key twice),
    each matter is asked once per drain, and its entries' dates span whatever the drain holds.
    A rebuilt store finds what an earlier one wrote and writes only the rest."""
    state_claim = SyncState.claim
    monkeypatch.setattr(SyncState, "claim", lambda self, firm, limit=25: state_claim(self, firm, limit=2))
    three = [*two_matters(), matter(id="m3", number="HARB-0003", name="Harbor appeal")]
    # Nine calls, a day and an hour apart, on m1, m2, m3, m1, m2, ...: the first six were written.
    spread = [
        call.model_copy(update={"matter_id": f"m{i % 3 + 1}", "started_at": T0 + timedelta(days=i, hours=i)})
        for i, call in enumerate(calls(9))
    ]
    earlier = GroupFindingWriter()
    runner_for(FakeConnector(spread[:6], earlier, three)).run_once()
    rebuilt = GroupFindingWriter(entries=dict(earlier.entries))
    report = runner_for(FakeConnector(spread, rebuilt, three), firm=f"{firm_id}-rebuilt").run_once()
    assert (report.written, report.already_written) == (3, 6)
    assert rebuilt.groups == [("m1", 3), ("m2", 3), ("m3", 3)]  # one matter a call, each asked once
    for wanted in rebuilt.asked:
        assert len({key for key, _ in wanted}) == len(wanted)
        assert len({entry.work_date for _, entry in wanted}) == 3  # three days apart: not one day's
    assert len(rebuilt.entries) == 9


def test_a_rebuilt_store_takes_over_a_matters_entries_from_one_lookup(runner_for, store, firm_id) -> None:
    earlier = GroupFindingWriter()
    runner_for(FakeConnector(calls_on_two_matters(5), earlier, two_matters())).run_once()
    rebuilt = GroupFindingWriter(entries=dict(earlier.entries))
    runner = runner_for(FakeConnector(calls_on_two_matters(5), rebuilt, two_matters()), firm=f"{firm_id}-rebuilt")
    report = runner.run_once()
    assert (report.written, report.already_written) == (0, 5)
    assert rebuilt.calls == ["find many", "find many"] and len(rebuilt.entries) == 5
    assert sorted(e.remote_id for e in store.entries(f"{firm_id}-rebuilt")) == ["r1", "r2", "r3", "r4", "r5"]


def test_a_refused_grouped_lookup_looks_each_entry_up_on_its_own(runner_for, store, firm_id) -> None:
    earlier = FakeWriter()
    runner_for(FakeConnector(calls(2), earlier)).run_once()  # wrote calls 0 and 1
    rebuilt = GroupFindingWriter(entries=dict(earlier.entries), refuse_many=True)
    runner = runner_for(FakeConnector(calls(3), rebuilt), firm=f"{firm_id}-rebuilt")
    report = runner.run_once()
    assert (report.written, report.already_written) == (1, 2)  # call 2 was never written
    assert rebuilt.calls == ["find many", "find", "find", "find", "write"]
    assert len(rebuilt.entries) == 3


def test_an_unknown_outcome_is_looked_up_on_its_own_right_before_the_resend(runner_for, store, firm_id) -> None:
    writer = GroupFindingWriter(lose_next=1)
    runner = runner_for(FakeConnector(calls(2), writer))
    first = runner.run_once()
    assert (first.written, first.deferred) == (1, 1) and writer.calls == ["find many", "write", "write"]
    runner_for.clock["now"] += timedelta(minutes=5)
    second = runner.run_once()
    assert (second.recovered, second.written) == (1, 0) and len(writer.entries) == 2
    assert writer.calls[3:] == ["find"]  # its own lookup; no grouped one stands in for it


def test_one_remote_entry_given_for_two_entries_sends_both_to_their_own_lookups(runner_for, store, firm_id) -> None:
    class Confused(GroupFindingWriter):
        def find_time_entries(self, wanted: Sequence[tuple[str, TimeEntry]]) -> dict[str, str]:
            super().find_time_entries(wanted)
            return {key: "r9" for key, _ in wanted}  # the same remote entry for every key

    writer = Confused()
    report = runner_for(FakeConnector(calls(2), writer)).run_once()
    assert (report.written, report.already_written) == (2, 0)
    assert writer.calls == ["find many", "find", "write", "find", "write"]


def test_one_cycle_drains_more_writes_than_one_outbox_page(runner_for, store, firm_id, monkeypatch) -> None:
    state_claim = SyncState.claim
    monkeypatch.setattr(SyncState, "claim", lambda self, firm, limit=25: state_claim(self, firm, limit=2))
    writer = FakeWriter()
    report = runner_for(FakeConnector(calls(5), writer)).run_once()
    assert report.written == 5 and len(writer.entries) == 5


def test_a_refused_lookup_after_a_lost_response_still_looks_before_sending(runner_for, store, firm_id) -> None:
    writer = FakeWriter(lose_next=1)
    runner = runner_for(FakeConnector(calls(1), writer))
    runner.run_once()  # the write happened, its answer was lost
    writer.refuse_find = 1
    runner_for.clock["now"] += timedelta(minutes=5)
    assert runner.run_once().deferred == 1  # the lookup was refused
    runner_for.clock["now"] += timedelta(minutes=5)
    report = runner.run_once()
    assert report.recovered == 1 and report.written == 0
    # The first look is the one every write of work older than the store makes.
    assert writer.calls == ["find", "write", "find", "find"] and len(writer.entries) == 1


class SourceConnector:
    """An activity source beside the PMS: streams only, no writer, no webhooks."""

    name: ClassVar[str] = "docsource"
    Settings: ClassVar[type[BaseModel]] = BaseModel

    def __init__(self, activities: list[Activity]) -> None:
        # Named like the PMS's stream on purpose: cursors and counts must not mix.
        self.activity_stream = ListStream("communications", list(activities))

    def check(self) -> None:
        return None

    def streams(self):
        return [self.activity_stream]

    def webhooks(self):
        return None

    def writer(self) -> None:
        return None


def test_streams_are_chosen_by_their_role_never_by_their_name(runner_for, store, firm_id) -> None:
    writer = FakeWriter()
    connector = FakeConnector([], writer)
    # Vendor names core once read by name: reference data under "accounts", activity under "users".
    connector.reference = ListStream("accounts", [timekeeper(), client(), matter()], role=StreamRole.REFERENCE)
    connector.activity_stream = ListStream("users", calls(2))
    runner = runner_for(connector)
    report = runner.run_once()
    assert report.read_by_role == {StreamRole.REFERENCE: 3, StreamRole.ACTIVITY: 2}
    assert set(store.load_reference(firm_id).matters) == {"m1"} and report.written == 2  # stored, then captured
    connector.reference.records.append(client(id="c2"))
    connector.activity_stream.records.extend(calls(3)[2:])
    repoll = SyncReport()
    runner.poll(repoll, only_streams=[])  # a webhook naming no stream still reads the reference data first
    assert dict(repoll.records_read) == {"accounts": 1}


def test_an_activity_source_is_polled_through_the_same_engine_and_written_to_the_pms(
    runner_for, store, firm_id
) -> None:
    writer = FakeWriter()
    runner = runner_for(FakeConnector(calls(2), writer))
    docs = [
        activity(source="docsource", external_id=f"d{i}", started_at=T0 + timedelta(days=1, hours=i), title=f"doc {i}")
        for i in range(3)
    ]
    runner.sources = (SourceConnector(docs),)
    report = runner.run_once()
    assert report.records_read["communications"] == 2 and report.records_read["docsource:communications"] == 3
    assert report.written == 5 and len(writer.entries) == 5
    assert {e.activity_key[0] for e in store.entries(firm_id)} == {"test", "docsource"}  # activity sources
    state = SyncState(store.engine)
    assert state.cursor(firm_id, "docsource", "communications") == {"read": 3}
    assert state.cursor(firm_id, "fake", "communications") == {"read": 2}
    again = runner.run_once()
    assert again.written == 0 and sum(again.records_read.values()) == 0


def test_a_webhook_for_a_source_re_polls_only_that_sources_streams(runner_for, store, firm_id) -> None:
    writer = FakeWriter()
    runner = runner_for(FakeConnector(calls(2), writer))
    source = SourceConnector([activity(source="docsource", external_id="d1", started_at=T0 + timedelta(days=2))])
    runner.sources = (source,)
    report = SyncReport()
    runner.poll(report, only_streams=["docsource:communications"])
    # that source's stream, after the reference data it is matched against; no other activity stream
    assert dict(report.records_read) == {"users": 3, "docsource:communications": 1}
    with pytest.raises(InvalidSignature, match="does not send webhooks"):
        runner.receive_webhook(InboundRequest(headers={}, body=b"{}"), "docsource")
    with pytest.raises(InvalidSignature, match="not connected"):
        runner.receive_webhook(InboundRequest(headers={}, body=b"{}"), "elsewhere")


class RoundingConnector(FakeConnector):
    """A PMS with a time-rounding setting of its own, read once per poll."""

    def __init__(self, activities: list[Activity], writer: FakeWriter, answers: list[int | Exception | None]) -> None:
        super().__init__(activities, writer)
        self.answers = answers

    def time_increment_minutes(self) -> int | None:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_the_pms_rounding_is_read_before_capture_and_a_refusal_keeps_the_last_one(store, firm_id) -> None:
    from config.settings import FirmSettings
    from core.capture import engine_for
    from core.models import ActivityKind
    from core.policy import KindPolicy

    fixed_15 = CapturePolicy(enabled=True, kinds={ActivityKind.CALL: KindPolicy(duration="fixed", minutes=15)})
    firm = FirmSettings(name="Acme", pms="fake", capture=fixed_15)
    writer = FakeWriter()
    connector = RoundingConnector(calls(1), writer, [15, Fatal("403: this user may not read billing settings")])
    runner = SyncRunner(
        firm=firm_id, pms=connector, store=store, make_engine=lambda: engine_for(firm_id, firm, store)
    )
    first = runner.run_once()
    assert first.record_errors == [] and [r.seconds for r in writer.entries.values()] == [900]  # not 1080
    connector.activity_stream.records.append(activity(external_id="later", started_at=T0 + timedelta(days=1)))
    second = runner.run_once()
    assert second.record_errors == [
        "fake: time rounding not read, the last one read is kept: 403: this user may not read billing settings"
    ]
    assert [r.seconds for r in writer.entries.values()] == [900, 900]


def test_a_user_added_in_the_pms_gets_their_earlier_activity_on_the_next_cycle(runner_for, store, firm_id) -> None:
    """Seen once while its actor was nobody the PMS knew; captured and written once the user exists."""
    writer = FakeWriter()
    earlier = activity(external_id="by-ben", actor="u2", started_at=T0 + timedelta(hours=3), title="lease terms")
    connector = FakeConnector([*calls(1), earlier], writer)
    runner = runner_for(connector)
    first = runner.run_once()
    assert first.capture.statuses == {ActivityStatus.CAPTURED: 1, ActivityStatus.NOT_TIMEKEEPER: 1}
    assert first.written == 1

    connector.reference.records.append(timekeeper(id="u2", name="Ben Ortiz", default_rate=Decimal("250")))
    second = runner.run_once()
    assert second.records_read == {"users": 1}  # the new user; the activity is not read again
    assert second.written == 1
    assert second.capture.unparked == 1
    remote = next(r for r in writer.entries.values() if "lease terms" in r.narrative)
    # A 10-minute call rounded up to 6-minute increments, not billable until someone reviews it.
    assert (remote.seconds, remote.matter_id, remote.billable) == (720, "m1", False)
    [ben] = [e for e in store.entries(firm_id) if e.timekeeper_id == "u2"]
    assert (ben.rate, ben.amount) == (Decimal("250.00"), Decimal("50.00"))
    assert runner.run_once().written == 0  # once, ever
    assert len(writer.entries) == 2


def test_a_users_rails_or_windows_time_zone_becomes_iana_and_an_unknown_one_is_reported(
    runner_for, store, firm_id
) -> None:
    """No traceback for a zone name zoneinfo does not know: mapped, or named in record_errors."""
    writer = FakeWriter()
    late = T0.replace(hour=3, minute=30)  # 03:30 UTC: the evening before in New York, the same day in London
    moves = [
        activity(external_id=f"late-{user}", actor=user, started_at=late, title=f"call {user}")
        for user in ("rails", "windows", "mars")
    ]
    connector = FakeConnector(moves, writer)
    connector.reference.records[:1] = [
        timekeeper(id="rails", time_zone="Eastern Time (US & Canada)"),
        timekeeper(id="windows", email="w@firm.example", time_zone="Eastern Standard Time"),
        timekeeper(id="mars", email="m@firm.example", time_zone="Olympus Mons Time"),
    ]
    report = runner_for(connector).run_once()
    assert report.record_errors == [
        "users: user mars: time zone 'Olympus Mons Time' is not an IANA, Rails or Windows zone name; "
        "work dates use the firm's time zone (capture.time_zone)"
    ]
    zones = {tk.id: tk.time_zone for tk in store.load_reference(firm_id).timekeepers.values()}
    assert zones == {"rails": "America/New_York", "windows": "America/New_York", "mars": "Olympus Mons Time"}
    dates = {e.timekeeper_id: e.work_date.isoformat() for e in store.entries(firm_id)}
    # New York is UTC-4 in October: 23:30 the day before. The firm's zone here is UTC (the default).
    assert dates == {"rails": "2026-10-04", "windows": "2026-10-04", "mars": "2026-10-05"}
    assert report.written == 3


def test_the_unassigned_queue_is_looked_at_again_when_reference_data_changes_not_on_every_poll(
    runner_for, store, firm_id
) -> None:
    writer = FakeWriter()
    waiting = [
        activity(external_id=f"w{i}", matter_id=None, title=f"HARB-0042 item {i}", started_at=T0 + timedelta(hours=i))
        for i in range(3)
    ]
    connector = FakeConnector(waiting, writer)
    # No overlap: a test runs in less time than any overlap a deployment would want.
    runner = runner_for(connector, parked_overlap=timedelta(0))
    assert runner.run_once().capture.statuses == {ActivityStatus.UNASSIGNED: 3}
    assert runner.run_once().capture.reconsidered == 3  # this runner's first look at the queue
    assert runner.run_once().capture.reconsidered == 0  # nothing changed since: nothing to look at
    connector.reference.records.append(matter(id="m42", number="HARB-0042"))
    changed = runner.run_once()
    assert (changed.capture.reconsidered, changed.capture.unparked, changed.written) == (3, 3, 3)
    assert {e.matter_id for e in store.entries(firm_id)} == {"m42"}


def test_an_activity_parked_by_a_poll_with_older_reference_data_is_looked_at_on_the_next_poll(
    runner_for, store, firm_id
) -> None:
    """A webhook's re-poll (or another replica) decided with the reference data of before a change."""
    connector = FakeConnector([], FakeWriter())
    runner = runner_for(connector, parked_overlap=timedelta(0))
    runner.run_once()
    stale = runner._make_engine()  # built before the matter below exists
    connector.reference.records.append(matter(id="m42", number="HARB-0042"))
    runner.run_once()  # reads the matter and looks at every unassigned activity: none yet
    stale.capture([activity(matter_id=None, title="HARB-0042 deposition")])
    assert activity_statuses(store, firm_id) == {"unassigned": 1}
    after = runner.run_once()
    assert after.capture.unparked == 1 and after.written == 1
    assert [e.matter_id for e in store.entries(firm_id)] == ["m42"]


def test_a_parked_activity_met_twice_in_one_poll_is_decided_again_once(runner_for, store, firm_id) -> None:
    waiting = activity(external_id="w1", matter_id=None, title="call about something", started_at=T0)
    connector = FakeConnector([waiting], FakeWriter())
    runner = runner_for(connector)
    assert runner.run_once().capture.statuses == {ActivityStatus.UNASSIGNED: 1}  # the firm's first sync
    # The next poll looks at the parked queue, and the source sends the same call again (an edit,
    # an overlapping window): one parked activity, decided again once. It used to count 2.
    connector.activity_stream.records.append(waiting)
    again = runner.run_once().capture
    assert again.reconsidered == 1 and again.unparked == 0
    assert again.already_known == 1  # the copy its source sent: nothing new in it


class ApprovingWriter(FakeWriter):
    """While its create is on its way, a partner approves the entry on the review page."""

    def __init__(self, store: Any, firm: str) -> None:
        super().__init__()
        self.store, self.firm = store, firm

    def write_time_entry(self, entry: TimeEntry, key: str, *, billable: bool) -> str:
        remote_id = super().write_time_entry(entry, key, billable=billable)
        if len(self.entries) == 1:
            from core.reports.review import approve_entry

            approve_entry(self.store, self.firm, entry.id)  # it has no remote id yet: queues nothing
        return remote_id


def test_an_entry_approved_while_its_create_is_on_its_way_is_made_billable_after(runner_for, store, firm_id) -> None:
    writer = ApprovingWriter(store, firm_id)
    later = datetime.now(UTC) + timedelta(hours=2)  # newer than the store: no lookup first
    runner = runner_for(FakeConnector([activity(external_id="c0", started_at=later, title="topic")], writer))
    report = runner.run_once()
    # The create went non-billable, as the entry stood; the approval follows it in the same drain.
    assert (report.written, report.updated) == (1, 1) and writer.calls == ["write", "update"]
    assert [r.billable for r in writer.entries.values()] == [True]
    assert [e.state for e in store.entries(firm_id)] == [EntryState.POSTED]
    assert runner.run_once().updated == 0


def test_an_entry_sent_without_a_rate_and_priced_by_the_pms_is_not_counted_as_a_persons_edit(
    runner_for, store, firm_id
) -> None:
    """PracticePanther exposes no user rates: an entry rated from its data alone goes without a rate
    and PP prices it by its own rules. That is followed, but it is nobody's edit."""
    writer = FakeWriter()
    unpriced = timekeeper(default_rate=Decimal("0"))
    runner = runner_for(FakeConnector(calls(2), writer, [unpriced, client(), matter()]))
    runner.run_once()
    assert {e.rate for e in store.entries(firm_id)} == {Decimal("0")}
    writer.entries["r1"] = replace(writer.entries["r1"], rate=Decimal("175"))  # PP's own rate, as sent otherwise
    writer.entries["r2"] = replace(writer.entries["r2"], rate=Decimal("175"), seconds=1800)  # and a person's length
    report = runner.run_once()
    assert (report.priced_by_pms, report.remote_edits) == (1, 1)
    first, second = store.entries(firm_id)
    # By hand: 0.2 h x 175 = 35.00; 0.5 h x 175 = 87.50.
    assert (first.rate, first.billed_seconds, first.amount) == (Decimal("175"), 720, Decimal("35.00"))
    assert (second.rate, second.billed_seconds, second.amount) == (Decimal("175"), 1800, Decimal("87.50"))
