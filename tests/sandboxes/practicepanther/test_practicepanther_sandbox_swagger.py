"""The sandbox's paths, verbs and record fields agree with PracticePanther's Swagger (when present)."""

from __future__ import annotations

import pytest
from billsync_sandboxes.practicepanther.api.resources import ALL_RESOURCES

from tests.connectors.practicepanther.app import make_app
from tests.connectors.practicepanther.swagger import DEFINITIONS, properties, swagger


@pytest.mark.parametrize("resource", ALL_RESOURCES, ids=lambda r: r.name)
def test_every_served_path_and_verb_is_in_the_spec(resource) -> None:
    paths = swagger()["paths"]
    listed = paths[f"/api/v2/{resource.path}"]
    assert "get" in listed
    assert ("post" in listed and "put" in listed) == resource.writable
    for name in resource.filters:
        assert name in {p["name"] for p in listed["get"].get("parameters", [])}, name
    for name in resource.required:
        definition = DEFINITIONS.get(resource.name)
        if definition:
            assert name in swagger()["definitions"][definition].get("required", []), name


@pytest.mark.parametrize(("collection", "definition"), sorted(DEFINITIONS.items()))
def test_served_records_only_carry_spec_fields(collection: str, definition: str) -> None:
    app = make_app()
    allowed = properties(definition)
    for record in app.get(collection).json():
        assert set(record) <= allowed, set(record) - allowed
