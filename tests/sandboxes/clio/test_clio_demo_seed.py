"""The demo firm as a Clio seed: size, shapes, links, sandbox acceptance and the OpenAPI spec."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from billsync_sandboxes.clio.api.resources import BY_NAME
from billsync_sandboxes.clio.factory import build_sandbox, connector_settings
from billsync_sandboxes.clio.seed import CALENDAR_ID_OFFSET, calendar_id, clio_id, clio_seed
from billsync_sandboxes.clio.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, ClioSandbox, create_app
from billsync_sandboxes.demo.data import PRIVILEGED_BODY, SyntheticFirm, generate_firm
from billsync_sandboxes.kit import FakeClock
from billsync_sandboxes.kit.server import build_server_app

from connectors.clio import mapping
from core.models import ActivityKind, BillingMethod
from core.serving import run_in_thread
from tests.testclient import TestClient

REPO_ROOT = Path(__file__).resolve().parents[3]
SPEC_FILE = REPO_ROOT.parent / "shared" / "reference" / "specs" / "clio-manage-v4-openapi-2026-04-08.json"
MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
NOW = MONTH_START + timedelta(days=31)
API = "/clio/api/v4"
ACTIVITY_COLLECTIONS = ("communications", "calendar_entries", "tasks", "documents", "notes")
SOURCE_LINKS = ("communication", "calendar_entry", "task", "matter_note", "contact_note", "document_version")


@pytest.fixture(scope="module")
def firm() -> SyntheticFirm:
    return generate_firm(timekeepers=12, clients=40, matters=120, activities=1500, month_start=MONTH_START)


@pytest.fixture(scope="module")
def seed(firm: SyntheticFirm) -> dict[str, list[dict[str, Any]]]:
    return clio_seed(firm, now=NOW)


@pytest.fixture(scope="module")
def sandbox(seed: dict[str, list[dict[str, Any]]]) -> ClioSandbox:
    return ClioSandbox(copy.deepcopy(seed), clock=FakeClock(NOW), rate_limit_per_minute=100_000)


def test_demo_firm_size_floor(firm: SyntheticFirm, seed: dict[str, list[dict[str, Any]]]) -> None:
    assert len(seed["users"]) >= 12
    assert len([c for c in seed["contacts"] if c["is_client"]]) >= 40
    assert len(seed["matters"]) >= 120
    assert {m["billing_method"] for m in seed["matters"]} == {"hourly", "flat", "contingency"}
    for collection in (*ACTIVITY_COLLECTIONS, "activities"):
        assert seed[collection], f"no {collection}"
    assert {c["type"] for c in seed["communications"]} == {"EmailCommunication", "PhoneCommunication"}
    days = {c["date"] for c in seed["communications"]}
    assert min(days) == MONTH_START.date().isoformat()
    assert max(days) >= (MONTH_START + timedelta(days=27)).date().isoformat()


def test_ids_follow_the_canonical_ids(firm: SyntheticFirm, seed: dict[str, list[dict[str, Any]]]) -> None:
    assert clio_id("u7") == 7
    assert clio_id("act-1234") == 1234
    with pytest.raises(ValueError, match="does not end in a number"):
        clio_id("cat-comm")
    assert {u["id"] for u in seed["users"]} == {clio_id(tk.id) for tk in firm.timekeepers}
    assert {c["id"] for c in seed["contacts"]} == {clio_id(c.id) for c in firm.clients}
    by_number = {m["display_number"]: m for m in seed["matters"]}
    for matter in firm.matters:
        clio_matter = by_number[matter.number]
        assert clio_matter["id"] == clio_id(matter.id)
        assert clio_matter["client"] == {"id": clio_id(matter.client_id)}
        assert clio_matter["status"] == matter.status.value.capitalize()
        assert clio_matter["billable"] is matter.billable
    assert all(isinstance(e["id"], str) for e in seed["calendar_entries"])
    assert all(
        e["calendar_owner_id"] == calendar_id(e["calendar_owner"]["id"] - CALENDAR_ID_OFFSET)
        for e in seed["calendar_entries"]
    )
    assert clio_seed(firm, now=NOW) == seed  # deterministic


def test_users_say_who_they_are(firm: SyntheticFirm, seed: dict[str, list[dict[str, Any]]]) -> None:
    users = {u["id"]: u for u in seed["users"]}
    for tk in firm.timekeepers:
        user = users[clio_id(tk.id)]
        lawyer = tk.classification in ("PARTNR", "ASSOC", "OFCNSL")
        assert user["subscription_type"] == ("Attorney" if lawyer else "NonAttorney")
        # What billsync reads back from Clio's subscription type and job title is the demo's own
        # (an office manager, a non-attorney of no paralegal or assistant title, is OTH).
        assert mapping.classification(user) == tk.classification
        assert (user["name"], user["email"], user["rate"], user["time_zone"]) == (
            tk.name,
            tk.email,
            float(tk.default_rate),
            tk.time_zone,
        )
    assert [u["account_owner"] for u in seed["users"]].count(True) == 1


def test_matter_rates_and_billing_methods(firm: SyntheticFirm, seed: dict[str, list[dict[str, Any]]]) -> None:
    matters = {m["id"]: m for m in seed["matters"]}
    expected_type = {"hourly": "HourlyRate", "flat": "FlatRate", "contingency": "ContingencyFee"}
    for matter in firm.matters:
        clio_matter = matters[clio_id(matter.id)]
        custom = clio_matter.get("custom_rate")
        if matter.billing_method is BillingMethod.HOURLY and not matter.rates:
            assert custom is None
            continue
        assert custom["type"] == expected_type[matter.billing_method.value]
        assert custom["rates"] and all(row["user"]["id"] in {u["id"] for u in seed["users"]} for row in custom["rates"])
        if matter.billing_method is BillingMethod.HOURLY:
            assert {row["rate"] for row in custom["rates"]} == {float(r.rate) for r in matter.rates}
    flat = [d for d in seed["activity_descriptions"] if d["category_type"] == "flat_fee"]
    assert flat and all(d["rate"]["type"] == "FlatRate" for d in flat)


def test_every_activity_but_sms_has_a_clio_record(firm: SyntheticFirm, seed: dict[str, list[dict[str, Any]]]) -> None:
    kinds = Counter(a.kind for a in firm.activities if a.started_at <= NOW)
    communications = Counter(c["type"] for c in seed["communications"])
    assert communications["PhoneCommunication"] == kinds[ActivityKind.CALL]
    assert communications["EmailCommunication"] == kinds[ActivityKind.EMAIL]
    assert len(seed["calendar_entries"]) == kinds[ActivityKind.EVENT]
    assert len(seed["tasks"]) == kinds[ActivityKind.TASK]
    assert len(seed["documents"]) == kinds[ActivityKind.DOCUMENT]
    # Notes that name neither a matter nor a known client cannot exist in Clio.
    assert 0 < len(seed["notes"]) <= kinds[ActivityKind.NOTE]
    sms_ids = {clio_id(a.external_id) for a in firm.activities if a.kind is ActivityKind.SMS}
    all_ids = {int(r["id"]) for name in ACTIVITY_COLLECTIONS for r in seed[name]}
    assert sms_ids and not sms_ids & all_ids


def test_nothing_after_now(firm: SyntheticFirm) -> None:
    cut = MONTH_START + timedelta(days=10)
    early = clio_seed(firm, now=cut)
    for name in ACTIVITY_COLLECTIONS:
        assert all(r["updated_at"] <= cut.isoformat() for r in early[name])
    assert len(early["communications"]) < len(clio_seed(firm, now=NOW)["communications"])


def test_communications_carry_subject_body_and_counterpart(
    firm: SyntheticFirm, seed: dict[str, list[dict[str, Any]]]
) -> None:
    records = {c["id"]: c for c in seed["communications"]}
    for activity in firm.activities:
        if activity.kind not in (ActivityKind.CALL, ActivityKind.EMAIL):
            continue
        record = records[clio_id(activity.external_id)]
        assert record["subject"] == activity.title
        assert record["body"] == PRIVILEGED_BODY
        assert record["received_at"] == activity.started_at.isoformat()
        assert record["senders"][0]["identifier"] == activity.actor
        assert [r["identifier"] for r in record["receivers"]] == list(activity.counterpart_addresses)
        expected_matter = {"id": clio_id(activity.matter_id)} if activity.matter_id else None
        assert record.get("matter") == expected_matter
    known = [r for c in seed["communications"] for r in c["receivers"] if "id" in r]
    assert known and all(r["type"] == "Company" for r in known)


def test_covered_activities_have_a_hand_made_linked_entry(
    firm: SyntheticFirm, seed: dict[str, list[dict[str, Any]]]
) -> None:
    may_record = {tk.email for tk in firm.timekeepers if tk.may_record_time}
    covered = {
        clio_id(a.external_id)
        for a in firm.activities
        if a.covered_by_time_entry
        and a.kind is not ActivityKind.SMS
        and a.actor in may_record
        and not (a.kind is ActivityKind.NOTE and clio_id(a.external_id) not in {n["id"] for n in seed["notes"]})
    }
    entries = {e["id"]: e for e in seed["activities"]}
    assert covered and set(entries) == covered
    for entry in entries.values():
        assert entry["type"] == "TimeEntry"
        assert entry["quantity"] > 0 and entry["quantity"] % 360 == 0
        assert PRIVILEGED_BODY not in entry["note"]
        links = [name for name in SOURCE_LINKS if name in entry]
        assert len(links) == 1
        assert str(entry[links[0]]["id"]) == str(entry["id"])


def test_the_sandbox_accepts_every_record(sandbox: ClioSandbox, seed: dict[str, list[dict[str, Any]]]) -> None:
    admin = TestClient(create_app(sandbox))
    for name, records in seed.items():
        response = admin.get(f"/_sandbox/clio/{name}")
        assert response.status_code == 200, response.text
        stored = response.json()
        assert [r["id"] for r in stored] == [r["id"] for r in records], name
        resource = BY_NAME[name]
        for record in stored:
            assert set(record) == resource.scalars | set(resource.assocs)
    linked = [c for c in admin.get("/_sandbox/clio/communications").json() if c["time_entries_count"]]
    assert linked, "no communication shows its hand-made time entry"


def test_linked_entries_are_found_through_the_api(sandbox: ClioSandbox, seed: dict[str, list[dict[str, Any]]]) -> None:
    app = TestClient(create_app(sandbox))
    auth = {"Authorization": f"Bearer {sandbox.issue_token()['access_token']}"}
    entry = next(e for e in seed["activities"] if "communication" in e)
    response = app.get(
        f"{API}/activities.json?fields=id,communication{{id,subject}},quantity"
        f"&communication_id={entry['communication']['id']}",
        headers=auth,
    )
    assert response.status_code == 200, response.text
    assert [a["id"] for a in response.json()["data"]] == [entry["id"]]


# -- the OpenAPI spec --------------------------------------------------------------------------

LIST_ROUTES = [
    ("/users.json", "users", ""),
    ("/contacts.json", "contacts", ""),
    ("/matters.json", "matters", ""),
    ("/activity_descriptions.json", "activity_descriptions", ""),
    ("/communications.json", "communications", ""),
    ("/calendar_entries.json", "calendar_entries", ""),
    ("/tasks.json", "tasks", ""),
    ("/documents.json", "documents", ""),
    ("/notes.json", "notes", "&type=Matter"),
    ("/notes.json", "notes", "&type=Contact"),
    ("/activities.json", "activities", ""),
]


@pytest.mark.skipif(not SPEC_FILE.exists(), reason=f"Clio OpenAPI spec not found at {SPEC_FILE}")
@pytest.mark.parametrize(("path", "collection", "extra"), LIST_ROUTES)
def test_every_rendered_record_matches_the_spec(
    sandbox: ClioSandbox, seed: dict[str, list[dict[str, Any]]], path: str, collection: str, extra: str
) -> None:
    # The sandbox spec test's helpers: the spec's schemas with Clio's nulls allowed.
    from tests.sandboxes.clio.test_clio_sandbox_openapi import all_fields, response_schema, validator_for

    app = TestClient(create_app(sandbox))
    auth = {"Authorization": f"Bearer {sandbox.issue_token()['access_token']}"}
    validator = validator_for(response_schema(path))
    url: str | None = f"{API}{path}?order=id(asc)&limit=200{extra}&fields={all_fields(BY_NAME[collection])}"
    seen: list[object] = []
    while url:
        response = app.get(url, headers=auth)
        assert response.status_code == 200, response.text
        body = response.json()
        validator.validate(body)
        seen.extend(record["id"] for record in body["data"])
        url = body["meta"]["paging"].get("next")
    wanted = [r["id"] for r in seed[collection] if collection != "notes" or r["type"] == extra.rsplit("=", 1)[-1]]
    assert seen == wanted


@pytest.mark.skipif(not SPEC_FILE.exists(), reason=f"Clio OpenAPI spec not found at {SPEC_FILE}")
@pytest.mark.parametrize(
    "collection", ["users", "contacts", "matters", "activity_descriptions", *ACTIVITY_COLLECTIONS, "activities"]
)
def test_every_full_record_matches_its_spec_schema(sandbox: ClioSandbox, collection: str) -> None:
    # The API answers above show nested objects by their default fields only; the admin API's
    # full shape also puts participants, attendees, custom rates and versions to the schema.
    from tests.sandboxes.clio.test_clio_sandbox_openapi import SCHEMAS, validator_for

    validator = validator_for({"$ref": f"#/components/schemas/{SCHEMAS[collection]}"})
    records = TestClient(create_app(sandbox)).get(f"/_sandbox/clio/{collection}").json()
    assert records
    for record in records:
        validator.validate(record)


# -- the factory, served through core's sandbox server --------------------------------------------


def test_build_sandbox_uses_the_fixed_credentials_and_allows_http_webhooks() -> None:
    sandbox = build_sandbox({"users": [{"id": 1, "name": "Ava Nguyen", "enabled": True}]}, rate_limit_per_minute=7)
    assert (sandbox.client_id, sandbox.client_secret) == (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    assert sandbox.rate_limiter.limit == 7
    app = TestClient(create_app(sandbox))
    auth = {"Authorization": f"Bearer {sandbox.issue_token(1)['access_token']}"}
    # The daemon's receiver is plain http on loopback; port 9 refuses, so the handshake just fails.
    hook = app.post(
        f"{API}/webhooks.json?fields=id,url",
        headers=auth,
        json={"data": {"url": "http://127.0.0.1:9/hooks/clio", "model": "activity", "fields": "id"}},
    )
    assert hook.status_code == 201, hook.text
    assert connector_settings("http://127.0.0.1:8765/") == {
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "base_url": "http://127.0.0.1:8765/clio",
    }


@pytest.fixture
def served() -> Iterator[tuple[str, dict[str, Any]]]:
    small = generate_firm(timekeepers=4, clients=5, matters=8, activities=60, month_start=MONTH_START)
    port, stop = run_in_thread(build_server_app({"clio": build_sandbox(clio_seed(small, now=NOW))}))
    base = f"http://127.0.0.1:{port}"
    try:
        yield base, connector_settings(base)
    finally:
        stop()


def test_the_seeded_sandbox_answers_over_http(served: tuple[str, dict[str, Any]]) -> None:
    base, settings = served
    assert requests.get(f"{base}/_sandbox", timeout=5).json()["sandboxes"][0]["name"] == "clio"
    token = requests.post(f"{base}/_sandbox/clio/tokens", json={}, timeout=5).json()
    response = requests.get(
        f"{settings['base_url']}/api/v4/matters.json?fields=id,display_number,status&order=id(asc)",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    assert response.headers["X-RateLimit-Limit"] == "50"
    assert len(response.json()["data"]) == 8
