"""Parked is not lost: an activity that waited for a reason that can change is captured once the reason goes.

Each test parks an activity for one reason, removes the reason the way a firm would (a user
added or enabled in the PMS, the timekeeper list or a contact rule or the kinds captured
changed in the config, a matter that appears or reopens, a person linking the matter in the
source), and decides the parked activities again as every poll does. Expected figures are
worked out by hand: a 10-minute call rounded up to 6-minute increments is 720 s (0.2 h).
Runs on SQLite and, where reachable, PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event

from config.settings import FirmSettings
from core.assign import assign_matter
from core.engine import CaptureEngine
from core.models import ActivityKind, ActivityStatus, EntryState, MatterStatus
from core.policy import CapturePolicy, ContactRule, KindPolicy, RuleSets
from core.rules import BUILTIN_RULES, RuleRunner
from core.store.reports import ReportStore
from core.store.store import CaptureConflict, Store
from core.store.sync_state import SyncState
from tests.factories import T0, activity, client, matter, timekeeper
from tests.store_reads import activity_statuses

BEN = timekeeper(id="u2", name="Ben Ortiz", email="ben@firm.example", default_rate=Decimal("250"))
DISABLED_BEN = BEN.model_copy(update={"enabled": False})


def engine(store: Store, firm_id: str, reference: list[Any] | None = None, **policy: Any) -> CaptureEngine:
    """The firm's engine as a poll builds it: reference data stored first, then read back."""
    if reference is not None:
        store.save_reference(firm_id, reference)
    return CaptureEngine(
        firm=firm_id,
        policy=CapturePolicy(**({"enabled": True, "increment_minutes": 6} | policy)),
        rules=RuleRunner(BUILTIN_RULES, RuleSets()),
        reference=store.load_reference(firm_id),
        store=store,
    )


def the_one_entry(store: Store, firm_id: str, *, rate: str, matter_id: str = "m1"):
    """The single entry, as a 10-minute call by a timekeeper at `rate` gives it."""
    [entry] = store.entries(firm_id)
    assert (entry.raw_seconds, entry.billed_seconds) == (600, 720)
    assert (entry.rate, entry.amount) == (Decimal(rate), Decimal(rate) / 5)  # 0.2 h at the rate
    assert entry.matter_id == matter_id and entry.state is EntryState.NEEDS_REVIEW
    # ...and its write to the PMS is queued with it, exactly once.
    assert SyncState(store.engine).counts(firm_id) == {"pending": 1}
    return entry


def test_a_users_activity_is_captured_once_the_user_is_added(store, firm_id) -> None:
    first = engine(store, firm_id, [timekeeper(), client(), matter()]).capture([activity(actor="u2")])
    assert first.statuses == {ActivityStatus.NOT_TIMEKEEPER: 1}
    assert engine(store, firm_id).reconsider_parked().unparked == 0  # nothing has changed yet

    again = engine(store, firm_id, [BEN]).reconsider_parked()
    assert (again.reconsidered, again.unparked, again.statuses) == (1, 1, {ActivityStatus.CAPTURED: 1})
    entry = the_one_entry(store, firm_id, rate="250.00")
    assert entry.timekeeper_id == "u2" and entry.activity_key == ("test", "a1")
    assert activity_statuses(store, firm_id) == {"captured": 1}
    # Settled now: deciding again finds nothing, and the activity keeps its one entry.
    assert engine(store, firm_id).reconsider_parked().reconsidered == 0
    assert engine(store, firm_id).capture([activity(actor="u2")]).already_known == 1
    assert len(store.entries(firm_id)) == 1


def test_a_users_activity_is_captured_once_the_user_is_enabled(store, firm_id) -> None:
    engine(store, firm_id, [DISABLED_BEN, client(), matter()]).capture([activity(actor="u2")])
    [row] = ReportStore(store.engine).activity_rows(firm_id)
    assert (row.status, row.reason) == (ActivityStatus.NOT_TIMEKEEPER, "user u2 is disabled")
    engine(store, firm_id, [BEN]).reconsider_parked()
    the_one_entry(store, firm_id, rate="250.00")


def test_a_users_activity_is_captured_once_the_firm_lists_the_user_as_a_timekeeper(store, firm_id) -> None:
    engine(store, firm_id, [timekeeper(), BEN, client(), matter()], timekeepers=["u1"]).capture([activity(actor="u2")])
    assert activity_statuses(store, firm_id) == {"not_timekeeper": 1}
    assert engine(store, firm_id, timekeepers=["u1"]).reconsider_parked().reconsidered == 0  # still not listed
    engine(store, firm_id, timekeepers=["u1", "u2"]).reconsider_parked()
    the_one_entry(store, firm_id, rate="250.00")


def test_an_unassigned_activity_is_captured_once_a_contact_rule_names_its_matter(store, firm_id) -> None:
    opposing = activity(matter_id=None, counterpart_addresses=("pat@opposing-counsel.example",))
    engine(store, firm_id, [timekeeper(), client(), matter()]).capture([opposing])
    [(_, _, _, reason)] = store.unassigned(firm_id)
    assert reason == "no matter link, matter number or known contact"
    # The counterpart's address was kept with the parked activity, though the firm keeps no payloads.
    rule = ContactRule(match="domain", value="opposing-counsel.example", client_id="c1", matter_id="m1")
    engine(store, firm_id, contact_rules=[rule]).reconsider_parked()
    entry = the_one_entry(store, firm_id, rate="400.00")
    assert not entry.suggested_matter  # a rule naming the matter is not a guess
    assert store.unassigned(firm_id) == []


def test_an_unassigned_activity_is_captured_once_the_matter_number_in_its_title_appears(store, firm_id) -> None:
    titled = activity(matter_id=None, title="HARB-0042 deposition outline")
    engine(store, firm_id, [timekeeper(), client(), matter()]).capture([titled])
    assert activity_statuses(store, firm_id) == {"unassigned": 1}
    new_matter = matter(id="m42", number="HARB-0042", name="Harbor v. Jones")
    engine(store, firm_id, [new_matter]).reconsider_parked()
    entry = the_one_entry(store, firm_id, rate="400.00", matter_id="m42")
    assert entry.narrative == "Telephone call with P. Jones re: deposition outline"


def test_an_unassigned_activity_is_captured_when_a_person_links_its_matter_in_the_source(store, firm_id) -> None:
    engine(store, firm_id, [timekeeper(), client(), matter()]).capture([activity(matter_id=None)])
    assert activity_statuses(store, firm_id) == {"unassigned": 1}
    # The source sends the activity again once someone has linked it to a matter there.
    result = engine(store, firm_id).capture([activity(matter_id="m1")])
    assert (result.already_known, result.unparked) == (0, 1)
    the_one_entry(store, firm_id, rate="400.00")
    [row] = ReportStore(store.engine).activity_rows(firm_id)
    assert (row.status, row.matter_id) == (ActivityStatus.CAPTURED, "m1")


def test_an_activity_on_a_closed_matter_is_captured_once_the_matter_reopens(store, firm_id) -> None:
    closed = matter(status=MatterStatus.CLOSED)
    engine(store, firm_id, [timekeeper(), client(), closed]).capture([activity()])
    [(_, _, _, reason)] = store.unassigned(firm_id)
    assert reason == "matter HARB-0001 is closed"
    assert engine(store, firm_id).reconsider_parked().unparked == 0  # still closed
    engine(store, firm_id, [matter(status=MatterStatus.OPEN, updated_at=T0)]).reconsider_parked()
    the_one_entry(store, firm_id, rate="400.00")


def test_an_activity_of_a_kind_not_captured_is_captured_once_the_firm_turns_the_kind_on(store, firm_id) -> None:
    off = {ActivityKind.CALL: KindPolicy(enabled=False)}
    engine(store, firm_id, [timekeeper(), client(), matter()], kinds=off).capture([activity()])
    assert activity_statuses(store, firm_id) == {"kind_disabled": 1}
    on = {ActivityKind.CALL: KindPolicy(duration="actual")}
    engine(store, firm_id, kinds=on).reconsider_parked()
    the_one_entry(store, firm_id, rate="400.00")


def test_a_reason_that_changes_but_does_not_go_is_recorded_and_the_activity_waits(store, firm_id) -> None:
    engine(store, firm_id, [client(), matter()]).capture([activity()])  # nobody is a user yet
    assert activity_statuses(store, firm_id) == {"not_timekeeper": 1}
    engine(store, firm_id, [timekeeper(), matter(status=MatterStatus.CLOSED)]).reconsider_parked()
    [(_, _, _, reason)] = store.unassigned(firm_id)
    assert reason == "matter HARB-0001 is closed" and store.entries(firm_id) == []


def test_settled_activities_are_never_decided_again(store, firm_id) -> None:
    """Captured (its entry deleted in the PMS: a tombstone), merged and hand-logged activities stay as they are."""
    meeting = activity(external_id="cal", kind=ActivityKind.EVENT, ended_at=T0 + timedelta(hours=1))
    call = activity(external_id="call", started_at=T0 + timedelta(minutes=5))
    by_hand = activity(external_id="hand", started_at=T0 + timedelta(hours=3), covered_by_time_entry=True)
    engine(store, firm_id, [timekeeper(), client(), matter()]).capture([meeting, call, by_hand])
    assert activity_statuses(store, firm_id) == {"captured": 1, "merged": 1, "covered": 1}
    [entry] = store.entries(firm_id)
    store.set_entry_state(firm_id, entry.id, EntryState.DELETED_REMOTELY)
    again = engine(store, firm_id).reconsider_parked()
    assert again.reconsidered == 0
    assert engine(store, firm_id).capture([meeting, call, by_hand]).already_known == 3
    [after] = store.entries(firm_id)
    assert after.id == entry.id and after.state is EntryState.DELETED_REMOTELY


def test_a_stale_decision_stores_nothing_when_another_worker_decided_first(store, firm_id) -> None:
    """Two replicas decide the same parked activity: one outcome, one entry, whatever the order."""
    engine(store, firm_id, [timekeeper(), client(), matter()]).capture([activity(actor="u2")])
    [parked] = next(store.parked_activities(firm_id, actors={"u2"}, kinds=set()))
    slow = engine(store, firm_id, [BEN])  # read the activity, then lost the race
    engine(store, firm_id).reconsider_parked()  # the fast replica captures it
    the_one_entry(store, firm_id, rate="250.00")
    with pytest.raises(CaptureConflict, match="decided by another worker"):
        slow.reconsider([parked])
    the_one_entry(store, firm_id, rate="250.00")  # still one entry and one queued write
    # A stale "still parked" decision cannot move a captured activity back either.
    stale = engine(store, firm_id, [DISABLED_BEN])
    with pytest.raises(CaptureConflict):
        stale.reconsider([parked])
    assert activity_statuses(store, firm_id) == {"captured": 1}


def test_deciding_again_costs_a_fixed_number_of_queries_however_many_activities_wait(store, firm_id) -> None:
    """One query per batch, not one per activity: 10 and 300 parked activities cost the same round trips."""
    engine(store, firm_id, [timekeeper(), client(), matter()])

    def queries_to_reconsider(how_many: int, prefix: str, start: timedelta) -> int:
        waiting = [
            activity(external_id=f"{prefix}{i}", actor="u2", started_at=T0 + start + timedelta(minutes=20 * i))
            for i in range(how_many)
        ]
        engine(store, firm_id).capture(waiting)
        statements: list[str] = []
        listen = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
        event.listen(store.engine, "before_cursor_execute", listen)
        try:
            result = engine(store, firm_id, [BEN]).reconsider_parked(batch_size=1000)
        finally:
            event.remove(store.engine, "before_cursor_execute", listen)
        assert result.unparked == how_many
        store.save_reference(firm_id, [DISABLED_BEN])  # park the next ones again
        return len(statements)

    few = queries_to_reconsider(10, "few-", timedelta(0))
    many = queries_to_reconsider(300, "many-", timedelta(days=30))  # no overlap with the first ten
    assert few == many, (few, many)
    assert len(store.entries(firm_id)) == 310


def test_nothing_is_written_when_nothing_changed(store, firm_id) -> None:
    engine(store, firm_id, [timekeeper(), client(), matter()]).capture(
        [activity(matter_id=None), activity(external_id="a2", actor="stranger@elsewhere.example")]
    )
    writes: list[str] = []

    def record_writes(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement)

    event.listen(store.engine, "before_cursor_execute", record_writes)
    try:
        again = engine(store, firm_id).reconsider_parked()
    finally:
        event.remove(store.engine, "before_cursor_execute", record_writes)
    # The unassigned one is looked at (its matter depends on reference data); the stranger is not
    # even read, as no user answers to that name. Neither is written.
    assert (again.reconsidered, again.unparked, sum(again.statuses.values())) == (1, 0, 0)
    assert writes == []


def test_a_matter_a_person_assigned_while_it_was_closed_is_kept_until_it_reopens(store, firm_id) -> None:
    firm = FirmSettings(name="Test LLP", capture=CapturePolicy(enabled=True, increment_minutes=6))
    closed = matter(id="m2", number="HARB-0002", status=MatterStatus.CLOSED)
    engine(store, firm_id, [timekeeper(), client(), matter(), closed]).capture([activity(matter_id=None)])
    [(activity_id, _, _, _)] = store.unassigned(firm_id)
    done = assign_matter(store, firm_id, firm, activity_id, "m2")
    assert (done.status, done.reason, done.entry) == (ActivityStatus.UNASSIGNED, "matter HARB-0002 is closed", None)
    engine(store, firm_id, [matter(id="m2", number="HARB-0002", updated_at=T0)]).reconsider_parked()
    the_one_entry(store, firm_id, rate="400.00", matter_id="m2")  # the person's choice, not the open m1
