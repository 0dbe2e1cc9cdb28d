"""Checks the Clio sandbox against Clio's OpenAPI spec (skipped when the spec is absent)."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from billsync_sandboxes.clio.api.resources import (
    ACTIVITIES,
    BY_NAME,
    LISTED,
    WEBHOOKS,
    Resource,
)
from billsync_sandboxes.clio.state import ClioSandbox, create_app
from billsync_sandboxes.kit import FakeClock
from jsonschema import Draft4Validator, FormatChecker

from connectors.clio.streams import Contacts
from tests.testclient import TestClient

REPO_ROOT = Path(__file__).resolve().parents[3]
SPEC_FILE = REPO_ROOT.parent / "shared" / "reference" / "specs" / "clio-manage-v4-openapi-2026-04-08.json"
CLIO_FIXTURES = Path(__file__).resolve().parents[2] / "connectors" / "clio" / "fixtures"  # the connector's too
SEED = json.loads((CLIO_FIXTURES / "clio_seed.json").read_text())
API = "/clio/api/v4"

pytestmark = pytest.mark.skipif(not SPEC_FILE.exists(), reason=f"Clio OpenAPI spec not found at {SPEC_FILE}")

# Spec schema behind each resource's records.
SCHEMAS = {
    "activities": "Activity",
    "activity_descriptions": "ActivityDescription",
    "activity_rates": "ActivityRate",
    "users": "User",
    "contacts": "Contact",
    "matters": "Matter",
    "communications": "Communication",
    "calendar_entries": "CalendarEntry",
    "tasks": "Task",
    "documents": "Document",
    "notes": "Note",
    "utbms_codes": "UtbmsCode",
    "bills": "Bill",
    "line_items": "LineItem",
    "webhooks": "Webhook",
    "billing_settings": "BillingSetting",
}


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_FILE.read_text())


def spec_properties(name: str) -> set[str]:
    schema = spec()["components"]["schemas"][name]
    names: set[str] = set()
    for part in schema.get("allOf", [schema]):
        if "$ref" in part:
            names |= spec_properties(part["$ref"].rsplit("/", 1)[-1])
        names |= set(part.get("properties", {}))
    return names


def allow_null(node: Any) -> Any:
    """The spec marks nothing nullable, yet Clio returns null for empty values."""
    if isinstance(node, list):
        return [allow_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return {"anyOf": [{"$ref": node["$ref"]}, {"type": "null"}]}
    out = {key: allow_null(value) for key, value in node.items()}
    if isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if isinstance(out.get("enum"), list):
        out["enum"] = [*out["enum"], None]
    return out


@cache
def components() -> dict[str, Any]:
    return {"schemas": allow_null(copy.deepcopy(spec()["components"]["schemas"]))}


FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def is_timestamp(value: object) -> bool:
    # jsonschema only checks date-time with an extra package; ISO-8601 parsing suffices here.
    if isinstance(value, str):
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        return "T" in value
    return True


def validator_for(schema: dict[str, Any]) -> Draft4Validator:
    root = schema if "$ref" in schema else allow_null(schema)
    return Draft4Validator({**root, "components": components()}, format_checker=FORMATS)


def response_schema(path: str, method: str = "get", status: str = "200") -> dict[str, Any]:
    content = spec()["paths"][path][method]["responses"][status]["content"]
    return next(iter(content.values()))["schema"]


def request_schema(path: str, method: str) -> dict[str, Any]:
    return spec()["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]


def all_fields(resource: Resource) -> str:
    return ",".join(sorted(resource.scalars | set(resource.assocs)))


@pytest.fixture(scope="module")
def client() -> tuple[TestClient, dict[str, str]]:
    sandbox = ClioSandbox(
        json.loads(json.dumps(SEED)),
        clock=FakeClock(),
        deliver=lambda url, headers, body: (200, {"X-Hook-Secret": headers.get("X-Hook-Secret", "")}),
        rate_limit_per_minute=10_000,
    )
    token = sandbox.issue_token()
    app_client = TestClient(create_app(sandbox))
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    app_client.post(
        f"{API}/webhooks.json",
        headers=auth,
        json={"data": {"url": "https://billsync.example.test/hooks", "model": "activity", "fields": "id,etag"}},
    )
    sandbox.generate_bill(1001, activity_ids=[125565936])
    return app_client, auth


@pytest.mark.parametrize("resource_name", sorted(SCHEMAS))
def test_field_names_match_the_spec(resource_name: str) -> None:
    resource = BY_NAME[resource_name]
    assert resource.scalars | set(resource.assocs) == spec_properties(SCHEMAS[resource_name])


@pytest.mark.parametrize(("resource", "path"), [(ACTIVITIES, "activities"), (WEBHOOKS, "webhooks")])
def test_write_keys_and_required_fields_match_the_spec(resource: Resource, path: str) -> None:
    for method, item_path in (("post", f"/{path}.json"), ("patch", f"/{path}/{{id}}.json")):
        data = request_schema(item_path, method)["properties"]["data"]
        assert set(data["properties"]) == resource.write_keys
        if method == "post":
            assert set(data.get("required", [])) == set(resource.required_on_create)


@pytest.mark.parametrize("path", sorted(p for p, r in LISTED.items() if r.writes == "rw"))
def test_other_write_keys_match_the_spec(path: str) -> None:
    data = request_schema(f"/{path}.json", "post")["properties"]["data"]
    assert set(data["properties"]) == LISTED[path].write_keys


LIST_ROUTES = [
    ("/activities.json", ACTIVITIES.name, ""),
    ("/activity_descriptions.json", "activity_descriptions", ""),
    ("/activity_rates.json", "activity_rates", ""),
    ("/users.json", "users", ""),
    ("/contacts.json", "contacts", ""),
    ("/matters.json", "matters", ""),
    ("/communications.json", "communications", ""),
    ("/calendar_entries.json", "calendar_entries", ""),
    ("/tasks.json", "tasks", ""),
    ("/documents.json", "documents", ""),
    ("/notes.json", "notes", "&type=Matter"),
    ("/utbms/codes.json", "utbms_codes", ""),
    ("/bills.json", "bills", ""),
    ("/line_items.json", "line_items", ""),
    ("/webhooks.json", "webhooks", ""),
]
SHOW_ROUTES = [
    ("/activities/{id}.json", "activities", "125565936"),
    ("/users/{id}.json", "users", "345"),
    ("/users/who_am_i.json", "users", None),
    ("/matters/{id}.json", "matters", "1001"),
    ("/contacts/{id}.json", "contacts", "501"),
    ("/communications/{id}.json", "communications", "4001"),
    ("/calendar_entries/{id}.json", "calendar_entries", "9001"),
    ("/tasks/{id}.json", "tasks", "6001"),
    ("/notes/{id}.json", "notes", "5001"),
    ("/documents/{id}.json", "documents", "8001"),
    ("/activity_descriptions/{id}.json", "activity_descriptions", "77"),
    ("/activity_rates/{id}.json", "activity_rates", "1"),
    ("/utbms/codes/{id}.json", "utbms_codes", "7001"),
    ("/bills/{id}.json", "bills", "1"),
    ("/webhooks/{id}.json", "webhooks", "1"),
    ("/settings/billing.json", "billing_settings", None),
]


@pytest.mark.parametrize(("path", "resource_name", "extra"), LIST_ROUTES)
def test_list_responses_match_the_spec(client: Any, path: str, resource_name: str, extra: str) -> None:
    app_client, auth = client
    for fields in (all_fields(BY_NAME[resource_name]), None):
        query = f"?order=id(asc)&limit=200{extra}" + (f"&fields={fields}" if fields else "")
        response = app_client.get(API + path + query, headers=auth)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["data"], f"{path} returned no records to check"
        validator_for(response_schema(path)).validate(body)


@pytest.mark.parametrize(("path", "resource_name", "record_id"), SHOW_ROUTES)
def test_show_responses_match_the_spec(client: Any, path: str, resource_name: str, record_id: str | None) -> None:
    app_client, auth = client
    url = API + path.replace("{id}", record_id or "")
    response = app_client.get(f"{url}?fields={all_fields(BY_NAME[resource_name])}", headers=auth)
    assert response.status_code == 200, response.text
    validator_for(response_schema(path)).validate(response.json())


def test_nested_selection_matches_the_spec(client: Any) -> None:
    app_client, auth = client
    fields = "id,etag,matter{id,display_number,client,status},user{id,name},activity_description{id,name,utbms_task}"
    response = app_client.get(f"{API}/activities.json?fields={fields}", headers=auth)
    validator_for(response_schema("/activities.json")).validate(response.json())


def test_a_contacts_rates_nest_as_the_spec_says(client: Any) -> None:
    # The spec nests ActivityRate_base on a contact: rate, flat_rate and the contact ids, no user.
    app_client, auth = client
    fields = "id,activity_rates{id,etag,rate,flat_rate,contact_id,co_counsel_contact_id},co_counsel_rate{id,rate}"
    response = app_client.get(f"{API}/contacts/502.json?fields={fields}", headers=auth)
    validator_for(response_schema("/contacts/{id}.json")).validate(response.json())
    rates = response.json()["data"]["activity_rates"]
    assert [(r["id"], r["rate"], r["contact_id"]) for r in rates] == [(1, 260.0, 502), (2, 150.0, 502)]
    assert response.json()["data"]["co_counsel_rate"] is None
    acme = app_client.get(f"{API}/contacts/501.json?fields=activity_rates,co_counsel_rate{{id,rate}}", headers=auth)
    assert acme.json()["data"] == {"activity_rates": [], "co_counsel_rate": {"id": 3, "rate": 500.0}}
    user_on_contact = app_client.get(f"{API}/contacts/502.json?fields=activity_rates{{user}}", headers=auth)
    assert user_on_contact.status_code == 400


def test_error_bodies_match_the_spec(client: Any) -> None:
    app_client, auth = client
    error = validator_for({"$ref": "#/components/schemas/Error"})
    for url in (f"{API}/activities.json?limit=500", f"{API}/activities/1.json", f"{API}/activities.json?fields=nope"):
        response = app_client.get(url, headers=auth)
        assert response.status_code in (400, 404)
        error.validate(response.json())


def test_activity_post_body_matches_the_spec_and_is_accepted(client: Any) -> None:
    app_client, auth = client
    body = {
        "data": {
            "type": "TimeEntry",
            "date": "2026-04-02",
            "quantity": 5400,
            "price": 350,
            "note": "Draft motion",
            "matter": {"id": 1001},
            "user": {"id": 345},
            "activity_description": {"id": 77, "utbms_task_id": 7001, "utbms_activity_id": 7002},
            "communication": {"id": 4001},
            "task": {"id": 6001},
            "non_billable": False,
        }
    }
    validator_for(request_schema("/activities.json", "post")).validate(body)
    response = app_client.post(f"{API}/activities.json?fields={all_fields(ACTIVITIES)}", headers=auth, json=body)
    assert response.status_code == 201, response.text
    validator_for(response_schema("/activities.json", "post", "201")).validate(response.json())
    patch = {"data": {"quantity": 3600, "price": 350, "note": "Draft motion (revised)"}}
    validator_for(request_schema("/activities/{id}.json", "patch")).validate(patch)
    activity_id = response.json()["data"]["id"]
    patched = app_client.patch(f"{API}/activities/{activity_id}.json?fields=id,quantity", headers=auth, json=patch)
    assert patched.status_code == 200
    validator_for(response_schema("/activities/{id}.json", "patch")).validate(patched.json())


def test_rejected_bodies_also_fail_the_spec() -> None:
    # The sandbox's 400 for unknown keys mirrors what the write schema allows.
    schema = request_schema("/activities.json", "post")
    data_schema = schema["properties"]["data"]
    assert "quantity_in_hours" not in data_schema["properties"]
    assert "rate" not in data_schema["properties"]


def test_the_contacts_stream_reads_addresses_as_the_spec_shapes_them() -> None:
    """The contact fields billsync asks for (addresses for the pre-bill) are the spec's, nested as it nests them."""
    seed = json.loads(json.dumps(SEED))
    billing = {
        "id": 9001, "name": "Billing", "street": "500 Harbor Boulevard\nSuite 900", "city": "Providence",
        "province": "RI", "postal_code": "02903", "country": "United States", "primary": False,
    }  # fmt: skip
    work = {**billing, "id": 9002, "name": "Work", "street": "1 Dock Street", "primary": True}
    seed["contacts"][0] |= {"addresses": [work, billing], "primary_address": work}
    sandbox = ClioSandbox(seed, clock=FakeClock(), rate_limit_per_minute=10_000)
    app_client = TestClient(create_app(sandbox))
    auth = {"Authorization": f"Bearer {sandbox.issue_token()['access_token']}"}
    response = app_client.get(f"{API}/contacts.json", params={"fields": Contacts.fields}, headers=auth)
    assert response.status_code == 200, response.text
    validator_for(response_schema("/contacts.json")).validate(response.json())
    contact = next(c for c in response.json()["data"] if c["id"] == seed["contacts"][0]["id"])
    assert contact["primary_address"]["street"] == "1 Dock Street"
    assert [a["name"] for a in contact["addresses"]] == ["Work", "Billing"]
