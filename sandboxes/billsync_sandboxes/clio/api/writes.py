"""Create/update bodies for the simple resources (matters, contacts, communications, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billsync_sandboxes.clio.api.resources import Resource
from billsync_sandboxes.clio.errors import bad_request, not_simulated, unprocessable
from billsync_sandboxes.kit import Record, RecordCollection

# Write-only switches that change how Clio processes a request but are not stored.
_TRANSIENT = frozenset(
    {
        "_deleted",
        "send_email_notification",
        "reset_matter_number",
        "notify_assignee",
        "cascading",
        "cascading_offset",
        "cascading_offset_polarity",
        "cascading_offset_type",
        "cascading_source",
    }
)
# docs/vendors/clio.md §3.5/§4 item 8: matter status is lowercase on write and capitalised on read.
_MATTER_STATUS = {"open": "Open", "pending": "Pending", "closed": "Closed"}
_ENUMS: Mapping[tuple[str, str], frozenset[str]] = {
    ("contacts", "type"): frozenset({"Person", "Company"}),
    ("communications", "type"): frozenset({"EmailCommunication", "PhoneCommunication"}),
    ("notes", "type"): frozenset({"Matter", "Contact"}),
    ("tasks", "status"): frozenset({"pending", "in_progress", "in_review", "complete", "draft"}),
}


class GenericWriter:
    """Validates write bodies against a resource's write keys and references."""

    def __init__(self, collections: Mapping[str, RecordCollection]) -> None:
        self._collections = collections

    def for_create(self, resource: Resource, data: Mapping[str, Any]) -> Record:
        """Return the record to store for a POST body."""
        record = self._validate(resource, data)
        for required in resource.required_on_create:
            if record.get(required) in (None, ""):
                raise unprocessable(f"{required} is required")
        if resource.name == "matters":
            record.setdefault("status", "Open")
            record.setdefault("billable", True)
            record.setdefault("billing_method", "hourly")
        if resource.name == "notes":
            linked = "matter" if record.get("type") == "Matter" else "contact"
            if record.get(linked) is None:
                raise unprocessable(f"a {record.get('type')} note needs {linked}{{id}}")
        if resource.name == "activity_rates":
            if record.get("contact_id") is None and record.get("co_counsel_contact_id") is None:
                raise unprocessable("contact_id or co_counsel_contact_id is required")
            record.setdefault("flat_rate", False)
        if resource.name == "communications" and isinstance(record.get("received_at"), str):
            record.setdefault("date", record["received_at"][:10])
        return record

    def for_update(self, resource: Resource, data: Mapping[str, Any]) -> Record:
        """Return the stored changes for a PATCH body."""
        return self._validate(resource, data)

    def _validate(self, resource: Resource, data: Mapping[str, Any]) -> Record:
        unknown = sorted(set(data) - resource.write_keys)
        if unknown:
            raise bad_request(f"Unknown parameters for {resource.name}: {', '.join(unknown)}")
        record: Record = {}
        if resource.name == "contacts" and "co_counsel_rate" in data:
            # Clio keeps it as an activity rate row (docs/vendors/clio.md §3.3); write that row instead.
            raise not_simulated("a co_counsel_rate in", "/api/v4/contacts")
        for key, value in data.items():
            if key in _TRANSIENT:
                continue
            if resource.name == "activity_rates":
                record[key] = self._rate_field(key, value)
                continue
            assoc = resource.assocs.get(key)
            if assoc is not None and assoc.many:
                if not isinstance(value, list):
                    raise unprocessable(f"{key} must be a list")
                record[key] = value
            elif assoc is not None:
                record[key] = self._reference(key, value, assoc.target)
            elif resource.name == "matters" and key == "status":
                if value not in _MATTER_STATUS:
                    raise unprocessable("status must be one of open, pending, closed")
                record[key] = _MATTER_STATUS[value]
            else:
                allowed = _ENUMS.get((resource.name, key))
                if allowed is not None and value not in allowed:
                    raise unprocessable(f"{key} must be one of {sorted(allowed)}")
                record[key] = value
        return record

    def _rate_field(self, key: str, value: Any) -> Any:
        if key == "rate":
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise unprocessable("rate must be a non-negative number")
            return float(value)
        if key == "flat_rate":
            if not isinstance(value, bool):
                raise unprocessable("flat_rate must be true or false")
            return value
        # contact_id, co_counsel_contact_id: "The keyword `null` is not valid for this field."
        if isinstance(value, bool) or not isinstance(value, int) or value not in self._collections["contacts"]:
            raise unprocessable(f"{key} {value} is not a contact")
        return value

    def _reference(self, key: str, value: Any, target: str | None) -> Record | None:
        if value is None:
            return None
        if not isinstance(value, dict) or value.get("id") is None:
            raise unprocessable(f"{key} must be an object with an id")
        if target is not None and value["id"] not in self._collections[target]:
            raise unprocessable(f"{key} {value['id']} does not exist")
        return dict(value)
