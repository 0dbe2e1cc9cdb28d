"""What the connector sends, checked against Clio's OpenAPI spec (skipped when the spec is absent).

The spec lives outside the repository (../shared/reference/specs/); it is never copied in.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from jsonschema import Draft4Validator, FormatChecker

from tests.connectors.clio.harness import make_env, time_entry

REPO_ROOT = Path(__file__).resolve().parents[3]
SPEC_FILE = REPO_ROOT.parent / "shared" / "reference" / "specs" / "clio-manage-v4-openapi-2026-04-08.json"

pytestmark = pytest.mark.skipif(not SPEC_FILE.exists(), reason=f"Clio OpenAPI spec not found at {SPEC_FILE}")

FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def is_timestamp(value: object) -> bool:
    if isinstance(value, str):
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        return "T" in value
    return True


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_FILE.read_text())


def request_validator(path: str, method: str) -> Draft4Validator:
    schema = spec()["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return Draft4Validator({**schema, "components": spec()["components"]}, format_checker=FORMATS)


def spec_path(url: str) -> str:
    path = urlsplit(url).path.split("/api/v4", 1)[1]
    return re.sub(r"^/(\w+)/\d+(\.json|/activate)", r"/\1/{id}\2", path)


def traffic() -> list[Any]:
    env = make_env()
    for stream in env.connector.streams():
        list(stream.read({"updated_since": "2026-01-01T00:00:00+00:00", "ended_until": "2026-04-01T00:00:00+00:00"}))
    writer = env.connector.writer()
    remote_id = writer.write_time_entry(time_entry(), "key-1", billable=False)
    calendar_remote_id = writer.write_time_entry(
        time_entry(id="e2", activity_key=("clio", "calendar_entry:9001"), category_id=None), "key-2", billable=False
    )
    writer.find_time_entry("key-1", time_entry())
    writer.update_time_entry(remote_id, time_entry(narrative="Reviewed"), billable=True)
    writer.read_time_entries([remote_id, calendar_remote_id])
    webhooks = env.connector.webhooks()
    webhooks.ensure("https://billsync.example.test/hooks/clio", None)
    env.clock.advance(29 * 24 * 3600)
    webhooks.ensure("https://billsync.example.test/hooks/clio", None)
    return [r for r in env.adapter.sent if "/api/v4/" in str(r.url)]


def body_of(request: Any) -> dict[str, Any]:
    return json.loads(request.body)


def test_write_bodies_match_the_spec() -> None:
    sent = traffic()
    checked: dict[tuple[str, str], int] = {}
    for request in sent:
        method = str(request.method).lower()
        if method not in ("post", "patch"):
            continue
        path = spec_path(str(request.url))
        request_validator(path, method).validate(body_of(request))
        checked[(method, path)] = checked.get((method, path), 0) + 1
    assert set(checked) == {
        ("post", "/activities.json"),
        ("patch", "/activities/{id}.json"),
        ("post", "/webhooks.json"),
        ("patch", "/webhooks/{id}.json"),
    }


def test_an_activity_post_carries_what_clio_needs() -> None:
    [post, *_] = [r for r in traffic() if r.method == "POST" and spec_path(str(r.url)) == "/activities.json"]
    data = body_of(post)["data"]
    required = spec()["paths"]["/activities.json"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(required["properties"]["data"]["required"]) <= set(data)
    assert {"quantity", "price", "note", "matter", "user", "non_billable"} <= set(data)


def test_query_parameters_are_ones_the_spec_declares() -> None:
    for request in traffic():
        if request.method not in ("GET", "PUT", "DELETE"):
            continue
        path = spec_path(str(request.url))
        if path.endswith("/activate"):
            continue  # docs/vendors/clio.md §3.16: the delayed handshake is documented in prose only
        operation = spec()["paths"][path][str(request.method).lower()]
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        # docs/vendors/clio.md §2: cursor paging needs order=id(asc) on every list, even where the spec's
        # parameter list omits `order` (calendar_entries, activity_descriptions).
        used = set(parse_qs(urlsplit(str(request.url)).query)) - {"order"}
        assert used <= declared, (path, used - declared)
