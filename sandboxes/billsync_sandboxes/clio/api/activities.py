"""Activity (time and expense entry) rules: validation, default prices, totals, locking."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any

from billsync_sandboxes.clio.api.resources import ACTIVITIES
from billsync_sandboxes.clio.errors import bad_request, unprocessable
from billsync_sandboxes.kit import Record, RecordCollection

ACTIVITY_TYPES = frozenset({"TimeEntry", "ExpenseEntry", "HardCostEntry", "SoftCostEntry"})
TAX_SETTINGS = frozenset({"no_tax", "tax_1_only", "tax_2_only", "tax_1_and_tax_2"})
# docs/vendors/clio.md §3.1: on_bill covers draft..paid bills; billed only awaiting_payment and paid.
ON_BILL_STATES = frozenset({"draft", "awaiting_approval", "awaiting_payment", "paid"})
BILLED_STATES = frozenset({"awaiting_payment", "paid"})
UTBMS_OVERRIDES = ("utbms_task_id", "utbms_activity_id")
_UTBMS_KINDS = (("utbms_task_id", "UtbmsTask"), ("utbms_activity_id", "UtbmsActivity"))

# Write keys that reference another record, and the collection each must exist in.
_REFERENCES: Mapping[str, str | None] = {
    "activity_description": "activity_descriptions",
    "calendar_entry": "calendar_entries",
    "communication": "communications",
    "contact_note": "notes",
    "matter_note": "notes",
    "matter": "matters",
    "task": "tasks",
    "user": "users",
    "vendor": "contacts",
    "utbms_expense": "utbms_codes",
    "expense_category": None,
    "client_portal": None,
    "text_message_conversation": None,
}
# The spec allows the keyword null only for these associations (docs/vendors/clio.md §3.1 write body).
_NULLABLE = frozenset({"expense_category", "user"})


def rounded_seconds(quantity: float, settings: Mapping[str, Any]) -> float:
    """Round a duration up per the firm's billing settings (docs/vendors/clio.md §4 item 2)."""
    rounded = quantity
    increment = settings.get("rounding") or 0
    if increment > 0:
        step = float(increment) * 60
        rounded = math.ceil(rounded / step - 1e-9) * step
    if settings.get("use_decimal_rounding"):
        rounded = math.ceil(rounded / 36 - 1e-9) * 36  # hundredths of an hour
    return float(rounded)


def activity_figures(
    record: Mapping[str, Any], settings: Mapping[str, Any], bill: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Compute the read-only figures Clio derives for an activity."""
    kind = record.get("type")
    price = float(record.get("price") or 0.0)
    quantity = record.get("quantity")
    flat_rate = bool(record.get("flat_rate", False))
    figures: dict[str, Any] = {
        "flat_rate": flat_rate,
        "contingency_fee": bool(record.get("contingency_fee", False)),
        "non_billable": bool(record.get("non_billable", False)),
        "no_charge": bool(record.get("no_charge", False)),
        "quantity_redacted": False,
    }
    if kind == "TimeEntry":
        seconds = float(quantity or 0.0)
        rounded = rounded_seconds(seconds, settings)
        # docs/vendors/clio.md §3.1: total is computed from the rounded quantity.
        amount = price if flat_rate else round(rounded / 3600 * price, 2)
        figures.update(
            quantity_in_hours=seconds / 3600,
            rounded_quantity=rounded,
            rounded_quantity_in_hours=rounded / 3600,
        )
    else:
        units = 1.0 if quantity is None else float(quantity)
        amount = round(price * units, 2)
        figures.update(
            quantity_in_hours=None, rounded_quantity=None, rounded_quantity_in_hours=None
        )
    if figures["non_billable"]:
        figures.update(total=0.0, non_billable_total=amount)
    else:
        figures.update(total=amount, non_billable_total=0.0)
    if bill is not None:
        state = bill.get("state")
        figures.update(on_bill=state in ON_BILL_STATES, billed=state in BILLED_STATES)
    else:
        figures.update(
            on_bill=bool(record.get("on_bill", False)), billed=bool(record.get("billed", False))
        )
    return figures


def utbms_overlay(description: Record, reference: Mapping[str, Any]) -> Record:
    """Show per-entry UTBMS codes chosen through activity_description{utbms_*_id}."""
    overrides = {k: reference[k] for k in UTBMS_OVERRIDES if reference.get(k) is not None}
    if not overrides:
        return description
    shown = dict(description)
    shown.update(overrides)
    if "utbms_task_id" in overrides:
        shown["utbms_task"] = {"id": overrides["utbms_task_id"]}
    if "utbms_activity_id" in overrides:
        shown["utbms_activity"] = {"id": overrides["utbms_activity_id"]}
    return shown


class ActivityWriter:
    """Validates activity write bodies and turns them into stored changes."""

    def __init__(self, collections: Mapping[str, RecordCollection]) -> None:
        self._collections = collections

    def for_create(self, data: Mapping[str, Any], token_user_id: int | None) -> Record:
        """Validate a POST body and return the record to store."""
        changes = self._validate(data)
        for required in ACTIVITIES.required_on_create:
            if changes.get(required) is None:
                raise unprocessable(f"{required} is required")
        if "user" not in changes and token_user_id is not None:
            # The spec: on creation the user defaults to the current user.
            changes["user"] = {"id": token_user_id}
        record = {"non_billable": False, "no_charge": False, **changes}
        if "price" not in changes:
            record.update(self._rate_for(record))
        # A flat-rate category makes a flat-rate entry, whether or not a price is sent: its total
        # is the price whatever the time (docs/vendors/clio.md §3.2, §3.4).
        record["flat_rate"] = self._flat_category(record) is not None
        self._check_combination(record)
        return record

    def for_update(self, existing: Mapping[str, Any], data: Mapping[str, Any]) -> Record:
        """Validate a PATCH body against the stored record and return the changes."""
        changes = self._validate(data)
        merged = {**existing, **changes}
        rate_inputs = ("activity_description", "matter", "user")
        if "price" not in changes and any(
            key in changes and _ref(changes[key]) != _ref(existing.get(key)) for key in rate_inputs
        ):
            # The spec's price description: omitting price while changing these resets it.
            changes.update(self._rate_for(merged))
            merged.update(changes)
        if "activity_description" in changes:
            changes["flat_rate"] = self._flat_category(merged) is not None
        self._check_combination(merged)
        return changes

    def _validate(self, data: Mapping[str, Any]) -> Record:
        unknown = sorted(set(data) - ACTIVITIES.write_keys)
        if unknown:
            # e.g. quantity_in_hours or rate, which are not in the write schema (docs/vendors/clio.md §3.1).
            raise bad_request(f"Unknown parameters for Activity: {', '.join(unknown)}")
        changes: Record = {}
        for key, value in data.items():
            if key in _REFERENCES:
                changes[key] = self._reference(key, value)
            elif key == "type":
                if value not in ACTIVITY_TYPES:
                    raise unprocessable(f"type must be one of {sorted(ACTIVITY_TYPES)}")
                changes[key] = value
            elif key == "date":
                changes[key] = _iso_date(value)
            elif key in ("quantity", "price"):
                changes[key] = _number(key, value)
            elif key in ("non_billable", "no_charge", "start_timer"):
                if not isinstance(value, bool):
                    raise unprocessable(f"{key} must be true or false")
                if key != "start_timer":  # timers are not simulated
                    changes[key] = value
            elif key in ("note", "reference"):
                if value is not None and not isinstance(value, str):
                    raise unprocessable(f"{key} must be a string")
                changes[key] = value
            elif key == "tax_setting":
                if value not in TAX_SETTINGS:
                    raise unprocessable(f"tax_setting must be one of {sorted(TAX_SETTINGS)}")
                changes[key] = value
        return changes

    def _reference(self, key: str, value: Any) -> Record | None:
        if value is None:
            if key in _NULLABLE:
                return None
            raise unprocessable(f"{key} cannot be null")
        if not isinstance(value, dict) or value.get("id") is None:
            raise unprocessable(f"{key} must be an object with an id")
        allowed = {"id", *UTBMS_OVERRIDES} if key == "activity_description" else {"id"}
        if set(value) - allowed:
            raise bad_request(f"Unknown parameters for {key}: {sorted(set(value) - allowed)}")
        target = _REFERENCES[key]
        if target is not None and value["id"] not in self._collections[target]:
            raise unprocessable(f"{key} {value['id']} does not exist")
        reference: Record = {"id": value["id"]}
        for code_key, code_type in _UTBMS_KINDS:
            if value.get(code_key) is not None:
                code = self._collections["utbms_codes"].peek(value[code_key])
                if code is None or code.get("type") != code_type:
                    raise unprocessable(f"{code_key} {value[code_key]} is not a {code_type}")
                reference[code_key] = value[code_key]
        return reference

    def _check_combination(self, record: Mapping[str, Any]) -> None:
        if record.get("non_billable") and record.get("type") != "TimeEntry":
            raise unprocessable("non_billable is only valid for TimeEntry activities")

    def _flat_category(self, record: Mapping[str, Any]) -> float | None:
        """The flat amount of the entry's activity description, when it is a flat-rate one."""
        if record.get("type") != "TimeEntry":
            return None
        description = self._peek("activity_descriptions", record.get("activity_description"))
        rate = description.get("rate") if description else None
        if isinstance(rate, dict) and rate.get("type") == "FlatRate" and rate.get("amount") is not None:
            return float(rate["amount"])
        return None

    def _rate_for(self, record: Mapping[str, Any]) -> Record:
        """Pick a price by Clio's rate hierarchy (docs/vendors/clio.md §3.4): flat-rate category > matter rate >
        client rate > category hourly rate > the user's rate. Group rates: the user's own first,
        then the highest of its groups' (§3.4: conflicting group rates, the highest)."""
        if record.get("type") != "TimeEntry":
            return {"price": float(record.get("price") or 0.0)}
        flat = self._flat_category(record)
        if flat is not None:
            return {"price": flat}
        user = self._peek("users", record.get("user"))
        user_id = _ref(record.get("user"))
        groups = {_ref(g) for g in (user or {}).get("groups") or [] if isinstance(g, dict)}
        matter = self._peek("matters", record.get("matter"))
        matter_rate = _matter_rate(matter, user_id, groups) if matter else None
        if matter_rate is not None:
            return {"price": matter_rate}
        client_rate = self._client_rate(matter, user_id, groups) if matter else None
        if client_rate is not None:
            return {"price": client_rate}
        description = self._peek("activity_descriptions", record.get("activity_description"))
        rate = description.get("rate") if description else None
        rate = rate if isinstance(rate, dict) else {}
        if rate.get("type") == "Custom" and rate.get("amount") is not None:
            return {"price": float(rate["amount"])}
        user_rate = user.get("rate") if user else None
        return {"price": float(user_rate or 0.0)}

    def _client_rate(self, matter: Mapping[str, Any], user_id: object, groups: set[object]) -> float | None:
        client_id = _ref(matter.get("client"))
        rows = [
            row
            for row in self._collections["activity_rates"].all()
            if client_id is not None and str(row.get("contact_id")) == str(client_id) and not row.get("flat_rate")
        ]
        return _pick(rows, user_id, groups, everyone=True)

    def _peek(self, collection: str, reference: Any) -> Record | None:
        ref_id = _ref(reference)
        return None if ref_id is None else self._collections[collection].peek(ref_id)


def _matter_rate(matter: Mapping[str, Any], user_id: object, groups: set[object]) -> float | None:
    custom = matter.get("custom_rate")
    if not isinstance(custom, dict) or custom.get("type") != "HourlyRate":
        return None
    rows = [r for r in custom.get("rates") or [] if isinstance(r, dict) and not r.get("activity_description")]
    return _pick(rows, user_id, groups, everyone=False)


def _pick(rows: list[Any], user_id: object, groups: set[object], *, everyone: bool) -> float | None:
    """The user's own rate, else the highest of its groups', else (if allowed) a rate for everyone."""
    priced = [r for r in rows if r.get("rate") is not None]
    own = [float(r["rate"]) for r in priced if _ref(r.get("user")) == user_id]
    from_groups = [float(r["rate"]) for r in priced if r.get("group") and _ref(r.get("group")) in groups]
    anyone = [float(r["rate"]) for r in priced if everyone and not r.get("user") and not r.get("group")]
    for found in (own, from_groups, anyone):
        if found:
            return max(found)
    return None


def _ref(value: Any) -> object:
    return value.get("id") if isinstance(value, dict) else None


def _iso_date(value: Any) -> str:
    if not isinstance(value, str):
        raise unprocessable("date must be an ISO-8601 date")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise unprocessable("date must be an ISO-8601 date (YYYY-MM-DD)") from None


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise unprocessable(f"{key} must be a non-negative number")
    return float(value)
