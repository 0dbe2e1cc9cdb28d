"""Small builders for canonical models, with defaults a test overrides only where it matters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from core.matching import ReferenceData
from core.models import (
    Activity,
    ActivityCategory,
    ActivityKind,
    Client,
    Matter,
    Timekeeper,
)

T0 = datetime(2026, 10, 5, 14, 0, tzinfo=UTC)  # a Monday, 10:00 in New York


def timekeeper(**kw: Any) -> Timekeeper:
    """A partner who may record time."""
    base: dict[str, Any] = {
        "id": "u1",
        "name": "Jane Smith",
        "email": "jane@firm.example",
        "default_rate": Decimal("400"),
        "classification": "PARTNR",
        "time_zone": "America/New_York",
    }
    return Timekeeper(**(base | kw))


def client(**kw: Any) -> Client:
    """A corporate client with one e-mail domain and one phone number."""
    base: dict[str, Any] = {
        "id": "c1",
        "name": "Harbor Insurance",
        "emails": ("gc@harbor.example",),
        "domains": ("harbor.example",),
        "phones": ("+1 (555) 010-2000",),
    }
    return Client(**(base | kw))


def matter(**kw: Any) -> Matter:
    """An open hourly matter of client c1."""
    base: dict[str, Any] = {
        "id": "m1",
        "client_id": "c1",
        "number": "HARB-0001",
        "name": "Harbor v. Smith",
        "updated_at": T0 - timedelta(days=10),
    }
    return Matter(**(base | kw))


def activity(**kw: Any) -> Activity:
    """A 10-minute call by u1 linked to matter m1 (moving its start moves its end)."""
    start = kw.get("started_at", T0)
    base: dict[str, Any] = {
        "source": "test",
        "external_id": "a1",
        "kind": ActivityKind.CALL,
        "actor": "u1",
        "started_at": start,
        "ended_at": start + timedelta(minutes=10),
        "duration_seconds": 600,
        "title": "settlement terms",
        "counterpart": "Pat Jones",
        "matter_id": "m1",
    }
    return Activity(**(base | kw))


def reference(
    timekeepers: list[Timekeeper] | None = None,
    clients: list[Client] | None = None,
    matters: list[Matter] | None = None,
    categories: list[ActivityCategory] | None = None,
) -> ReferenceData:
    """Reference data with one timekeeper, client and matter unless told otherwise."""
    return ReferenceData(
        timekeepers if timekeepers is not None else [timekeeper()],
        clients if clients is not None else [client()],
        matters if matters is not None else [matter()],
        categories or [],
    )
