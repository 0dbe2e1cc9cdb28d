"""A phone call as a person logs it in Clio's sandbox, for the tests that have Clio ring billsync's doorbell."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def logged_call(clio_seed: Mapping[str, Any], subject: str, **extra: Any) -> dict[str, Any]:
    """A phone call on 30 October 2026 by the seed's first user on its first open matter, in the
    shape POST /_sandbox/clio/communications takes; `extra` adds fields (e.g. a body)."""
    user = clio_seed["users"][0]["id"]
    matter = next(m for m in clio_seed["matters"] if m["status"] == "Open")
    return {
        "type": "PhoneCommunication",
        "subject": subject,
        "date": "2026-10-30",
        "received_at": "2026-10-30T15:00:00Z",
        "user": {"id": user},
        "matter": {"id": matter["id"]},
        "senders": [],
        "receivers": [],
        **extra,
    }
