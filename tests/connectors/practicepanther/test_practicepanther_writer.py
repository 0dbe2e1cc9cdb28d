"""The writer against the sandbox: one POST in hours, lost-answer recovery, GET-merge-PUT, read-back."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connectors.practicepanther import mapping
from core.errors import Fatal, Indeterminate
from tests.connectors.practicepanther.harness import PracticePantherEnv, make_env, time_entry
from tests.connectors.practicepanther.seed import CANARY, COVERING_ENTRY, FLAT, HOURLY, JANE, SAM
from tests.connectors.practicepanther.swagger import properties

KEY = "firm-pp-test|practicepanther|email:7a7a7a7a|create"


def marked(env: PracticePantherEnv, key: str = KEY) -> list[dict[str, Any]]:
    return [e for e in env.entries() if mapping.marker(key) in (e.get("private_notes") or "")]


def sent(env: PracticePantherEnv, method: str) -> list[requests.PreparedRequest]:
    return [r for r in env.adapter.sent if r.method == method and "/api/v2/timeentries" in str(r.url)]


def test_a_time_entry_is_posted_once_in_decimal_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env()
    flags: list[tuple[str, bool]] = []
    original = env.ctx.http.request

    def spy(method: str, url: str, **kwargs: Any) -> requests.Response:
        flags.append((method, kwargs.get("idempotent", False)))
        return original(method, url, **kwargs)

    monkeypatch.setattr(env.ctx.http, "request", spy)
    remote_id = env.connector.writer().write_time_entry(time_entry(), KEY, billable=False)
    assert ("POST", False) in flags  # never retried blindly by core.http
    [stored] = marked(env)
    assert stored["id"] == remote_id and stored["hours"] == 0.1 and stored["rate"] == 350.0
    assert stored["description"] == "Email to Acme Corp: Draft motion"  # no marker on the invoice text
    assert stored["private_notes"] == mapping.marker(KEY)
    assert stored["is_billable"] is False and stored["matter_ref"]["id"] == HOURLY
    assert stored["billed_by_user_ref"]["id"] == JANE and stored["date"] == "2026-03-30T00:00:00Z"


def test_the_post_body_uses_only_swagger_time_entry_fields() -> None:
    env = make_env()
    env.connector.writer().write_time_entry(time_entry(task_code="L110"), KEY, billable=True)
    [post] = sent(env, "POST")
    body = json.loads(post.body or b"{}")
    assert set(body) <= properties("TimeEntry")
    assert body["task_code"] == "L110"


@pytest.mark.parametrize("fault", ["reset", "truncate"])
def test_a_lost_answer_then_find_gives_exactly_one_entry(fault: str) -> None:
    """reset: the connection dropped before PP stored it; truncate: stored, answer cut off."""
    env = make_env()
    writer = env.connector.writer()
    env.faults({"route": "/api/v2/timeentries*", "kind": fault, "methods": ["POST"], "probability": 1.0})
    with pytest.raises(Indeterminate):
        writer.write_time_entry(time_entry(), KEY, billable=False)
    env.faults()
    assert len(sent(env, "POST")) == 1  # not re-sent by core.http
    found = writer.find_time_entry(KEY, time_entry())
    assert (found is None) == (fault == "reset")
    remote_id = found or writer.write_time_entry(time_entry(), KEY, billable=False)
    assert writer.find_time_entry(KEY, time_entry()) == remote_id
    assert len(marked(env)) == 1


def test_update_gets_merges_and_puts_the_whole_record() -> None:
    env = make_env()
    writer = env.connector.writer()
    remote_id = writer.write_time_entry(time_entry(), KEY, billable=False)
    item = env.admin("POST", "items", {"name": "Review", "rate": 100})
    env.admin(
        "PATCH",
        f"timeentries/{remote_id}",
        {"item_ref": {"id": item["id"]}, "private_notes": "kept " + mapping.marker(KEY)},
    )
    writer.update_time_entry(remote_id, time_entry(billed_seconds=720, narrative="Revised"), billable=True)
    [put] = sent(env, "PUT")
    assert f"id={remote_id}" in str(put.url)
    body = json.loads(put.body or b"{}")
    assert not {"id", "created_at", "updated_at"} & set(body)
    [stored] = marked(env)
    assert stored["hours"] == 0.2 and stored["description"] == "Revised" and stored["is_billable"] is True
    assert stored["item_ref"] == {"id": item["id"], "name": "Review"} and stored["private_notes"].startswith(
        "kept "
    )  # merged, not nulled


def test_a_billed_entry_is_not_changed() -> None:
    env = make_env()
    env.admin("PATCH", f"timeentries/{COVERING_ENTRY}", {"is_billed": True})
    with pytest.raises(Fatal):
        env.connector.writer().update_time_entry(COVERING_ENTRY, time_entry(), billable=True)
    assert sent(env, "PUT") == []


def test_read_time_entries_reports_state_and_deletions() -> None:
    env = make_env()
    writer = env.connector.writer()
    remote_id = writer.write_time_entry(time_entry(), KEY, billable=False)
    env.admin("DELETE", f"timeentries/{COVERING_ENTRY}")
    live, gone = writer.read_time_entries([remote_id, COVERING_ENTRY])
    assert live.billed_seconds == 360 and live.idempotency_key == mapping.marker_hash(KEY)
    assert live.narrative == "Email to Acme Corp: Draft motion" and live.billable is False
    assert gone.deleted is True
    with pytest.raises(Fatal):
        writer.read_time_entries(["not-a-uuid"])


def test_no_privileged_body_is_in_any_request_the_writer_sends() -> None:
    env = make_env()
    writer = env.connector.writer()
    remote_id = writer.write_time_entry(time_entry(), KEY, billable=False)
    writer.update_time_entry(remote_id, time_entry(), billable=True)
    writer.find_time_entry(KEY, time_entry())
    writer.read_time_entries([remote_id])
    assert env.adapter.sent
    for request in env.adapter.sent:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        assert CANARY not in body and CANARY not in str(request.url)


def test_deletions_are_found_by_one_id_scan_not_a_request_per_entry() -> None:
    env = make_env(page_size=100)
    writer = env.connector.writer()
    remote_ids = [
        writer.write_time_entry(time_entry(id=f"e{n}", work_date=date(2026, 3, 1 + n % 28)), f"k{n}", billable=False)
        for n in range(60)
    ]
    deleted = remote_ids[7]
    env.admin("DELETE", f"timeentries/{deleted}")
    env.admin("DELETE", "requests")
    remote = writer.read_time_entries(remote_ids, work_dates=(date(2026, 3, 1), date(2026, 3, 28)))
    assert [r.remote_id for r in remote] == remote_ids
    assert [r.remote_id for r in remote if r.deleted] == [deleted]
    gets = [r for r in env.requests_log() if r["method"] == "GET"]
    # one page of the window's list, and one GET that confirms the deletion with a 404
    assert len(gets) == 2, [g["path"] for g in gets]
    without_window = len(remote_ids)
    env.admin("DELETE", "requests")
    writer.read_time_entries(remote_ids)
    assert len(env.requests_log()) == without_window  # the old way: one GET per entry


def test_a_grouped_lookup_lists_each_matter_once_for_every_user() -> None:
    """Jane's and Sam's entries on the hourly matter, one on the flat-fee matter, one never written:
    one call per matter (core asks for one matter's entries at a time: FindsManyEntries) and one
    listing each, without a user filter, finds each by the marker in its private notes (which
    stays there after approval: docs/vendors/practicepanther.md §9, never on the invoice)."""
    env = make_env()
    writer = env.connector.writer()
    janes = time_entry(id="e1", work_date=date(2026, 3, 30))
    sams = time_entry(id="e2", timekeeper_id=SAM, work_date=date(2026, 4, 6))
    flat = time_entry(id="e3", matter_id=FLAT, work_date=date(2026, 4, 1))
    unwritten = time_entry(id="e4", work_date=date(2026, 4, 2))
    written = (("k1", janes), ("k2", sams), ("k3", flat))
    remote_ids = {key: writer.write_time_entry(entry, key, billable=False) for key, entry in written}
    writer.update_time_entry(remote_ids["k2"], sams, billable=True)  # approved

    before = len(env.adapter.sent)
    found = writer.find_time_entries([("k1", janes), ("k2", sams), ("k4", unwritten)])
    assert found == {"k1": remote_ids["k1"], "k2": remote_ids["k2"]}  # k4 absent: never written
    assert writer.find_time_entries([("k3", flat)]) == {"k3": remote_ids["k3"]}
    listings = [parse_qs(urlsplit(str(r.url)).query) for r in env.adapter.sent[before:]]
    # Hourly: 30 March to 6 April, a day either side (date_to is the moment the last day ends).
    assert [(q["matter_id"], q["date_from"], q["date_to"], "user_id" in q) for q in listings] == [
        ([HOURLY], ["2026-03-29T00:00:00Z"], ["2026-04-08T00:00:00Z"], False),
        ([FLAT], ["2026-03-31T00:00:00Z"], ["2026-04-03T00:00:00Z"], False),
    ]


def test_a_grouped_lookup_that_mixes_matters_is_refused_before_any_request() -> None:
    """Against core's promise, an entry of a second matter would go unfound (and be written twice):
    the writer refuses the call, and core then looks each entry up on its own."""
    env = make_env()
    writer = env.connector.writer()
    before = len(env.adapter.sent)
    with pytest.raises(Fatal, match="one matter's entries, not 2 matters'"):
        writer.find_time_entries([("k1", time_entry(id="e1")), ("k2", time_entry(id="e2", matter_id=FLAT))])
    assert len(env.adapter.sent) == before
