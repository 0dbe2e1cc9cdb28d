"""Clio streams against the sandbox: models, cursors with overlap, per-record errors, coverage."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from billsync_sandboxes.clio.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from billsync_sandboxes.kit import iso_timestamp
from pydantic import SecretStr

from connectors.clio.connector import ClioConnector
from connectors.clio.streams import CalendarEntries, Communications, Matters, Tasks
from core.connector import Page
from core.models import (
    Activity,
    ActivityCategory,
    ActivityKind,
    Client,
    ClientRateTable,
    Matter,
    RemoteBill,
    Timekeeper,
)
from tests.connectors.clio.harness import BASE, ClioEnv, make_env, seed, time_entry


def read_all(stream: Any, since: Any = None) -> tuple[list[Any], list[str], list[Page]]:
    pages = list(stream.read(since))
    return [r for p in pages for r in p.records], [e for p in pages for e in p.errors], pages


def sent_queries(env: ClioEnv, resource: str) -> list[dict[str, list[str]]]:
    return [
        parse_qs(urlsplit(str(r.url)).query)
        for r in env.adapter.sent
        if urlsplit(str(r.url)).path.endswith(f"/api/v4/{resource}.json")
    ]


def stream(env: ClioEnv, name: str) -> Any:
    return next(s for s in env.connector.streams() if s.name == name)


def test_every_stream_yields_valid_models_reference_streams_first() -> None:
    env = make_env()
    env.sandbox.generate_bill(1001)  # a person bills matter 1001 in Clio's UI
    streams = env.connector.streams()
    assert [s.name for s in streams] == [
        "users",
        "activity_descriptions",
        "contacts",
        "activity_rates",
        "matters",
        "communications",
        "calendar_entries",
        "tasks",
        "documents",
        "notes",
        "bills",
    ]
    expected = {
        "users": (Timekeeper, {"345", "346"}),
        "activity_descriptions": (ActivityCategory, {"77", "78"}),
        "contacts": (Client, {"501", "502"}),
        "activity_rates": (ClientRateTable, {"clio"}),  # the whole table, one record
        "matters": (Matter, {"1001", "1002", "1003"}),
        "communications": (Activity, {"communication:4001", "communication:4002"}),
        "calendar_entries": (Activity, {"calendar_entry:9001"}),
        "tasks": (Activity, {"task:6001"}),
        "documents": (Activity, {"document:8001"}),
        "notes": (Activity, {"note:5001"}),
        "bills": (RemoteBill, {"1"}),
    }
    for each in streams:
        records, errors, _ = read_all(each)
        model, ids = expected[each.name]
        assert errors == [], each.name
        assert all(isinstance(r, model) for r in records), each.name
        assert {getattr(r, "external_id", None) or r.id for r in records} == ids, each.name


def test_only_the_last_page_moves_the_cursor_to_the_highest_updated_at() -> None:
    env = make_env(page_limit=1)
    env.sandbox.update("matters", 1001, {"description": "Acme v. Beta (amended)"})  # newest, but first by id
    records, _, pages = read_all(stream(env, "matters"))
    assert [len(p.records) for p in pages] == [1, 1, 1]
    assert [p.cursor for p in pages] == [None, None, {"updated_since": iso_timestamp(env.clock.now())}]
    assert [r.id for r in records] == ["1001", "1002", "1003"]


def test_rereading_from_the_cursor_overlaps_and_yields_nothing_newer() -> None:
    env = make_env()
    _, _, pages = read_all(stream(env, "tasks"))
    cursor = pages[-1].cursor
    assert cursor == {"updated_since": "2026-04-03T20:00:00+00:00"}
    again, errors, again_pages = read_all(stream(env, "tasks"), cursor)
    assert errors == []
    assert sent_queries(env, "tasks")[-1]["updated_since"] == ["2026-04-03T19:45:00+00:00"]  # 15 min overlap
    assert sent_queries(env, "tasks")[-1]["complete"] == ["true"]
    assert all(a.started_at <= datetime.fromisoformat(cursor["updated_since"]) for a in again)
    assert again_pages[-1].cursor == cursor  # nothing newer: the cursor stays, never goes back


def test_the_overlap_window_is_configurable() -> None:
    env = make_env()
    settings = ClioConnector.Settings(
        client_id=DEFAULT_CLIENT_ID,
        client_secret=SecretStr(DEFAULT_CLIENT_SECRET),
        base_url=f"{BASE}/clio",
        overlap_minutes=60,
    )
    connector = ClioConnector(settings, env.ctx, clock=env.clock.now)
    notes = next(s for s in connector.streams() if s.name == "notes")
    list(notes.read({"updated_since": "2026-04-01T12:00:00+00:00"}))
    query = sent_queries(env, "notes")[-1]
    assert query["updated_since"] == ["2026-04-01T11:00:00+00:00"] and query["type"] == ["Matter"]


def test_a_change_after_the_cursor_is_read_and_moves_it_forward() -> None:
    env = make_env()
    _, _, pages = read_all(Matters(env.connector.client))
    cursor = pages[-1].cursor
    env.clock.advance(3600)
    env.sandbox.update("matters", 1002, {"status": "Open"})
    records, _, later = read_all(Matters(env.connector.client), cursor)
    changed = next(m for m in records if m.id == "1002")
    assert changed.status == "open"
    # The rest come from the overlap window: nothing newer than the old cursor.
    assert all(m.updated_at <= datetime.fromisoformat(cursor["updated_since"]) for m in records if m.id != "1002")
    assert later[-1].cursor == {"updated_since": iso_timestamp(env.clock.now())}


def test_a_bad_record_is_reported_and_the_stream_goes_on() -> None:
    env = make_env()
    bad = env.sandbox.add(
        "matters", {"display_number": "00099-Odd", "description": "Odd", "status": "Archived", "client": {"id": 501}}
    )
    broken = env.sandbox.add(
        "communications",
        {
            "type": "PhoneCommunication",
            "subject": "Call",
            "body": "never shown",
            "user": {"id": 345},
            "received_at": "yesterday",
        },
    )
    matters, errors, _ = read_all(Matters(env.connector.client))
    assert {m.id for m in matters} == {"1001", "1002", "1003"}
    assert errors == [f"matters {bad['id']}: matter {bad['id']} has an unknown status"]
    comms, errors, _ = read_all(Communications(env.connector.client))
    assert len(comms) == 2
    assert errors == [f"communications {broken['id']}: received_at is not an ISO-8601 timestamp"]
    assert "never shown" not in errors[0]


def test_a_calendar_entry_is_read_once_it_has_ended_even_if_never_updated() -> None:
    env = make_env()
    start = env.clock.now() + timedelta(hours=1)
    upcoming = env.sandbox.add(
        "calendar_entries",
        {
            "summary": "Deposition",
            "description": "privileged",
            "start_at": iso_timestamp(start),
            "end_at": iso_timestamp(start + timedelta(hours=2)),
            "all_day": False,
            "matter": {"id": 1001},
            "calendar_owner": {"id": 11, "name": "Jane Doe"},
            "calendar_owner_id": 11,
        },
    )
    records, _, pages = read_all(CalendarEntries(env.connector.client, clock=env.clock.now))
    assert [r.external_id for r in records] == ["calendar_entry:9001"]
    cursor = pages[-1].cursor
    assert cursor["ended_until"] == iso_timestamp(env.clock.now())
    env.clock.advance(4 * 3600)  # the deposition ends; nobody edits it, so updated_at stays put
    records, errors, pages = read_all(CalendarEntries(env.connector.client, clock=env.clock.now), cursor)
    assert errors == []
    assert [r.external_id for r in records] == [f"calendar_entry:{upcoming['id']}"]
    assert records[0].duration_seconds == 7200 and records[0].actor == "345"
    assert pages[-1].cursor["ended_until"] == iso_timestamp(env.clock.now())
    assert pages[-1].cursor["updated_since"] >= cursor["updated_since"]


def test_a_personal_calendar_billsync_cannot_tie_to_a_user_is_reported() -> None:
    data = seed()
    data["users"][0].pop("default_calendar_id")
    env = make_env(data)
    records, errors, _ = read_all(CalendarEntries(env.connector.client, clock=env.clock.now))
    assert records == []
    assert errors == ["calendar_entries 9001: calendar owner 11 is not a firm user's default calendar"]


def test_time_logged_by_a_person_covers_an_activity_but_billsyncs_own_entry_does_not() -> None:
    env = make_env()
    sent = env.sandbox.add(
        "communications",
        {
            "type": "EmailCommunication",
            "subject": "Settlement offer",
            "body": "privileged",
            "received_at": "2026-04-06T14:00:00+00:00",
            "user": {"id": 345},
            "matter": {"id": 1001},
            "senders": [{"id": 345, "type": "User", "name": "Jane Doe"}],
            "receivers": [{"id": 501, "type": "Company", "name": "Acme Corp"}],
        },
    )

    def covered() -> bool:
        records, _, _ = read_all(Communications(env.connector.client))
        return next(r for r in records if r.external_id == f"communication:{sent['id']}").covered_by_time_entry

    assert covered() is False
    entry = time_entry(activity_key=("clio", f"communication:{sent['id']}"), work_date=datetime(2026, 4, 6).date())
    env.connector.writer().write_time_entry(entry, "key-settlement", billable=False)
    # billsync's own entry counts too: core decides only activities it holds no entry for, so a
    # marked entry seen here was written by another store, and writing again would bill it twice.
    assert covered() is True
    env.sandbox.add(
        "activities",
        {
            "type": "TimeEntry",
            "date": "2026-04-06",
            "quantity": 600.0,
            "price": 350.0,
            "note": "Reviewed offer",
            "matter": {"id": 1001},
            "user": {"id": 345},
            "communication": {"id": sent["id"]},
        },
    )
    assert covered() is True
    seeded, _, _ = read_all(Communications(env.connector.client))
    assert next(r for r in seeded if r.external_id == "communication:4001").covered_by_time_entry


def test_only_completed_tasks_become_activity() -> None:
    env = make_env()
    env.sandbox.add(
        "tasks",
        {
            "name": "Draft reply",
            "description": "x",
            "status": "pending",
            "assignee": {"id": 345, "type": "User"},
            "matter": {"id": 1001},
        },
    )
    records, _, _ = read_all(Tasks(env.connector.client))
    assert [r.external_id for r in records] == ["task:6001"] and records[0].kind is ActivityKind.TASK


def test_activity_streams_never_ask_for_privileged_text() -> None:
    env = make_env()
    for each in env.connector.streams()[5:]:  # the activity streams (a matter's description is its name)
        list(each.read(None))
    fields = [q["fields"][0] for q in (parse_qs(urlsplit(str(r.url)).query) for r in env.adapter.sent) if "fields" in q]
    assert fields
    for value in fields:
        names = set(value.replace("{", ",").replace("}", ",").split(","))
        assert not names & {"body", "detail", "description"}, value


def test_client_rates_come_from_clios_activity_rates_with_group_rates_resolved_to_users() -> None:
    env = make_env()
    [table], errors, pages = read_all(stream(env, "activity_rates"))
    # The seed: Bob Smith (502) agreed 260 for Jane and 150 for the staff group, which Sam is in;
    # Acme's 500 is a co-counsel rate (it prices Acme's own users), not a client rate.
    assert table.rates == {"502": {"345": Decimal("260"), "346": Decimal("150")}} and errors == []
    assert len(pages) == 1 and "read_at" in pages[0].cursor
    # A rate deleted in Clio is gone at the next read: the table is read whole.
    env.sandbox.delete("activity_rates", 1)
    [again], _, _ = read_all(stream(env, "activity_rates"), pages[0].cursor)
    assert again.rates == {"502": {"346": Decimal("150")}}


def test_the_users_stream_reads_every_user_and_their_job_titles() -> None:
    env = make_env()
    _, _, pages = read_all(stream(env, "users"))
    users, _, _ = read_all(stream(env, "users"), pages[-1].cursor)  # nothing changed: still every user
    assert {u.id: u.classification for u in users} == {"345": "PARTNR", "346": None}  # Sam: NonAttorney, no title
    assert "updated_since" not in sent_queries(env, "users")[-1]
