"""The `fields` parameter: parsing a selection and rendering records through it.

docs/vendors/clio.md §2: without `fields` only `id` and `etag` come back; nested lists go one level deep,
`matter{client{...}}` is a 400, and a bare second-level name returns that object's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from billsync_sandboxes.clio.api.activities import activity_figures, utbms_overlay
from billsync_sandboxes.clio.api.resources import ACTIVITIES, BY_NAME, Assoc, Resource
from billsync_sandboxes.clio.errors import bad_request
from billsync_sandboxes.kit import Record, RecordCollection

DEFAULT_FIELDS: tuple[str, ...] = ("id", "etag")


@dataclass(frozen=True, slots=True)
class Selection:
    """Chosen fields: (name, sub-field names or None for a bare name)."""

    items: tuple[tuple[str, tuple[str, ...] | None], ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The top-level field names."""
        return tuple(name for name, _ in self.items)


DEFAULT_SELECTION = Selection(tuple((name, None) for name in DEFAULT_FIELDS))


def parse_fields(text: str | None, resource: Resource) -> Selection:
    """Parse and validate a `fields` value for a resource; raise 400 on any bad name."""
    if text is None or not text.strip():
        return DEFAULT_SELECTION
    items: dict[str, tuple[str, ...] | None] = {}
    for name, sub in _tokens(text):
        if not resource.has_field(name):
            raise bad_request(f"Invalid field: {name}")
        if sub is not None:
            assoc = resource.assocs.get(name)
            if assoc is None:
                raise bad_request(f"Field {name} has no nested fields")
            target = BY_NAME.get(assoc.target) if assoc.target else None
            for sub_name in sub:
                if sub_name in assoc.hidden or (target is not None and not target.has_field(sub_name)):
                    raise bad_request(f"Invalid field: {name}{{{sub_name}}}")
        items[name] = sub
    return Selection(tuple(items.items()))


def _tokens(text: str) -> list[tuple[str, tuple[str, ...] | None]]:
    tokens: list[tuple[str, tuple[str, ...] | None]] = []
    i, end = 0, len(text)
    while i < end:
        j = i
        while j < end and text[j] not in ",{}":
            j += 1
        name = text[i:j].strip()
        if not name:
            raise bad_request(f"Malformed fields parameter: {text}")
        sub: tuple[str, ...] | None = None
        if j < end and text[j] == "{":
            close = text.find("}", j)
            if close == -1:
                raise bad_request(f"Malformed fields parameter: {text}")
            inner = text[j + 1 : close]
            if "{" in inner:
                raise bad_request("Only one level of nested fields can be customised")
            sub = tuple(part.strip() for part in inner.split(","))
            if not all(sub):
                raise bad_request(f"Malformed fields parameter: {text}")
            j = close + 1
        if j < end and text[j] != ",":
            raise bad_request(f"Malformed fields parameter: {text}")
        tokens.append((name, sub))
        i = j + 1
    return tokens


class Renderer:
    """Turns stored records into API shapes, resolving associations live."""

    def __init__(self, collections: Mapping[str, RecordCollection]) -> None:
        self._collections = collections

    def render(self, resource: Resource, record: Record, selection: Selection) -> Record:
        """Return the record as the API shows it for this selection."""
        out: Record = {}
        for name, sub in selection.items:
            assoc = resource.assocs.get(name)
            value = self.value(resource, record, name)
            out[name] = value if assoc is None else self._nested(assoc, value, sub)
        return out

    def full(self, resource: Resource, record: Record) -> Record:
        """Return every field: scalars (derived ones computed) and associations as stored."""
        out: Record = {n: self.value(resource, record, n) for n in sorted(resource.scalars)}
        for name, assoc in resource.assocs.items():
            value = self.value(resource, record, name)
            if assoc.hidden and value is not None:  # derived rows: shown as the API nests them
                value = self._nested(assoc, value, tuple(sorted(BY_NAME[assoc.target or ""].scalars)))
            out[name] = ([] if assoc.many else None) if value is None else value
        return out

    def value(self, resource: Resource, record: Record, name: str) -> Any:
        """Return one field's raw value, computing derived fields."""
        if resource is ACTIVITIES and name in _ACTIVITY_DERIVED:
            return self.activity_figures(record)[name]
        if resource.time_entry_links and name in ("time_entries", "time_entries_count"):
            entries = self._time_entries(resource, record)
            return entries if name == "time_entries" else len(entries)
        if resource.name == "matters" and name == "client_id":
            client = record.get("client")
            return client.get("id") if isinstance(client, dict) else record.get("client_id")
        if resource.name == "contacts" and name in ("activity_rates", "co_counsel_rate"):
            return self._contact_rates(record, name)
        return record.get(name)

    def _contact_rates(self, contact: Record, name: str) -> Any:
        # docs/vendors/clio.md §3.3/§3.6: a contact's rates are the activity_rates rows that name it.
        key = "contact_id" if name == "activity_rates" else "co_counsel_contact_id"
        rows = [
            {"id": row["id"]}
            for row in self._collections["activity_rates"].all()
            if str(row.get(key)) == str(contact["id"])
        ]
        if name == "activity_rates":
            return rows
        return rows[0] if rows else None

    def resolve(self, assoc: Assoc, stored: Any) -> Record | None:
        """Return the live record an association points at, or what was stored."""
        if not isinstance(stored, dict):
            return None
        if assoc.target is not None and stored.get("id") is not None:
            live = self._collections[assoc.target].peek(stored["id"])
            if live is not None:
                return live
        return stored

    def activity_figures(self, record: Record) -> dict[str, Any]:
        """Return the derived money and billing figures of an activity."""
        settings = self._collections["billing_settings"].all()
        bill_ref = record.get("bill")
        bill = None
        if isinstance(bill_ref, dict):
            bill = self._collections["bills"].peek(bill_ref.get("id"))
        return activity_figures(record, settings[0] if settings else {}, bill)

    def _time_entries(self, resource: Resource, record: Record) -> list[Record]:
        # Ids are compared as text: calendar entry ids are strings, references may be ints.
        key = str(record["id"])
        return [
            {"id": activity["id"], "etag": activity["etag"]}
            for activity in self._collections["activities"].all()
            if any(str(_ref_id(activity.get(link))) == key for link in resource.time_entry_links)
        ]

    def _nested(self, assoc: Assoc, value: Any, sub: tuple[str, ...] | None) -> Any:
        if value is None:
            return [] if assoc.many else None
        if assoc.many:
            items = value if isinstance(value, list) else []
            return [self._one(assoc, item, sub) for item in items]
        return self._one(assoc, value, sub)

    def _one(self, assoc: Assoc, stored: Any, sub: tuple[str, ...] | None) -> Any:
        if not isinstance(stored, dict):
            return stored
        names = sub or DEFAULT_FIELDS
        target = BY_NAME.get(assoc.target) if assoc.target else None
        live = None
        if target is not None and stored.get("id") is not None:
            live = self._collections[target.name].peek(stored["id"])
        if target is None or live is None:
            # Not a simulated collection (or a dangling reference): show what was stored.
            return {name: _shallow(stored.get(name)) for name in names}
        live = utbms_overlay(live, stored) if target.name == "activity_descriptions" else live
        out: Record = {}
        for name in names:
            value = self.value(target, live, name)
            inner = target.assocs.get(name)
            out[name] = value if inner is None else self._nested(inner, value, None)
        return out


_ACTIVITY_DERIVED = frozenset(
    {
        "quantity_in_hours",
        "rounded_quantity",
        "rounded_quantity_in_hours",
        "total",
        "non_billable_total",
        "billed",
        "on_bill",
        "quantity_redacted",
        "flat_rate",
        "contingency_fee",
        "non_billable",
        "no_charge",
    }
)


def _ref_id(value: Any) -> object:
    return value.get("id") if isinstance(value, dict) else None


def _shallow(value: Any) -> Any:
    # A second-level object only shows its default fields (docs/vendors/clio.md §2).
    if isinstance(value, dict):
        return {name: value.get(name) for name in DEFAULT_FIELDS}
    return value
