"""Clio JSON -> core models, and time entries -> Clio activity bodies (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.clio import mapping
from core.engine import idempotency_key_for
from core.models import ActivityKind, BillingMethod, MatterStatus
from tests.connectors.clio.harness import CANARY, time_entry

NOW = datetime(2026, 4, 6, 15, 0, tzinfo=UTC)


def user(**kw: Any) -> dict[str, Any]:
    base = {
        "id": 345,
        "name": "Jane Doe",
        "email": "jane.doe@example.test",
        "enabled": True,
        "rate": 350.0,
        "roles": ["admin"],
        "subscription_type": "Attorney",
        "time_zone": "America/Los_Angeles",
        "clio_connect": False,
        "updated_at": "2025-01-02T09:00:00+00:00",
    }
    return base | kw


def test_user_becomes_a_timekeeper_with_a_decimal_rate() -> None:
    keeper = mapping.timekeeper(user())
    assert keeper.id == "345" and keeper.email == "jane.doe@example.test"
    assert keeper.default_rate == Decimal("350.0") and isinstance(keeper.default_rate, Decimal)
    assert keeper.may_record_time and keeper.enabled and keeper.time_zone == "America/Los_Angeles"


@pytest.mark.parametrize(
    ("changes", "may_record"),
    [
        ({"subscription_type": "NonAttorney"}, True),
        ({"roles": []}, True),  # roles are permissions, not time recording
        ({"enabled": False}, False),
        ({"clio_connect": True}, False),
        ({"subscription_type": None}, False),  # unknown: not trusted to bill
        ({"subscription_type": "Guest"}, False),
    ],
)
def test_who_may_record_time_is_conservative(changes: dict[str, Any], may_record: bool) -> None:
    assert mapping.timekeeper(user(**changes)).may_record_time is may_record


def test_client_contact_with_emails_domains_phones_and_ledes_id() -> None:
    contact = {
        "id": 501,
        "name": "Acme Corp",
        "type": "Company",
        "is_client": True,
        "primary_email_address": "Legal@Acme.example.test",
        "secondary_email_address": "ops@gmail.com",
        "email_addresses": [{"address": "billing@acme-holdings.example.test"}],
        "primary_phone_number": "+1 555 010 2000",
        "phone_numbers": [{"number": "+1 555 010 2000"}],
        "ledes_client_id": "ACME-01",
    }
    found = mapping.client(contact)
    assert found is not None
    assert found.emails == ("legal@acme.example.test", "ops@gmail.com", "billing@acme-holdings.example.test")
    assert found.domains == ("acme.example.test", "acme-holdings.example.test")  # never gmail.com
    assert found.phones == ("+1 555 010 2000",)
    assert found.ledes_client_id == "ACME-01"


def test_a_person_gives_no_domain_and_a_non_client_is_skipped() -> None:
    person = mapping.client(
        {
            "id": 7,
            "first_name": "Bob",
            "last_name": "Smith",
            "type": "Person",
            "is_client": True,
            "primary_email_address": "bob@employer.example.test",
        }
    )
    assert person is not None and person.name == "Bob Smith" and person.domains == ()
    assert mapping.client({"id": 8, "name": "Opposing Counsel", "is_client": False}) is None


def address(name: str, street: str, *, primary: bool = False) -> dict[str, Any]:
    """A Clio Address (Address_base in the spec)."""
    return {
        "id": 9000 + len(street), "name": name, "street": street, "city": "Providence", "province": "RI",
        "postal_code": "02903", "country": "United States", "primary": primary,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "street"),
    [
        # Clio names each address: the one named Billing is where bills go, whatever is primary.
        (
            {"addresses": [address("Work", "1 Dock St", primary=True), address("Billing", "PO Box 7")],
             "primary_address": address("Work", "1 Dock St", primary=True)},
            "PO Box 7",
        ),
        ({"addresses": [address("Home", "2 Elm St")], "primary_address": address("Work", "1 Dock St")}, "1 Dock St"),
        ({"addresses": [address("Home", "2 Elm St"), address("Work", "1 Dock St", primary=True)]}, "1 Dock St"),
        ({"addresses": [address("Other", "3 Oak St"), address("Home", "2 Elm St")]}, "3 Oak St"),
    ],
)  # fmt: skip
def test_a_clients_billing_address_is_the_one_named_billing_else_the_primary_one(
    fields: dict[str, Any], street: str
) -> None:
    found = mapping.client({"id": 501, "name": "Acme Corp", "type": "Company", "is_client": True, **fields})
    assert found is not None and found.address is not None
    assert found.address.lines() == (street, "Providence, RI 02903", "United States")


def test_a_client_without_an_address_has_none() -> None:
    blank = {"name": "Work", "street": "", "city": None, "province": "", "postal_code": "", "country": ""}
    for fields in ({}, {"addresses": [], "primary_address": None}, {"addresses": [blank], "primary_address": blank}):
        found = mapping.client({"id": 501, "name": "Acme Corp", "is_client": True, **fields})
        assert found is not None and found.address is None


def matter(**kw: Any) -> dict[str, Any]:
    base = {
        "id": 1001,
        "display_number": "00012-Acme",
        "number": 12,
        "description": "Acme v. Beta",
        "status": "Open",
        "billable": True,
        "billing_method": "hourly",
        "client": {"id": 501},
        "updated_at": "2026-02-03T10:00:00-08:00",
    }
    return base | kw


def test_matter_status_number_and_custom_hourly_rates() -> None:
    found = mapping.matter(
        matter(
            status="Pending",
            custom_rate={
                "type": "HourlyRate",
                "rates": [
                    {"id": 1, "rate": 400.0, "user": {"id": 345}},
                    {"id": 2, "rate": 250.0, "activity_description": {"id": 77}},
                    {"id": 3, "rate": 999.0, "group": {"id": 9}},  # cannot be pinned to a timekeeper
                    {"id": 4},  # a second-level list may come back without the rate
                ],
            },
        )
    )
    assert found.status is MatterStatus.PENDING and found.number == "00012-Acme" and found.name == "Acme v. Beta"
    assert found.client_id == "501" and found.updated_at.utcoffset() is not None
    assert [(r.rate, r.timekeeper_id, r.category_id) for r in found.rates] == [
        (Decimal("400.0"), "345", None),
        (Decimal("250.0"), None, "77"),
    ]


@pytest.mark.parametrize(
    ("changes", "method"),
    [
        ({}, BillingMethod.HOURLY),
        ({"billing_method": "flat"}, BillingMethod.FLAT),
        ({"billing_method": "contingency"}, BillingMethod.CONTINGENCY),
        ({"custom_rate": {"type": "FlatRate", "rates": [{"rate": 5000.0}]}}, BillingMethod.FLAT),
        ({"custom_rate": {"type": "ContingencyFee", "rates": []}}, BillingMethod.CONTINGENCY),
        ({"billing_method": None, "custom_rate": {"type": "HourlyRate", "rates": []}}, BillingMethod.HOURLY),
    ],
)
def test_billing_method_any_non_hourly_signal_wins(changes: dict[str, Any], method: BillingMethod) -> None:
    found = mapping.matter(matter(**changes))
    assert found.billing_method is method
    if method is not BillingMethod.HOURLY:
        assert found.rates == ()


def test_matter_without_client_or_with_odd_status_is_a_safe_error() -> None:
    with pytest.raises(mapping.MappingError, match="no client"):
        mapping.matter(matter(client=None))
    with pytest.raises(mapping.MappingError, match="unknown status"):
        mapping.matter(matter(status="Archived"))
    with pytest.raises(mapping.MappingError, match="updated_at"):
        mapping.matter(matter(updated_at="2026-02-03T10:00:00"))  # no zone


def test_activity_description_rate_and_flat_fee() -> None:
    hourly = mapping.activity_category({"id": 77, "name": "Drafting", "rate": {"amount": 300.0, "type": "Custom"}})
    flat = mapping.activity_category({"id": 78, "name": "Filing fee", "rate": {"amount": 125.5, "type": "FlatRate"}})
    assert (hourly.rate, hourly.flat) == (Decimal("300.0"), False)
    assert (flat.rate, flat.flat) == (Decimal("125.5"), True)


def communication(**kw: Any) -> dict[str, Any]:
    base = {
        "id": 4001,
        "type": "EmailCommunication",
        "subject": "Draft motion",
        "body": f"secret {CANARY}",
        "received_at": "2026-03-30T16:00:00+00:00",
        "updated_at": "2026-03-30T16:00:00+00:00",
        "user": {"id": 345},
        "matter": {"id": 1001},
        "senders": [{"id": 345, "type": "User", "name": "Jane Doe", "identifier": "jane.doe@example.test"}],
        "receivers": [{"id": 501, "type": "Company", "name": "Acme Corp", "identifier": "Legal@acme.example.test"}],
        "time_entries": [],
        "time_entries_count": 0,
    }
    return base | kw


def test_email_sent_by_a_firm_user() -> None:
    found = mapping.communication_activity(communication())
    assert found is not None
    assert (found.source, found.external_id, found.kind, found.actor) == (
        "clio",
        "communication:4001",
        ActivityKind.EMAIL,
        "345",
    )
    assert found.title == "Draft motion" and found.counterpart == "Acme Corp"
    assert found.counterpart_addresses == ("legal@acme.example.test",)
    assert found.matter_id == "1001" and found.duration_seconds is None
    assert CANARY not in found.title and found.body is None  # bodies are never copied
    assert not found.covered_by_time_entry


def test_received_email_is_not_activity_and_calls_are() -> None:
    received = communication(
        senders=[{"id": 501, "type": "Company", "name": "Acme Corp"}],
        receivers=[{"id": 345, "type": "User", "name": "Jane Doe"}],
    )
    assert mapping.communication_activity(received) is None
    call = mapping.communication_activity(communication(type="PhoneCommunication", senders=[], receivers=[]))
    assert call is not None and call.kind is ActivityKind.CALL and call.actor == "345"


def test_covered_by_a_time_entry_someone_else_logged() -> None:
    ours = {"id": 1, "note": "Email: Draft motion [bs:0123456789abcdef]"}
    theirs = {"id": 2, "note": "Reviewed draft"}
    # billsync's own entry counts as well: core decides only activities it holds no entry for, so a
    # marked entry here is another store's (a store rebuilt from nothing), never to be written twice.
    assert mapping.covered_by_time_entry({"time_entries": [ours], "time_entries_count": 1})
    assert mapping.covered_by_time_entry({"time_entries": [ours, theirs], "time_entries_count": 2})
    assert mapping.covered_by_time_entry({"time_entries_count": 1})  # a bare count: assume a person's
    assert not mapping.covered_by_time_entry({})


def test_the_entry_an_earlier_store_wrote_for_this_very_record_does_not_cover_it() -> None:
    """A store rebuilt from nothing decides the record again and takes that entry over by its
    marker (waiting for review while Clio shows it not billable), rather than dropping it."""
    key = "billsync-a" + "1" * 40
    own = {"id": 1, "note": f"Call with Acme re: deposition {mapping.marker(key)}"}
    other_store = {"id": 2, "note": "Call with Acme [bs:0123456789abcdef]"}  # another record's entry
    person = {"id": 3, "note": "Call with Acme"}  # a person's, or billsync's approved one: no marker
    assert not mapping.covered_by_time_entry({"time_entries": [own], "time_entries_count": 1}, own_key=key)
    assert mapping.covered_by_time_entry({"time_entries": [own, person], "time_entries_count": 2}, own_key=key)
    assert mapping.covered_by_time_entry({"time_entries": [other_store], "time_entries_count": 1}, own_key=key)
    assert mapping.covered_by_time_entry({"time_entries": [person], "time_entries_count": 1}, own_key=key)
    # Read from Clio, a call the earlier store's entry links to is decided again, not covered.
    call = communication(type="PhoneCommunication", senders=[], receivers=[])
    call_key = idempotency_key_for(("clio", f"communication:{call['id']}"))
    call["time_entries"] = [{"id": 9, "note": f"Telephone call {mapping.marker(call_key)}"}]
    call["time_entries_count"] = 1
    found = mapping.communication_activity(call)
    assert found is not None and not found.covered_by_time_entry
    call["time_entries"].append(person)
    call["time_entries_count"] = 2
    found = mapping.communication_activity(call)
    assert found is not None and found.covered_by_time_entry


def event(**kw: Any) -> dict[str, Any]:
    base = {
        "id": "9001",
        "summary": "Hearing",
        "description": CANARY,
        "start_at": "2026-04-02T16:00:00+00:00",
        "end_at": "2026-04-02T17:00:00+00:00",
        "all_day": False,
        "matter": {"id": 1001},
        "attendees": [
            {"id": 1, "type": "Contact", "name": "Acme Corp", "email": "legal@acme.example.test"},
            {"id": 11, "type": "Calendar", "name": "Jane Doe", "email": "jane.doe@example.test"},
        ],
        "updated_at": "2026-03-20T10:00:00+00:00",
    }
    return base | kw


def test_ended_calendar_entry_with_its_duration() -> None:
    found = mapping.calendar_activity(event(), "345", NOW)
    assert found is not None and found.external_id == "calendar_entry:9001" and found.kind is ActivityKind.EVENT
    assert found.duration_seconds == 3600 and found.ended_at is not None and found.title == "Hearing"
    assert found.counterpart == "Acme Corp" and found.counterpart_addresses == ("legal@acme.example.test",)


def test_calendar_entries_that_are_not_work_yet() -> None:
    assert mapping.calendar_activity(event(end_at="2026-04-06T15:00:01+00:00"), "345", NOW) is None  # not ended
    assert mapping.calendar_activity(event(all_day=True), "345", NOW) is None
    assert mapping.calendar_activity(event(), None, NOW) is None  # no owning user


def test_completed_task_document_and_note() -> None:
    task = {
        "id": 6001,
        "name": "File motion",
        "description": CANARY,
        "status": "complete",
        "completed_at": "2026-04-03T20:00:00+00:00",
        "matter": {"id": 1001},
        "assignee": {"id": 345, "type": "User"},
        "updated_at": "2026-04-03T20:00:00+00:00",
    }
    found = mapping.task_activity(task)
    assert found is not None and (found.kind, found.actor, found.title) == (ActivityKind.TASK, "345", "File motion")
    assert mapping.task_activity(task | {"status": "pending"}) is None
    assert mapping.task_activity(task | {"assignee": {"id": 502, "type": "Contact"}}) is None

    document = {
        "id": 8001,
        "name": "Motion.docx",
        "created_at": "2026-04-01T15:00:00+00:00",
        "matter": {"id": 1001},
        "creator": {"id": 345, "type": "ManageUser"},
    }
    doc = mapping.document_activity(document)
    assert doc is not None and (doc.kind, doc.actor, doc.title) == (ActivityKind.DOCUMENT, "345", "Motion.docx")
    assert mapping.document_activity(document | {"creator": {"id": 9, "type": "ClientUser"}}) is None
    assert mapping.document_activity(document | {"matter": None}) is None

    note = {
        "id": 5001,
        "type": "Matter",
        "subject": "Strategy",
        "detail": CANARY,
        "matter": {"id": 1001},
        "author": {"id": 345},
        "created_at": "2026-04-01T12:00:00+00:00",
    }
    found_note = mapping.note_activity(note)
    assert found_note is not None and found_note.title == "Strategy" and found_note.kind is ActivityKind.NOTE
    assert mapping.note_activity(note | {"type": "Contact"}) is None


def test_long_titles_are_cut_not_rejected() -> None:
    found = mapping.communication_activity(communication(subject="x" * 900))
    assert found is not None and len(found.title) == mapping.TITLE_MAX


def test_time_entry_body_in_seconds_with_price_marker_and_links() -> None:
    body = mapping.time_entry_body(time_entry(), "firm|clio|communication:4001|create", billable=False)
    assert body == {
        "type": "TimeEntry",
        "date": "2026-03-30",
        "quantity": 360,  # seconds, not hours
        "price": 350.0,
        "note": f"Email to Acme Corp: Draft motion {mapping.marker('firm|clio|communication:4001|create')}",
        "matter": {"id": 1001},
        "user": {"id": 345},
        "non_billable": True,
        "activity_description": {"id": 77},
        "communication": {"id": 4001},
    }


@pytest.mark.parametrize(
    ("key", "link"),
    [
        (("clio", "task:6001"), ("task", 6001)),
        (("clio", "note:5001"), ("matter_note", 5001)),
        (("clio", "calendar_entry:9001"), ("calendar_entry", 9001)),
        (("clio", "calendar_entry:9001_20260402"), None),  # a composite recurring id: not an integer
        (("clio", "document:8001"), None),  # activities have no document link
        (("m365", "communication:4001"), None),  # another source's ids mean nothing to Clio
    ],
)
def test_source_links(key: tuple[str, str], link: tuple[str, int] | None) -> None:
    assert mapping.source_link(key) == link


def test_marker_round_trip_and_patch_keeps_it() -> None:
    key = "firm|clio|task:6001|create"
    note = mapping.note_with_marker("Task completed: File motion", key)
    narrative, key_hash = mapping.split_note(note)
    assert narrative == "Task completed: File motion" and key_hash == mapping.marker_hash(key)
    changes = mapping.time_entry_changes(time_entry(narrative="Edited"), key_hash, billable=True)
    assert changes == {"note": f"Edited {mapping.marker(key)}", "quantity": 360, "price": 350.0, "non_billable": False}
    assert mapping.split_note("no marker here") == ("no marker here", None)


def test_remote_entry_billed_when_on_any_bill_and_redaction_is_refused() -> None:
    raw = {
        "id": 9,
        "note": "Reviewed [bs:0123456789abcdef]",
        "quantity": 720.0,
        "non_billable": False,
        "billed": False,
        "on_bill": True,
        "matter": {"id": 1002},
    }
    remote = mapping.remote_entry(raw)
    assert (remote.remote_id, remote.narrative, remote.idempotency_key) == ("9", "Reviewed", "0123456789abcdef")
    assert (remote.billed_seconds, remote.matter_id, remote.billable, remote.billed) == (720, "1002", True, True)
    with pytest.raises(mapping.MappingError, match="redacted"):
        mapping.remote_entry(raw | {"quantity": None, "quantity_redacted": True})


@pytest.mark.parametrize(
    ("task_id", "code"), [(7001, "L120"), (7002, None), (None, None), ("7001", None), ([7001], None), (True, None)]
)
def test_a_remote_entrys_task_code_is_named_only_by_an_integer_id_clio_listed(task_id: Any, code: str | None) -> None:
    raw = {"id": 9, "note": "Reviewed", "quantity": 720.0, "matter": {"id": 1002}}
    described = raw | {"activity_description": {"id": 77, "utbms_task_id": task_id}}
    assert mapping.remote_entry(described, {7001: "L120"}).task_code == code


def test_non_numeric_ids_are_refused_for_writes() -> None:
    with pytest.raises(mapping.MappingError):
        mapping.time_entry_body(time_entry(matter_id="HARB-0001"), "k", billable=True)


@pytest.mark.parametrize(
    ("subscription", "title", "expected"),
    [
        ("Attorney", "Partner", "PARTNR"),
        ("Attorney", "Managing Partner", "PARTNR"),
        ("Attorney", "Senior Associate", "ASSOC"),
        ("Attorney", "Of Counsel", "OFCNSL"),
        ("NonAttorney", "Paralegal", "PRLGL"),
        ("NonAttorney", "Legal Assistant", "LGLAST"),
        ("Attorney", None, None),  # partner, associate or of counsel: Clio does not say
        ("NonAttorney", "Partner", None),  # a title that contradicts the subscription is not trusted
        ("Attorney", "Paralegal", None),
        ("Attorney", "Counsel to the Board", None),  # never guessed from a word in a title
        ("NonAttorney", None, None),
        ("NonAttorney", "Office Manager", "OTH"),  # a non-lawyer who is neither paralegal nor assistant
        ("NonAttorney", "Senior Law Clerk", "OTH"),
    ],
)
def test_the_ledes_classification_comes_from_what_clio_says_of_the_user(subscription, title, expected) -> None:
    raw = {"id": 9, "name": "A B", "subscription_type": subscription, "job_title": {"name": title} if title else None}
    assert mapping.classification(raw) == expected
    assert mapping.timekeeper(raw).classification == expected


def test_client_rates_from_clios_activity_rates() -> None:
    rows = [
        {"id": 1, "rate": 275.0, "flat_rate": False, "contact_id": 501, "user": {"id": 345}},
        {"id": 2, "rate": 210.0, "flat_rate": False, "contact_id": 501, "group": {"id": 2}},
        {"id": 3, "rate": 230.0, "flat_rate": False, "contact_id": 501, "group": {"id": 3}},
        {"id": 4, "rate": 190.0, "flat_rate": False, "contact_id": 502},  # everyone at 502
        {"id": 5, "rate": 900.0, "flat_rate": True, "contact_id": 502, "user": {"id": 345}},
        {"id": 6, "rate": 500.0, "flat_rate": False, "co_counsel_contact_id": 503},
        {"id": 7, "rate": None, "flat_rate": False, "contact_id": 504, "user": {"id": 345}},  # hidden rate
    ]
    groups = {"345": ["1", "2"], "346": ["2", "3"], "347": ["1"]}
    table, problems = mapping.client_rate_table(rows, groups)
    # Jane's own 275 beats her group's 210; Sam is in two groups: the highest, 230; Pat has none at 501.
    assert table.rates == {
        "501": {"345": Decimal("275"), "346": Decimal("230")},
        "502": {"*": Decimal("190")},
    }
    assert problems == ("activity rate 5: a flat rate for contact 502 is not applied",)
