"""UTBMS task and activity codes on Clio time entries: lookup, body, sandbox round-trip, spec check."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from structlog.testing import capture_logs

from connectors.clio import mapping
from connectors.clio.client import ClioForbidden
from core.errors import Retryable
from core.logging import tallied
from tests.connectors.clio.harness import ClioEnv, make_env, seed, time_entry
from tests.connectors.clio.test_clio_request_bodies import SPEC_FILE, body_of, request_validator, spec, spec_path

KEY = "firm-clio-test|clio|communication:4001|create"
NARRATIVE = "Email to Acme Corp: Draft motion"
# Ids as Clio numbers them: nothing ties them to the code strings, so the lookup is needed.
L120, A106, L120_OTHER_SET, A106_OTHER_SET = 7120, 7106, 8120, 8106


def utbms_seed(*, second_set: bool = False) -> dict[str, Any]:
    """The shared seed plus L120 and A106 (and, if asked, the same codes in a second UTBMS set)."""
    data = seed()
    data["utbms_codes"] += [
        {"id": L120, "code": "L120", "name": "Analysis/Strategy", "type": "UtbmsTask", "utbms_set_id": 1},
        {"id": A106, "code": "A106", "name": "Communicate (with client)", "type": "UtbmsActivity", "utbms_set_id": 1},
    ]
    if second_set:
        data["utbms_codes"] += [
            {"id": L120_OTHER_SET, "code": "L120", "name": "Analysis", "type": "UtbmsTask", "utbms_set_id": 2},
            {"id": A106_OTHER_SET, "code": "A106", "name": "Communicate", "type": "UtbmsActivity", "utbms_set_id": 2},
        ]
    return data


def coded(**overrides: Any) -> Any:
    return time_entry(**({"task_code": "L120", "activity_code": "A106"} | overrides))


def sent(env: ClioEnv, method: str, path_part: str) -> list[requests.PreparedRequest]:
    return [r for r in env.adapter.sent if r.method == method and path_part in str(r.url)]


def posted_description(env: ClioEnv) -> Any:
    [post] = sent(env, "POST", "/api/v4/activities")
    return json.loads(post.body or b"{}")["data"].get("activity_description")


def posted_description_of(env: ClioEnv, index: int) -> Any:
    post = sent(env, "POST", "/api/v4/activities")[index]
    return json.loads(post.body or b"{}")["data"].get("activity_description")


def test_l120_and_a106_are_stored_with_clio_ids_in_the_sandbox() -> None:
    env = make_env(utbms_seed())
    remote_id = env.connector.writer().write_time_entry(coded(), KEY, billable=True)
    assert posted_description(env) == {"id": 77, "utbms_task_id": L120, "utbms_activity_id": A106}
    stored = env.admin("GET", f"activities/{remote_id}")
    assert stored["activity_description"] == {"id": 77, "utbms_task_id": L120, "utbms_activity_id": A106}
    # And as Clio shows it through the API (docs/vendors/clio.md §3.1: codes come through activity_description).
    shown = env.connector.client.get(
        f"activities/{remote_id}", fields="id,activity_description{id,utbms_task_id,utbms_activity_id}"
    )
    assert shown is not None
    assert shown["activity_description"] == {"id": 77, "utbms_task_id": L120, "utbms_activity_id": A106}


def test_codes_are_read_once_per_writer_and_only_when_needed() -> None:
    env = make_env(utbms_seed())
    writer = env.connector.writer()
    writer.write_time_entry(time_entry(), "plain", billable=True)
    assert sent(env, "GET", "/utbms/codes") == []  # an entry without codes costs no lookup
    remote_id = writer.write_time_entry(coded(), KEY, billable=True)
    writer.write_time_entry(coded(id="entry-2"), "key-2", billable=True)
    writer.update_time_entry(remote_id, coded(narrative="Reviewed"), billable=True)
    [lookup] = sent(env, "GET", "/utbms/codes")
    assert parse_qs(urlsplit(str(lookup.url)).query)["order"] == ["id(asc)"]  # cursor paging (docs/vendors/clio.md §2)
    env.connector.writer().write_time_entry(coded(id="entry-3"), "key-3", billable=True)
    assert len(sent(env, "GET", "/utbms/codes")) == 2  # a new writer reads again


def test_an_update_sends_the_codes_with_the_category_and_keeps_the_price() -> None:
    env = make_env(utbms_seed())
    writer = env.connector.writer()
    remote_id = writer.write_time_entry(time_entry(), KEY, billable=True)
    writer.update_time_entry(remote_id, coded(), billable=True)
    [patch] = sent(env, "PATCH", "/api/v4/activities")
    data = json.loads(patch.body or b"{}")["data"]
    assert data["activity_description"] == {"id": 77, "utbms_task_id": L120, "utbms_activity_id": A106}
    # always sent: a changed description may otherwise reset it (docs/vendors/clio.md §3.1)
    assert data["price"] == 350.0
    stored = env.admin("GET", f"activities/{remote_id}")
    assert stored["activity_description"]["utbms_task_id"] == L120 and stored["price"] == 350.0


def test_an_update_without_codes_leaves_the_category_alone() -> None:
    env = make_env(utbms_seed())
    writer = env.connector.writer()
    remote_id = writer.write_time_entry(coded(), KEY, billable=True)
    writer.update_time_entry(remote_id, time_entry(), billable=True)
    [patch] = sent(env, "PATCH", "/api/v4/activities")
    assert "activity_description" not in json.loads(patch.body or b"{}")["data"]


def test_an_unknown_code_is_left_out_and_counted_as_worth_a_look_without_the_narrative() -> None:
    env = make_env(utbms_seed())
    with tallied() as run, capture_logs() as events:
        remote_id = env.connector.writer().write_time_entry(coded(task_code="L999"), KEY, billable=True)
    assert posted_description(env) == {"id": 77, "utbms_activity_id": A106}
    assert env.admin("GET", f"activities/{remote_id}")["activity_description"] == {"id": 77, "utbms_activity_id": A106}
    # The entry's detail is DEBUG; the run's summary line counts it, as a warning (core.daemon.jobs).
    [detail] = [e for e in events if e["event"] == "clio utbms code left out"]
    assert detail["log_level"] == "debug" and detail["entry"] == "entry-1" and "L999" in detail["reason"]
    assert run.details() == {"clio utbms code left out (task code L999 is not a UTBMS code in Clio)": 1}
    assert run.warnings == 1
    assert NARRATIVE not in repr(events) and "Draft motion" not in repr(events)


def test_a_code_that_is_not_a_code_is_not_repeated_in_the_log() -> None:
    env = make_env(utbms_seed())
    with tallied() as run, capture_logs() as events:
        env.connector.writer().write_time_entry(coded(activity_code="call with Acme re merger"), KEY, billable=True)
    assert posted_description(env) == {"id": 77, "utbms_task_id": L120}
    assert "merger" not in repr(events) and "merger" not in repr(run.details())
    details = [e for e in events if e["event"] == "clio utbms code left out"]
    assert [e["reason"] for e in details] == ["activity code is not a UTBMS code"]
    assert run.details() == {"clio utbms code left out (activity code is not a UTBMS code)": 1}


def test_a_code_of_the_wrong_type_is_not_used() -> None:
    env = make_env(utbms_seed())
    with capture_logs() as events:
        env.connector.writer().write_time_entry(coded(task_code="A106", activity_code=None), KEY, billable=True)
    assert posted_description(env) == {"id": 77}  # A106 is an activity code, not a task code
    assert any("A106" in e.get("reason", "") for e in events if e["log_level"] == "debug")


def test_without_a_category_the_codes_are_left_out_without_a_lookup() -> None:
    env = make_env(utbms_seed())
    with tallied() as run, capture_logs() as events:
        writer = env.connector.writer()
        remote_id = writer.write_time_entry(coded(category_id=None), KEY, billable=True)
        writer.write_time_entry(coded(category_id=None, id="entry-2"), "key-2", billable=True)
    assert posted_description_of(env, 0) is None
    assert sent(env, "GET", "/utbms/codes") == []
    assert env.admin("GET", f"activities/{remote_id}")["activity_description"] is None
    # Usual for work from other sources (the e-billing rules flag what must be coded): a DEBUG line
    # per entry, and one count in the run's summary line, not a warning.
    assert [e["reason"] for e in events if e["log_level"] == "debug" and "utbms" in e["event"]] == [
        "the entry has no activity category"
    ] * 2
    assert not [e for e in events if e["log_level"] in ("info", "warning")]
    assert run.details() == {"clio utbms codes left out (the entry has no activity category)": 2}
    assert run.warnings == 0


def test_the_same_code_in_two_sets_follows_the_other_codes_set() -> None:
    index = mapping.utbms_index(utbms_seed(second_set=True)["utbms_codes"])
    assert index[("UtbmsTask", "L120")] == ((L120, 1), (L120_OTHER_SET, 2))
    ids, problems = mapping.resolve_utbms(coded(), index)
    assert ids == {} and len(problems) == 2  # both ambiguous: nothing to anchor a set, so nothing guessed
    only_set_two = {**index, ("UtbmsTask", "L120"): ((L120_OTHER_SET, 2),)}
    assert mapping.resolve_utbms(coded(), only_set_two) == (
        {"utbms_task_id": L120_OTHER_SET, "utbms_activity_id": A106_OTHER_SET},
        (),
    )


def test_codes_match_case_insensitively_and_odd_rows_are_skipped() -> None:
    index = mapping.utbms_index(
        [
            {"id": L120, "code": "l120 ", "type": "UtbmsTask", "utbms_set_id": 1},
            {"id": None, "code": "A106", "type": "UtbmsActivity"},
            {"id": True, "code": "A106", "type": "UtbmsActivity"},
            {"id": 5, "code": "", "type": "UtbmsActivity"},
        ]
    )
    assert index == {("UtbmsTask", "L120"): ((L120, 1),)}
    ids, problems = mapping.resolve_utbms(coded(task_code="l120"), index)
    assert ids == {"utbms_task_id": L120} and problems == ("activity code A106 is not a UTBMS code in Clio",)


def test_a_forbidden_code_list_writes_the_entry_without_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env(utbms_seed())
    calls: list[str] = []

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        calls.append("utbms")
        raise ClioForbidden("GET /api/v4/utbms/codes.json: HTTP 403")

    monkeypatch.setattr(env.connector.client, "utbms_codes", forbidden)
    writer = env.connector.writer()
    with capture_logs() as events:
        writer.write_time_entry(coded(), KEY, billable=True)
        writer.write_time_entry(coded(id="entry-2"), "key-2", billable=True)
    assert calls == ["utbms"]  # not asked again by the same writer
    posts = sent(env, "POST", "/api/v4/activities")
    assert [json.loads(r.body or b"{}")["data"]["activity_description"] for r in posts] == [{"id": 77}] * 2
    assert [e["reason"] for e in events if e["log_level"] == "warning"] == ["ClioForbidden"]  # once, not per entry


def test_a_failed_lookup_sends_nothing_and_is_tried_again() -> None:
    env = make_env(utbms_seed())
    writer = env.connector.writer()
    env.faults({"route": "/api/v4/utbms/codes*", "kind": "500", "probability": 1.0})
    with pytest.raises(Retryable):
        writer.write_time_entry(coded(), KEY, billable=True)
    assert sent(env, "POST", "/api/v4/activities") == []
    env.faults()
    writer.write_time_entry(coded(), KEY, billable=True)
    assert posted_description(env) == {"id": 77, "utbms_task_id": L120, "utbms_activity_id": A106}


@pytest.mark.skipif(not SPEC_FILE.exists(), reason=f"Clio OpenAPI spec not found at {SPEC_FILE}")
def test_coded_bodies_and_the_code_lookup_match_the_spec() -> None:
    env = make_env(utbms_seed())
    writer = env.connector.writer()
    remote_id = writer.write_time_entry(coded(), KEY, billable=True)
    writer.update_time_entry(remote_id, coded(task_code=None, narrative="Reviewed"), billable=True)
    checked = []
    for request in env.adapter.sent:
        path = spec_path(str(request.url))
        method = str(request.method).lower()
        if method in ("post", "patch") and path.startswith("/activities"):
            request_validator(path, method).validate(body_of(request))
            checked.append(body_of(request)["data"]["activity_description"])
        elif path == "/utbms/codes.json":
            operation = spec()["paths"][path]["get"]
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
            assert set(parse_qs(urlsplit(str(request.url)).query)) <= declared
            # The fields asked for are ones the spec's UtbmsCode has.
            fields = parse_qs(urlsplit(str(request.url)).query)["fields"][0].split(",")
            assert set(fields) <= set(spec()["components"]["schemas"]["UtbmsCode_base"]["properties"])
    assert checked == [
        {"id": 77, "utbms_task_id": L120, "utbms_activity_id": A106},
        {"id": 77, "utbms_activity_id": A106},
    ]
    schema = spec()["paths"]["/activities.json"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    described = schema["properties"]["data"]["properties"]["activity_description"]["properties"]
    assert {"id", "utbms_task_id", "utbms_activity_id"} <= set(described)
