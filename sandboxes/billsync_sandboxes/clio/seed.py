"""Turn a synthetic firm (billsync_sandboxes.demo.data) into a Clio seed, in the shapes Clio's API v4 returns.

The seed feeds `ClioSandbox` for `billsync demo` and the integration tests. Field names and
enums follow docs/vendors/clio.md §3 and the OpenAPI spec it cites.

Ids: every canonical id ends in a number, and that number is the Clio id ("u7" -> user 7,
"c3" -> contact 3, "m12" -> matter 12). A canonical activity "act-N" becomes the record N of its
Clio collection (communication N, calendar entry "N", task N, document N, note N), and the
hand-made time entry covering it is activity N. Activity descriptions are numbered 1.. in the
firm's category order; a user's calendar is 1000 + the user id.

What is left out, and why:
- Text messages (sms): Clio Manage has no record for them (text_message_conversation is not
  readable through API v4), so they have no home in the seed.
- Activity that starts after `now`: the seed is Clio as it stands at `now`.
- A note that names neither a matter nor a known client: Clio files every note on a matter or a
  contact (docs/vendors/clio.md §3.11), so such a note cannot exist there.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from billsync_sandboxes.demo.data import SyntheticFirm
from billsync_sandboxes.demo.firm_index import DEFAULT_ENTRY_SECONDS, REFERENCE_AGE, FirmIndex, trailing_number
from billsync_sandboxes.kit import iso_timestamp
from core.models import (
    Activity,
    ActivityCategory,
    ActivityKind,
    BillingMethod,
    Client,
    Matter,
    MatterRate,
    MatterStatus,
    Timekeeper,
)

Json = dict[str, Any]

CALENDAR_ID_OFFSET = 1000
# Canonical matters carry no fee amounts for flat and contingency work; these are the demo's.
FLAT_FEES = (Decimal("1500"), Decimal("2500"), Decimal("5000"))
CONTINGENCY_PERCENT = Decimal("33.33")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_COMPANY_WORDS = frozenset(
    {"holdings", "llc", "llp", "inc", "inc.", "corp", "corp.", "co", "co.", "ltd", "group", "lp", "plc"}
)
# docs/vendors/clio.md §3.5: responses capitalise the status (only writes and filters take lower case).
_STATUS = MappingProxyType(
    {MatterStatus.OPEN: "Open", MatterStatus.PENDING: "Pending", MatterStatus.CLOSED: "Closed"}
)
_CUSTOM_RATE_TYPE = MappingProxyType(
    {
        BillingMethod.HOURLY: "HourlyRate",
        BillingMethod.FLAT: "FlatRate",
        BillingMethod.CONTINGENCY: "ContingencyFee",
    }
)
# The job titles a firm types in Clio for each LEDES classification billsync's demo firm uses;
# staff who record no time have a title that names no classification.
_JOB_TITLES = MappingProxyType(
    {
        "PARTNR": "Partner",
        "ASSOC": "Associate",
        "OFCNSL": "Of Counsel",
        "PRLGL": "Paralegal",
        "LGLAST": "Legal Assistant",
    }
)
_JOB_TITLE_IDS = MappingProxyType({title: i for i, title in enumerate([*_JOB_TITLES.values(), "Office Manager"], 1)})
_LAWYERS = frozenset({"PARTNR", "ASSOC", "OFCNSL"})
_SEED_ORDER = (
    "users",
    "contacts",
    "activity_descriptions",
    "matters",
    "communications",
    "calendar_entries",
    "tasks",
    "documents",
    "notes",
    "activities",
)


def clio_id(canonical_id: str) -> int:
    """Return the Clio id of a canonical id: the number it ends with ("u7" -> 7)."""
    return trailing_number(canonical_id)


def calendar_id(user_id: int) -> int:
    """Return the id of a Clio user's own calendar."""
    return CALENDAR_ID_OFFSET + user_id


def clio_seed(firm: SyntheticFirm, *, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Return a ClioSandbox seed for the firm: reference data and its activity up to now."""
    return _SeedBuilder(firm, now).build()


class _SeedBuilder(FirmIndex):
    """Holds the lookups one conversion needs; used once per clio_seed call."""

    def __init__(self, firm: SyntheticFirm, now: datetime) -> None:
        super().__init__(firm, now)
        self.reference_stamp = iso_timestamp(now - REFERENCE_AGE)
        self.users = {tk.id: tk for tk in firm.timekeepers}
        self.category_ids = {cat.id: i + 1 for i, cat in enumerate(firm.categories)}
        self.next_row_id = 0

    def build(self) -> dict[str, list[dict[str, Any]]]:
        seed: dict[str, list[Json]] = {name: [] for name in _SEED_ORDER}
        seed["users"] = [self.user(tk, first=i == 0) for i, tk in enumerate(self.time_recorders_first())]
        seed["contacts"] = [self.contact(client) for client in self.firm.clients]
        seed["activity_descriptions"] = [self.activity_description(cat) for cat in self.firm.categories]
        seed["matters"] = [self.matter(i, matter) for i, matter in enumerate(self.firm.matters)]
        for activity in self.firm.activities:
            if activity.started_at > self.now or activity.kind is ActivityKind.SMS:
                continue
            built = self.source_record(activity)
            if built is None:
                continue
            collection, record, link = built
            seed[collection].append(record)
            entry = self.hand_time_entry(activity, link)
            if entry is not None:
                seed["activities"].append(entry)
        for records in seed.values():
            records.sort(key=lambda record: int(record["id"]))
        return seed

    # -- reference data ---------------------------------------------------------------------

    def time_recorders_first(self) -> list[Timekeeper]:
        # The first time recorder becomes the account owner, whom the sandbox authorizes as.
        return sorted(self.firm.timekeepers, key=lambda tk: (not tk.may_record_time, clio_id(tk.id)))

    def user(self, tk: Timekeeper, *, first: bool) -> Json:
        user_id = clio_id(tk.id)
        first_name, _, last_name = tk.name.partition(" ")
        return {
            "id": user_id,
            "name": tk.name,
            "first_name": first_name,
            "last_name": last_name or first_name,
            "initials": _initials(tk.name),
            "email": _email(tk),
            "enabled": tk.enabled,
            "account_owner": first,
            "clio_connect": False,
            "rate": float(tk.default_rate),
            "roles": ["admin"] if first else [],
            # Lawyers hold an Attorney subscription, everyone else a NonAttorney one; the job title
            # says the rest, as a firm types it in Clio (docs/vendors/clio.md §3.7).
            "subscription_type": "Attorney" if tk.classification in _LAWYERS else "NonAttorney",
            "job_title": {"id": _JOB_TITLE_IDS[title], "name": title} if (title := _job_title(tk)) else None,
            "time_zone": tk.time_zone,
            "default_calendar_id": calendar_id(user_id),
            "created_at": self.reference_stamp,
            "updated_at": self.reference_stamp,
        }

    def contact(self, client: Client) -> Json:
        contact_id = clio_id(client.id)
        is_company = _is_company(client.name)
        record: Json = {
            "id": contact_id,
            "name": client.name,
            "type": "Company" if is_company else "Person",
            "initials": _initials(client.name),
            "is_client": True,
            "is_co_counsel": False,
            "is_bill_recipient": True,
            "primary_email_address": client.emails[0] if client.emails else None,
            "secondary_email_address": client.emails[1] if len(client.emails) > 1 else None,
            "primary_phone_number": client.phones[0] if client.phones else None,
            "secondary_phone_number": client.phones[1] if len(client.phones) > 1 else None,
            "email_addresses": [
                {
                    "id": contact_id * 100 + i + 1,
                    "address": address,
                    "name": "Work",
                    "primary": i == 0,
                    "created_at": self.reference_stamp,
                    "updated_at": self.reference_stamp,
                }
                for i, address in enumerate(client.emails)
            ],
            "phone_numbers": [
                {
                    "id": contact_id * 100 + i + 1,
                    "number": number,
                    "name": "Work",
                    "primary": i == 0,
                    "created_at": self.reference_stamp,
                    "updated_at": self.reference_stamp,
                }
                for i, number in enumerate(client.phones)
            ],
            "created_at": self.reference_stamp,
            "updated_at": self.reference_stamp,
        }
        if client.ledes_client_id:
            record["ledes_client_id"] = client.ledes_client_id
        if client.address is not None:
            # docs/vendors/clio.md §3.6: a contact's addresses[] and primary_address (Address: street, city,
            # province, postal_code, country; named Work, Home, Billing or Other).
            address = {
                "id": contact_id * 100 + 1,
                "name": "Billing",
                "street": client.address.street,
                "city": client.address.city,
                "province": client.address.region,
                "postal_code": client.address.postcode,
                "country": client.address.country,
                "primary": True,
                "created_at": self.reference_stamp,
                "updated_at": self.reference_stamp,
            }
            record.update(addresses=[address], primary_address=address)
        if not is_company:
            first_name, _, last_name = client.name.partition(" ")
            record.update(first_name=first_name, last_name=last_name or first_name)
        return record

    def activity_description(self, category: ActivityCategory) -> Json:
        if category.flat:
            # docs/vendors/clio.md §3.2: a flat-fee category carries a FlatRate rate.
            rate: Json = {"amount": float(category.rate or 0), "type": "FlatRate", "hierarchy": "Activity"}
        elif category.rate is not None:
            rate = {"amount": float(category.rate), "type": "Custom", "hierarchy": "Activity"}
        else:
            # No rate of its own: the user's rate applies.
            rate = {"type": "User", "hierarchy": "Default"}
        rate["non_billable_amount"] = 0.0
        return {
            "id": self.category_ids[category.id],
            "name": category.name,
            "type": "clio",
            "default": False,
            "visible_to_co_counsel": False,
            "accessible_to_user": True,
            "category_type": "flat_fee" if category.flat else "hourly",
            "rate": rate,
            "created_at": self.reference_stamp,
            "updated_at": self.reference_stamp,
        }

    def matter(self, index: int, matter: Matter) -> Json:
        matter_id = clio_id(matter.id)
        updated = min(matter.updated_at, self.now)
        # A matter is opened some time before its last change; the gap only has to be stable.
        created = updated - timedelta(days=30 + matter_id % 90)
        attorney = self.time_recorders[index % len(self.time_recorders)]
        record: Json = {
            "id": matter_id,
            "number": matter_id,
            "display_number": matter.number,
            "description": matter.name or matter.number,
            "status": _STATUS[matter.status],
            "billable": matter.billable,
            "billing_method": matter.billing_method.value,
            "open_date": created.date().isoformat(),
            "client": {"id": clio_id(matter.client_id)},
            "responsible_attorney": {"id": clio_id(attorney.id)},
            "created_at": iso_timestamp(created),
            "updated_at": iso_timestamp(updated),
        }
        if matter.status is MatterStatus.CLOSED:
            record["close_date"] = updated.date().isoformat()
        elif matter.status is MatterStatus.PENDING:
            record["pending_date"] = updated.date().isoformat()
        custom_rate = self.custom_rate(matter, clio_id(attorney.id))
        if custom_rate is not None:
            record["custom_rate"] = custom_rate
        return record

    def custom_rate(self, matter: Matter, attorney_id: int) -> Json | None:
        """Matter rates and the billing method, as docs/vendors/clio.md §3.4/§3.5 describe custom_rate."""
        method = matter.billing_method
        rows: list[Json] = []
        if method is BillingMethod.FLAT:
            fee = FLAT_FEES[clio_id(matter.id) % len(FLAT_FEES)]
            rows.append(self.rate_row(fee, attorney_id))
        elif method is BillingMethod.CONTINGENCY:
            # For ContingencyFee the rate is the percentage awarded to the user (spec).
            rows.append(self.rate_row(CONTINGENCY_PERCENT, attorney_id))
        elif matter.rates:
            rows.extend(row for rate in matter.rates for row in self.hourly_rows(rate))
        else:
            return None
        return {"type": _CUSTOM_RATE_TYPE[method], "on_invoice": False, "rates": rows}

    def hourly_rows(self, rate: MatterRate) -> Iterable[Json]:
        # Clio keys matter rates by user or group; groups are not simulated, so a rate for
        # everyone becomes one row per time recorder.
        users = [self.users[rate.timekeeper_id]] if rate.timekeeper_id else self.time_recorders
        for tk in users:
            row = self.rate_row(rate.rate, clio_id(tk.id))
            if rate.category_id and rate.category_id in self.category_ids:
                row["activity_description"] = {"id": self.category_ids[rate.category_id]}
            yield row

    def rate_row(self, amount: Decimal, user_id: int) -> Json:
        self.next_row_id += 1
        return {"id": self.next_row_id, "rate": float(amount), "user": {"id": user_id}}

    # -- the month of activity ----------------------------------------------------------------

    def source_record(self, activity: Activity) -> tuple[str, Json, tuple[str, Json]] | None:
        """Return (collection, record, time-entry link) for an activity, or None to leave it out."""
        n = clio_id(activity.external_id)
        kind = activity.kind
        if kind in (ActivityKind.CALL, ActivityKind.EMAIL):
            return "communications", self.communication(n, activity), ("communication", {"id": n})
        if kind is ActivityKind.EVENT:
            return "calendar_entries", self.calendar_entry(n, activity), ("calendar_entry", {"id": str(n)})
        if kind is ActivityKind.TASK:
            return "tasks", self.task(n, activity), ("task", {"id": n})
        if kind is ActivityKind.DOCUMENT:
            return "documents", self.document(n, activity), ("document_version", {"id": n})
        if kind is ActivityKind.NOTE:
            note = self.note(n, activity)
            if note is None:
                return None
            link = "matter_note" if note["type"] == "Matter" else "contact_note"
            return "notes", note, (link, {"id": n})
        return None

    def communication(self, n: int, activity: Activity) -> Json:
        tk = self.actor(activity)
        record: Json = {
            "id": n,
            "type": "PhoneCommunication" if activity.kind is ActivityKind.CALL else "EmailCommunication",
            "subject": activity.title,
            # Privileged demo text: it belongs in Clio, and capture must never copy it out.
            "body": activity.body or "",
            "date": activity.started_at.date().isoformat(),
            "received_at": iso_timestamp(activity.started_at),
            "user": {"id": clio_id(tk.id)},
            # The attorney wrote or placed it; the counterpart's address or number shows as
            # the receiver's identifier, which is what contact matching reads.
            "senders": [self.user_participant(tk)],
            "receivers": [self.contact_participant(address) for address in activity.counterpart_addresses],
            **self.stamps(activity),
        }
        self.link_matter(record, activity)
        return record

    def calendar_entry(self, n: int, activity: Activity) -> Json:
        tk = self.actor(activity)
        user_id = clio_id(tk.id)
        end = activity.ended_at or activity.started_at + timedelta(seconds=DEFAULT_ENTRY_SECONDS)
        owner = {"id": calendar_id(user_id), "name": tk.name, "type": "UserCalendar"}
        record: Json = {
            "id": str(n),
            "summary": activity.title,
            "start_at": iso_timestamp(activity.started_at),
            "end_at": iso_timestamp(end),
            "all_day": False,
            "start_at_time_zone": tk.time_zone,
            "court_rule": False,
            "calendar_owner": owner,
            "calendar_owner_id": owner["id"],
            "attendees": [
                {"id": owner["id"], "type": "Calendar", "name": tk.name, "email": _email(tk), "enabled": True},
                *(self.contact_attendee(address) for address in activity.counterpart_addresses),
            ],
            **self.stamps(activity),
        }
        self.link_matter(record, activity)
        return record

    def task(self, n: int, activity: Activity) -> Json:
        tk = self.actor(activity)
        done = self.recorded_at(activity)
        record: Json = {
            "id": n,
            "name": activity.title,
            "description": activity.title,
            "description_text_type": "plain_text",
            "status": "complete",
            "priority": "Normal",
            "due_at": activity.started_at.date().isoformat(),
            "completed_at": iso_timestamp(done),
            "notify_completion": False,
            "statute_of_limitations": False,
            "assignee": self.user_participant(tk),
            "assigner": {"id": clio_id(tk.id)},
            **self.stamps(activity),
        }
        self.link_matter(record, activity)
        return record

    def document(self, n: int, activity: Activity) -> Json:
        tk = self.actor(activity)
        filename = f"{activity.title}.docx"
        size = 20_000 + (n * 7919) % 80_000  # a stable, plausible file size
        received = iso_timestamp(self.recorded_at(activity))
        creator = {"id": clio_id(tk.id), "type": "ManageUser", "name": tk.name, "email": _email(tk)}
        record: Json = {
            "id": n,
            "type": "Document",
            "name": filename,
            "filename": filename,
            "size": size,
            "content_type": DOCX,
            "locked": False,
            "received_at": received,
            "creator": creator,
            "latest_document_version": {
                "id": n,
                "document_id": n,
                "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"billsync-demo:document:{n}")),
                "filename": filename,
                "size": size,
                "version_number": 1,
                "content_type": DOCX,
                "received_at": received,
                "fully_uploaded": True,
                "creator": creator,
            },
            **self.stamps(activity),
        }
        if not self.link_matter(record, activity):
            client = self.client_of(activity)
            if client is not None:
                record["contact"] = {"id": clio_id(client.id)}
        return record

    def note(self, n: int, activity: Activity) -> Json | None:
        record: Json = {
            "id": n,
            "subject": activity.title,
            "detail": activity.body or "",
            "detail_text_type": "plain_text",
            "date": activity.started_at.date().isoformat(),
            "author": {"id": clio_id(self.actor(activity).id)},
            **self.stamps(activity),
        }
        if self.link_matter(record, activity):
            record["type"] = "Matter"
            return record
        client = self.client_of(activity)
        if client is None:
            return None
        record.update(type="Contact", contact={"id": clio_id(client.id)})
        return record

    def hand_time_entry(self, activity: Activity, link: tuple[str, Json]) -> Json | None:
        """A TimeEntry someone logged by hand for a covered activity, linked to its source record."""
        if not activity.covered_by_time_entry:
            return None
        tk = self.actor(activity)
        if not tk.may_record_time:
            return None  # whoever may not record time did not log it
        quantity = self.hand_logged_seconds(activity)
        logged = iso_timestamp(self.hand_logged_at(activity))
        matter = self.matter_of(activity)
        record: Json = {
            "id": clio_id(activity.external_id),
            "type": "TimeEntry",
            "date": activity.started_at.date().isoformat(),
            "quantity": float(quantity),
            # docs/vendors/clio.md §3.1: entries always carry a price; this is the rate Clio would pick.
            "price": self.hourly_rate(tk, matter),
            # A safe title only: never the body.
            "note": activity.title or activity.kind.value,
            "non_billable": False,
            "no_charge": False,
            "flat_rate": False,
            "user": {"id": clio_id(tk.id)},
            link[0]: link[1],
            "created_at": logged,
            "updated_at": logged,
        }
        if matter is not None:
            record["matter"] = {"id": clio_id(matter.id)}
        return record

    # -- helpers ------------------------------------------------------------------------------

    def stamps(self, activity: Activity) -> Json:
        # Records are written when the work ends, so updated_since polling finds them then.
        stamp = iso_timestamp(self.recorded_at(activity))
        return {"created_at": stamp, "updated_at": stamp}

    def link_matter(self, record: Json, activity: Activity) -> bool:
        """Link the record to the matter the source linked it to, if any; say whether it did."""
        if activity.matter_id is None or activity.matter_id not in self.matters:
            return False
        record["matter"] = {"id": clio_id(activity.matter_id)}
        return True

    def hourly_rate(self, tk: Timekeeper, matter: Matter | None) -> float:
        if matter is not None and matter.billing_method is BillingMethod.HOURLY:
            for rate in matter.rates:
                if rate.category_id is None and rate.timekeeper_id in (None, tk.id):
                    return float(rate.rate)
        return float(tk.default_rate)

    def user_participant(self, tk: Timekeeper) -> Json:
        return {
            "id": clio_id(tk.id),
            "type": "User",
            "name": tk.name,
            "identifier": _email(tk),
            "initials": _initials(tk.name),
            "enabled": tk.enabled,
        }

    def contact_participant(self, address: str) -> Json:
        client = self.client_by_address.get(address.lower())
        if client is None:
            # Not a contact in Clio: only the address is known.
            return {"type": "Person", "name": address, "identifier": address}
        return {
            "id": clio_id(client.id),
            "type": "Company" if _is_company(client.name) else "Person",
            "name": client.name,
            "identifier": address,
            "initials": _initials(client.name),
        }

    def contact_attendee(self, address: str) -> Json:
        client = self.client_by_address.get(address.lower())
        if client is None:
            return {"type": "Contact", "name": address, "email": address}
        return {"id": clio_id(client.id), "type": "Contact", "name": client.name, "email": address}


def _email(tk: Timekeeper) -> str:
    # Clio requires every user to have an e-mail address; the reserved .invalid TLD marks a made-up one.
    return tk.email or f"{tk.id}@firm.invalid"


def _job_title(tk: Timekeeper) -> str | None:
    if not tk.may_record_time:
        return "Office Manager"
    return _JOB_TITLES.get(tk.classification or "")


def _initials(name: str) -> str:
    return "".join(word[0] for word in name.split() if word[:1].isalpha()).upper()[:3]


def _is_company(name: str) -> bool:
    return any(word.lower() in _COMPANY_WORDS for word in name.split())
