"""The PracticePanther resources the sandbox serves: paths, required fields, filters, rendering.

Vendor facts are cited as "docs/vendors/practicepanther.md §n".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from billsync_sandboxes.kit import Record, parse_timestamp


@dataclass(frozen=True, slots=True)
class Resource:
    """One PP collection as /api/v2 exposes it (docs/vendors/practicepanther.md §8)."""

    name: str  # the collection key in seeds and the admin API
    path: str  # the exact path segment: casing matters (docs/vendors/practicepanther.md §3)
    required: tuple[str, ...] = ()
    writable: bool = True  # POST and PUT exist
    # query parameter -> field path; "[]" marks a list of refs (any element matches)
    filters: Mapping[str, str] = field(default_factory=dict)
    date_field: str | None = None  # what date_from/date_to compare
    filterable: bool = True  # False: the list declares no filters (messages, docs/vendors/practicepanther.md §9)


_ACTIVITY_FILTERS = {
    "assigned_to_user_id": "assigned_to_users[].id",
    "account_id": "account_ref.id",
    "matter_id": "matter_ref.id",
}

USERS = Resource("users", "users", writable=False, filters={"email_address": "email"})
ACCOUNTS = Resource("accounts", "accounts", filters={"assigned_to_user_id": "assigned_to_users[].id"})
MATTERS = Resource(
    "matters",
    "matters",
    required=("name", "status"),
    filters={"assigned_to_user_id": "assigned_to_users[].id", "account_id": "account_ref.id", "status": "status"},
)
ITEMS = Resource("items", "Items", required=("rate",))
TIME_ENTRIES = Resource(
    "timeentries",
    "timeentries",
    required=("date", "hours", "matter_ref", "billed_by_user_ref"),
    # docs/vendors/practicepanther.md §8: the time-entry list filter is user_id, not billed_by_user_id.
    filters={
        "account_id": "account_ref.id",
        "matter_id": "matter_ref.id",
        "user_id": "billed_by_user_ref.id",
        "item_id": "item_ref.id",
    },
    date_field="date",
)
CALL_LOGS = Resource("calllogs", "calllogs", required=("subject",), filters=_ACTIVITY_FILTERS, date_field="date")
EVENTS = Resource(
    "events",
    "events",
    required=("subject", "is_all_day", "start_date_time", "end_date_time"),
    filters=_ACTIVITY_FILTERS,
    date_field="start_date_time",
)
TASKS = Resource("tasks", "tasks", required=("subject",), filters={**_ACTIVITY_FILTERS, "status": "status"})
NOTES = Resource("notes", "notes", required=("subject",), filters=_ACTIVITY_FILTERS, date_field="date")
EMAILS = Resource(
    "emails",
    "emails",
    required=("subject", "body_text"),
    filters={**_ACTIVITY_FILTERS, "external_message_id": "external_message_id"},
)
MESSAGES = Resource("messages", "messages", filterable=False)
INVOICES = Resource(
    "invoices",
    "invoices",
    writable=False,
    filters={"account_id": "account_ref.id", "matter_id": "matter_ref.id"},
    date_field="issue_date",
)
PAYMENTS = Resource(
    "payments",
    "payments",
    writable=False,
    filters={"account_id": "account_ref.id", "matter_id": "matter_ref.id"},
    date_field="date",
)

ALL_RESOURCES: tuple[Resource, ...] = (
    USERS,
    ACCOUNTS,
    MATTERS,
    ITEMS,
    TIME_ENTRIES,
    CALL_LOGS,
    EVENTS,
    TASKS,
    NOTES,
    EMAILS,
    MESSAGES,
    INVOICES,
    PAYMENTS,
)
BY_NAME: Mapping[str, Resource] = {r.name: r for r in ALL_RESOURCES}
BY_PATH: Mapping[str, Resource] = {r.path: r for r in ALL_RESOURCES}
# Read-only on every record (docs/vendors/practicepanther.md §3: dropped from a merged PUT body).
READ_ONLY = frozenset({"id", "created_at", "updated_at", "display_name"})
# Ref fields and the collection they point into.
REF_TARGETS: Mapping[str, str] = {
    "account_ref": "accounts",
    "matter_ref": "matters",
    "billed_by_user_ref": "users",
    "item_ref": "items",
}
# Sandbox bookkeeping never served (PP keeps these internally; its API exposes no rates or roles,
# docs/vendors/practicepanther.md §9): the etag, a user's default rate and role, and a matter's rate rules.
_HIDDEN = frozenset({"etag", "default_rate", "role", "rate_rules"})
_ZONED = re.compile(r"(Z|[+-]\d\d:?\d\d)$", re.IGNORECASE)


def has_zone(text: str) -> bool:
    """Whether a datetime literal carries a zone (docs/vendors/practicepanther.md §3: required in filters)."""
    return bool(_ZONED.search(text.strip()))


def vendor_timestamp(value: Any) -> Any:
    """A stored timestamp as PP sends it: UTC without a zone (docs/vendors/practicepanther.md §3), else unchanged."""
    if not isinstance(value, str) or "T" not in value:
        return value
    try:
        moment = parse_timestamp(value)
    except ValueError:
        return value
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def field_values(record: Mapping[str, Any], path: str) -> list[Any]:
    """Values at a dotted path; "name[]" walks every element of a list."""
    current: list[Any] = [record]
    for part in path.split("."):
        following: list[Any] = []
        for node in current:
            if not isinstance(node, Mapping):
                continue
            if part.endswith("[]"):
                items = node.get(part[:-2])
                following.extend(items if isinstance(items, list) else [])
            else:
                following.append(node.get(part))
        current = following
    return current


def render(record: Record, collections: Mapping[str, Any]) -> Record:
    """A stored record as PP answers it: refs resolved, zone-less timestamps, no sandbox etag."""
    out = {key: value for key, value in record.items() if key not in _HIDDEN}
    for key in ("created_at", "updated_at"):
        out[key] = vendor_timestamp(out.get(key))
    for ref_field, target in REF_TARGETS.items():
        if ref_field in out:
            out[ref_field] = _resolved(out.get(ref_field), collections.get(target))
    for list_field in ("assigned_to_users",):
        refs = out.get(list_field)
        if isinstance(refs, list):
            out[list_field] = [_resolved(ref, collections.get("users")) for ref in refs]
    return out


def _resolved(ref: Any, collection: Any) -> Any:
    if not isinstance(ref, Mapping) or ref.get("id") is None or collection is None:
        return ref
    target = collection.peek(ref["id"])
    if target is None:
        return dict(ref)
    resolved: dict[str, Any] = {"id": target["id"], "display_name": target.get("display_name")}
    if "email" in target:
        resolved["email_address"] = target.get("email")
    if "name" in target and "display_name" not in target:
        resolved = {"id": target["id"], "name": target.get("name")}
    return resolved
