"""PracticePanther JSON <-> billsync's core models. Pure functions; no HTTP.

Titles are subjects only: bodies, notes and message texts are privileged and never leave here.
Vendor facts are cited as "docs/vendors/practicepanther.md §n".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.connector import RemoteEntry
from core.models import (
    Activity,
    ActivityKind,
    BillingMethod,
    BillLine,
    BillState,
    Client,
    Matter,
    MatterStatus,
    PaymentAccount,
    PostalAddress,
    RemoteBill,
    RemotePayment,
    TimeEntry,
    Timekeeper,
)

SOURCE = "practicepanther"
SECONDS_PER_HOUR = Decimal(3600)
_MARKER = re.compile(r"\[bs:([0-9a-f]{16})\]")
_Model = TypeVar("_Model", bound=BaseModel)

# docs/vendors/practicepanther.md §9 "Matter billing type": the billing method lives in the matter's `rate` string.
_BILLING: Mapping[str, BillingMethod] = {
    "flat rate": BillingMethod.FLAT,
    "item price": BillingMethod.FLAT,  # billed by fixed item prices, not by the hour
    "contingency": BillingMethod.CONTINGENCY,
}
_STATUS: Mapping[str, MatterStatus] = {
    "open": MatterStatus.OPEN,
    "pending": MatterStatus.PENDING,
    "closed": MatterStatus.CLOSED,
    "archived": MatterStatus.CLOSED,
}
# docs/vendors/practicepanther.md §9 Payment: `bank_account.type` tells trust from operating money.
_ACCOUNT: Mapping[str, PaymentAccount] = {
    "operating": PaymentAccount.OPERATING,
    "trust": PaymentAccount.TRUST,
    "creditcard": PaymentAccount.CREDIT_CARD,
}
_PAYMENT_STATUS: Mapping[str, str] = {
    "pending": "pending",
    "failed": "failed",
    "success": "succeeded",
    "refunded": "refunded",
    "refundpending": "refund_pending",
    "canceled": "canceled",
}
_INVOICE_KINDS = {"sale", "refund", "credit"}
# (invoice field holding the lines, BillLine.kind)
_LINE_FIELDS = (("items_time_entries", "time"), ("items_expenses", "expense"), ("items_flat_fees", "flat_fee"))
CENT = Decimal("0.01")
# docs/vendors/practicepanther.md §9: Message.type and Task.status enums.
_MESSAGE_TYPES = frozenset({"Text", "Secure"})
_TASK_STATUSES = frozenset({"NotCompleted", "InProgress", "Completed", "Conditional"})
LONGEST_EVENT = timedelta(days=7)  # a longer stretch is bad data (the Activity model refuses it too)


class MappingError(ValueError):
    """A PP record billsync cannot use; the message is safe to show (no record content)."""


# -- units ------------------------------------------------------------------------------------


def hours_to_seconds(hours: Any) -> int:
    """PP's decimal hours (docs/vendors/practicepanther.md §9) as whole seconds, rounded half-up."""
    if hours is None or isinstance(hours, bool):
        raise MappingError("hours is missing")
    try:
        value = Decimal(str(hours))  # via str: floats carry binary noise
    except InvalidOperation:
        raise MappingError("hours is not a number") from None
    if not value.is_finite() or value < 0:
        raise MappingError("hours must be a non-negative number")
    return int((value * SECONDS_PER_HOUR).to_integral_value(rounding=ROUND_HALF_UP))


def seconds_to_hours(seconds: int) -> Decimal:
    """Whole seconds as decimal hours: billed_seconds / 3600 with Decimal."""
    if seconds < 0:
        raise MappingError("a duration cannot be negative")
    return Decimal(seconds) / SECONDS_PER_HOUR


def hours_json(seconds: int) -> float:
    """The `hours` JSON number for seconds; it converts back to exactly the same seconds."""
    hours = float(seconds_to_hours(seconds))
    if hours_to_seconds(hours) != seconds:  # cannot happen below 10**12 s; guard anyway
        raise MappingError("the duration does not survive conversion to hours")
    return hours


# -- the idempotency marker (kept in private_notes: never on the client's invoice, docs/vendors/practicepanther.md §9)
# ---


def marker_hash(key: str) -> str:
    """The 16-hex-digit hash of an idempotency key that the marker carries."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def marker(key: str) -> str:
    """The marker billsync writes into a time entry's private notes: `[bs:<hash>]`."""
    return f"[bs:{marker_hash(key)}]"


def marker_in(text: Any) -> str | None:
    """The key hash of the last marker in a text, or None."""
    found = _MARKER.findall(text) if isinstance(text, str) else []
    return found[-1] if found else None


# -- timestamps ---------------------------------------------------------------------------------


def parse_timestamp(value: Any, name: str = "updated_at") -> datetime:
    """A PP timestamp; zone-less ones are taken as UTC (docs/vendors/practicepanther.md §3, UNCONFIRMED)."""
    if not isinstance(value, str) or not value:
        raise MappingError(f"{name} is missing")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise MappingError(f"{name} is not an ISO-8601 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def query_time(moment: datetime) -> str:
    """A datetime query literal: always with a zone, or PP answers 400 (docs/vendors/practicepanther.md §3)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def entry_date(day: date) -> str:
    """A time entry's `date` as the spec's example writes it (docs/vendors/practicepanther.md §10)."""
    return query_time(datetime.combine(day, time(0), tzinfo=UTC))


# -- reference data -----------------------------------------------------------------------------


def timekeeper(raw: Mapping[str, Any]) -> Timekeeper:
    """A PP user -> Timekeeper. PP exposes no user rates and no role (docs/vendors/practicepanther.md §9): default_rate
    stays 0, and the LEDES classification is unknown until the firm sets it
    (billing.timekeepers.<id>.classification)."""
    name = _text(raw.get("display_name")) or " ".join(
        part for part in (_text(raw.get("first_name")), _text(raw.get("last_name"))) if part
    )
    return _build(
        Timekeeper,
        id=_id(raw.get("id"), "user"),
        name=name or _id(raw.get("id"), "user"),
        email=_text(raw.get("email")) or None,
        enabled=raw.get("is_active") is not False,
    )


def client(raw: Mapping[str, Any]) -> Client:
    """A PP account (a client with its contacts) -> Client."""
    contacts = [_object(raw.get("primary_contact")), *_objects(raw.get("other_contacts"))]
    emails = _unique(_text(c.get("email")).lower() for c in contacts)
    phones = _unique(_text(c.get(key)) for c in contacts for key in ("phone_mobile", "phone_work", "phone_home"))
    name = _text(raw.get("display_name")) or _text(raw.get("company_name"))
    return _build(
        Client,
        id=_id(raw.get("id"), "account"),
        name=name or _id(raw.get("id"), "account"),
        emails=emails,
        domains=_unique(e.rsplit("@", 1)[1] for e in emails if "@" in e) if _text(raw.get("company_name")) else (),
        phones=phones,
        address=account_address(raw),
    )


def account_address(raw: Mapping[str, Any]) -> PostalAddress | None:
    """An account's address (docs/vendors/practicepanther.md §9, Account: address_street_1/2, city, state, zip_code,
    country), or None."""
    street = "\n".join(s for s in (_text(raw.get("address_street_1")), _text(raw.get("address_street_2"))) if s)
    address = PostalAddress(
        street=street,
        city=_text(raw.get("address_city")),
        region=_text(raw.get("address_state")),
        postcode=_text(raw.get("address_zip_code")),
        country=_text(raw.get("address_country")),
    )
    return address if address.lines() else None


def matter(raw: Mapping[str, Any]) -> Matter:
    """A PP matter -> Matter; flat-fee and contingency come from the `rate` string
    (docs/vendors/practicepanther.md §9)."""
    record_id = _id(raw.get("id"), "matter")
    account = _linked_id(raw.get("account_ref"))
    if account is None:
        raise MappingError(f"matter {record_id} has no account")
    status = _STATUS.get(_text(raw.get("status")).lower())
    if status is None:
        raise MappingError(f"matter {record_id} has an unknown status")
    number = raw.get("number")
    return _build(
        Matter,
        id=record_id,
        client_id=account,
        number=str(number) if number is not None else _text(raw.get("display_name")) or record_id,
        name=_text(raw.get("name")),
        status=status,
        billing_method=billing_method(raw.get("rate")),
        updated_at=parse_timestamp(raw.get("updated_at")),
    )


def billing_method(rate: Any) -> BillingMethod:
    """The billing method in a matter's `rate` string; anything else (hourly kinds) is hourly."""
    return _BILLING.get(_text(rate).lower(), BillingMethod.HOURLY)


# -- invoices and payments (read-only through the API, docs/vendors/practicepanther.md §11) -----


def money(value: Any, name: str) -> Decimal:
    """A PP money number as Decimal cents, half-up (via str: JSON floats carry binary noise)."""
    if value is None:
        return Decimal("0.00")
    if isinstance(value, bool):
        raise MappingError(f"{name} is not a number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise MappingError(f"{name} is not a number") from None
    if not amount.is_finite():
        raise MappingError(f"{name} is not a number")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def invoice(raw: Mapping[str, Any]) -> RemoteBill:
    """A PP invoice -> RemoteBill.

    PP invoices carry no number and no status (docs/vendors/practicepanther.md §9): every invoice the API returns is
    taken as issued (UNCONFIRMED whether drafts are listed), paid once nothing is outstanding. Lines
    name their timekeeper by printed name and link no time entry.
    """
    record_id = _id(raw.get("id"), "invoice")
    account = _linked_id(raw.get("account_ref"))
    if account is None:
        raise MappingError(f"invoice {record_id} has no account")
    total = money(raw.get("total"), "total")
    outstanding = money(raw.get("total_outstanding"), "total_outstanding")
    kind = _text(raw.get("invoice_type")).lower() or "sale"
    if kind not in _INVOICE_KINDS:
        raise MappingError(f"invoice {record_id} has an unknown invoice_type")
    matter_id = _linked_id(raw.get("matter_ref"))
    return _build(
        RemoteBill,
        id=record_id,
        client_id=account,
        matter_ids=(matter_id,) if matter_id else (),
        state=BillState.PAID if outstanding <= 0 < total else BillState.AWAITING_PAYMENT,
        kind=kind,
        issued_on=_day(raw.get("issue_date"), "issue_date"),
        due_on=_day(raw.get("due_date"), "due_date"),
        subtotal=money(raw.get("subtotal"), "subtotal"),
        discount=money(raw.get("discount"), "discount"),
        tax=money(raw.get("tax"), "tax"),
        total=total,
        paid=money(raw.get("total_paid"), "total_paid"),
        outstanding=outstanding,
        lines=tuple(_bill_line(item, kind) for key, kind in _LINE_FIELDS for item in _objects(raw.get(key))),
        updated_at=parse_timestamp(raw.get("updated_at")),
    )


def _bill_line(raw: Mapping[str, Any], kind: str) -> BillLine:
    name = _text(raw.get("item_name"))
    description = _text(raw.get("item_description"))
    return _build(
        BillLine,
        work_date=_day(raw.get("date"), "date"),
        description=description or name,
        timekeeper=_text(raw.get("billed_by")) or None,
        hours=Decimal(str(raw.get("quantity") or 0)),
        rate=money(raw.get("rate"), "rate"),
        amount=money(raw.get("total"), "line total"),
        kind=kind,
    )


def payment(raw: Mapping[str, Any]) -> RemotePayment:
    """A PP payment -> RemotePayment; which invoices it paid is not visible (docs/vendors/practicepanther.md §9)."""
    record_id = _id(raw.get("id"), "payment")
    account = _linked_id(raw.get("account_ref"))
    if account is None:
        raise MappingError(f"payment {record_id} has no account")
    bank = _object(raw.get("bank_account"))
    money_account = _ACCOUNT.get(_text(bank.get("type")).lower())
    if money_account is None:
        raise MappingError(f"payment {record_id} has no known bank account type")
    status = _PAYMENT_STATUS.get(_text(raw.get("status")).lower() or "success")
    if status is None:
        raise MappingError(f"payment {record_id} has an unknown status")
    amount = money(raw.get("total_amount"), "total_amount")
    # `refundedAmount` comes only from GET-by-id (docs/vendors/practicepanther.md §9); a list row marked Refunded
    # without it is taken as refunded in full, the conservative reading for what was collected.
    refunded = money(raw["refundedAmount"], "refundedAmount") if "refundedAmount" in raw else None
    if refunded is None:
        refunded = amount if status == "refunded" else Decimal("0.00")
    received = _day(raw.get("date"), "date")
    if received is None:
        # required by the spec (docs/vendors/practicepanther.md §9)
        raise MappingError(f"payment {record_id} has no date")
    number = raw.get("number")
    return _build(
        RemotePayment,
        id=record_id,
        client_id=account,
        matter_id=_linked_id(raw.get("matter_ref")),
        received_on=received,
        amount=amount,
        unapplied=money(raw.get("unapplied_amount"), "unapplied_amount"),
        refunded=refunded,
        account=money_account,
        status=status,
        reference=str(number) if number not in (None, "") else None,
        updated_at=parse_timestamp(raw.get("updated_at")),
    )


def _required(raw: Mapping[str, Any], name: str, what: str) -> Any:
    value = raw.get(name)
    if value in (None, ""):
        raise MappingError(f"{what} {raw.get('id')} has no {name}")
    return value


def _day(value: Any, name: str) -> date | None:
    return parse_timestamp(value, name).date() if value not in (None, "") else None


# -- activities ---------------------------------------------------------------------------------


def call_activity(raw: Mapping[str, Any], covered: bool = False) -> Activity:
    """A call log -> a call. `duration` units are UNCONFIRMED (docs/vendors/practicepanther.md §9), so it is not used,
    but an impossible one (negative, or over a day even if it counted minutes) marks bad data."""
    duration = raw.get("duration")
    if duration is not None and (
        isinstance(duration, bool) or not isinstance(duration, int | float) or not 0 <= duration <= 24 * 60
    ):
        raise MappingError(f"call log {raw.get('id')} has an impossible duration")
    return _activity(raw, "calllog", ActivityKind.CALL, _first_user(raw), raw.get("date"), covered=covered)


def message_activity(raw: Mapping[str, Any], covered: bool = False) -> Activity | None:
    """A text message a firm user sent -> an SMS; received and secure-portal messages are skipped."""
    kind = _text(raw.get("type"))
    if kind not in _MESSAGE_TYPES:
        raise MappingError(f"message {raw.get('id')} has an unknown type")
    if raw.get("sent_by_contact") is not False or kind != "Text":
        return None
    if not raw.get("sent_date"):
        raise MappingError(f"message {raw.get('id')} has no sent_date")
    sender = _linked_id(raw.get("sender"))
    if sender is None:
        raise MappingError(f"message {raw.get('id')} has no sender")
    contact = _object(raw.get("contact"))
    return _activity(
        raw,
        "message",
        ActivityKind.SMS,
        sender,
        raw.get("sent_date"),
        covered=covered,
        counterpart=_text(contact.get("display_name")) or None,
        matter_id=_text(raw.get("matter_id")) or None,
        client_id=_text(raw.get("account_id")) or None,
    )


def email_activity(raw: Mapping[str, Any], users_by_email: Mapping[str, str], covered: bool = False) -> Activity | None:
    """An e-mail sent by a firm user -> an e-mail activity; mail from anyone else is skipped."""
    if not isinstance(raw.get("from"), Mapping):
        raise MappingError(f"email {raw.get('id')} has no sender address")
    sender = _text(_object(raw.get("from")).get("address")).lower()
    actor = users_by_email.get(sender)
    if actor is None:
        return None
    recipients = [*_objects(raw.get("to")), *_objects(raw.get("cc"))]
    first = recipients[0] if recipients else {}
    return _activity(
        raw,
        "email",
        ActivityKind.EMAIL,
        actor,
        _required(raw, "date", "email"),  # when it was sent: never guessed from when PP stored it
        covered=covered,
        counterpart=_text(first.get("display_name")) or _text(first.get("address")) or None,
        counterpart_addresses=_unique(_text(r.get("address")).lower() for r in recipients),
    )


def event_activity(raw: Mapping[str, Any], now: datetime, covered: bool = False) -> Activity | None:
    """A timed event that has ended -> an event; all-day and future events are skipped."""
    if raw.get("is_all_day"):
        return None
    ended = parse_timestamp(raw.get("end_date_time"), "end_date_time")
    started = parse_timestamp(raw.get("start_date_time"), "start_date_time")
    if ended - started > LONGEST_EVENT:
        raise MappingError(f"event {raw.get('id')} lasts longer than a week; it cannot be billed as one stretch")
    if ended > now:
        return None
    return _activity(
        raw,
        "event",
        ActivityKind.EVENT,
        _first_user(raw),
        raw.get("start_date_time"),
        covered=covered,
        ended_at=ended,
    )


def task_activity(raw: Mapping[str, Any], covered: bool = False) -> Activity | None:
    """A completed task -> a task. PP has no completion time, so updated_at stands in for it."""
    status = _text(raw.get("status"))
    if status not in _TASK_STATUSES:
        raise MappingError(f"task {raw.get('id')} has an unknown status")
    if status != "Completed":
        return None
    return _activity(raw, "task", ActivityKind.TASK, _first_user(raw), raw.get("updated_at"), covered=covered)


def note_activity(raw: Mapping[str, Any], covered: bool = False) -> Activity:
    """A note -> a note activity (its text stays behind)."""
    return _activity(
        raw, "note", ActivityKind.NOTE, _first_user(raw), raw.get("date") or raw.get("created_at"), covered=covered
    )


def covered_by(raw: Mapping[str, Any], actor: str | None, started: Any, entries: CoverIndex) -> bool:
    """Whether a time entry already covers an activity (see CoverIndex)."""
    subject = _text(raw.get("subject")).lower()
    matter_id = _linked_id(raw.get("matter_ref")) or _text(raw.get("matter_id")) or None
    account_id = _linked_id(raw.get("account_ref")) or _text(raw.get("account_id")) or None
    scope = f"matter:{matter_id}" if matter_id else f"account:{account_id}" if account_id else None
    if not subject or actor is None or scope is None:
        return False
    try:
        day = parse_timestamp(started, "date").date()
    except MappingError:
        return False
    return any(subject in text for text in entries.get((actor, scope, day), ()))


CoverIndex = Mapping[tuple[str, str, date], tuple[str, ...]]
"""(user id, "matter:<id>" or "account:<id>", day) -> lower-cased time-entry descriptions.

PP time entries carry no link to the activity they bill (docs/vendors/practicepanther.md §9), so an activity counts as
covered when a time entry by the same user on the same day names its subject, on the same
matter, or, for an activity linked only to an account, on any matter of that account. Entries
billsync wrote itself (they carry its marker) never count: they are already tied to their activity."""


def cover_index(raw_entries: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, date], tuple[str, ...]]:
    """Index time entries for covered_by()."""
    index: dict[tuple[str, str, date], tuple[str, ...]] = {}
    for raw in raw_entries:
        if marker_in(raw.get("private_notes")) is not None:
            continue
        user, matter_id = _linked_id(raw.get("billed_by_user_ref")), _linked_id(raw.get("matter_ref"))
        account_id = _linked_id(raw.get("account_ref"))
        description = _text(raw.get("description")).lower()
        try:
            day = parse_timestamp(raw.get("date"), "date").date()
        except MappingError:
            continue
        if not (user and description):
            continue
        scopes = [f"matter:{matter_id}"] if matter_id else []
        scopes += [f"account:{account_id}"] if account_id else []
        for scope in scopes:
            key = (user, scope, day)
            index[key] = (*index.get(key, ()), description)
    return index


def actor_of(raw: Mapping[str, Any]) -> str | None:
    """The firm user an activity record belongs to, if any."""
    sender = _linked_id(raw.get("sender"))
    return sender or _linked_id(next(iter(_objects(raw.get("assigned_to_users"))), None))


# -- time entries -------------------------------------------------------------------------------


def time_entry_body(entry: TimeEntry, key: str, *, billable: bool) -> dict[str, Any]:
    """The POST body for an entry (docs/vendors/practicepanther.md §9, §10): hours, the rate when known, the marker in
    private notes.

    PP exposes no user rates (docs/vendors/practicepanther.md §9), so an entry rated from PP's data alone has rate 0;
    that rate is left blank, and PP applies its default rate for the user and matter instead of $0.
    """
    body: dict[str, Any] = {
        "date": entry_date(entry.work_date),
        "hours": hours_json(entry.billed_seconds),
        "is_billable": billable,
        "description": entry.narrative,
        "private_notes": marker(key),
        "matter_ref": {"id": entry.matter_id},
        "billed_by_user_ref": {"id": entry.timekeeper_id},
    }
    if entry.rate > 0:
        body["rate"] = float(entry.rate)  # JSON has one number type; a cent-exact Decimal survives float
    if entry.task_code:
        body["task_code"] = entry.task_code
    return body


def merged_time_entry(current: Mapping[str, Any], entry: TimeEntry, *, billable: bool) -> dict[str, Any]:
    """GET, merge, PUT (docs/vendors/practicepanther.md §3): the current record with billsync's fields changed,
    read-only keys dropped.

    The rate PP holds is kept whenever it has one: it is either billsync's own (learned back by
    the reconcile), the one PP chose by its rate rules, or one a person typed since; none of them
    is billsync's to overwrite. Only an entry PP holds without a rate gets billsync's, and one moved
    to another matter in billsync (`billsync review edit --matter`): it carries the new
    `matter_ref` and the rate billsync found for that matter, not the old matter's.
    """
    moved = _linked_id(current.get("matter_ref")) not in (None, entry.matter_id)
    merged = {k: v for k, v in current.items() if k not in ("id", "created_at", "updated_at", "display_name")}
    merged.update(
        {
            "date": entry_date(entry.work_date),
            "hours": hours_json(entry.billed_seconds),
            "is_billable": billable,
            "description": entry.narrative,
            "matter_ref": {"id": entry.matter_id},
            "billed_by_user_ref": {"id": entry.timekeeper_id},
        }
    )
    if (moved or current.get("rate") is None) and entry.rate > 0:
        merged["rate"] = float(entry.rate)
    if entry.task_code and not _text(current.get("task_code")):
        merged["task_code"] = entry.task_code  # a code set on the entry in PP wins over the matter's phase
    return merged


def remote_entry(raw: Mapping[str, Any]) -> RemoteEntry:
    """A PP time entry -> RemoteEntry; `idempotency_key` is the marker's key hash."""
    return RemoteEntry(
        remote_id=_id(raw.get("id"), "time entry"),
        idempotency_key=marker_in(raw.get("private_notes")),
        narrative=_text(raw.get("description")),
        billed_seconds=hours_to_seconds(raw.get("hours")),
        matter_id=_linked_id(raw.get("matter_ref")) or "",
        billable=raw.get("is_billable") is True,
        billed=raw.get("is_billed") is True,
        # docs/vendors/practicepanther.md §9: a blank rate takes PP's default for the user and matter; the rate PP holds
        # is what its invoice bills, so it is the entry's rate.
        rate=_rate_held(raw.get("rate")),
        task_code=_text(raw.get("task_code")) or None,
    )


def _rate_held(value: Any) -> Decimal | None:
    """The rate PP holds on an entry, in cents; None when it holds none."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return money(value, "rate")


# -- helpers ------------------------------------------------------------------------------------


def _activity(
    raw: Mapping[str, Any],
    prefix: str,
    kind: ActivityKind,
    actor: str | None,
    started: Any,
    *,
    covered: bool,
    **fields: Any,
) -> Activity:
    record_id = _id(raw.get("id"), prefix)
    if actor is None:
        raise MappingError(f"{prefix} {record_id} has no firm user")
    base: dict[str, Any] = {
        "matter_id": _linked_id(raw.get("matter_ref")),
        "client_id": _linked_id(raw.get("account_ref")),
    }
    return _build(
        Activity,
        source=SOURCE,
        external_id=f"{prefix}:{record_id}",
        kind=kind,
        actor=actor,
        started_at=parse_timestamp(started, "date"),
        title=_text(raw.get("subject"))[:500],  # the subject only: never notes or bodies
        covered_by_time_entry=covered,
        **(base | fields),
    )


def _first_user(raw: Mapping[str, Any]) -> str | None:
    return _linked_id(next(iter(_objects(raw.get("assigned_to_users"))), None))


def _build(model: type[_Model], **fields: Any) -> _Model:
    try:
        return model(**fields)
    except ValidationError as exc:
        # Messages without input values: those could be record content.
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False))
        raise MappingError(f"{model.__name__}: {problems}") from None


def _id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise MappingError(f"{what} without an id")
    return value


def _linked_id(value: Any) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("id"), str) and value["id"]:
        return str(value["id"])
    return None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))
