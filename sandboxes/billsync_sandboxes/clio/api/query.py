"""List queries: filters, ordering and Clio's two paging modes (docs/vendors/clio.md §2 "Pagination")."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from starlette.datastructures import URL, QueryParams

from billsync_sandboxes.clio.api.fields import Renderer
from billsync_sandboxes.clio.api.resources import Resource
from billsync_sandboxes.clio.errors import bad_request, unprocessable
from billsync_sandboxes.kit import Record, id_sort_key, parse_timestamp

# docs/vendors/clio.md §2: offset paging stops at 10,000 records with a 422.
OFFSET_RECORD_CAP = 10_000

Predicate = Callable[[Record], bool]
FilterFactory = Callable[[str, QueryParams, Resource, Renderer], Predicate]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of records plus the paging links Clio puts in meta.paging."""

    records: list[Record]
    next_url: str | None
    previous_url: str | None

    def meta(self) -> dict[str, Any]:
        """Return the list meta; links are omitted when there is no such page."""
        paging: dict[str, str] = {}
        if self.previous_url:
            paging["previous"] = self.previous_url
        if self.next_url:
            paging["next"] = self.next_url
        return {"paging": paging}


def select(
    resource: Resource, records: list[Record], params: QueryParams, renderer: Renderer
) -> list[Record]:
    """Return the records matching every supported filter in the query."""
    for required in _REQUIRED.get(resource.name, ()):
        if not params.get(required):
            raise bad_request(f"{required} is required")
    predicates: list[Predicate] = []
    ids = params.getlist("ids[]")
    if ids:
        wanted = {str(value) for value in ids}
        predicates.append(lambda record: str(record["id"]) in wanted)
    for name in ("updated_since", "created_since"):
        if params.get(name):
            field = name.replace("_since", "_at")
            since = _timestamp(name, params[name])
            predicates.append(_after(field, since))
    for name, factory in _FILTERS.get(resource.name, {}).items():
        value = params.get(name)
        if value is not None and value != "":
            predicates.append(factory(value, params, resource, renderer))
    return [record for record in records if all(check(record) for check in predicates)]


def paginate(
    resource: Resource, records: list[Record], params: QueryParams, url: URL, renderer: Renderer
) -> Page:
    """Cut one page, cursor-style for an explicit order=id(asc), offset-style otherwise."""
    limit = _limit(params.get("limit"), resource.max_limit)
    order_param = params.get("order")
    offset_param = params.get("offset")
    page_token = params.get("page_token")
    # docs/vendors/clio.md §2: cursor paging needs order=id(asc) sent explicitly and no offset.
    if order_param == "id(asc)" and offset_param is None:
        ordered = sorted(records, key=lambda record: id_sort_key(record["id"]))
        if page_token:
            after = id_sort_key(_decode_token(page_token))
            ordered = [record for record in ordered if id_sort_key(record["id"]) > after]
        page = ordered[:limit]
        next_url = None
        if len(ordered) > limit:
            next_url = str(url.include_query_params(page_token=_encode_token(page[-1]["id"])))
        return Page(page, next_url, None)
    if page_token:
        raise bad_request("page_token is only valid with order=id(asc) and no offset")
    offset = _offset(offset_param)
    if offset + limit > OFFSET_RECORD_CAP:
        raise unprocessable(
            f"Offset pagination is limited to {OFFSET_RECORD_CAP} records; "
            "use cursor pagination with order=id(asc)"
        )
    ordered = _sorted(resource, records, order_param or resource.default_order, renderer)
    page = ordered[offset : offset + limit]
    next_url = previous_url = None
    if len(ordered) > offset + limit:
        next_url = str(url.include_query_params(offset=offset + limit))
    if offset > 0:
        previous_url = str(url.include_query_params(offset=max(0, offset - limit)))
    return Page(page, next_url, previous_url)


def _limit(raw: str | None, maximum: int) -> int:
    if raw is None or raw == "":
        return maximum
    try:
        limit = int(raw)
    except ValueError:
        raise bad_request("limit must be an integer") from None
    if not 1 <= limit <= maximum:
        # The spec: "Limit can range between 1 and 200"; docs/vendors/clio.md does not say what Clio does
        # above it, so the sandbox refuses rather than silently clamping.
        raise bad_request(f"limit must be between 1 and {maximum}")
    return limit


def _offset(raw: str | None) -> int:
    try:
        offset = int(raw or 0)
    except ValueError:
        raise bad_request("offset must be an integer") from None
    if offset < 0:
        raise bad_request("offset must not be negative")
    return offset


def _encode_token(record_id: object) -> str:
    raw = json.dumps({"after": record_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> int | str:
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise bad_request("Invalid page_token") from None
    if not isinstance(value, int | str) or isinstance(value, bool):
        raise bad_request("Invalid page_token")
    return value


def _sorted(
    resource: Resource, records: list[Record], order: str, renderer: Renderer
) -> list[Record]:
    field, _, direction = order.partition("(")
    direction = direction.rstrip(")")
    head = field.split(".", 1)[0]
    if direction not in ("asc", "desc") or not resource.has_field(head):
        raise bad_request(f"Invalid order: {order}")

    def key(record: Record) -> tuple[bool, str, tuple[int, int, str]]:
        value = renderer.value(resource, record, head)
        if "." in field and isinstance(value, dict):
            target = renderer.resolve(resource.assocs[head], value)
            value = target.get(field.split(".", 1)[1]) if target else None
        return (value is None, _sortable(value), id_sort_key(record["id"]))

    return sorted(records, key=key, reverse=direction == "desc")


def _sortable(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return f"{value:030.6f}"
    return "" if value is None else str(value).lower()


def _timestamp(name: str, raw: str) -> datetime:
    try:
        return parse_timestamp(raw)
    except ValueError:
        raise bad_request(f"{name} must be an ISO-8601 timestamp") from None


def _after(field: str, since: datetime) -> Predicate:
    # docs/vendors/clio.md §2: *_since matches records strictly after the given time.
    def check(record: Record) -> bool:
        value = record.get(field)
        return isinstance(value, str) and parse_timestamp(value) > since

    return check


def _ref_id(value: Any) -> str | None:
    return str(value["id"]) if isinstance(value, dict) and value.get("id") is not None else None


def _assoc_id(field: str) -> FilterFactory:
    def build(value: str, params: QueryParams, resource: Resource, renderer: Renderer) -> Predicate:
        # The spec: the keyword null matches records without that association.
        if value == "null":
            return lambda record: _ref_id(record.get(field)) is None
        return lambda record: _ref_id(record.get(field)) == value

    return build


def _scalar_id(field: str) -> FilterFactory:
    def build(value: str, params: QueryParams, resource: Resource, renderer: Renderer) -> Predicate:
        # The spec: "The keyword `null` is not valid for this field" (activity_rates contact ids).
        if value == "null" or not value.isdigit():
            raise bad_request(f"{field} must be a contact id")
        return lambda record: str(record.get(field)) == value

    return build


def _contains_id(field: str) -> FilterFactory:
    def build(value: str, params: QueryParams, resource: Resource, renderer: Renderer) -> Predicate:
        return lambda record: any(_ref_id(item) == value for item in record.get(field) or [])

    return build


def _choice(field: str, choices: Mapping[str, object]) -> FilterFactory:
    def build(value: str, params: QueryParams, resource: Resource, renderer: Renderer) -> Predicate:
        if value not in choices:
            raise bad_request(f"Invalid {field}: {value}")
        wanted = choices[value]
        return lambda record: renderer.value(resource, record, field) == wanted

    return build


def _boolean(field: str, *, only_true: bool = False) -> FilterFactory:
    def build(value: str, params: QueryParams, resource: Resource, renderer: Renderer) -> Predicate:
        if value not in ("true", "false"):
            raise bad_request(f"{field} must be true or false")
        wanted = value == "true"
        if only_true and not wanted:
            return lambda record: True
        return lambda record: bool(renderer.value(resource, record, field)) == wanted

    return build


def _text(*fields: str) -> FilterFactory:
    def build(value: str, params: QueryParams, resource: Resource, renderer: Renderer) -> Predicate:
        needle = value.lower()
        return lambda record: any(needle in str(record.get(f) or "").lower() for f in fields)

    return build


def _date_bound(field: str, *, upper: bool) -> FilterFactory:
    def build(value: str, params: QueryParams, resource: Resource, renderer: Renderer) -> Predicate:
        try:
            bound = date.fromisoformat(value[:10])
        except ValueError:
            raise bad_request(f"Invalid date: {value}") from None

        def check(record: Record) -> bool:
            raw = record.get(field)
            if not isinstance(raw, str):
                return False
            day = date.fromisoformat(raw[:10])
            return day <= bound if upper else day >= bound

        return check

    return build


def _time_bound(field: str, *, upper: bool) -> FilterFactory:
    def build(value: str, params: QueryParams, resource: Resource, renderer: Renderer) -> Predicate:
        bound = _timestamp(field, value)

        def check(record: Record) -> bool:
            raw = record.get(field)
            if not isinstance(raw, str):
                return False
            moment = parse_timestamp(raw)
            return moment <= bound if upper else moment >= bound

        return check

    return build


def _activity_status(
    value: str, params: QueryParams, resource: Resource, renderer: Renderer
) -> Predicate:
    def figure(record: Record, name: str) -> bool:
        return bool(renderer.value(resource, record, name))

    tests: dict[str, Predicate] = {
        "billed": lambda r: figure(r, "billed"),
        "draft": lambda r: figure(r, "on_bill") and not figure(r, "billed"),
        "unbilled": lambda r: not figure(r, "on_bill") and not figure(r, "non_billable"),
        "non_billable": lambda r: figure(r, "non_billable"),
        "billable": lambda r: not figure(r, "non_billable"),
        "written_off": lambda r: False,  # write-offs are not simulated
    }
    if value not in tests:
        raise bad_request(f"Invalid status: {value}")
    return tests[value]


def _matter_status(
    value: str, params: QueryParams, resource: Resource, renderer: Renderer
) -> Predicate:
    # docs/vendors/clio.md §3.5: the filter takes lowercase, comma-separated statuses; records say "Open".
    wanted = {part.strip() for part in value.split(",")}
    if not wanted <= {"open", "closed", "pending"}:
        raise bad_request(f"Invalid status: {value}")
    return lambda record: str(record.get("status") or "").lower() in wanted


def _task_assignee(
    value: str, params: QueryParams, resource: Resource, renderer: Renderer
) -> Predicate:
    kind = params.get("assignee_type")
    if kind not in ("user", "contact"):
        # docs/vendors/clio.md §3.10: assignee_type must accompany assignee_id.
        raise bad_request("assignee_type (user or contact) is required with assignee_id")

    def check(record: Record) -> bool:
        assignee = record.get("assignee")
        if not isinstance(assignee, dict):
            return False
        return str(assignee.get("id")) == value and str(assignee.get("type")).lower() == kind

    return check


def _task_complete(
    value: str, params: QueryParams, resource: Resource, renderer: Renderer
) -> Predicate:
    if value not in ("true", "false"):
        raise bad_request("complete must be true or false")
    wanted = value == "true"
    return lambda record: (record.get("status") == "complete") == wanted


def _role(value: str, params: QueryParams, resource: Resource, renderer: Renderer) -> Predicate:
    if value not in ("admin", "accounts", "billing", "reports"):
        raise bad_request(f"Invalid role: {value}")
    return lambda record: value in (record.get("roles") or [])


BILL_STATES = ("draft", "awaiting_approval", "awaiting_payment", "paid", "void", "deleted")

_REQUIRED: Mapping[str, tuple[str, ...]] = {"notes": ("type",)}  # docs/vendors/clio.md §3.11

_FILTERS: Mapping[str, Mapping[str, FilterFactory]] = {
    "activities": {
        "matter_id": _assoc_id("matter"),
        "user_id": _assoc_id("user"),
        "activity_description_id": _assoc_id("activity_description"),
        "communication_id": _assoc_id("communication"),
        "calendar_entry_id": _assoc_id("calendar_entry"),
        "task_id": _assoc_id("task"),
        "contact_note_id": _assoc_id("contact_note"),
        "matter_note_id": _assoc_id("matter_note"),
        "expense_category_id": _assoc_id("expense_category"),
        "type": _choice(
            "type", {t: t for t in ("TimeEntry", "ExpenseEntry", "HardCostEntry", "SoftCostEntry")}
        ),
        "status": _activity_status,
        "flat_rate": _boolean("flat_rate"),
        "start_date": _date_bound("date", upper=False),
        "end_date": _date_bound("date", upper=True),
        "query": _text("note"),
    },
    "users": {
        "enabled": _boolean("enabled"),
        "role": _role,
        "subscription_type": _choice(
            "subscription_type", {"attorney": "Attorney", "nonattorney": "NonAttorney"}
        ),
        "name": _text("name"),
    },
    "activity_rates": {
        "contact_id": _scalar_id("contact_id"),
        "co_counsel_contact_id": _scalar_id("co_counsel_contact_id"),
    },
    "contacts": {
        "type": _choice("type", {"Person": "Person", "Company": "Company"}),
        "client_only": _boolean("is_client", only_true=True),
        "query": _text("name", "primary_email_address"),
    },
    "matters": {
        "status": _matter_status,
        "client_id": _assoc_id("client"),
        "responsible_attorney_id": _assoc_id("responsible_attorney"),
        "originating_attorney_id": _assoc_id("originating_attorney"),
        "responsible_staff_id": _assoc_id("responsible_staff"),
        "billable": _boolean("billable"),
        "query": _text("display_number", "description", "custom_number"),
    },
    "communications": {
        "matter_id": _assoc_id("matter"),
        "user_id": _assoc_id("user"),
        "type": _choice(
            "type", {t: t for t in ("EmailCommunication", "PhoneCommunication")}
        ),
        "received_since": _time_bound("received_at", upper=False),
        "received_before": _time_bound("received_at", upper=True),
        "query": _text("subject", "body"),
    },
    "calendar_entries": {
        "matter_id": _assoc_id("matter"),
        "from": _time_bound("end_at", upper=False),
        "to": _time_bound("start_at", upper=True),
        "query": _text("summary", "description"),
    },
    "tasks": {
        "matter_id": _assoc_id("matter"),
        "assignee_id": _task_assignee,
        "assigner_id": _assoc_id("assigner"),
        "status": _choice(
            "status",
            {s: s for s in ("pending", "in_progress", "in_review", "complete", "draft")},
        ),
        "complete": _task_complete,
        "query": _text("name", "description"),
    },
    "documents": {
        "matter_id": _assoc_id("matter"),
        "contact_id": _assoc_id("contact"),
        "query": _text("name", "filename"),
    },
    "notes": {
        "type": _choice("type", {"Matter": "Matter", "Contact": "Contact"}),
        "matter_id": _assoc_id("matter"),
        "contact_id": _assoc_id("contact"),
        "query": _text("subject", "detail"),
    },
    "utbms_codes": {
        "type": _choice("type", {t: t for t in ("UtbmsTask", "UtbmsActivity", "UtbmsExpense")}),
    },
    "bills": {
        "state": _choice("state", {state: state for state in BILL_STATES}),
        "matter_id": _contains_id("matters"),
        "client_id": _assoc_id("client"),
    },
    "line_items": {
        "bill_id": _assoc_id("bill"),
        "activity_id": _assoc_id("activity"),
        "matter_id": _assoc_id("matter"),
    },
}
