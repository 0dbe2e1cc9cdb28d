"""The documents stream over the sandbox: polls, the overlap, open windows, matters and privilege."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import structlog

from connectors.netdocuments.client import NetDocumentsForbidden
from core.connector import Page
from core.errors import Fatal, Retryable
from core.models import Activity
from tests.connectors.netdocuments.harness import NetDocumentsEnv, make_env
from tests.connectors.netdocuments.seed import BOB, CANARY, GONE, JANE, LETTER, MEMO, MOTION, POLICY, seed


def read(env: NetDocumentsEnv, since: object = None) -> tuple[list[Activity], list[Page]]:
    [stream] = env.connector.streams()
    pages = list(stream.read(since))  # type: ignore[arg-type]
    return [r for p in pages for r in p.records if isinstance(r, Activity)], pages


def act(env: NetDocumentsEnv, user: dict, action: str, doc: str, at: str) -> None:
    env.admin("POST", "act", {"user": user["id"], "action": action, "document": doc, "at": at})


def empty_log_env(**settings) -> NetDocumentsEnv:
    data = seed()
    data["log"] = []
    return make_env(data, **settings)


def test_the_first_read_maps_authoring_work_to_matters() -> None:
    env = make_env()
    activities, pages = read(env)
    by_doc = {(a.external_id.split("|")[0], a.actor): a for a in activities}
    motion = by_doc[(MOTION, "jane.doe@firm.example")]
    assert motion.title == "Created: Motion to compel" and motion.workspace == "0003-0042"
    assert motion.started_at == datetime(2026, 4, 6, 13, 2, 10, tzinfo=UTC)
    assert motion.ended_at == datetime(2026, 4, 6, 13, 21, 45, tzinfo=UTC)
    assert by_doc[(LETTER, "bob.roe@firm.example")].title == "Revised: Engagement letter"
    assert by_doc[(LETTER, "jane.doe@firm.example")].title == "New version: Engagement letter"
    # No profile, a cabinet without workspaces, a deleted document: no matter, the log's name kept.
    assert by_doc[(MEMO, "bob.roe@firm.example")].workspace is None
    assert by_doc[(POLICY, "bob.roe@firm.example")].workspace is None
    assert by_doc[(GONE, "jane.doe@firm.example")].title == "Revised: Old draft"
    assert by_doc[(GONE, "jane.doe@firm.example")].workspace is None
    # Views, downloads, profile edits, the external user and the system job are not work.
    assert len(activities) == 6
    assert pages[-1].cursor == {"updated_since": "2026-04-06T14:13:01+00:00"}
    assert pages[-1].errors == []


def test_attribute_numbers_from_settings_win_over_discovery() -> None:
    env = make_env(client_attribute=1002, matter_attribute=1001, workspace_format="{matter}/{client}")
    activities, _ = read(env)
    assert {a.workspace for a in activities if a.title == "Created: Motion to compel"} == {"0003/0042"}
    assert not any("User/cabinets" in r["path"] for r in env.requests_log())


def test_a_document_in_a_cabinet_the_account_cannot_see_is_reported() -> None:
    data = seed()
    data["cabinets"] = data["cabinets"][1:]  # the matters cabinet is not among the account's cabinets
    activities, pages = read(make_env(data))
    assert all(a.workspace is None for a in activities)
    assert len(pages[-1].errors) == 1 and "NG-MATTERS1" in pages[-1].errors[0]


def test_undiscoverable_attribute_numbers_stop_the_read_before_anything_is_filed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = make_env()
    env.faults({"route": "*/v1/User/cabinets", "kind": "500"})
    with pytest.raises(Retryable):  # NetDocuments failing: try again later, nothing read
        read(env)
    env.faults()

    def refused() -> list:
        raise NetDocumentsForbidden("GET /v1/User/cabinets: HTTP 403")

    monkeypatch.setattr(env.connector.client, "cabinets", refused)
    with pytest.raises(Fatal, match="set client_attribute and matter_attribute"):
        read(env)


def test_a_burst_split_across_two_polls_is_one_activity() -> None:
    env = empty_log_env()
    act(env, JANE, "Edit", MOTION, "2026-04-06T15:02:00Z")
    act(env, JANE, "Edit", MOTION, "2026-04-06T15:08:00Z")
    env.clock.set(datetime(2026, 4, 6, 15, 10, tzinfo=UTC))
    first, pages = read(env)
    assert first == []  # the 15:00-15:30 window is still open: held, not cut in two
    assert pages[-1].cursor == {"updated_since": "2026-04-06T15:00:00+00:00"}
    act(env, JANE, "Edit", MOTION, "2026-04-06T15:20:00Z")
    env.clock.set(datetime(2026, 4, 6, 15, 50, tzinfo=UTC))
    second, pages = read(env, pages[-1].cursor)
    [burst] = second
    assert burst.external_id == f"{MOTION}|ND-JANE|2026-04-06T15:00:00Z"
    assert (burst.started_at.minute, burst.ended_at.minute) == (2, 20)  # type: ignore[union-attr]
    third, _ = read(env, pages[-1].cursor)
    assert third == [] or third == [burst]  # the overlap may repeat it, identical, never a twin


def test_the_same_burst_read_again_is_the_same_activity() -> None:
    env = make_env()
    first, _ = read(env)
    earlier = {"updated_since": "2026-04-06T13:25:00+00:00"}  # a cursor inside the first burst's window
    again, _ = read(env, earlier)
    known = {a.external_id: a for a in first}
    assert again and all(known[a.external_id] == a for a in again)


def test_an_event_listed_late_in_an_emitted_window_keeps_its_id() -> None:
    env = empty_log_env()
    act(env, BOB, "Edit", LETTER, "2026-04-06T14:05:00Z")
    first, pages = read(env)  # the clock says 15:00: 14:00-14:30 closed at 14:45
    assert len(first) == 1
    act(env, BOB, "Edit", LETTER, "2026-04-06T14:20:00Z")  # the log lists it only now
    env.clock.advance(300)
    again, _ = read(env, pages[-1].cursor)
    assert [a.external_id for a in again] == [first[0].external_id]


def test_a_log_that_caps_its_rows_loses_nothing() -> None:
    env = empty_log_env(log_row_cap=3)
    for minute in range(0, 50, 5):  # ten edits on ten documents' worth of windows
        act(env, JANE, "Edit", MOTION, f"2026-04-06T12:{minute:02d}:00Z")
    activities, _ = read(env)
    assert [a.started_at.minute for a in activities] == [0, 30]
    assert [a.ended_at.minute for a in activities] == [25, 45]  # type: ignore[union-attr]
    log_calls = [r for r in env.requests_log() if r["path"].endswith("/log")]
    assert len(log_calls) > 4  # the cap forced the client to ask again from the newest date


def test_the_cursor_stays_at_the_oldest_open_window_and_never_moves_back() -> None:
    env = empty_log_env()
    act(env, JANE, "Edit", MOTION, "2026-04-06T14:50:00Z")
    _, pages = read(env)  # 14:30-15:00 is open until 15:15
    assert pages[-1].cursor == {"updated_since": "2026-04-06T14:30:00+00:00"}
    later = {"updated_since": "2026-04-06T14:55:00+00:00"}
    _, pages = read(env, later)
    assert pages[-1].cursor == later  # an open window earlier than the cursor cannot pull it back


def test_a_backfill_cursor_reads_from_that_date() -> None:
    env = make_env()
    activities, _ = read(env, {"updated_since": "2026-04-06T14:00:00+00:00"})
    assert {a.started_at.hour for a in activities} == {13, 14}  # the 13:30 window is in the overlap
    assert all(a.started_at >= datetime(2026, 4, 6, 13, 30, tzinfo=UTC) for a in activities)


def test_document_contents_never_reach_activities_logs_or_requests(caplog: pytest.LogCaptureFixture) -> None:
    captured: list[dict] = []
    structlog.configure(processors=[lambda _l, _m, event: captured.append(dict(event)) or ""])  # type: ignore[arg-type,return-value,func-returns-value]
    try:
        env = make_env()
        env.ctx.log.debug("probe")
        with caplog.at_level(logging.DEBUG):
            activities, pages = read(env)
    finally:
        structlog.reset_defaults()
    assert activities and captured  # the probe proves the capture works
    dumped = " ".join(a.model_dump_json() for a in activities) + repr(pages) + repr(captured) + caplog.text
    assert CANARY not in dumped
    assert "backdated" not in dumped
    # The connector never downloads a document, and never logs a document's name.
    assert not [r for r in env.requests_log() if r["path"].rstrip("/").split("/")[-2:-1] == ["Document"]]
    assert "Motion to compel" not in repr(captured) + caplog.text


def test_many_activities_come_in_pages_and_only_the_last_moves_the_cursor() -> None:
    env = empty_log_env()
    start = datetime(2026, 4, 3, 0, 0, tzinfo=UTC)
    for i in range(130):
        when = start + timedelta(minutes=30 * i)
        act(env, JANE, "Edit", MOTION, when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    _, pages = read(env)
    assert [len(p.records) for p in pages] == [100, 30]
    assert pages[0].cursor is None and pages[-1].cursor is not None
