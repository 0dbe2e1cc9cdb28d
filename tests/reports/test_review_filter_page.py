"""The review page's filters and bulk actions, over HTTP: what a filter lists, what a bulk approve
approves, and that no bulk action runs without the firm's review token.

The firm is the demo firm on the Clio sandbox after its first sync: every captured entry waits
for review (as non-billable in Clio). The expected entries are picked in the test from the stored
entries, by their fields, not through billsync's filter.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from core.models import EntryState, TimeEntry
from tests.reports.firm import REVIEW_TOKEN, ReportFirm

pytestmark = pytest.mark.e2e
BEARER = {"Authorization": f"Bearer {REVIEW_TOKEN}"}
READ_TOKEN = SecretStr("read-token-for-tests-9876543210")
READ = {"Authorization": f"Bearer {READ_TOKEN.get_secret_value()}"}
BULK = "/reports/demo/review/entries/bulk/approve"


@pytest.fixture
def firm(tmp_path: Path) -> Iterator[ReportFirm]:
    made = ReportFirm(tmp_path, activities=120)
    made.runtime.runner.run_once()
    yield made
    made.close()


def clean_waiting_of(firm: ReportFirm) -> tuple[str, list[TimeEntry]]:
    """The e-mail of the timekeeper with the most clean entries waiting, and those entries."""
    waiting = [e for e in firm.store.entries("demo") if e.state is EntryState.NEEDS_REVIEW and not e.findings]
    by_timekeeper: dict[str, list[TimeEntry]] = {}
    for entry in waiting:
        by_timekeeper.setdefault(entry.timekeeper_id, []).append(entry)
    timekeeper_id, picked = max(by_timekeeper.items(), key=lambda item: len(item[1]))
    email = firm.store.load_reference("demo").timekeepers[timekeeper_id].email
    assert email and len(picked) >= 2
    return email, picked


def listed_count(page: str) -> int:
    found = re.search(r'<h2 id="entries">Entries picked by the filter \((\d+)\)</h2>', page)
    assert found is not None, page[:3000]
    return int(found.group(1))


def test_the_page_lists_what_the_filter_picks(firm: ReportFirm) -> None:
    email, clean = clean_waiting_of(firm)
    of_timekeeper = [
        e
        for e in firm.store.entries("demo", [EntryState.NEEDS_REVIEW, EntryState.BLOCKED])
        if e.timekeeper_id == clean[0].timekeeper_id
    ]
    with firm.app() as client:
        page = client.get(f"/reports/demo/review?{urlencode({'timekeeper': email, 'clean': '1'})}", headers=BEARER)
        everything = client.get(f"/reports/demo/review?{urlencode({'timekeeper': email})}", headers=BEARER).text
        bad = client.get(
            "/reports/demo/review?from=yesterday&timekeeper=%3Cscript%3Ealert(1)%3C/script%3E", headers=BEARER
        )
        unfiltered = client.get("/reports/demo/review", headers=BEARER).text
    assert page.status_code == 200 and listed_count(page.text) == len(clean)
    assert listed_count(everything) == len(of_timekeeper) > len(clean)
    assert 'id="bulk-approve"' in page.text and 'name="clean" value="1"' in page.text  # the bulk form keeps the filter
    assert bad.status_code == 200 and "from &#39;yesterday&#39; is not a date (YYYY-MM-DD)" in bad.text
    assert "<script>alert(1)" not in bad.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in bad.text
    # No filter: no bulk form, and a word on how to get one.
    assert 'id="bulk-approve"' not in unfiltered and 'id="bulk-off"' in unfiltered


def test_bulk_approve_needs_the_review_token_and_a_filter(firm: ReportFirm) -> None:
    email, clean = clean_waiting_of(firm)
    chosen = {"timekeeper": email, "clean": "1"}
    with_read = firm.settings.firms["demo"].model_copy(
        update={"reports": firm.settings.firms["demo"].reports.model_copy(update={"read_token": READ_TOKEN})}
    )
    readable = firm.settings.model_copy(update={"firms": {"demo": with_read}})
    with firm.app(readable) as client:
        assert client.post(BULK, data=chosen).status_code == 401
        assert client.post(BULK, data=chosen | {"token": REVIEW_TOKEN[:-1]}).status_code == 401
        assert client.post(BULK, data=chosen, headers=READ).status_code == 401  # reading is not acting
        assert client.post(BULK, data=chosen | {"token": READ_TOKEN.get_secret_value()}).status_code == 401
        signed_in = client.post("/reports/login", data={"token": READ_TOKEN.get_secret_value()}, follow_redirects=False)
        assert signed_in.status_code == 303
        assert client.post(BULK, data=chosen).status_code == 401  # the read cookie allows no action
        assert all(e.state is EntryState.NEEDS_REVIEW for e in firm.store.entries("demo", ids=[e.id for e in clean]))
        everything = client.post(BULK, headers=BEARER, data={"state": "needs_review"})
        assert everything.status_code == 409
        # In the page's words (its filter fields), not the command line's flags.
        assert everything.json()["error"] == (
            "to approve many entries at once, filter first: a timekeeper, matter, client, from/to dates, a finding,"
            " or no findings; the list then shows what it picks"
        )
        with capture_logs() as logged:
            done = client.post(BULK, headers=BEARER, data=chosen)
    assert done.status_code == 200
    message = done.json()["message"]
    assert message.startswith(f"approved {len(clean)} entries of {email} with no findings")
    # The audit trail: one INFO line for the person's one action; each entry only at DEBUG.
    infos = [line for line in logged if line["log_level"] == "info"]
    assert [(i["event"], i["count"], i["via"]) for i in infos] == [("entries approved", len(clean), "review page")]
    assert infos[0]["filter"] == f"of {email} with no findings"
    per_entry = [line["entry"] for line in logged if line["event"] == "entry approved"]
    assert {line["log_level"] for line in logged if line["event"] == "entry approved"} == {"debug"}
    assert sorted(per_entry) == sorted(e.id for e in clean)
    approved = {e.id for e in firm.store.entries("demo", [EntryState.APPROVED])}
    assert approved == {e.id for e in clean}

    without = with_read.model_copy(update={"reports": with_read.reports.model_copy(update={"review_token": None})})
    read_only = firm.settings.model_copy(update={"firms": {"demo": without}})
    with firm.app(read_only) as client:
        assert client.post(BULK, headers=BEARER, data=chosen).status_code == 403


def test_a_bulk_form_goes_back_to_the_filtered_list_with_what_it_did(firm: ReportFirm) -> None:
    _, clean = clean_waiting_of(firm)
    matter = clean[0].matter_id
    number = firm.store.load_reference("demo").matters[matter].number
    picked = [
        e for e in firm.store.entries("demo", [EntryState.NEEDS_REVIEW, EntryState.BLOCKED]) if e.matter_id == matter
    ]
    with firm.app() as client:
        with capture_logs() as logged:
            answer = client.post(
                "/reports/demo/review/entries/bulk/reject",
                data={"token": REVIEW_TOKEN, "matter": number, "reason": "client withdrew"},
                follow_redirects=False,
            )
        assert answer.status_code == 303
        # One person's action, one INFO line; each entry only at DEBUG.
        infos = [line for line in logged if line["log_level"] == "info"]
        assert [(i["event"], i["count"]) for i in infos] == [("entries rejected", len(picked))]
        assert {line["log_level"] for line in logged if line["event"] == "entry rejected"} == {"debug"}
        assert answer.headers["location"] == f"/reports/demo/review?{urlencode({'matter': number})}"
        page = client.get(answer.headers["location"], headers=BEARER).text
        rejected = client.get(
            f"/reports/demo/review?{urlencode({'matter': number, 'state': 'rejected'})}", headers=BEARER
        ).text
    noun = "entry" if len(picked) == 1 else "entries"
    assert f"rejected {len(picked)} {noun} on matter {number}" in page
    assert listed_count(page) == 0 and listed_count(rejected) == len(picked)
    assert rejected.count("rejected: client withdrew") == len(picked)
    assert rejected.count("/reopen") == len(picked)  # each can be reopened
