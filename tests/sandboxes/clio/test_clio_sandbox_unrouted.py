"""A path or method the Clio sandbox has no route for answers as Clio does: 404 with Clio's Error body.

Clio publishes no official Python client, so the body is checked against the Error schema of
Clio's own OpenAPI spec when that file is present (tests/sandboxes/clio/test_clio_sandbox_openapi.py
reads the same file), and against the shape docs/vendors/clio.md §2 quotes in every case.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from billsync_sandboxes.clio.state import ClioSandbox, create_app
from billsync_sandboxes.kit import FakeClock
from jsonschema import Draft4Validator

from tests.testclient import TestClient

REPO_ROOT = Path(__file__).resolve().parents[3]
SPEC_FILE = REPO_ROOT.parent / "shared" / "reference" / "specs" / "clio-manage-v4-openapi-2026-04-08.json"


def _error_schema_check() -> Draft4Validator | None:
    """A validator for the spec's Error schema, or None when the spec is not on this machine."""
    if not SPEC_FILE.exists():
        return None
    components = json.loads(SPEC_FILE.read_text())["components"]
    return Draft4Validator({"$ref": "#/components/schemas/Error", "components": components})


@pytest.fixture
def clio() -> TestClient:
    return TestClient(create_app(ClioSandbox(clock=FakeClock(datetime(2026, 4, 6, tzinfo=UTC)))))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nothing/here"),  # no such path at all
        ("GET", "/api/v3/matters.json"),  # an API version the sandbox (and billsync) does not serve
        ("GET", "/oauth/token"),  # a path Clio routes for POST only: Rails answers 404, not 405
        ("DELETE", "/oauth/authorize"),
    ],
)
def test_an_unrouted_request_gets_clios_not_found(clio: TestClient, method: str, path: str) -> None:
    answer = clio.request(method, f"/clio{path}")
    assert answer.status_code == 404
    body: Any = answer.json()
    assert body == {"error": {"type": "NotFound", "message": f"No route matches {method} {path}"}}
    assert answer.headers["content-type"].startswith("application/json")
    validator = _error_schema_check()
    if validator is not None:
        validator.validate(body)


def test_the_error_schema_check_can_fail() -> None:
    """FastAPI's own 404 body is not Clio's Error: the schema check above would catch it."""
    validator = _error_schema_check()
    if validator is None:
        pytest.skip(f"Clio OpenAPI spec not found at {SPEC_FILE}")
    assert not validator.is_valid({"detail": "Not Found"})
