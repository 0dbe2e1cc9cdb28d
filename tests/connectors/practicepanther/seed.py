"""A small PracticePanther firm for the sandbox tests, with a privilege canary in every body."""

from __future__ import annotations

import copy
from typing import Any

CANARY = "CANARY-PRIVILEGED-pp-5b2e"
JANE = "0b6c7a52-1f0e-4d5a-9d1e-000000000001"
SAM = "0b6c7a52-1f0e-4d5a-9d1e-000000000002"
ACME = "1a1a1a1a-0000-4000-8000-000000000001"
HOURLY = "2b2b2b2b-0000-4000-8000-000000000001"
FLAT = "2b2b2b2b-0000-4000-8000-000000000002"
CONTINGENT = "2b2b2b2b-0000-4000-8000-000000000003"
COVERING_ENTRY = "3c3c3c3c-0000-4000-8000-000000000001"

_SEED: dict[str, list[dict[str, Any]]] = {
    "users": [
        {
            "id": JANE,
            "display_name": "Jane Doe",
            "first_name": "Jane",
            "last_name": "Doe",
            "email": "jane@firm.test",
            "is_active": True,
            "default_rate": 300,
            "updated_at": "2026-03-01T10:00:00Z",
        },
        {
            "id": SAM,
            "display_name": "Sam Lee",
            "first_name": "Sam",
            "last_name": "Lee",
            "email": "sam@firm.test",
            "is_active": False,
            "updated_at": "2026-03-01T10:00:00Z",
        },
    ],
    "accounts": [
        {
            "id": ACME,
            "display_name": "Acme Corp",
            "company_name": "Acme Corp",
            "number": 7,
            "primary_contact": {
                "id": "4d4d4d4d-0000-4000-8000-000000000001",
                "display_name": "Ann Acme",
                "email": "ann@acme.test",
                "phone_mobile": "+15550100",
                "phone_work": "+15550101",
            },
            "other_contacts": [{"id": "4d4d4d4d-0000-4000-8000-000000000002", "email": "bob@acme.test"}],
            "updated_at": "2026-03-02T10:00:00Z",
        },
    ],
    "matters": [
        {
            "id": HOURLY,
            "account_ref": {"id": ACME},
            "number": 1001,
            "display_name": "1001 - Acme v. Beta",
            "name": "Acme v. Beta",
            "status": "Open",
            "rate": "User Hourly Rate",
            "updated_at": "2026-03-03T10:00:00Z",
        },
        {
            "id": FLAT,
            "account_ref": {"id": ACME},
            "number": 1002,
            "display_name": "1002 - Acme lease",
            "name": "Acme lease",
            "status": "Pending",
            "rate": "Flat Rate",
            "updated_at": "2026-03-03T10:00:01Z",
        },
        {
            "id": CONTINGENT,
            "account_ref": {"id": ACME},
            "number": 1003,
            "display_name": "1003 - Acme injury",
            "name": "Acme injury",
            "status": "Closed",
            "rate": "Contingency",
            "updated_at": "2026-03-03T10:00:02Z",
        },
    ],
    "timeentries": [
        {
            "id": COVERING_ENTRY,
            "date": "2026-03-30T00:00:00",
            "hours": 0.5,
            "rate": 300,
            "is_billable": True,
            "is_billed": False,
            "description": "Call with Acme re settlement",
            "matter_ref": {"id": HOURLY},
            "account_ref": {"id": ACME},
            "billed_by_user_ref": {"id": JANE},
            "updated_at": "2026-03-30T18:00:00Z",
        },
    ],
    "calllogs": [
        {
            "id": "5e5e5e5e-0000-4000-8000-000000000001",
            "subject": "Call with Acme re settlement",
            "notes": f"Client said {CANARY}",
            "duration": 0.5,
            "date": "2026-03-30T16:00:00",
            "call_direction": "Outbound",
            "assigned_to_users": [{"id": JANE}],
            "matter_ref": {"id": HOURLY},
            "account_ref": {"id": ACME},
            "updated_at": "2026-03-30T16:30:00Z",
        },
        {
            "id": "5e5e5e5e-0000-4000-8000-000000000002",
            "subject": "Call with Ann about lease",
            "notes": f"Lease terms {CANARY}",
            "date": "2026-03-31T09:00:00",
            "call_direction": "Inbound",
            "assigned_to_users": [{"id": JANE}],
            "matter_ref": {"id": FLAT},
            "account_ref": {"id": ACME},
            "updated_at": "2026-03-31T09:30:00Z",
        },
    ],
    "messages": [
        {
            "id": "6f6f6f6f-0000-4000-8000-000000000001",
            "type": "Text",
            "sender": {"id": JANE},
            "contact": {"id": "4d4d4d4d-0000-4000-8000-000000000001", "display_name": "Ann Acme"},
            "matter_id": HOURLY,
            "account_id": ACME,
            "subject": "",
            "body": f"See you at 3 {CANARY}",
            "sent_date": "2026-03-30T17:00:00",
            "sent_by_contact": False,
            "updated_at": "2026-03-30T17:00:00Z",
        },
        {
            "id": "6f6f6f6f-0000-4000-8000-000000000002",
            "type": "Text",
            "sender": None,
            "contact": {"id": "4d4d4d4d-0000-4000-8000-000000000001", "display_name": "Ann Acme"},
            "matter_id": HOURLY,
            "account_id": ACME,
            "body": f"Ok {CANARY}",
            "sent_date": "2026-03-30T17:05:00",
            "sent_by_contact": True,
            "updated_at": "2026-03-30T17:05:00Z",
        },
    ],
    "emails": [
        {
            "id": "7a7a7a7a-0000-4000-8000-000000000001",
            "subject": "Draft motion",
            "from": {"address": "jane@firm.test", "display_name": "Jane Doe"},
            "to": [{"address": "ann@acme.test", "display_name": "Ann Acme"}],
            "cc": [],
            "body_text": f"Attached {CANARY}",
            "body_html": f"<p>Attached {CANARY}</p>",
            "date": "2026-03-30T15:00:00",
            "matter_ref": {"id": HOURLY},
            "account_ref": {"id": ACME},
            "updated_at": "2026-03-30T15:00:00Z",
        },
        {
            "id": "7a7a7a7a-0000-4000-8000-000000000002",
            "subject": "Re: Draft motion",
            "from": {"address": "ann@acme.test", "display_name": "Ann Acme"},
            "to": [{"address": "jane@firm.test"}],
            "body_text": f"Thanks {CANARY}",
            "date": "2026-03-30T15:30:00",
            "matter_ref": {"id": HOURLY},
            "updated_at": "2026-03-30T15:30:00Z",
        },
    ],
    "events": [
        {
            "id": "8b8b8b8b-0000-4000-8000-000000000001",
            "subject": "Mediation",
            "notes": f"Strategy {CANARY}",
            "location": "Room 4",
            "is_all_day": False,
            "start_date_time": "2026-03-31T14:00:00",
            "end_date_time": "2026-03-31T16:00:00",
            "assigned_to_users": [{"id": JANE}],
            "matter_ref": {"id": HOURLY},
            "updated_at": "2026-03-20T10:00:00Z",
        },
        {
            "id": "8b8b8b8b-0000-4000-8000-000000000002",
            "subject": "Trial",
            "notes": f"Prep {CANARY}",
            "is_all_day": False,
            "start_date_time": "2026-04-06T16:00:00",
            "end_date_time": "2026-04-06T18:00:00",
            "assigned_to_users": [{"id": JANE}],
            "matter_ref": {"id": HOURLY},
            "updated_at": "2026-03-20T10:00:01Z",
        },
    ],
    "tasks": [
        {
            "id": "9c9c9c9c-0000-4000-8000-000000000001",
            "subject": "File answer",
            "notes": f"Do it {CANARY}",
            "status": "Completed",
            "priority": "High",
            "assigned_to_users": [{"id": JANE}],
            "matter_ref": {"id": HOURLY},
            "updated_at": "2026-03-31T12:00:00Z",
        },
        {
            "id": "9c9c9c9c-0000-4000-8000-000000000002",
            "subject": "Draft reply",
            "notes": f"Later {CANARY}",
            "status": "NotCompleted",
            "assigned_to_users": [{"id": JANE}],
            "matter_ref": {"id": HOURLY},
            "updated_at": "2026-03-31T12:00:01Z",
        },
    ],
    "notes": [
        {
            "id": "adadadad-0000-4000-8000-000000000001",
            "subject": "Strategy note",
            "note": f"Privileged {CANARY}",
            "date": "2026-03-31T11:00:00",
            "assigned_to_users": [{"id": JANE}],
            "matter_ref": {"id": HOURLY},
            "account_ref": {"id": ACME},
            "updated_at": "2026-03-31T11:00:00Z",
        },
    ],
}


def seed() -> dict[str, list[dict[str, Any]]]:
    """A fresh copy of the seed."""
    return copy.deepcopy(_SEED)
