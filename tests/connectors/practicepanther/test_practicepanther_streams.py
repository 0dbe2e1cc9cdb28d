"""The read side against the sandbox: what becomes an Activity, covered entries, cursors, privilege."""

from __future__ import annotations

from typing import Any

from core.connector import Page
from core.models import Activity, ActivityKind, Client, Matter, Timekeeper
from tests.connectors.practicepanther.harness import make_env
from tests.connectors.practicepanther.seed import CANARY, FLAT, HOURLY, JANE


def read(env: Any, name: str, since: Any = None) -> list[Page]:
    [stream] = [s for s in env.connector.streams() if s.name == name]
    return list(stream.read(since))


def records(pages: list[Page]) -> list[Any]:
    return [r for page in pages for r in page.records]


def test_reference_streams_map_users_accounts_and_matters() -> None:
    env = make_env()
    assert {type(r) for r in records(read(env, "users"))} == {Timekeeper}
    assert [c.name for c in records(read(env, "accounts"))] == ["Acme Corp"]
    matters = {m.id: m for m in records(read(env, "matters"))}
    assert all(isinstance(m, Matter) for m in matters.values()) and len(matters) == 3


def test_activity_sources_keep_only_billable_work() -> None:
    env = make_env()
    kinds: dict[str, list[Activity]] = {}
    for name in ("calllogs", "messages", "emails", "events", "tasks", "notes"):
        kinds[name] = records(read(env, name))
    assert [a.kind for a in kinds["calllogs"]] == [ActivityKind.CALL] * 2
    [sms] = kinds["messages"]  # the client's reply is not firm work
    assert sms.kind is ActivityKind.SMS and sms.actor == JANE and sms.matter_id == HOURLY
    [email] = kinds["emails"]  # only the one Jane sent
    assert email.actor == JANE and email.counterpart_addresses == ("ann@acme.test",)
    [event] = kinds["events"]  # the trial has not ended yet
    assert event.title == "Mediation" and event.actual_seconds == 7200
    [task] = kinds["tasks"]
    assert task.title == "File answer"
    assert [n.title for n in kinds["notes"]] == ["Strategy note"]


def test_an_activity_named_in_a_time_entry_of_the_same_user_matter_and_day_is_covered() -> None:
    env = make_env()
    calls = {a.matter_id: a for a in records(read(env, "calllogs"))}
    assert calls[HOURLY].covered_by_time_entry is True
    assert calls[FLAT].covered_by_time_entry is False


def test_no_privileged_body_reaches_a_title_or_a_record() -> None:
    env = make_env()
    for stream in env.connector.streams():
        for record in records(list(stream.read(None))):
            if isinstance(record, Activity):
                assert CANARY not in record.title and record.body is None
            assert CANARY not in record.model_dump_json()


def test_cursors_advance_on_the_last_page_and_rereading_brings_nothing_new() -> None:
    env = make_env(page_size=1)
    pages = read(env, "calllogs")
    assert all(p.cursor is None for p in pages[:-1])
    last = pages[-1].cursor
    assert last == {"updated_since": "2026-03-31T09:30:00+00:00"}
    first_ids = {a.external_id for a in records(pages)}
    again = records(read(env, "calllogs", last))
    assert {a.external_id for a in again} <= first_ids  # the overlap window may repeat, nothing new
    env.clock.advance(3600)
    env.admin(
        "POST",
        "calllogs",
        {
            "subject": "New call",
            "date": "2026-04-06T15:00:00",
            "assigned_to_users": [{"id": JANE}],
            "matter_ref": {"id": HOURLY},
        },
    )
    newer = records(read(env, "calllogs", last))
    assert "New call" in {a.title for a in newer}
    query = [e["query"] for e in env.requests_log() if e["path"] == "/api/v2/calllogs"][-1]
    assert "updated_since=2026-03-31T09%3A15%3A00Z" in query  # 15-minute overlap, with a zone


def test_messages_are_filtered_on_this_side() -> None:
    env = make_env()
    cursor = read(env, "messages")[-1].cursor
    assert records(read(env, "messages", cursor)) != []  # inside the overlap window
    env.clock.advance(3600)
    later = {"updated_since": "2026-04-01T00:00:00+00:00"}
    assert records(read(env, "messages", later)) == []
    assert all("updated_since" not in e["query"] for e in env.requests_log() if e["path"] == "/api/v2/messages")


def test_an_event_that_ends_after_it_was_read_is_picked_up_by_the_second_pass() -> None:
    env = make_env()
    first = read(env, "events")
    cursor = first[-1].cursor
    assert cursor is not None and "ended_until" in cursor
    assert {a.title for a in records(first)} == {"Mediation"}
    env.clock.advance(4 * 3600)  # the trial (16:00-18:00 on the clock's day) ends; nothing updated it
    later = records(read(env, "events", cursor))
    assert "Trial" in {a.title for a in later}


def test_a_bad_record_is_a_page_error_not_a_stopped_sync() -> None:
    env = make_env()
    env.admin("POST", "notes", {"subject": "Nobody's", "assigned_to_users": [], "date": "2026-04-01T10:00:00"})
    pages = read(env, "notes")
    errors = [e for p in pages for e in p.errors]
    assert len(errors) == 1 and "no firm user" in errors[0] and "Nobody" not in errors[0]
    assert [n.title for n in records(pages)] == ["Strategy note"]
    assert all(isinstance(r, Activity | Client) for r in records(pages))
