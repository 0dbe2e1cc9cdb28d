"""NetDocuments mapping: the log body (BOM), event kinds, coalescing, workspaces and core's matcher."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.netdocuments import mapping
from connectors.netdocuments.mapping import Action, FirmUser, LogEvent
from core.matching import MatterResolver, ReferenceData
from core.models import ActivityKind, Client, Matter
from core.policy import CapturePolicy

WINDOW = timedelta(minutes=30)
T0 = datetime(2026, 4, 6, 13, 0, tzinfo=UTC)
USERS = {
    "ND-JANE": FirmUser("ND-JANE", "jane.doe@firm.example"),
    "jane.doe@firm.example": FirmUser("ND-JANE", "jane.doe@firm.example"),
    "ND-BOB": FirmUser("ND-BOB", "bob.roe@firm.example"),
    "bob.roe@firm.example": FirmUser("ND-BOB", "bob.roe@firm.example"),
}


def ev(minute: float, name: str = "Edit", user: str = "ND-JANE", doc: str = "D1", doc_name: str = "Motion") -> LogEvent:
    return LogEvent(T0 + timedelta(minutes=minute), name, user, "", doc, doc_name)


# -- the log body ------------------------------------------------------------------------------


def test_a_log_body_with_a_byte_order_mark_is_read() -> None:
    entries = [{"activity": {"date": "2026-04-06T13:02:10", "name": "Edit"}}]
    raw = "\ufeff".encode() + json.dumps(entries).encode()
    assert json.loads(raw.decode("utf-8-sig")) == entries  # what the BOM hides from a plain json.loads
    with pytest.raises(ValueError):
        json.loads(raw.decode("utf-8"))
    assert mapping.parse_log_body(raw) == entries
    assert mapping.parse_log_body(json.dumps(entries).encode()) == entries  # and without one


@pytest.mark.parametrize("raw", [b"", "\ufeff".encode(), b"  \n"])
def test_an_empty_log_body_is_an_empty_log(raw: bytes) -> None:
    assert mapping.parse_log_body(raw) == []


@pytest.mark.parametrize("raw", [b"<html>Access Denied</html>", b'{"error": "x"}', b"\xff\xfe"])
def test_a_log_body_that_is_not_a_json_array_is_refused_clearly(raw: bytes) -> None:
    with pytest.raises(mapping.MappingError):
        mapping.parse_log_body(raw)


def test_log_dates_are_utc_without_a_zone() -> None:
    event = mapping.log_event(
        {
            "activity": {
                "date": "2026-04-06T13:02:10",
                "name": "Edit",
                "user": {"id": "ND-JANE", "email": "Jane.Doe@Firm.Example"},
                "storageObject": {"docId": "4824-5093-9170", "name": "Motion"},
            }
        }
    )
    assert event.at == datetime(2026, 4, 6, 13, 2, 10, tzinfo=UTC)
    assert event.user_email == "jane.doe@firm.example"
    with pytest.raises(mapping.MappingError):
        mapping.log_event({"activity": {"date": "yesterday"}})
    with pytest.raises(mapping.MappingError):
        mapping.log_event({"nothing": 1})


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("Create", Action.CREATED),
        ("Edit", Action.REVISED),
        ("EDIT_CONTENT", Action.REVISED),
        ("Check In", Action.REVISED),
        ("New  Version", Action.NEW_VERSION),
        ("View", None),
        ("Open", None),
        ("Download", None),
        ("Edit Profile", None),
        ("Print", None),
        ("Move", None),
    ],
)
def test_only_authoring_events_count(name: str, action: Action | None) -> None:
    assert mapping.action_of(name) is action


# -- coalescing --------------------------------------------------------------------------------


def test_a_burst_of_edits_by_one_user_on_one_document_is_one_activity() -> None:
    bursts, _ = mapping.coalesce([ev(2), ev(9), ev(21.5)], USERS, WINDOW)
    [burst] = bursts
    assert (burst.first, burst.last) == (T0 + timedelta(minutes=2), T0 + timedelta(minutes=21.5))
    assert burst.external_id == "D1|ND-JANE|2026-04-06T13:00:00Z"
    activity = mapping.activity(burst, workspace_name="0003-0042")
    assert activity.title == "Revised: Motion" and activity.kind is ActivityKind.DOCUMENT
    assert activity.actor == "jane.doe@firm.example" and activity.source == "netdocuments"


def test_other_users_other_documents_and_other_windows_are_separate() -> None:
    bursts, _ = mapping.coalesce(
        [ev(2), ev(3, user="ND-BOB"), ev(4, doc="D2"), ev(31)],
        USERS,
        WINDOW,
    )
    assert len({b.external_id for b in bursts}) == 4


def test_a_burst_across_a_window_edge_gives_one_activity_per_window() -> None:
    # The deliberate trade-off (README): windows are fixed so ids never depend on which poll saw what.
    bursts, _ = mapping.coalesce([ev(25), ev(35)], USERS, WINDOW)
    assert [b.window_start for b in bursts] == [T0, T0 + WINDOW]


def test_the_strongest_action_names_the_window() -> None:
    bursts, _ = mapping.coalesce([ev(1, "Edit"), ev(2, "Create"), ev(3, "New Version")], USERS, WINDOW)
    assert mapping.activity(bursts[0], workspace_name=None).title == "Created: Motion"
    bursts, _ = mapping.coalesce([ev(1, "Edit"), ev(3, "New Version")], USERS, WINDOW)
    assert mapping.activity(bursts[0], workspace_name=None).title == "New version: Motion"


def test_views_system_jobs_and_external_users_are_dropped() -> None:
    bursts, dropped = mapping.coalesce(
        [ev(1, "View"), ev(2, user="SYSTEM"), ev(3, user="ND-GUEST"), ev(4, doc="")], USERS, WINDOW
    )
    assert bursts == [] and dropped == {"not_authoring": 1, "not_firm_user": 2, "no_document": 1}


def test_an_event_known_by_email_only_is_the_same_firm_user() -> None:
    by_email = LogEvent(T0, "Edit", "", "jane.doe@firm.example", "D1", "Motion")
    bursts, _ = mapping.coalesce([by_email, ev(5)], USERS, WINDOW)
    assert len(bursts) == 1


def test_the_coalescing_window_is_configurable() -> None:
    bursts, _ = mapping.coalesce([ev(2), ev(9), ev(21)], USERS, timedelta(minutes=5))
    assert len(bursts) == 3


def test_firm_users_leave_out_external_users() -> None:
    users = mapping.firm_users(
        [
            {"id": "ND-JANE", "email": "Jane.Doe@firm.example", "external": False},
            {"id": "ND-GUEST", "email": "gc@client.example.com", "external": True},
        ]
    )
    assert set(users) == {"ND-JANE", "jane.doe@firm.example"}


events = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=6 * 60 * 60),  # seconds after T0
        st.sampled_from(["Create", "Edit", "New Version", "View"]),
        st.sampled_from(["ND-JANE", "ND-BOB"]),
        st.sampled_from(["D1", "D2"]),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(events=events, cut=st.integers(min_value=0, max_value=6 * 60 * 60), overlap=st.integers(0, 3600))
def test_a_burst_read_in_two_polls_gives_the_same_activities_as_one_read(
    events: list[tuple[int, str, str, str]], cut: int, overlap: int
) -> None:
    """Whatever the cursor and overlap, a window read again is the same activity, never a twin."""
    log = [LogEvent(T0 + timedelta(seconds=s), name, user, "", doc, "Doc") for s, name, user, doc in events]
    whole = {b.external_id: b for b in mapping.coalesce(log, USERS, WINDOW)[0]}
    cursor = T0 + timedelta(seconds=cut)
    start = mapping.align_read_start(cursor, timedelta(seconds=overlap), WINDOW)
    first = mapping.coalesce([e for e in log if e.at < cursor], USERS, WINDOW)[0]
    second = mapping.coalesce([e for e in log if e.at >= start], USERS, WINDOW)[0]
    for burst in second:
        # Every window the second read touches is read whole: identical to the one-read result.
        assert whole[burst.external_id] == burst
    assert {b.external_id for b in first} | {b.external_id for b in second} == set(whole)


# -- the profile and the workspace -------------------------------------------------------------


def test_a_profile_yields_its_numbered_attributes() -> None:
    found = mapping.profile(
        {
            "standardAttributes": {"id": "4824-5093-9170", "name": "Motion", "cabinet": "NG-1"},
            "customAttributes": [
                {"id": 1001, "value": "0003", "description": "Harbor"},
                {"id": "1002", "value": "0042"},
                {"id": "x", "value": "ignored"},
                {"id": 7, "value": ""},
            ],
        }
    )
    assert found.attributes == {1001: "0003", 1002: "0042"} and found.cabinet == "NG-1"
    with pytest.raises(mapping.MappingError):
        mapping.profile({"customAttributes": []})


@pytest.mark.parametrize(
    ("template", "client", "matter", "expected"),
    [
        ("{client}-{matter}", "0003", "0042", "0003-0042"),
        ("{client}.{matter}", "ACME", "7", "ACME.7"),
        ("{matter}", None, "HELIX01-01", "HELIX01-01"),
        ("{client}-{matter}", None, "0042", None),
        ("{client}-{matter}", "0003", None, None),
    ],
)
def test_the_workspace_is_the_matter_number_in_the_firms_format(
    template: str, client: str | None, matter: str | None, expected: str | None
) -> None:
    assert mapping.workspace(template, client, matter) == expected


@pytest.mark.parametrize("template", ["{client}", "{name}-{matter}", "{matter!r}", "{matter:>5}"])
def test_a_workspace_format_with_other_placeholders_is_refused(template: str) -> None:
    with pytest.raises(ValueError):
        mapping.workspace_fields(template)


def reference() -> ReferenceData:
    client = Client(id="c3", name="Harbor Holdings 3")
    matter = Matter(id="m42", client_id="c3", number="0003-0042", updated_at=T0)
    return ReferenceData([], [client], [matter])


def test_core_finds_the_matter_from_the_workspace() -> None:
    [burst] = mapping.coalesce([ev(2)], USERS, WINDOW)[0]
    resolver = MatterResolver(reference(), CapturePolicy())
    found = resolver.resolve(mapping.activity(burst, workspace_name="0003-0042"))
    assert found.matter is not None and found.matter.id == "m42" and found.method == "code"


def test_a_document_without_client_and_matter_goes_to_the_unassigned_queue() -> None:
    [burst] = mapping.coalesce([ev(2)], USERS, WINDOW)[0]
    found = MatterResolver(reference(), CapturePolicy()).resolve(mapping.activity(burst, workspace_name=None))
    assert found.matter is None and found.reason == "no matter link, matter number or known contact"
