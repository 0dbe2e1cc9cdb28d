"""The review pages: what waits for a person, and the actions behind the review token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from markupsafe import escape
from pydantic import SecretStr
from sqlalchemy import select

from core.models import ActivityStatus, EntryState
from core.store.reports import ReportStore
from core.store.schema import outbox
from tests.reports.firm import REVIEW_TOKEN, ReportFirm

pytestmark = pytest.mark.e2e
BEARER = {"Authorization": f"Bearer {REVIEW_TOKEN}"}
READ_TOKEN = SecretStr("read-token-for-tests-9876543210")
READ = {"Authorization": f"Bearer {READ_TOKEN.get_secret_value()}"}


@pytest.fixture
def firm(tmp_path: Path) -> Iterator[ReportFirm]:
    made = ReportFirm(tmp_path)
    made.run_month()
    yield made
    made.close()


def waiting(firm: ReportFirm, state: EntryState) -> list:
    return firm.store.entries("demo", [state])


def outbox_rows(firm: ReportFirm, entry_id: str) -> list[tuple[str, str]]:
    o = outbox.c
    with firm.store.engine.connect() as conn:
        return [(r.operation, r.status) for r in conn.execute(select(outbox).where(o.entry_id == entry_id))]


def test_the_review_page_lists_everything_that_waits_for_a_person(firm: ReportFirm) -> None:
    firm.runtime.runner.run_once()
    unassigned = [
        a for a in ReportStore(firm.store.engine).activity_rows("demo") if a.status is ActivityStatus.UNASSIGNED
    ]
    blocked = waiting(firm, EntryState.BLOCKED)
    assert unassigned and blocked
    with firm.app() as client:
        page = client.get("/reports/demo/review", headers=BEARER).text
    assert f"Unassigned activities ({len(unassigned)})" in page and escape(unassigned[0].reason) in page
    assert f"Entries awaiting review or blocked ({len(blocked) + len(waiting(firm, EntryState.NEEDS_REVIEW))})" in page
    assert escape(blocked[0].findings[0].message) in page  # the reason it is blocked
    assert "Bills that differ from their pre-bill (1)" in page and "missing from the bill: line 1" in page
    assert "Payments nobody can place (1)" in page and "no invoice has reference &#39;nothing&#39;" in page
    assert 'type="password"' in page and REVIEW_TOKEN not in page  # the token is typed in, never served


def test_actions_need_the_review_token(firm: ReportFirm) -> None:
    entry = waiting(firm, EntryState.BLOCKED)[0]
    path = f"/reports/demo/review/entries/{entry.id}/reject"
    with firm.app() as client:
        assert client.post(path).status_code == 401
        assert client.post(path, headers={"Authorization": "Bearer wrong-token-wrong-token"}).status_code == 401
        assert client.post(path, data={"token": REVIEW_TOKEN[:-1]}).status_code == 401
        assert waiting(firm, EntryState.BLOCKED)[0].id == entry.id  # nothing changed
        done = client.post(path, headers=BEARER)
    assert done.status_code == 200 and done.json() == {"status": "done", "message": f"{entry.id}: rejected"}
    assert firm.store.entries("demo", ids=[entry.id])[0].state is EntryState.REJECTED

    without = firm.settings.firms["demo"].model_copy(
        update={"reports": firm.settings.firms["demo"].reports.model_copy(update={"review_token": None})}
    )
    without = without.model_copy(update={"reports": without.reports.model_copy(update={"read_token": READ_TOKEN})})
    read_only = firm.settings.model_copy(update={"firms": {"demo": without}})
    with firm.app(read_only) as client:
        assert client.post(path, headers=BEARER).status_code == 403
        assert "Read only" in client.get("/reports/demo/review", headers=READ).text


def test_approve_from_the_page_queues_the_update_that_makes_it_billable_in_the_pms(firm: ReportFirm) -> None:
    firm.runtime.runner.run_once()
    # Entries captured after the month's review: posted to Clio as non-billable, waiting.
    assign_one(firm)
    firm.runtime.runner.run_once()
    entry = next(e for e in waiting(firm, EntryState.NEEDS_REVIEW) if e.remote_id)
    assert firm.admin("GET", f"activities/{entry.remote_id}").json()["non_billable"] is True
    with firm.app() as client:
        answer = client.post(
            f"/reports/demo/review/entries/{entry.id}/approve", data={"token": REVIEW_TOKEN}, follow_redirects=False
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/reports/demo/review"
        assert f"{entry.id}: approved" in client.get(answer.headers["location"], headers=BEARER).text
        again = client.post(f"/reports/demo/review/entries/{entry.id}/approve", headers=BEARER)
    assert again.status_code == 409 and "it is approved, not needs_review" in again.json()["error"]
    assert ("update", "pending") in outbox_rows(firm, entry.id)
    firm.runtime.runner.run_once()
    remote = firm.admin("GET", f"activities/{entry.remote_id}").json()
    assert remote["non_billable"] is False


def assign_one(firm: ReportFirm) -> tuple[str, str]:
    """Assign the first unassigned activity of a timekeeper to an open matter, through the page."""
    reference = firm.store.load_reference("demo")
    activity = next(
        a
        for a in ReportStore(firm.store.engine).activity_rows("demo")
        if a.status is ActivityStatus.UNASSIGNED and a.timekeeper_id
    )
    matter = next(m for m in reference.matters.values() if m.status.value == "open" and m.billable)
    with firm.app() as client:
        answer = client.post(
            f"/reports/demo/review/activities/{activity.id}/assign", headers=BEARER, data={"matter_id": matter.number}
        )
    assert answer.status_code == 200, answer.text
    return activity.id, matter.id


def test_assigning_a_matter_captures_the_activity_once(firm: ReportFirm) -> None:
    activity_id, matter_id = assign_one(firm)
    [row] = [a for a in ReportStore(firm.store.engine).activity_rows("demo") if a.id == activity_id]
    assert row.status is ActivityStatus.CAPTURED and row.matter_id == matter_id and row.entry_id
    [entry] = firm.store.entries("demo", ids=[row.entry_id])
    assert entry.matter_id == matter_id and entry.state is EntryState.NEEDS_REVIEW  # the firm reviews everything
    assert outbox_rows(firm, entry.id) == [("create", "pending")]
    with firm.app() as client:
        twice = client.post(
            f"/reports/demo/review/activities/{activity_id}/assign", headers=BEARER, data={"matter_id": matter_id}
        )
        unknown = client.post(
            "/reports/demo/review/activities/nope/assign", headers=BEARER, data={"matter_id": matter_id}
        )
        no_matter = next(
            a for a in ReportStore(firm.store.engine).activity_rows("demo") if a.status is ActivityStatus.UNASSIGNED
        )
        bad_matter = client.post(
            f"/reports/demo/review/activities/{no_matter.id}/assign", headers=BEARER, data={"matter_id": "ZZZ-404"}
        )
    assert twice.status_code == 409 and "is captured, not unassigned" in twice.json()["error"]
    assert unknown.status_code == 409 and bad_matter.status_code == 409
    assert "no matter with id or number 'ZZZ-404'" in bad_matter.json()["error"]
    report = firm.runtime.runner.run_once()
    assert report.written >= 1
    [written] = firm.store.entries("demo", ids=[entry.id])
    assert written.remote_id is not None  # one remote entry, written through the ordinary outbox
    in_clio = firm.admin("GET", f"activities/{written.remote_id}").json()
    assert in_clio["matter"]["id"] == int(matter_id) and in_clio["non_billable"] is True  # waits for review there


def test_a_page_for_an_unknown_firm_is_404(firm: ReportFirm) -> None:
    with firm.app() as client:
        assert client.get("/reports/other", headers=BEARER).status_code == 404
        assert client.post("/reports/other/review/entries/x/approve", headers=BEARER).status_code == 404
        assert client.get("/reports", headers=BEARER, follow_redirects=False).headers["location"] == "/reports/demo"
        assert client.get("/reports/demo", headers=BEARER, params={"by": "planet"}).status_code == 400
        script = client.get("/reports/static/plotly.min.js")
    assert script.status_code == 200 and len(script.content) > 1_000_000
