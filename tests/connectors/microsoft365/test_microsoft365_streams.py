"""Calendar, sent-mail and Teams-call streams against the in-process Graph sandbox."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
import structlog
from billsync_sandboxes.microsoft365.errors import GraphError

from connectors.microsoft365.client import MAX_CONCURRENT_PER_MAILBOX, MailboxGate
from core.errors import Retryable
from core.models import Activity, ActivityKind
from tests.connectors.microsoft365.harness import (
    ACME,
    CANARY,
    JANE,
    JOHN,
    NOW,
    call_record,
    event,
    make_env,
    message,
    seed,
    user,
)


def test_ended_meetings_with_attendees_become_event_activities_with_matter_hints() -> None:
    env = make_env()
    records, cursor = env.read_all("calendar_events")
    by_id = {r.external_id: r for r in records}
    assert set(by_id) == {"event:AAMkAD-1", "event:AAMkAD-2"}  # private and not-yet-ended ones are not
    jane = by_id["event:AAMkAD-1"]
    assert jane.kind is ActivityKind.EVENT and jane.actor == JANE
    assert jane.title == "Client meeting [0001-0001]" and jane.counterpart_addresses == (ACME,)
    assert jane.actual_seconds == 3600  # actual duration from start and end
    john = by_id["event:AAMkAD-2"]
    assert john.workspace == "0001-0002"  # a category names the matter where core's matcher looks
    assert set(cursor["mailboxes"]) == {JANE, JOHN}
    assert all("$deltatoken=" in m["delta"] for m in cursor["mailboxes"].values())
    assert list(cursor["mailboxes"][JANE]["pending"]) == ["AAMkAD-future"]


def test_a_meeting_seen_before_it_ended_is_read_once_it_has_ended() -> None:
    env = make_env()
    _, cursor = env.read_all("calendar_events")
    env.clock.advance(timedelta(hours=4).total_seconds())
    records, cursor = env.read_all("calendar_events", cursor)
    assert [r.external_id for r in records] == ["event:AAMkAD-future"]
    assert cursor["mailboxes"][JANE]["pending"] == {}
    fetched = [r for r in env.graph_requests() if "/events/AAMkAD-future" in r["path"] or r["path"].endswith("$batch")]
    assert fetched, "the ended meeting was read again by id"


def test_incremental_rounds_see_new_and_removed_items_only() -> None:
    env = make_env()
    _, cursor = env.read_all("calendar_events")
    env.admin("POST", f"events/{JANE}", event("3", JANE, [ACME], NOW - timedelta(hours=5)))
    env.admin("DELETE", f"events/{JANE}/AAMkAD-1")
    records, cursor = env.read_all("calendar_events", cursor)
    assert [r.external_id for r in records] == ["event:AAMkAD-3"]
    again, _ = env.read_all("calendar_events", cursor)
    assert again == []


def test_an_expired_delta_token_starts_a_full_resync() -> None:
    env = make_env()
    first, cursor = env.read_all("sent_mail")
    env.admin("POST", "delta/expire", {})
    again, fresh = env.read_all("sent_mail", cursor)
    assert sorted(r.external_id for r in again) == sorted(r.external_id for r in first)  # known to core: deduped
    assert fresh["mailboxes"][JANE]["delta"] != cursor["mailboxes"][JANE]["delta"]
    statuses = [r["status"] for r in env.graph_requests()]
    assert 200 in statuses  # the batch answered, members carried the 410


def test_sent_mail_reads_only_subject_and_recipients_never_bodies() -> None:
    env = make_env()
    records, _ = env.read_all("sent_mail")
    assert {r.kind for r in records} == {ActivityKind.EMAIL}
    jane = next(r for r in records if r.actor == JANE)
    assert jane.title == "Draft agreement" and jane.counterpart_addresses == (ACME,)
    members = [r for r in env.adapter.sent if r.url and r.url.endswith("$batch")]
    sent = json.loads(members[0].body or b"{}")
    urls = [m["url"] for m in sent["requests"] if "messages/delta" in m["url"]]
    assert urls and all("%24select=" in u and "body" not in u.split("%24select=")[1].split("&")[0] for u in urls)


def test_teams_calls_map_participants_and_real_duration() -> None:
    env = make_env()
    records, cursor = env.read_all("teams_calls")
    [call] = records
    assert call.kind is ActivityKind.CALL and call.actor == JANE and call.duration_seconds == 40 * 60
    assert call.counterpart_addresses == ("+1 555 100 1000",)
    assert cursor is not None and "newest_start" in cursor
    again, _ = env.read_all("teams_calls", cursor)
    assert again == []


def test_a_call_whose_participants_could_not_be_read_is_read_again_next_time() -> None:
    # Found by the reliability suite: a 500 inside the $batch marked the call seen, so it was lost.
    env = make_env()
    env.faults({"route": "*participants_v2*", "kind": "500", "probability": 1.0})
    records, cursor = env.read_all("teams_calls")
    assert records == []
    env.faults()
    again, _ = env.read_all("teams_calls", cursor)
    assert [call.actor for call in again] == [JANE]


def test_a_mailbox_refused_for_now_stops_the_poll_after_the_others_and_is_read_next_time() -> None:
    # Found by the reliability suite: skipping the mailbox let the Teams-calls stream run ahead of
    # its calendar, so a call inside a meeting could own their merged entry. Now the others are
    # stored, the poll stops (Retryable), and the next poll reads the mailbox from its cursor.
    env = make_env()
    stream = next(s for s in env.connector.streams() if s.name == "calendar_events")
    env.faults({"route": "*john.roe*calendarView*", "kind": "500", "probability": 1.0})
    pages = stream.read(None)
    stored = []
    with pytest.raises(Retryable, match=JOHN):
        for page in pages:
            stored.append(page)
    assert {r.actor for page in stored for r in page.records} == {JANE}
    env.faults()
    again = [r for page in stream.read(stored[-1].cursor) for r in page.records]
    assert {r.actor for r in again} == {JOHN}


def test_a_mailbox_graph_refuses_for_good_is_reported_and_skipped_without_stopping_the_poll() -> None:
    # A $batch member's 403 is classified as core classifies a request's own (GraphForbidden, not
    # Retryable): each mailbox is reported with Graph's error code and the poll goes on.
    env = make_env(roles=frozenset({"Calendars.Read", "CallRecords.Read.All", "User.Read.All"}))
    stream = next(s for s in env.connector.streams() if s.name == "sent_mail")
    pages = list(stream.read(None))
    assert [error for page in pages for error in page.errors] == [
        f"mailbox {mailbox}: HTTP 403 erroraccessdenied; skipped this cycle" for mailbox in (JANE, JOHN)
    ]
    assert [record for page in pages for record in page.records] == []


def test_call_records_older_than_thirty_days_are_gone() -> None:
    data = seed()
    old = data["callRecords"][0] | {
        "id": "call-old",
        "startDateTime": "2026-02-01T10:00:00Z",
        "endDateTime": "2026-02-01T10:30:00Z",
    }
    data["callRecords"].append(old)
    env = make_env(data)
    records, _ = env.read_all("teams_calls")
    assert [r.external_id.split(":")[1] for r in records] == ["call-1"]


def test_the_tenant_keeps_call_records_thirty_days_by_its_own_clock() -> None:
    # The tenant's clock stands at NOW (2026-04-06 15:00 UTC), months before the wall clock: what it
    # keeps is measured from NOW. One call ended 29 days 23 hours before it, one 30 days 1 hour before.
    data = seed()
    data["callRecords"] += [
        call_record("kept", JANE, "+1 555 100 2000", NOW - timedelta(days=30, hours=-1, minutes=30), 30),
        call_record("gone", JANE, "+1 555 100 3000", NOW - timedelta(days=30, hours=1, minutes=30), 30),
    ]
    env = make_env(data)

    def listed() -> list[str]:
        return [r["id"] for r in env.sandbox.call_record_list({})]  # no filter: all the tenant keeps

    assert listed() == ["call-kept", "call-1"]
    assert env.sandbox.call_record("call-kept")["id"] == "call-kept"
    with pytest.raises(GraphError):
        env.sandbox.call_record("call-gone")
    env.clock.advance(timedelta(hours=2).total_seconds())  # call-kept ended 30 days 1 hour ago now
    assert listed() == ["call-1"]
    with pytest.raises(GraphError):
        env.sandbox.call_record("call-kept")
    records, _ = env.read_all("teams_calls")
    assert [r.external_id.split(":")[1] for r in records] == ["call-1"]


def test_privileged_bodies_never_reach_activities_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    structlog.configure(logger_factory=structlog.stdlib.LoggerFactory())
    caplog.set_level(logging.DEBUG)
    env = make_env()
    everything: list[Activity] = []
    for name in ("calendar_events", "sent_mail", "teams_calls"):
        records, _ = env.read_all(name)
        everything.extend(records)
    env.connector.webhooks().ensure("https://billsync.example.test/hooks/m365", None)
    assert everything
    assert all(a.body is None for a in everything)
    assert CANARY not in json.dumps([a.model_dump(mode="json") for a in everything])
    assert CANARY not in caplog.text
    # The canary did travel: Graph returns event bodies whether asked or not (calendarView delta).
    assert CANARY in json.dumps(list(env.sandbox.box("events", JANE).items.values()))


def test_batch_reads_the_first_page_of_many_mailboxes_in_one_request() -> None:
    mailboxes = [f"lawyer{i}@firm.example" for i in range(7)]
    data = {
        "users": [user(m) for m in mailboxes],
        "messages": {m: [message(m, m, [ACME], NOW - timedelta(days=1))] for m in mailboxes},
    }
    env = make_env(data, mailboxes=mailboxes)
    env.connector.auth.token()
    env.admin("DELETE", "requests")
    records, _ = env.read_all("sent_mail")
    assert len(records) == 7
    graph = env.graph_requests()
    # One $batch for seven first pages (each a whole round here): 7 GETs became 1 request.
    assert [r["path"].rsplit("/", 1)[-1] for r in graph] == ["$batch"]


def test_a_429_is_waited_out_with_its_retry_after() -> None:
    env = make_env()
    env.faults({"route": "*/calendarView/delta", "kind": "429", "retry_after": 7, "probability": 1.0})
    with pytest.raises(Exception):  # noqa: B017 - every attempt is throttled: the read gives up
        env.read_all("calendar_events")
    assert env.sleeps and all(s >= 7 for s in env.sleeps)
    env.faults()
    records, _ = env.read_all("calendar_events")
    assert records


def test_a_throttled_batch_member_is_sent_again_alone_after_its_retry_after() -> None:
    env = make_env()
    env.faults({"route": "*/users/john.roe*/mailFolders/*", "kind": "429", "retry_after": 5, "probability": 1.0})
    env.clock.advance(0)

    def clear_after_first_wait(seconds: float) -> None:
        env.sleeps.append(seconds)
        env.faults()

    env.ctx.http._sleep = clear_after_first_wait  # the fault clears while billsync waits
    records, _ = env.read_all("sent_mail")
    assert {r.actor for r in records} == {JANE, JOHN}
    assert env.sleeps and env.sleeps[0] >= 5


def test_at_most_four_requests_per_mailbox_at_once() -> None:
    gate = MailboxGate()
    slot = gate.slot(JANE)
    assert MAX_CONCURRENT_PER_MAILBOX == 4
    taken = [slot.acquire(blocking=False) for _ in range(5)]
    assert taken == [True, True, True, True, False]
    assert gate.slot(JANE.upper()) is slot and gate.slot(JOHN) is not slot
    env = make_env()
    key = env.sandbox.enter_mailbox("app", "id-jane.doe")
    for _ in range(3):
        env.sandbox.enter_mailbox("app", "id-jane.doe")
    with pytest.raises(Exception, match="MailboxConcurrency"):
        env.sandbox.enter_mailbox("app", "id-jane.doe")  # the sandbox enforces Graph's limit too
    env.sandbox.leave_mailbox(key)


def test_all_firm_users_when_no_mailboxes_are_configured() -> None:
    env = make_env(mailboxes=[])
    records, cursor = env.read_all("sent_mail")
    assert set(cursor["mailboxes"]) == {JANE, JOHN}
    assert len(records) == 2


def test_a_backfill_cursor_reads_from_its_date() -> None:
    env = make_env()
    records, _ = env.read_all("sent_mail", {"updated_since": (NOW - timedelta(days=2)).isoformat()})
    assert records == []  # both messages were sent three days ago
    records, _ = env.read_all("sent_mail", {"updated_since": (NOW - timedelta(days=5)).isoformat()})
    assert len(records) == 2
