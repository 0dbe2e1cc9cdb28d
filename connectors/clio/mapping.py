"""Clio JSON <-> billsync's core models. Pure functions: no I/O, no state.

Privilege rule: a record's body, detail or description is privileged. The streams never request
those fields, and nothing here copies them into a title, a note or an error message.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.connector import RemoteEntry
from core.engine import idempotency_key_for
from core.models import (
    Activity,
    ActivityCategory,
    ActivityKind,
    BillingMethod,
    BillLine,
    BillState,
    Client,
    ClientRateTable,
    Matter,
    MatterRate,
    MatterStatus,
    PostalAddress,
    RemoteBill,
    TimeEntry,
    Timekeeper,
)

SOURCE = "clio"
TITLE_MAX = 500
COUNTERPART_MAX = 200
# docs/vendors/clio.md §6 / §4 item 13: Clio has no idempotency key, so billsync leaves this marker in the
# activity's note and searches for it after a lost response.
_MARKER = re.compile(r" ?\[bs:([0-9a-f]{16})\]")
# Public mailbox providers say nothing about which client a sender works for.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.net",
        "mail.com",
        "yandex.com",
        "zoho.com",
        "comcast.net",
        "verizon.net",
        "att.net",
    }
)
# Activity links Clio accepts on a time entry, by billsync external-id prefix (docs/vendors/clio.md §3.1).
SOURCE_LINKS: Mapping[str, str] = {
    "communication": "communication",
    "calendar_entry": "calendar_entry",
    "task": "task",
    "note": "matter_note",
}
# docs/vendors/clio.md §3.1 write body: UTBMS codes ride on activity_description as these keys, each naming
# a code of this type from GET /utbms/codes (§3.15). Entry field -> (Clio key, Clio type).
UTBMS_FIELDS: Mapping[str, tuple[str, str]] = {
    "task_code": ("utbms_task_id", "UtbmsTask"),
    "activity_code": ("utbms_activity_id", "UtbmsActivity"),
}
# A code string like L120 or A106; anything else is reported without repeating it.
_UTBMS_CODE = re.compile(r"[A-Z][A-Z0-9]{1,7}")
UTBMS_FIELDS_ORDER = tuple(clio_key for clio_key, _ in UTBMS_FIELDS.values())
_UTBMS_CLIO_KEYS = frozenset(UTBMS_FIELDS_ORDER)


_Model = TypeVar("_Model", bound=BaseModel)


class MappingError(ValueError):
    """A Clio record billsync cannot use; the message is safe to show (no record content)."""


# -- the idempotency marker ---------------------------------------------------------------------


def marker_hash(key: str) -> str:
    """The 16-hex-digit hash of an idempotency key that the note marker carries."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def marker(key: str) -> str:
    """The marker written into a Clio note for an idempotency key: `[bs:<hash>]`."""
    return f"[bs:{marker_hash(key)}]"


def note_with_marker(narrative: str, key: str) -> str:
    """The narrative followed by the key's marker."""
    narrative = _MARKER.sub("", narrative).rstrip()
    return f"{narrative} {marker(key)}" if narrative else marker(key)


def split_note(note: str | None) -> tuple[str, str | None]:
    """(narrative without the marker, marker hash or None)."""
    text = note or ""
    found = _MARKER.findall(text)
    if not found:
        return text, None
    return _MARKER.sub("", text).strip(), found[-1]


def has_marker(note: str | None) -> bool:
    """Whether a note carries any billsync marker (i.e. billsync wrote the entry)."""
    return bool(_MARKER.search(note or ""))


# -- reference data -----------------------------------------------------------------------------


# LEDES classification from what Clio says of a user (docs/vendors/clio.md §3.7): the subscription type
# (Attorney|NonAttorney) and the job title's name, which the firm types in Clio. A title that names
# one classification of the subscription's side gives it; anything else gives none, so the firm
# sets it (billing.timekeepers.<id>.classification): "Attorney" alone does not tell a partner
# from an associate, and an unknown title is never guessed at. Roles are permissions, not ranks.
_ATTORNEY_TITLES: Mapping[str, str] = {"partner": "PARTNR", "associate": "ASSOC", "of counsel": "OFCNSL"}
_STAFF_TITLES: Mapping[str, str] = {"paralegal": "PRLGL", "legal assistant": "LGLAST"}
# Words that may stand before a title without changing its classification ("Senior Associate").
_TITLE_PREFIXES = frozenset({"senior", "junior", "managing", "equity", "non-equity", "salaried", "name", "lead"})


def classification(raw: Mapping[str, Any]) -> str | None:
    """The LEDES classification a Clio user's subscription type and job title name, or None.

    A non-attorney with a title that is neither paralegal nor legal assistant (an office manager,
    a law clerk) is LEDES's OTH, "other timekeeper"; an attorney's title must name the role.
    """
    subscription = _text(raw.get("subscription_type"))
    titles = {"Attorney": _ATTORNEY_TITLES, "NonAttorney": _STAFF_TITLES}.get(subscription)
    words = _text(object_of(raw.get("job_title")).get("name")).lower().replace(",", " ").split()
    while len(words) > 1 and words[0] in _TITLE_PREFIXES:
        words = words[1:]
    if not titles:
        return None
    title = " ".join(words)
    found = titles.get(title)
    if found is None and title and subscription == "NonAttorney" and title not in _ATTORNEY_TITLES:
        return "OTH"  # a lawyer's title on a non-attorney contradicts itself: not trusted, None
    return found


def timekeeper(raw: Mapping[str, Any]) -> Timekeeper:
    """A Clio user -> Timekeeper."""
    user_id = _id(raw.get("id"), "user")
    enabled = raw.get("enabled") is not False
    # docs/vendors/clio.md §3.7: every Manage user is an Attorney or NonAttorney subscription; roles are
    # permissions (admin, accounts, billing, reports), not time recording, so they are not used.
    # Conservative: a disabled user, a Clio Connect (external) user or an unknown subscription
    # type is not trusted to record time.
    may_record = bool(
        enabled and not raw.get("clio_connect") and raw.get("subscription_type") in ("Attorney", "NonAttorney")
    )
    name = _text(raw.get("name")) or " ".join(
        p for p in (_text(raw.get("first_name")), _text(raw.get("last_name"))) if p
    )
    return _build(
        Timekeeper,
        id=user_id,
        name=name or f"Clio user {user_id}",
        email=_text(raw.get("email")) or None,
        default_rate=_money(raw.get("rate")) or Decimal("0"),
        may_record_time=may_record,
        enabled=enabled,
        classification=classification(raw),
        time_zone=_text(raw.get("time_zone")) or None,  # Rails or IANA; None: the firm's zone
    )


def client(raw: Mapping[str, Any]) -> Client | None:
    """A Clio contact -> Client, or None when the contact is not a client."""
    if not raw.get("is_client"):
        return None
    emails = _unique(
        e.lower()
        for e in [
            _text(raw.get("primary_email_address")),
            _text(raw.get("secondary_email_address")),
            *(_text(item.get("address")) for item in _objects(raw.get("email_addresses"))),
        ]
        if e and "@" in e
    )
    phones = _unique(
        p
        for p in [
            _text(raw.get("primary_phone_number")),
            _text(raw.get("secondary_phone_number")),
            *(_text(item.get("number")) for item in _objects(raw.get("phone_numbers"))),
        ]
        if p
    )
    # Conservative: only a company's own mail domains identify it. A person's address says
    # where they work, which may be another client, and free-mail domains say nothing.
    domains: tuple[str, ...] = ()
    if raw.get("type") == "Company":
        domains = _unique(e.rsplit("@", 1)[1] for e in emails if e.rsplit("@", 1)[1] not in FREE_MAIL_DOMAINS)
    name = _text(raw.get("name")) or " ".join(
        p for p in (_text(raw.get("first_name")), _text(raw.get("last_name"))) if p
    )
    return _build(
        Client,
        id=_id(raw.get("id"), "contact"),
        name=name or f"Clio contact {raw.get('id')}",
        emails=emails,
        domains=domains,
        phones=phones,
        ledes_client_id=_text(raw.get("ledes_client_id")) or None,
        address=billing_address(raw),
    )


def billing_address(raw: Mapping[str, Any]) -> PostalAddress | None:
    """Where a contact's bills go (docs/vendors/clio.md §3.6; Address: street, city, province, postal_code, country).

    Clio names each address Work, Home, Billing or Other: one named Billing wins, then the
    contact's `primary_address`, then one marked `primary`, then the first. None without any.
    """
    listed = [a for a in _objects(raw.get("addresses")) if any(_text(a.get(k)).strip() for k in _ADDRESS_KEYS)]
    primary = object_of(raw.get("primary_address"))
    chosen = (
        next((a for a in listed if _text(a.get("name")).lower() == "billing"), None)
        or (primary if any(_text(primary.get(k)).strip() for k in _ADDRESS_KEYS) else None)
        or next((a for a in listed if a.get("primary") is True), None)
        or (listed[0] if listed else None)
    )
    if chosen is None:
        return None
    return PostalAddress(
        street=_text(chosen.get("street"))[:TITLE_MAX],
        city=_text(chosen.get("city"))[:TITLE_MAX],
        region=_text(chosen.get("province"))[:TITLE_MAX],
        postcode=_text(chosen.get("postal_code"))[:TITLE_MAX],
        country=_text(chosen.get("country"))[:TITLE_MAX],
    )


_ADDRESS_KEYS = ("street", "city", "province", "postal_code", "country")


def matter(raw: Mapping[str, Any]) -> Matter:
    """A Clio matter -> Matter."""
    matter_id = _id(raw.get("id"), "matter")
    client_id = _linked_id(raw.get("client"))
    if client_id is None:
        raise MappingError(f"matter {matter_id} has no client")
    status_text = _text(raw.get("status")).lower()  # docs/vendors/clio.md §4 item 8: "Open" on read
    try:
        status = MatterStatus(status_text)
    except ValueError:
        raise MappingError(f"matter {matter_id} has an unknown status") from None
    custom = object_of(raw.get("custom_rate"))
    return _build(
        Matter,
        id=matter_id,
        client_id=client_id,
        number=_text(raw.get("display_number")) or _text(raw.get("number")) or matter_id,
        name=_text(raw.get("description"))[:TITLE_MAX],
        status=status,
        billing_method=_billing_method(raw, custom),
        billable=raw.get("billable") is not False,
        updated_at=_timestamp(raw.get("updated_at"), "updated_at"),
        rates=_matter_rates(custom),
    )


def _billing_method(raw: Mapping[str, Any], custom: Mapping[str, Any]) -> BillingMethod:
    # docs/vendors/clio.md §3.5: billing_method is flat|contingency|hourly on read, and custom_rate.type is
    # HourlyRate|FlatRate|ContingencyFee. Conservative: any sign of a non-hourly arrangement
    # wins, so incremental hourly entries are never billed on a flat or contingency matter.
    signals = {
        str(raw.get("billing_method") or "").lower(),
        {"FlatRate": "flat", "ContingencyFee": "contingency"}.get(str(custom.get("type")), ""),
    }
    if "flat" in signals:
        return BillingMethod.FLAT
    if "contingency" in signals:
        return BillingMethod.CONTINGENCY
    return BillingMethod.HOURLY


def _matter_rates(custom: Mapping[str, Any]) -> tuple[MatterRate, ...]:
    if custom.get("type") != "HourlyRate":
        return ()  # flat amounts and contingency percentages are not hourly rates
    rates: list[MatterRate] = []
    for row in _objects(custom.get("rates")):
        amount = _money(row.get("rate"))
        if amount is None:
            continue  # docs/vendors/clio.md §2: a second-level list may come back as {id, etag} only
        if row.get("group") and not row.get("user"):
            continue  # a group rate cannot be pinned to one timekeeper: never guess
        rates.append(
            MatterRate(
                rate=amount,
                timekeeper_id=_linked_id(row.get("user")),
                category_id=_linked_id(row.get("activity_description")),
            )
        )
    return tuple(rates)


def activity_category(raw: Mapping[str, Any]) -> ActivityCategory:
    """A Clio activity description -> ActivityCategory."""
    rate = object_of(raw.get("rate"))
    # docs/vendors/clio.md §3.2: rate.type is User|FlatRate|Custom; a FlatRate amount is the whole price. A
    # "User" category has no rate of its own: the user's applies, whatever amount is shown.
    flat = rate.get("type") == "FlatRate" or "flat" in str(raw.get("category_type") or "").lower()
    return _build(
        ActivityCategory,
        id=_id(raw.get("id"), "activity_description"),
        name=_text(raw.get("name")) or f"Clio category {raw.get('id')}",
        rate=None if rate.get("type") == "User" and not flat else _money(rate.get("amount")),
        flat=flat,
    )


def client_rate_table(
    rows: Iterable[Mapping[str, Any]], groups_of: Mapping[str, Sequence[str]]
) -> tuple[ClientRateTable, tuple[str, ...]]:
    """Clio's activity rates (GET /activity_rates, docs/vendors/clio.md §3.3) -> every client's hourly rates.

    A row is a contact's rate for one user, for a group of users (`groups_of`: user id -> its
    group ids, from GET /users `groups`), or, with neither, for everyone. Clio's order (§3.4):
    the user's own rate, else the highest of its groups' rates (conflicting group rates: the
    highest), else the contact's rate for everyone. Co-counsel rows (`co_counsel_contact_id`)
    price a co-counsel's own users, who never record time through billsync: not client rates.
    A flat client rate is not an hourly rate; it is reported, never guessed into one.
    """
    by_contact: dict[str, dict[str, list[Decimal]]] = {}  # contact -> "user:<id>"|"group:<id>"|"*" -> rates
    problems: list[str] = []
    for row in rows:
        contact = row.get("contact_id")
        if contact is None or isinstance(contact, bool):
            continue  # a co-counsel rate (or no contact): not what a client agreed
        amount = _money(row.get("rate"))
        if amount is None:
            continue  # hidden by rate visibility (docs/vendors/clio.md §4 item 3): nothing to bill from
        if row.get("flat_rate"):
            problems.append(f"activity rate {row.get('id')}: a flat rate for contact {contact} is not applied")
            continue
        user, group = _linked_id(row.get("user")), _linked_id(row.get("group"))
        key = f"user:{user}" if user else f"group:{group}" if group else "*"
        by_contact.setdefault(str(contact), {}).setdefault(key, []).append(amount)
    table: dict[str, dict[str, Decimal]] = {}
    for contact, keyed in by_contact.items():
        rates: dict[str, Decimal] = {}
        if "*" in keyed:
            rates["*"] = max(keyed["*"])
        for user, groups in groups_of.items():
            own = keyed.get(f"user:{user}")
            from_groups = [rate for group in groups for rate in keyed.get(f"group:{group}", ())]
            if own:
                rates[user] = max(own)
            elif from_groups:
                rates[user] = max(from_groups)
        for key, found in keyed.items():  # a user Clio did not list: its own rate still holds
            if key.startswith("user:") and key[5:] not in rates:
                rates[key[5:]] = max(found)
        if rates:
            table[contact] = rates
    return ClientRateTable(id=SOURCE, rates=table), tuple(problems)


# -- activity -----------------------------------------------------------------------------------

# docs/vendors/clio.md §3.10: a task's status; "draft" appears in filters.
TASK_STATUSES = frozenset({"pending", "in_progress", "in_review", "complete", "draft"})
# A stretch of work longer than this is bad data (the Activity model refuses it too).
LONGEST_EVENT = timedelta(days=7)


def communication_activity(raw: Mapping[str, Any]) -> Activity | None:
    """A phone call, or an e-mail sent by a firm user -> Activity; other communications -> None."""
    record_id = _id(raw.get("id"), "communication")
    senders, receivers = _objects(raw.get("senders")), _objects(raw.get("receivers"))
    kind_name = raw.get("type")
    if kind_name == "EmailCommunication":
        # Only mail a firm user sent counts as work; received mail is not billed automatically.
        actor = next((_linked_id(p) for p in senders if p.get("type") == "User"), None)
        kind = ActivityKind.EMAIL
    elif kind_name == "PhoneCommunication":
        user = raw.get("user")
        if user is not None and not isinstance(user, Mapping):
            raise MappingError(f"communication {record_id}: user is not a user reference")
        actor = _linked_id(user) or next(
            (_linked_id(p) for p in [*senders, *receivers] if p.get("type") == "User"), None
        )
        kind = ActivityKind.CALL
    else:
        # docs/vendors/clio.md §3.8: type is EmailCommunication or PhoneCommunication; anything else is bad data.
        raise MappingError(f"communication {record_id} has an unknown type")
    if actor is None:
        return None
    others = [p for p in [*receivers, *senders] if p.get("type") != "User"]
    return _activity(
        raw,
        external_id=f"communication:{record_id}",
        kind=kind,
        actor=actor,
        # docs/vendors/clio.md §3.8: received_at is the date-time; communications carry no duration.
        started_at=_timestamp(raw.get("received_at"), "received_at"),
        title=raw.get("subject"),
        counterpart=next((_text(p.get("name")) for p in others if _text(p.get("name"))), None),
        counterpart_addresses=_addresses(others, ("identifier", "secondary_identifier")),
    )


def calendar_activity(raw: Mapping[str, Any], owner_user_id: str | None, now: datetime) -> Activity | None:
    """A calendar entry that has ended -> Activity; all-day, unfinished or unowned ones -> None."""
    record_id = _text(raw.get("id"))  # docs/vendors/clio.md §3.9: calendar entry ids are strings
    if not record_id:
        raise MappingError("calendar entry without an id")
    if raw.get("all_day"):
        return None  # no real duration: deadlines, out-of-office days
    started = _timestamp(raw.get("start_at"), "start_at")
    ended = _timestamp(raw.get("end_at"), "end_at")
    if ended - started > LONGEST_EVENT:
        raise MappingError(f"calendar entry {record_id} lasts longer than a week; it cannot be billed as one stretch")
    if ended > now or owner_user_id is None:
        return None
    attendees = [a for a in _objects(raw.get("attendees")) if a.get("type") == "Contact"]
    return _activity(
        raw,
        external_id=f"calendar_entry:{record_id}",
        kind=ActivityKind.EVENT,
        actor=owner_user_id,
        started_at=started,
        ended_at=ended,
        duration_seconds=max(int((ended - started).total_seconds()), 0),
        title=raw.get("summary"),
        counterpart=next((_text(a.get("name")) for a in attendees if _text(a.get("name"))), None),
        counterpart_addresses=_addresses(attendees, ("email",)),
    )


def task_activity(raw: Mapping[str, Any]) -> Activity | None:
    """A completed task assigned to a firm user -> Activity; anything else -> None."""
    record_id = _id(raw.get("id"), "task")
    assignee = object_of(raw.get("assignee"))
    if raw.get("status") not in TASK_STATUSES:
        raise MappingError(f"task {record_id} has an unknown status")
    if raw.get("status") != "complete" or not raw.get("completed_at") or assignee.get("type") != "User":
        return None
    actor = _linked_id(assignee)
    if actor is None:
        return None
    return _activity(
        raw,
        external_id=f"task:{record_id}",
        kind=ActivityKind.TASK,
        actor=actor,
        started_at=_timestamp(raw.get("completed_at"), "completed_at"),
        title=raw.get("name"),
    )


def document_activity(raw: Mapping[str, Any]) -> Activity | None:
    """A document a firm user created on a matter -> Activity; anything else -> None."""
    record_id = _id(raw.get("id"), "document")
    creator = object_of(raw.get("creator"))
    # The spec's ClioCreator type is ManageUser (firm) or ClientUser (a client's upload).
    if _linked_id(raw.get("matter")) is None or creator.get("type") != "ManageUser" or _linked_id(creator) is None:
        return None
    return _activity(
        raw,
        external_id=f"document:{record_id}",
        kind=ActivityKind.DOCUMENT,
        actor=str(_linked_id(creator)),
        started_at=_timestamp(raw.get("created_at"), "created_at"),
        title=raw.get("name") or raw.get("filename"),
    )


def note_activity(raw: Mapping[str, Any]) -> Activity | None:
    """A matter note written by a firm user -> Activity; anything else -> None."""
    record_id = _id(raw.get("id"), "note")
    author = _linked_id(raw.get("author"))
    if raw.get("type") != "Matter" or _linked_id(raw.get("matter")) is None or author is None:
        return None
    return _activity(
        raw,
        external_id=f"note:{record_id}",
        kind=ActivityKind.NOTE,
        actor=author,
        started_at=_timestamp(raw.get("created_at"), "created_at"),
        title=raw.get("subject"),
    )


def covered_by_time_entry(raw: Mapping[str, Any], *, own_key: str | None = None) -> bool:
    """Whether time was already logged against this record in Clio, by a person or by billsync.

    docs/vendors/clio.md §3.1: an activity links back to its communication, calendar entry, task or note,
    and those list it in `time_entries`. An entry carrying the marker of `own_key` (the idempotency key
    of this record's own entry, core.engine.idempotency_key_for) is the entry an earlier store wrote
    for this very record (a store rebuilt from nothing): it does not cover the record, so core
    decides it again, finds that entry by its marker before writing and takes it over in the state
    Clio shows (waiting for review while not billable), instead of dropping it out of review. Any
    other linked entry covers it: a person's, or billsync's approved one, whose marker is gone (a
    billable note may be printed on the bill) and which cannot be told from a person's here.
    """
    linked = _objects(raw.get("time_entries"))
    own = marker(own_key) if own_key is not None else None
    if any(not (own is not None and own in str(entry.get("note") or "")) for entry in linked):
        return True
    if linked:
        return False  # only billsync's own entry for this record: taken over, not covered
    # Only a count came back: assume the entries are someone else's (conservative).
    count = raw.get("time_entries_count")
    return isinstance(count, int) and count > 0


def _activity(raw: Mapping[str, Any], **fields: Any) -> Activity:
    title = _text(fields.pop("title", None)).strip()[:TITLE_MAX]
    counterpart = fields.pop("counterpart", None)
    return _build(
        Activity,
        source=SOURCE,
        title=title,
        counterpart=counterpart[:COUNTERPART_MAX] if counterpart else None,
        matter_id=_linked_id(raw.get("matter")),
        covered_by_time_entry=covered_by_time_entry(raw, own_key=idempotency_key_for((SOURCE, fields["external_id"]))),
        **fields,
    )


# -- time entries -------------------------------------------------------------------------------


def source_link(activity_key: tuple[str, str]) -> tuple[str, int] | None:
    """The Clio association to link a time entry to its source record, when there is one."""
    source, external_id = activity_key
    prefix, _, record_id = external_id.partition(":")
    link = SOURCE_LINKS.get(prefix)
    # The write schema types these ids as integers (docs/vendors/clio.md §3.1); calendar entry ids are
    # strings and may be composite for recurring events (§3.9), so those are not linked.
    if source != SOURCE or link is None or not record_id.isdigit():
        return None
    return link, int(record_id)


def time_entry_body(
    entry: TimeEntry, key: str, *, billable: bool, utbms: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """The `data` of POST /activities for an entry (docs/vendors/clio.md §3.1); `utbms` from resolve_utbms."""
    body: dict[str, Any] = {
        "type": "TimeEntry",
        "date": entry.work_date.isoformat(),  # docs/vendors/clio.md §4 item 10: always send the date
        "quantity": entry.billed_seconds,  # seconds since 4.0.4 (docs/vendors/clio.md §4 item 1)
        # docs/vendors/clio.md §3.1: without an explicit price Clio may reset it from the rate hierarchy.
        "price": _price(entry.rate),
        "note": note_with_marker(entry.narrative, key),
        "matter": {"id": api_id(entry.matter_id, "matter")},
        "user": {"id": api_id(entry.timekeeper_id, "user")},
        "non_billable": not billable,
    }
    description = activity_description(entry, utbms or {})
    if description is not None:
        body["activity_description"] = description
    link = source_link(entry.activity_key)
    if link is not None:
        body[link[0]] = {"id": link[1]}
    return body


def time_entry_changes(
    entry: TimeEntry,
    key_hash: str | None,
    *,
    billable: bool,
    utbms: Mapping[str, int] | None = None,
    price: Decimal | None = None,
    matter: bool = False,
) -> dict[str, Any]:
    """The `data` of PATCH /activities/{id}: narrative, length, price, billability and UTBMS codes.

    `price`: the one Clio holds now, when a person typed it (it differs from the entry's rate); it
    is kept. Otherwise the entry's rate is sent. `matter`: the entry moved to another matter in
    billsync, so its `matter{id}` is sent too (docs/vendors/clio.md §3.1: PATCH takes the create's keys).
    """
    narrative = _MARKER.sub("", entry.narrative).rstrip()
    note = f"{narrative} [bs:{key_hash}]".strip() if key_hash else narrative
    changes: dict[str, Any] = {
        "note": note,
        "quantity": entry.billed_seconds,
        # Always: a PATCH without price may reset it (docs/vendors/clio.md §3.1).
        "price": _price(price if price is not None else entry.rate),
        "non_billable": not billable,
    }
    if matter:
        changes["matter"] = {"id": api_id(entry.matter_id, "matter")}
    # The category is only re-sent to carry codes; `price` above keeps the rate (docs/vendors/clio.md §3.1).
    description = activity_description(entry, utbms) if utbms else None
    if description is not None:
        changes["activity_description"] = description
    return changes


def activity_description(entry: TimeEntry, utbms: Mapping[str, int]) -> dict[str, int] | None:
    """`activity_description{id, utbms_task_id, utbms_activity_id}`, or None without a category."""
    if not entry.category_id:
        # docs/vendors/clio.md §3.1 lists the codes as keys of the activity description reference, beside its
        # id; conservative: codes are never sent without the category they belong to.
        return None
    description = {"id": api_id(entry.category_id, "activity description")}
    description.update({key: value for key, value in utbms.items() if key in _UTBMS_CLIO_KEYS})
    return description


def utbms_index(raw_codes: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[tuple[int, int | None], ...]]:
    """Clio's UTBMS codes (GET /utbms/codes) by (type, code) -> ((id, utbms_set_id), ...)."""
    index: dict[tuple[str, str], list[tuple[int, int | None]]] = {}
    for raw in raw_codes:
        code_id, set_id = raw.get("id"), raw.get("utbms_set_id")
        code, kind = _text(raw.get("code")).strip().upper(), _text(raw.get("type"))
        if not code or not isinstance(code_id, int) or isinstance(code_id, bool):
            continue  # unusable rows are skipped, never guessed
        usable_set = set_id if isinstance(set_id, int) and not isinstance(set_id, bool) else None
        index.setdefault((kind, code), []).append((code_id, usable_set))
    return {key: tuple(dict.fromkeys(found)) for key, found in index.items()}


def resolve_utbms(
    entry: TimeEntry, index: Mapping[tuple[str, str], Sequence[tuple[int, int | None]]]
) -> tuple[dict[str, int], tuple[str, ...]]:
    """(Clio key -> Clio UTBMS id, reasons for codes left out); reasons name codes, never narrative."""
    wanted: dict[str, tuple[str, str, Sequence[tuple[int, int | None]]]] = {}
    problems: list[str] = []
    for field, (clio_key, kind) in UTBMS_FIELDS.items():
        value = getattr(entry, field)
        if not value:
            continue
        code = value.strip().upper()
        label = field.replace("_", " ")
        if not _UTBMS_CODE.fullmatch(code):
            problems.append(f"{label} is not a UTBMS code")  # the value itself is not repeated
            continue
        wanted[clio_key] = (label, code, index.get((kind, code), ()))
    chosen: dict[str, tuple[int, int | None]] = {k: found[0] for k, (_, _, found) in wanted.items() if len(found) == 1}
    for clio_key, (label, code, found) in wanted.items():
        if clio_key in chosen:
            continue
        if not found:
            problems.append(f"{label} {code} is not a UTBMS code in Clio")
            continue
        # The same code in several UTBMS sets: take the one in the other code's set, else none.
        sets = {set_id for _, set_id in chosen.values() if set_id is not None}
        same_set = [candidate for candidate in found if candidate[1] in sets]
        if len(same_set) == 1:
            chosen[clio_key] = same_set[0]
        else:
            problems.append(f"{label} {code} is in {len(found)} UTBMS sets in Clio")
    return {key: chosen[key][0] for key in UTBMS_FIELDS_ORDER if key in chosen}, tuple(problems)


def remote_price(value: Any) -> Decimal | None:
    """A Clio price (a JSON float) in cents, or None when it is hidden or missing."""
    return _cents(value) if value is not None and not isinstance(value, bool) else None


def remote_entry(raw: Mapping[str, Any], task_codes: Mapping[int, str] | None = None) -> RemoteEntry:
    """A Clio activity -> RemoteEntry; `idempotency_key` is the marker's key hash.

    `task_codes` names Clio's UTBMS task code ids (GET /utbms/codes): the code a person set on the
    entry through its activity description (docs/vendors/clio.md §3.1) is the entry's task code.
    """
    record_id = _id(raw.get("id"), "activity")
    quantity = raw.get("quantity")
    if quantity is None or raw.get("quantity_redacted"):
        # docs/vendors/clio.md §4 item 4: hours can be hidden from the connecting user.
        raise MappingError(f"activity {record_id}: quantity is redacted for the connected user")
    narrative, key_hash = split_note(_text(raw.get("note")))
    return RemoteEntry(
        remote_id=record_id,
        idempotency_key=key_hash,
        narrative=narrative,
        billed_seconds=round(float(quantity)),
        matter_id=_linked_id(raw.get("matter")) or "",
        billable=not raw.get("non_billable"),
        # docs/vendors/clio.md §3.1: on_bill covers draft..paid bills, billed only issued ones; both lock it.
        billed=bool(raw.get("billed") or raw.get("on_bill")),
        # The price Clio bills the entry at: a person's custom rate, or billsync's own. Hidden by
        # rate visibility (docs/vendors/clio.md §4 item 3) it is None, and billsync's rate stands.
        rate=remote_price(raw.get("price")),
        task_code=_task_code(object_of(raw.get("activity_description")).get("utbms_task_id"), task_codes or {}),
    )


def _task_code(task_id: Any, task_codes: Mapping[int, str]) -> str | None:
    """The UTBMS task code Clio's id names; None for no id, an unknown one, or one that is not an integer."""
    if not isinstance(task_id, int) or isinstance(task_id, bool):
        return None
    return task_codes.get(task_id)


# -- bills (read-only: docs/vendors/clio.md §3.13, no POST /bills) --------------------------------

# Clio's bill kinds: revenue (and its summary/aggregate views) are sales; a trust bill asks for a
# retainer deposit, which is not a pre-bill's business.
_BILL_KINDS: Mapping[str, str] = {"trust_kind": "trust"}


def bill(raw: Mapping[str, Any], line_items: Sequence[Mapping[str, Any]]) -> RemoteBill:
    """A Clio bill and its line items -> RemoteBill; each line names the activity it bills."""
    bill_id = _id(raw.get("id"), "bill")
    client_id = _linked_id(raw.get("client"))
    if client_id is None:
        raise MappingError(f"bill {bill_id} has no client")
    try:
        state = BillState(_text(raw.get("state")))
    except ValueError:
        raise MappingError(f"bill {bill_id} has an unknown state") from None
    subtotal = _cents(raw.get("sub_total"))
    tax = _cents(raw.get("total_tax"))
    total = _cents(raw.get("total"))
    paid = _cents(raw.get("paid"))
    return _build(
        RemoteBill,
        id=bill_id,
        number=_text(raw.get("number")) or None,
        client_id=client_id,
        matter_ids=_unique(
            matter_id for matter_id in (_linked_id(m) for m in _objects(raw.get("matters"))) if matter_id
        ),
        state=state,
        kind=_BILL_KINDS.get(_text(raw.get("kind")), "sale"),
        issued_on=_date(raw.get("issued_at")),
        due_on=_date(raw.get("due_at")),
        subtotal=subtotal,
        # Clio gives the discount's rate, not its amount: what the subtotal and tax do not explain.
        discount=max(subtotal + tax - total, Decimal("0.00")),
        tax=tax,
        total=total,
        paid=paid,
        outstanding=_cents(raw.get("balance")),
        lines=tuple(bill_line(item) for item in line_items),
        updated_at=_timestamp(raw.get("updated_at"), "updated_at"),
    )


def bill_line(raw: Mapping[str, Any]) -> BillLine:
    """A Clio line item -> BillLine; `quantity` is hours here (docs/vendors/clio.md §4 item 1)."""
    hours = _money(raw.get("quantity")) or Decimal("0")
    return _build(
        BillLine,
        work_date=_date(raw.get("date")),
        timekeeper=_linked_id(raw.get("user")),
        hours=hours,
        rate=_cents(raw.get("price")),
        amount=_cents(raw.get("total")),
        kind="expense" if raw.get("kind") == "Expense" else "time",
        remote_id=_linked_id(raw.get("activity")),
    )


def _cents(value: Any) -> Decimal:
    # Clio sends money as JSON floats: via str, then half-up to cents (never float arithmetic).
    amount = _money(value)
    return Decimal("0.00") if amount is None else amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise MappingError("a date is not ISO-8601") from None


def api_id(value: str, what: str) -> int:
    """A billsync id as the integer Clio's write schema wants."""
    if not value.isdigit():
        raise MappingError(f"{what} id {value!r} is not a Clio id")
    return int(value)


# -- helpers ------------------------------------------------------------------------------------


def _build(model: type[_Model], **fields: Any) -> _Model:
    try:
        return model(**fields)
    except ValidationError as exc:
        # Messages without input values: those could be record content.
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in exc.errors(include_input=False)
        )
        raise MappingError(f"{model.__name__}: {problems}") from None


def _id(value: Any, what: str) -> str:
    if value is None or isinstance(value, bool) or str(value).strip() == "":
        raise MappingError(f"{what} without an id")
    return str(value)


def matter_id_of(value: Any) -> str | None:
    """The id of a nested `matter{id}` as billsync keeps it (text), or None without one."""
    return _linked_id(value)


def _linked_id(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("id") is not None:
        return str(value["id"])
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def object_of(value: Any) -> Mapping[str, Any]:
    """A nested Clio object, or an empty mapping when absent."""
    return value if isinstance(value, dict) else {}


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _addresses(participants: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> tuple[str, ...]:
    found: list[str] = []
    for participant in participants:
        for key in keys:
            value = _text(participant.get(key)).strip()
            if "@" in value:
                found.append(value.lower())
            elif value and sum(ch.isdigit() for ch in value) >= 7:
                found.append(value)  # a phone number
    return _unique(found)


def _money(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))  # via str: floats carry binary noise
    except InvalidOperation:
        raise MappingError("not a number where an amount was expected") from None
    return amount if amount.is_finite() else None


def _price(rate: Decimal) -> float:
    # JSON has only one number type; a cent-exact Decimal round-trips through float's repr.
    return float(rate)


def _timestamp(value: Any, name: str) -> datetime:
    if value is None or value == "":
        raise MappingError(f"{name} is missing")
    if not isinstance(value, str):
        raise MappingError(f"{name} is not an ISO-8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MappingError(f"{name} is not an ISO-8601 timestamp") from None
    if parsed.tzinfo is None:
        raise MappingError(f"{name} has no time zone")
    return parsed


def parse_timestamp(value: Any, name: str = "updated_at") -> datetime:
    """A Clio ISO-8601 timestamp with its offset (docs/vendors/clio.md §4 item 10)."""
    return _timestamp(value, name)
