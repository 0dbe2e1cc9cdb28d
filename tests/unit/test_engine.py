"""The capture engine end to end over a real store (SQLite, and PostgreSQL where reachable)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from core.engine import CaptureEngine
from core.models import ActivityKind, ActivityStatus, BillingMethod, EntryState, MatterStatus
from core.policy import CapturePolicy, KindPolicy, ReviewMode, RuleConfig, RuleSets
from core.rules import BUILTIN_RULES, RuleRunner
from core.store.schema import outbox, time_entries
from tests.factories import T0, activity, client, matter, timekeeper
from tests.store_reads import activity_statuses

D = Decimal


@pytest.fixture
def make_engine(store, firm_id):
    def build(matters=None, users=None, clients=None, rules=None, **policy) -> CaptureEngine:
        store.save_reference(
            firm_id,
            [*(users or [timekeeper()]), *(clients or [client()]), *(matters or [matter()])],
        )
        return CaptureEngine(
            firm=firm_id,
            policy=CapturePolicy(**({"enabled": True} | policy)),
            rules=RuleRunner(BUILTIN_RULES, rules or RuleSets()),
            reference=store.load_reference(firm_id),
            store=store,
        )

    return build


def test_an_activity_becomes_one_entry_awaiting_review(make_engine, store, firm_id) -> None:
    result = make_engine().capture([activity()])
    assert result.statuses == {ActivityStatus.CAPTURED: 1}
    [entry] = store.entries(firm_id)
    assert entry.state is EntryState.NEEDS_REVIEW  # review = "all" by default
    assert (entry.raw_seconds, entry.billed_seconds) == (600, 720)  # 10 min -> 0.2 h, raw kept
    assert (entry.rate, entry.amount) == (D("400.00"), D("80.00"))
    assert entry.narrative == "Telephone call with P. Jones re: settlement terms"
    assert entry.work_date.isoformat() == "2026-10-05"
    assert entry.activity_code == "A106"


def test_capturing_again_creates_nothing(make_engine, store, firm_id) -> None:
    engine = make_engine()
    engine.capture([activity(), activity(external_id="a2", started_at=T0 + timedelta(hours=2))])
    again = make_engine().capture([activity(), activity(external_id="a2", started_at=T0 + timedelta(hours=2))])
    assert again.already_known == 2 and sum(again.states.values()) == 0
    assert len(store.entries(firm_id)) == 2


def test_the_same_activity_twice_in_one_batch_counts_once(make_engine, store, firm_id) -> None:
    result = make_engine().capture([activity(), activity()])
    assert result.seen == 2 and result.already_known == 1
    assert len(store.entries(firm_id)) == 1


def test_a_deleted_entry_is_a_tombstone_never_recreated(make_engine, store, firm_id) -> None:
    make_engine().capture([activity()])
    [entry] = store.entries(firm_id)
    store.set_entry_state(firm_id, entry.id, EntryState.DELETED_REMOTELY)
    # A re-sync and a backfill both feed the same activity again; neither recreates it.
    make_engine().capture([activity()])
    make_engine().capture([activity(title="edited title in the source")])
    [after] = store.entries(firm_id)
    assert after.id == entry.id and after.state is EntryState.DELETED_REMOTELY
    # ...and nothing can move a tombstone back.
    store.set_entry_state(firm_id, entry.id, EntryState.APPROVED)
    assert store.entries(firm_id)[0].state is EntryState.DELETED_REMOTELY


def test_one_entry_per_activity_is_a_database_constraint(make_engine, store, firm_id) -> None:
    make_engine().capture([activity()])
    with store.engine.connect() as conn:
        row = dict(conn.execute(select(time_entries).where(time_entries.c.firm_id == firm_id)).one()._mapping)
    row["id"] = "another-entry-id"
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(insert(time_entries).values(**row))


def test_call_during_a_meeting_gives_one_entry_linked_to_the_other(make_engine, store, firm_id) -> None:
    meeting = activity(
        external_id="cal-1",
        kind=ActivityKind.EVENT,
        title="Strategy meeting",
        source="calendar",
        started_at=T0,
        ended_at=T0 + timedelta(hours=1),
        duration_seconds=None,
    )
    call = activity(
        external_id="call-1",
        source="phone",
        started_at=T0 + timedelta(minutes=20),
        ended_at=T0 + timedelta(minutes=35),
        duration_seconds=900,
    )
    later_call = activity(
        external_id="call-2",
        source="phone",
        started_at=T0 + timedelta(hours=2),
        ended_at=T0 + timedelta(hours=2, minutes=5),
        duration_seconds=300,
    )
    result = make_engine().capture([meeting, call, later_call])
    assert result.statuses == {ActivityStatus.CAPTURED: 2, ActivityStatus.MERGED: 1}
    entries = store.entries(firm_id)
    assert [e.activity_key for e in entries] == [("calendar", "cal-1"), ("phone", "call-2")]
    with store.engine.connect() as conn:
        merged = conn.exec_driver_sql(
            "SELECT status, entry_id FROM activities WHERE firm_id = %s AND external_id = 'call-1'"
            if store.engine.dialect.name == "postgresql"
            else "SELECT status, entry_id FROM activities WHERE firm_id = ? AND external_id = 'call-1'",
            (firm_id,),
        ).one()
    assert merged == ("merged", entries[0].id)


def test_overlap_is_found_across_runs_and_only_on_the_same_matter(make_engine, store, firm_id) -> None:
    matters = [matter(), matter(id="m2", number="HARB-0002")]
    make_engine(matters=matters).capture([activity()])
    other_matter = activity(external_id="a2", source="other", matter_id="m2")
    same_matter = activity(external_id="a3", source="other")
    result = make_engine(matters=matters).capture([other_matter, same_matter])
    assert result.statuses == {ActivityStatus.CAPTURED: 1, ActivityStatus.MERGED: 1}


def test_instant_activities_overlap_only_inside_an_interval(make_engine, store, firm_id) -> None:
    email_during_call = activity(
        external_id="e1",
        kind=ActivityKind.EMAIL,
        started_at=T0 + timedelta(minutes=5),
        ended_at=None,
        duration_seconds=None,
    )
    email_after_call = activity(
        external_id="e2",
        kind=ActivityKind.EMAIL,
        started_at=T0 + timedelta(minutes=10),
        ended_at=None,
        duration_seconds=None,
    )
    result = make_engine().capture([activity(), email_during_call, email_after_call])
    assert result.statuses == {ActivityStatus.CAPTURED: 2, ActivityStatus.MERGED: 1}


def test_fixed_and_actual_durations_per_kind(make_engine, store, firm_id) -> None:
    kinds = {ActivityKind.CALL: KindPolicy(duration="fixed", minutes=15), ActivityKind.SMS: KindPolicy(minutes=6)}
    sms = activity(
        external_id="s1",
        kind=ActivityKind.SMS,
        started_at=T0 + timedelta(hours=3),
        ended_at=None,
        duration_seconds=None,
    )
    make_engine(kinds=kinds).capture([activity(), sms])
    call_entry, sms_entry = store.entries(firm_id)
    assert (call_entry.raw_seconds, call_entry.billed_seconds) == (900, 1080)  # 15 min -> 0.3 h
    assert (sms_entry.raw_seconds, sms_entry.billed_seconds) == (360, 360)


def test_actual_duration_falls_back_to_minutes_when_the_source_has_none(make_engine, store, firm_id) -> None:
    make_engine().capture([activity(ended_at=None, duration_seconds=None)])
    assert store.entries(firm_id)[0].raw_seconds == 15 * 60


def test_increment_is_the_firms_choice(make_engine, store, firm_id) -> None:
    make_engine(increment_minutes=15).capture([activity(duration_seconds=61)])
    assert store.entries(firm_id)[0].billed_seconds == 900


def test_firm_must_opt_in(make_engine, store, firm_id) -> None:
    result = make_engine(enabled=False).capture([activity()])
    assert result.statuses == {ActivityStatus.CAPTURE_OFF: 1}
    assert store.entries(firm_id) == [] and activity_statuses(store, firm_id) == {}


def test_disabled_kind_creates_nothing(make_engine, store, firm_id) -> None:
    result = make_engine(kinds={ActivityKind.CALL: KindPolicy(enabled=False)}).capture([activity()])
    assert result.statuses == {ActivityStatus.KIND_DISABLED: 1}
    assert store.entries(firm_id) == []


@pytest.mark.parametrize(
    ("tk", "policy", "reason"),
    [
        (timekeeper(may_record_time=False), {}, "may not record time"),
        (timekeeper(enabled=False), {}, "disabled"),
        (timekeeper(), {"timekeepers": ["u2"]}, "not on the firm's timekeeper list"),
    ],
)
def test_only_users_who_may_record_time_get_entries(make_engine, store, firm_id, tk, policy, reason) -> None:
    result = make_engine(users=[tk], **policy).capture([activity()])
    assert result.statuses == {ActivityStatus.NOT_TIMEKEEPER: 1}
    assert store.entries(firm_id) == []
    assert activity_statuses(store, firm_id) == {"not_timekeeper": 1}


def test_unknown_actor_and_hand_logged_activity_create_nothing(make_engine, store, firm_id) -> None:
    result = make_engine().capture(
        [activity(actor="stranger@x.example"), activity(external_id="a2", covered_by_time_entry=True)]
    )
    assert result.statuses == {ActivityStatus.NOT_TIMEKEEPER: 1, ActivityStatus.COVERED: 1}


def test_unassigned_activities_wait_in_the_queue_with_their_reason(make_engine, store, firm_id) -> None:
    result = make_engine().capture(
        [activity(matter_id=None, title="call", counterpart_addresses=("x@nowhere.example",))]
    )
    assert result.unassigned == [("test", "a1", "no matter link, matter number or known contact")]
    [(_, kind, title, reason)] = store.unassigned(firm_id)
    assert (kind, title, reason) == ("call", "call", "no matter link, matter number or known contact")


def test_suggested_matter_goes_to_review_even_without_review_all(make_engine, store, firm_id) -> None:
    make_engine(review=ReviewMode.NONE).capture(
        [
            activity(matter_id=None, counterpart_addresses=("gc@harbor.example",)),
            activity(external_id="a2", started_at=T0 + timedelta(hours=1), title="deposition schedule"),
        ]
    )
    suggested, linked = store.entries(firm_id)
    assert suggested.suggested_matter and suggested.state is EntryState.NEEDS_REVIEW
    assert [f.rule for f in suggested.findings] == ["suggested_matter"]
    assert linked.state is EntryState.APPROVED


def test_flat_fee_and_contingency_entries_are_recorded_non_billable(make_engine, store, firm_id) -> None:
    matters = [
        matter(billing_method=BillingMethod.FLAT),
        matter(id="m2", number="H-2", billing_method=BillingMethod.CONTINGENCY),
    ]
    make_engine(matters=matters).capture(
        [activity(), activity(external_id="a2", matter_id="m2", started_at=T0 + timedelta(hours=1))]
    )
    for entry in store.entries(firm_id):
        assert not entry.billable and entry.amount == D("80.00")  # standard value, for utilization
        assert "alternative_fee" in {f.rule for f in entry.findings}


def test_daily_cap_counts_entries_from_earlier_runs(make_engine, store, firm_id) -> None:
    day = [
        activity(
            external_id=f"a{i}",
            started_at=T0 + timedelta(hours=i),
            ended_at=T0 + timedelta(hours=i + 1),
            duration_seconds=3600,
        )
        for i in range(9)
    ]
    make_engine().capture(day[:8])  # 8 h
    make_engine(rules=RuleSets(firm={"max_day_hours": {"hours": D("8")}})).capture(day[8:])  # the 9th hour
    last = store.entries(firm_id)[-1]
    assert "max_day_hours" in {f.rule for f in last.findings}
    assert all("max_day_hours" not in {f.rule for f in e.findings} for e in store.entries(firm_id)[:-1])


def test_duplicate_work_on_the_same_day_is_flagged(make_engine, store, firm_id) -> None:
    first = activity(kind=ActivityKind.EMAIL, title="Draft settlement", ended_at=None, duration_seconds=None)
    second = first.model_copy(update={"external_id": "a2", "source": "other", "started_at": T0 + timedelta(hours=3)})
    make_engine().capture([first, second])
    original, dup = store.entries(firm_id)
    assert [f.rule for f in dup.findings] == ["duplicate"] and original.id in dup.findings[0].message


def test_blocked_entries_are_kept_but_never_queued_for_write_back(make_engine, store, firm_id) -> None:
    engine = make_engine(rules=RuleSets(firm={"vague_narrative": {"severity": "block"}}))
    engine.capture([activity(title=""), activity(external_id="a2", started_at=T0 + timedelta(hours=1))])
    blocked, fine = store.entries(firm_id)
    assert blocked.state is EntryState.BLOCKED and fine.state is EntryState.NEEDS_REVIEW
    with store.engine.connect() as conn:
        queued = conn.execute(select(outbox.c.entry_id, outbox.c.operation).where(outbox.c.firm_id == firm_id)).all()
    assert queued == [(fine.id, "create")]


def test_matter_cap_counts_what_was_billed_before(make_engine, store, firm_id) -> None:
    capped = [matter(cap_amount=D("100"))]
    make_engine(matters=capped).capture([activity()])  # 80.00
    make_engine(matters=capped).capture([activity(external_id="a2", started_at=T0 + timedelta(hours=1), title="offer")])
    first, second = store.entries(firm_id)
    assert (first.amount, second.amount) == (D("80.00"), D("20.00"))
    assert [f.rule for f in second.findings] == ["matter_cap"]


def test_work_date_is_the_timekeepers_local_date(make_engine, store, firm_id) -> None:
    late_evening_in_la = T0.replace(day=6, hour=5)  # 22:00 on Oct 5 in Los Angeles
    make_engine(users=[timekeeper(time_zone="America/Los_Angeles")]).capture(
        [activity(started_at=late_evening_in_la, ended_at=None)]
    )
    assert store.entries(firm_id)[0].work_date.isoformat() == "2026-10-05"


def test_e_billing_matters_get_utbms_codes(make_engine, store, firm_id) -> None:
    matters = [matter(ebilling=True, task_code="L310")]
    hearing = activity(
        external_id="h1",
        kind=ActivityKind.EVENT,
        title="Hearing on motion",
        started_at=T0 + timedelta(hours=2),
        ended_at=T0 + timedelta(hours=3),
        duration_seconds=None,
    )
    make_engine(matters=matters).capture([activity(), hearing])
    call, event = store.entries(firm_id)
    assert (call.task_code, call.activity_code) == ("L310", "A106")
    assert (event.task_code, event.activity_code) == ("L310", "A109")
    assert not call.findings


def test_closed_matter_link_goes_to_the_unassigned_queue(make_engine, store, firm_id) -> None:
    result = make_engine(matters=[matter(status=MatterStatus.CLOSED)]).capture([activity()])
    assert result.statuses == {ActivityStatus.UNASSIGNED: 1}
    assert store.entries(firm_id) == []


def test_firms_are_isolated(make_engine, store, firm_id) -> None:
    make_engine().capture([activity()])
    assert store.entries(firm_id + "-other") == []
    assert store.known_activities(firm_id + "-other", [("test", "a1")]) == set()


def test_a_dry_run_decides_everything_and_stores_nothing(make_engine, store, firm_id) -> None:
    from core.engine import CaptureEngine

    make_engine()  # stores the reference data
    dry = CaptureEngine(
        firm=firm_id,
        policy=CapturePolicy(enabled=True),
        rules=RuleRunner(BUILTIN_RULES, RuleSets()),
        reference=store.load_reference(firm_id),
        store=store,
        persist=False,
    )
    result = dry.capture([activity(), activity(external_id="a2", matter_id=None, counterpart_addresses=())])
    assert result.statuses == {ActivityStatus.CAPTURED: 1, ActivityStatus.UNASSIGNED: 1}
    assert store.entries(firm_id) == [] and activity_statuses(store, firm_id) == {}


# The increment in effect: the firm's own, else the PMS's rounding, else 6 minutes ---------------

FIXED_15 = {ActivityKind.CALL: KindPolicy(duration="fixed", minutes=15)}


def _firm_engine(store, firm_id, *, pms_minutes=None, rules=None, **capture) -> CaptureEngine:
    from config.settings import FirmSettings
    from core.capture import engine_for

    store.save_reference(firm_id, [timekeeper(), client(), matter()])
    if pms_minutes != "never read":
        store.save_time_increment(firm_id, "clio", pms_minutes)
    firm = FirmSettings(
        name="Acme", capture=CapturePolicy(enabled=True, kinds=FIXED_15, **capture), rules=rules or RuleSets()
    )
    return engine_for(firm_id, firm, store)


@pytest.mark.parametrize(
    ("pms_minutes", "capture", "billed"),
    [
        (15, {}, 900),  # Clio rounds to quarter hours: the 15-minute block is written as it is
        (5, {}, 900),  # three whole increments
        (1, {}, 900),
        (6, {}, 1080),  # not whole 6-minute increments: 0.3 h, as check-config says
        (None, {}, 1080),  # the PMS gave no rounding: 6 minutes
        ("never read", {}, 1080),
        (15, {"increment_minutes": 30}, 1800),  # the firm's coarser increment wins
        (15, {"increment_minutes": 6}, 1080),  # and so does a finer one (check warns that Clio rounds it again)
    ],
)
def test_a_fixed_block_is_rounded_once_to_the_increment_in_effect(store, firm_id, pms_minutes, capture, billed) -> None:
    _firm_engine(store, firm_id, pms_minutes=pms_minutes, **capture).capture([activity()])
    [entry] = store.entries(firm_id)
    assert (entry.raw_seconds, entry.billed_seconds) == (900, billed)
    assert entry.amount == D(billed) * D("400.00") / 3600  # $400 an hour, by hand: 900 s is $100.00


def test_billsyncs_own_increment_is_no_increment_finding_but_a_clients_unit_is(store, firm_id) -> None:
    _firm_engine(store, firm_id, pms_minutes=15).capture([activity()])
    [entry] = store.entries(firm_id)
    assert entry.billed_seconds == 900 and [f.rule for f in entry.findings if f.rule == "increment"] == []
    # A client whose guidelines bill tenths of an hour still has its 0.25 h entries held.
    other = f"{firm_id}-b"
    rules = RuleSets(clients={"c1": {"increment": RuleConfig(minutes=6)}})
    _firm_engine(store, other, pms_minutes=15, rules=rules).capture([activity()])
    [held] = store.entries(other)
    assert [f.message for f in held.findings if f.rule == "increment"] == [
        "0.25 h is not a whole number of 6-minute increments"
    ]
