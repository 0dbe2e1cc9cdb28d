"""PracticePanther's Swagger file, read from ../shared beside the repository when present."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
SWAGGER = REPO_ROOT.parent / "shared/reference/specs/practicepanther-v2-swagger.json"
# The Swagger definition that describes each record collection the sandbox serves.
DEFINITIONS = {
    "users": "User",
    "accounts": "Account",
    "matters": "Matter",
    "timeentries": "TimeEntry",
    "calllogs": "CallLog",
    "events": "Event",
    "tasks": "Task",
    "notes": "Note",
    "emails": "Email",
    "messages": "Message",
}


def swagger() -> dict[str, Any]:
    """The parsed spec, or a skip that says where it was looked for."""
    if not SWAGGER.is_file():
        pytest.skip(f"PracticePanther Swagger not found at {SWAGGER}; shape checks need it")
    spec: dict[str, Any] = json.loads(SWAGGER.read_text())
    return spec


def properties(definition: str) -> set[str]:
    """The property names of one definition."""
    return set(swagger()["definitions"][definition]["properties"])
