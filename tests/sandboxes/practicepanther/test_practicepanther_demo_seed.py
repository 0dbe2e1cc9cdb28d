"""The demo seed: PP's shapes, accepted by the sandbox, read back whole by the connector."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from billsync_sandboxes.demo.data import generate_firm
from billsync_sandboxes.practicepanther.api.resources import BY_NAME
from billsync_sandboxes.practicepanther.seed import practicepanther_seed

from connectors.practicepanther import mapping
from core.models import Activity, ActivityKind, BillingMethod, Client, Matter, Timekeeper
from core.sync import STORED_ROLES
from tests.connectors.practicepanther.harness import make_env, time_entry
from tests.connectors.practicepanther.swagger import DEFINITIONS, swagger

NOW = datetime(2026, 11, 1, tzinfo=UTC)
REFERENCE = ("users", "accounts", "matters", "invoices", "payments")
CANARY = "CANARY-pp-demo-seed-7731"
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "array": (list,),
    "object": (dict,),
}


@cache
def demo_seed() -> dict[str, list[dict[str, Any]]]:
    # The demo's firm size (billsync_sandboxes.cli.demo): 12 users, 40 clients, 120 matters.
    firm = generate_firm(activities=400, seed=7, month_start=datetime(2026, 10, 1, tzinfo=UTC), body=CANARY)
    return practicepanther_seed(firm, now=NOW)


def fresh_seed() -> dict[str, list[dict[str, Any]]]:
    return {name: [dict(r) for r in records] for name, records in demo_seed().items()}


def test_the_seed_is_deterministic_with_uuid_ids() -> None:
    firm = generate_firm(activities=400, seed=7, month_start=datetime(2026, 10, 1, tzinfo=UTC), body=CANARY)
    again = practicepanther_seed(firm, now=NOW)
    assert again == demo_seed()
    ids = [r["id"] for records in again.values() for r in records]
    assert len(ids) == len(set(ids)) and all(len(i) == 36 and i == i.lower() for i in ids)
    with pytest.raises(ValueError, match="time zone"):
        practicepanther_seed(firm, now=NOW.replace(tzinfo=None))


def test_the_sandbox_accepts_every_record() -> None:
    env = make_env(fresh_seed())
    for collection, records in demo_seed().items():
        resource = BY_NAME[collection]
        assert len(env.sandbox.records(collection)) == len(records)
        if not resource.writable:
            continue
        for record in records:
            # A full replace runs the API's validation: required fields and refs that resolve.
            env.sandbox.replace(resource, record["id"], record)


def test_the_connector_reads_the_whole_demo_firm() -> None:
    env = make_env(fresh_seed())
    env.clock.advance(max(0.0, (NOW - env.clock.now()).total_seconds()))
    read: dict[str, list[Any]] = {}
    for stream in env.connector.streams():
        records: list[Any] = []
        for page in stream.read(None):
            assert not page.errors, page.errors
            records.extend(page.records)
        read[stream.name] = records
    users = [r for r in read["users"] if isinstance(r, Timekeeper)]
    clients = [r for r in read["accounts"] if isinstance(r, Client)]
    matters = [r for r in read["matters"] if isinstance(r, Matter)]
    assert len(users) >= 12 and len(clients) >= 40 and len(matters) >= 120
    assert {m.billing_method for m in matters} == set(BillingMethod)
    assert all(c.emails and c.phones for c in clients)
    activities = [r for name, rs in read.items() if name not in REFERENCE for r in rs]
    assert all(isinstance(a, Activity) for a in activities)
    kinds = Counter(a.kind for a in activities)
    expected = {ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.SMS, ActivityKind.EVENT}
    assert expected | {ActivityKind.TASK, ActivityKind.NOTE} <= set(kinds), kinds
    assert sum(kinds.values()) == sum(len(demo_seed()[c]) for c in read if c not in REFERENCE)
    # A hand-made entry is recognised as covering its activity (same user, day and subject) when
    # the activity is filed on the matter, and also when it names only the client's account (its
    # subject carries the matter number): the entry is then on one of that account's matters.
    covered = [a for a in activities if a.covered_by_time_entry]
    entries = demo_seed()["timeentries"]
    unfiled = [e for e in entries if re.search(r"\[1\d{3}\]", e["description"])]
    assert covered and unfiled and len(covered) == len(entries)
    assert all(CANARY not in repr(a) for a in activities)


def test_core_reads_users_accounts_and_matters_as_reference_data() -> None:
    # Regression: core once chose reference streams by name and took "accounts" for an activity
    # stream, so a sync cycle fed Client records to capture and failed. Core now goes by role.
    streams = make_env().connector.streams()
    names = [stream.name for stream in streams]
    assert [s.name for s in streams if s.role in STORED_ROLES] == list(REFERENCE)
    assert len(names) == len(set(names)) == len(REFERENCE) + 6


def test_an_unknown_rate_is_left_blank_for_practicepanthers_default() -> None:
    # Regression: PP exposes no user rates, so entries rated from PP's data alone carry rate 0,
    # which was written explicitly and billed at $0.
    unknown = time_entry(rate=Decimal("0"), amount=Decimal("0"))
    assert "rate" not in mapping.time_entry_body(unknown, "k", billable=True)
    current = {"id": "x", "rate": 275.0, "hours": 1.0, "private_notes": "[bs:0000000000000000]"}
    assert mapping.merged_time_entry(current, unknown, billable=True)["rate"] == 275.0
    assert mapping.time_entry_body(time_entry(), "k", billable=True)["rate"] == 350.0
    # The rate PP holds is PP's to bill (its rate rules, or a person's edit): an update keeps it,
    # and gives billsync's own only to an entry PP holds without one.
    assert mapping.merged_time_entry(current, time_entry(), billable=True)["rate"] == 275.0
    assert mapping.merged_time_entry({**current, "rate": None}, time_entry(), billable=True)["rate"] == 350.0
    env = make_env()
    remote_id = env.connector.writer().write_time_entry(unknown, "k", billable=True)
    assert {e["id"]: e for e in env.entries()}[remote_id]["rate"] == 300  # Jane Doe's default in PP


def test_the_seed_has_flat_fee_and_contingency_matters() -> None:
    rates = Counter(m["rate"] for m in demo_seed()["matters"])
    assert set(rates) == {"User Hourly Rate", "Flat Rate", "Contingency"}
    assert sum(rates.values()) >= 120


@pytest.mark.parametrize(("collection", "definition"), sorted(DEFINITIONS.items()))
def test_served_records_validate_against_the_swagger(collection: str, definition: str) -> None:
    spec = swagger()  # skips with the path it looked at when the spec is absent
    env = make_env(fresh_seed())
    served = env.sandbox.records(collection)
    assert served
    for record in served:
        problems = _problems(spec, {"$ref": f"#/definitions/{definition}"}, record, collection)
        assert not problems, problems[:5]


def _problems(spec: dict[str, Any], schema: dict[str, Any], value: Any, where: str) -> list[str]:
    """A small Swagger 2.0 check: known properties, required, JSON types, enums, $ref and arrays."""
    if "$ref" in schema:
        schema = spec["definitions"][schema["$ref"].rsplit("/", 1)[1]]
    if value is None:
        return []
    kind = schema.get("type", "object" if "properties" in schema else None)
    if kind in _JSON_TYPES and (
        not isinstance(value, _JSON_TYPES[kind]) or (kind in ("integer", "number") and isinstance(value, bool))
    ):
        return [f"{where}: expected {kind}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} is not in {schema['enum']}"]
    if schema.get("format") == "date-time":
        datetime.fromisoformat(value)
    problems: list[str] = []
    if kind == "array":
        for i, item in enumerate(value):
            problems += _problems(spec, schema.get("items", {}), item, f"{where}[{i}]")
    if kind == "object" and "properties" in schema:
        properties = schema["properties"]
        problems += [f"{where}: {name} is not in the spec" for name in set(value) - set(properties)]
        problems += [f"{where}: {name} is required" for name in schema.get("required", []) if value.get(name) is None]
        for name, item in value.items():
            if name in properties:
                problems += _problems(spec, properties[name], item, f"{where}.{name}")
    return problems


def test_an_entry_moved_to_another_matter_in_billsync_carries_that_matter_and_its_rate() -> None:
    # PP holds the entry on m-old at 275 (its rate for that matter); billsync moved it to the
    # factory entry's matter and re-rated it at 350: the PUT carries both, not the old rate.
    current = {"id": "x", "rate": 275.0, "hours": 1.0, "matter_ref": {"id": "m-old", "display_name": "Old"}}
    moved = mapping.merged_time_entry(current, time_entry(), billable=False)
    assert (moved["matter_ref"], moved["rate"]) == ({"id": time_entry().matter_id}, 350.0)
    kept = {**current, "matter_ref": {"id": time_entry().matter_id}}
    same = mapping.merged_time_entry(kept, time_entry(), billable=False)
    assert same["rate"] == 275.0  # not moved: PP's rate is kept, as before
