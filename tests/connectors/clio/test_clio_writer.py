"""ClioWriter against the sandbox: what is sent, exactly-once recovery, updates, the review round-trip."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connectors.clio import mapping
from connectors.clio.client import ClioConflict
from core.errors import Fatal, Indeterminate
from tests.connectors.clio.harness import ClioEnv, make_env, time_entry

KEY = "firm-clio-test|clio|communication:4001|create"


def marked(env: ClioEnv, key: str = KEY) -> list[dict[str, Any]]:
    return [a for a in env.activities() if mapping.marker(key) in (a.get("note") or "")]


def sent(env: ClioEnv, method: str, path_part: str = "/api/v4/activities") -> list[requests.PreparedRequest]:
    return [r for r in env.adapter.sent if r.method == method and path_part in str(r.url)]


def test_a_time_entry_is_posted_once_in_seconds_with_an_explicit_price(monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env()
    flags: list[tuple[str, bool]] = []
    original = env.ctx.http.request

    def spy(method: str, url: str, **kwargs: Any) -> requests.Response:
        flags.append((method, kwargs["idempotent"]))
        return original(method, url, **kwargs)

    monkeypatch.setattr(env.ctx.http, "request", spy)
    remote_id = env.connector.writer().write_time_entry(time_entry(), KEY, billable=False)
    assert ("POST", False) in flags  # never retried blindly by core.http
    [stored] = marked(env)
    assert str(stored["id"]) == remote_id
    assert stored["type"] == "TimeEntry" and stored["date"] == "2026-03-30"
    assert stored["quantity"] == 360.0 and stored["price"] == 350.0  # seconds; the price we computed
    assert stored["note"] == f"Email to Acme Corp: Draft motion {mapping.marker(KEY)}"
    assert stored["matter"]["id"] == 1001 and stored["user"]["id"] == 345
    assert stored["non_billable"] is True and stored["activity_description"]["id"] == 77
    assert stored["communication"] == {"id": 4001}


@pytest.mark.parametrize("fault", ["truncate", "reset"])
def test_the_same_key_never_creates_twice_after_a_lost_answer(fault: str) -> None:
    """truncate: Clio wrote it and the answer was cut off; reset: the connection dropped first."""
    env = make_env()
    writer = env.connector.writer()
    env.faults({"route": "/api/v4/activities*", "kind": fault, "methods": ["POST"], "probability": 1.0})
    with pytest.raises(Indeterminate):
        writer.write_time_entry(time_entry(), KEY, billable=False)
    env.faults()
    # What core does with an unknown outcome: look before sending again.
    found = writer.find_time_entry(KEY, time_entry())
    if found is None:
        found = writer.write_time_entry(time_entry(), KEY, billable=False)
    assert [str(a["id"]) for a in marked(env)] == [found]
    assert writer.find_time_entry(KEY, time_entry()) == found


def test_find_matches_the_exact_marker_only() -> None:
    env = make_env()
    writer = env.connector.writer()
    assert writer.find_time_entry(KEY, time_entry()) is None
    other = writer.write_time_entry(time_entry(), "another-key", billable=False)
    assert writer.find_time_entry(KEY, time_entry()) is None
    assert writer.find_time_entry("another-key", time_entry()) == other
    query = sent(env, "GET")[-1].url
    assert "matter_id=1001" in str(query) and "start_date=2026-03-29" in str(query) and "type=TimeEntry" in str(query)


def test_an_update_sends_the_price_guards_with_if_match_and_drops_the_marker_once_billable() -> None:
    env = make_env()
    writer = env.connector.writer()
    remote_id = writer.write_time_entry(time_entry(), KEY, billable=False)
    writer.update_time_entry(remote_id, time_entry(narrative="Email: Draft", billed_seconds=360), billable=False)
    writer.update_time_entry(remote_id, time_entry(narrative="Email: Draft motion", billed_seconds=720), billable=True)
    still_review, approved = sent(env, "PATCH")
    assert approved.headers["If-Match"].startswith('"')
    assert json.loads(still_review.body or b"{}")["data"]["note"] == f"Email: Draft {mapping.marker(KEY)}"
    # Approved: the note may print on the client's bill, so billsync's marker is gone.
    assert json.loads(approved.body or b"{}")["data"] == {
        "note": "Email: Draft motion",
        "quantity": 720,
        "price": 350.0,
        "non_billable": False,
    }
    [stored] = [a for a in env.activities() if a["id"] == int(remote_id)]
    assert stored["quantity"] == 720.0 and stored["non_billable"] is False and stored["note"] == "Email: Draft motion"


def test_a_concurrent_edit_in_clio_is_a_conflict_to_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env()
    writer = env.connector.writer()
    remote_id = writer.write_time_entry(time_entry(), KEY, billable=False)
    original = env.connector.client.get

    def read_then_someone_edits(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)
        env.sandbox.update("activities", int(remote_id), {"note": f"Edited by Jane {mapping.marker(KEY)}"})
        return found

    monkeypatch.setattr(env.connector.client, "get", read_then_someone_edits)
    with pytest.raises(ClioConflict):
        writer.update_time_entry(remote_id, time_entry(), billable=True)


def test_an_entry_on_a_bill_is_locked() -> None:
    env = make_env()
    writer = env.connector.writer()
    remote_id = writer.write_time_entry(time_entry(), KEY, billable=True)
    env.sandbox.generate_bill(1001, activity_ids=[int(remote_id)])
    with pytest.raises(Fatal, match="on a bill"):
        writer.update_time_entry(remote_id, time_entry(narrative="late edit"), billable=True)
    assert sent(env, "PATCH") == []


def test_reading_back_edits_approvals_bills_and_deletions() -> None:
    env = make_env()
    writer = env.connector.writer()
    edited = writer.write_time_entry(time_entry(), KEY, billable=False)
    billed = writer.write_time_entry(time_entry(id="entry-2"), "key-2", billable=True)
    deleted = writer.write_time_entry(time_entry(id="entry-3"), "key-3", billable=False)
    env.sandbox.update(
        "activities",
        int(edited),
        {"note": f"Reviewed draft motion {mapping.marker(KEY)}", "non_billable": False, "quantity": 900.0},
    )
    env.sandbox.generate_bill(1001, activity_ids=[int(billed)])
    env.sandbox.delete("activities", int(deleted))
    remote = {r.remote_id: r for r in writer.read_time_entries([edited, billed, deleted])}
    assert remote[edited].narrative == "Reviewed draft motion"
    assert remote[edited].idempotency_key == mapping.marker_hash(KEY)
    assert (remote[edited].billable, remote[edited].billed_seconds, remote[edited].billed) == (True, 900, False)
    assert remote[edited].matter_id == "1001" and not remote[edited].deleted
    assert remote[billed].billed and not remote[billed].deleted  # a draft bill already locks it
    assert remote[deleted].deleted
    assert len(sent(env, "GET", f"/api/v4/activities/{deleted}")) == 1  # the 404 that proves it


def test_non_clio_ids_are_refused_before_any_request() -> None:
    env = make_env()
    with pytest.raises(Fatal, match="not a Clio"):
        env.connector.writer().read_time_entries(["entry-1"])
    with pytest.raises(Fatal, match="not a Clio id"):
        env.connector.writer().write_time_entry(time_entry(matter_id="HARB-1"), KEY, billable=False)
    assert env.adapter.sent == []


def test_the_writer_says_what_its_writes_cost_against_the_limit_clio_reports() -> None:
    """The drain's ETA counts a create as one request and an approval as two: the count is what is sent."""
    env = make_env(rate_limit_per_minute=120)
    writer = env.connector.writer()
    assert writer.requests_per_minute() == 50  # no answer yet: Clio's documented peak limit

    before = len(env.adapter.sent)
    remote_id = writer.write_time_entry(time_entry(), KEY, billable=False)
    assert len(env.adapter.sent) - before == writer.requests_per_write("create") == 1
    assert writer.requests_per_minute() == 120  # the sandbox's X-RateLimit-Limit

    before = len(env.adapter.sent)
    assert writer.find_time_entry(KEY, time_entry()) == remote_id  # after a lost answer: look, then (not here) send
    assert len(env.adapter.sent) - before + 1 == writer.requests_per_write("create", unknown_outcome=True) == 2

    before = len(env.adapter.sent)
    writer.update_time_entry(remote_id, time_entry(narrative="Email: Draft motion"), billable=True)  # an approval
    assert len(env.adapter.sent) - before == writer.requests_per_write("update") == 2  # GET, then PATCH


def test_a_grouped_lookup_lists_each_matter_once_and_finds_marked_and_approved_entries() -> None:
    """What a first sync of a rebuilt store asks: four entries on two matters, one call and one
    listing per matter (core asks for one matter's entries at a time: FindsManyEntries).

    On matter 1001: one entry still marked, one approved (billable, its marker taken off its note),
    one never written; on matter 1002 one marked entry. Decoys with the approved entry's words, a
    colleague's and the same user's on another day, were logged earlier (lower ids, listed first)."""
    env = make_env()
    writer = env.connector.writer()
    marked_one = time_entry(id="e1", narrative="Call with Acme: settlement")
    approved = time_entry(id="e2", narrative="Review of lease terms", work_date=date(2026, 4, 10))
    unwritten = time_entry(id="e4", narrative="Draft reply", work_date=date(2026, 4, 5))
    other_matter = time_entry(
        id="e3", matter_id="1002", narrative="Call with Acme: settlement", work_date=date(2026, 3, 31)
    )
    decoys = [
        time_entry(id="d1", timekeeper_id="346", narrative="Review of lease terms", work_date=date(2026, 4, 10)),
        time_entry(id="d2", narrative="Review of lease terms", work_date=date(2026, 4, 5)),
    ]
    for n, decoy in enumerate(decoys):
        remote_id = writer.write_time_entry(decoy, f"decoy-{n}", billable=False)
        writer.update_time_entry(remote_id, decoy, billable=True)  # approved: no marker left on its note
    remote_id_marked = writer.write_time_entry(marked_one, "k1", billable=False)
    remote_id_approved = writer.write_time_entry(approved, "k2", billable=False)
    writer.update_time_entry(remote_id_approved, approved, billable=True)
    remote_id_other = writer.write_time_entry(other_matter, "k3", billable=False)
    assert [a["note"] for a in env.activities() if str(a["id"]) == remote_id_approved] == ["Review of lease terms"]

    before = len(env.adapter.sent)
    found = writer.find_time_entries([("k1", marked_one), ("k2", approved), ("k4", unwritten)])
    assert found == {"k1": remote_id_marked, "k2": remote_id_approved}  # k4 absent: never written
    assert writer.find_time_entries([("k3", other_matter)]) == {"k3": remote_id_other}
    listings = [urlsplit(str(r.url)) for r in env.adapter.sent[before:]]
    assert [r.path for r in listings] == ["/clio/api/v4/activities.json"] * 2
    queries = [parse_qs(r.query) for r in listings]
    # Matter 1001's wanted dates run 30 March to 10 April, 1002's is 31 March: a day either side.
    assert [(q["matter_id"], q["start_date"], q["end_date"]) for q in queries] == [
        (["1001"], ["2026-03-29"], ["2026-04-11"]),
        (["1002"], ["2026-03-30"], ["2026-04-01"]),
    ]
    assert all(q["type"] == ["TimeEntry"] and q["limit"] == ["200"] for q in queries)
    # Each entry alone finds the same activity with its own lookup.
    assert writer.find_time_entry("k2", approved) == remote_id_approved
    assert writer.find_time_entry("k4", unwritten) is None


def test_a_grouped_lookup_that_mixes_matters_is_refused_before_any_request() -> None:
    """Against core's promise, an entry of a second matter would go unfound (and be written twice):
    the writer refuses the call, and core then looks each entry up on its own."""
    env = make_env()
    writer = env.connector.writer()
    mixed = [("k1", time_entry(id="e1")), ("k2", time_entry(id="e2", matter_id="1002"))]
    before = len(env.adapter.sent)
    with pytest.raises(Fatal, match="one matter's entries, not 2 matters'"):
        writer.find_time_entries(mixed)
    with pytest.raises(Fatal, match="not 0 matters'"):
        writer.find_time_entries([])
    assert len(env.adapter.sent) == before


def test_a_grouped_lookup_follows_clio_pages() -> None:
    env = make_env(page_limit=1)
    writer = env.connector.writer()
    entries = [time_entry(id=f"e{n}", narrative=f"Call {n}", work_date=date(2026, 3, 27 + n)) for n in range(3)]
    remote_ids = {f"k{n}": writer.write_time_entry(entry, f"k{n}", billable=False) for n, entry in enumerate(entries)}
    before = len(env.adapter.sent)
    assert writer.find_time_entries([(f"k{n}", entry) for n, entry in enumerate(entries)]) == remote_ids
    assert len(env.adapter.sent) - before >= 3  # one activity a page: the listing went on to find them all
