"""Turn a synthetic firm (billsync_sandboxes.demo.data) into a PracticePanther seed, in the shapes PP's API v2 returns.

The seed feeds `PracticePantherSandbox` for `billsync demo` and the end-to-end tests. Field names
follow docs/vendors/practicepanther.md and the Swagger definitions it cites.

Ids: PP ids are UUIDs (docs/vendors/practicepanther.md §3). Each is a uuid5 of the canonical id, so the same firm always
gives the same seed ("u7" -> the user's UUID, "act-12" -> the call log, e-mail, ... made from it).
Matter numbers are PP's integers: 1000 + the canonical matter's number ("m12" -> 1012), and a
canonical matter number typed into a subject ("[0001-0012] ...") becomes PP's ("[1012] ...").

How the demo shows work already billed: PP time entries carry no link to the activity they
bill (docs/vendors/practicepanther.md §9), so a hand-made entry for an activity flagged covered_by_time_entry is one by
the same user, on the same matter and day, whose description names the activity's subject; that is
what the connector looks for (mapping.covered_by).

What is left out, and why:
- Documents: the sandbox serves no /files (its README), so they have no home in the seed.
- Activity that starts after `now`: the seed is PP as it stands at `now`.
- Separate contacts: PP has no contacts list in the sandbox; a client's people live on its
  account as `primary_contact` / `other_contacts`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from billsync_sandboxes.demo.data import SyntheticFirm
from billsync_sandboxes.demo.firm_index import DEFAULT_ENTRY_SECONDS, REFERENCE_AGE, FirmIndex, trailing_number
from core.models import Activity, ActivityKind, BillingMethod, Client, Matter, MatterStatus, Timekeeper

Json = dict[str, Any]

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://billsync.invalid/demo/practicepanther")
MATTER_NUMBER_OFFSET = 1000
_STATUS: Mapping[MatterStatus, str] = MappingProxyType(
    {MatterStatus.OPEN: "Open", MatterStatus.PENDING: "Pending", MatterStatus.CLOSED: "Closed"}
)
# docs/vendors/practicepanther.md §9 "Matter billing type": the billing method is the matter's `rate` string.
_RATE: Mapping[BillingMethod, str] = MappingProxyType(
    {
        BillingMethod.HOURLY: "User Hourly Rate",
        BillingMethod.FLAT: "Flat Rate",
        BillingMethod.CONTINGENCY: "Contingency",
    }
)
_COLLECTION: Mapping[ActivityKind, str] = MappingProxyType(
    {
        ActivityKind.CALL: "calllogs",
        ActivityKind.EMAIL: "emails",
        ActivityKind.SMS: "messages",
        ActivityKind.EVENT: "events",
        ActivityKind.TASK: "tasks",
        ActivityKind.NOTE: "notes",
    }
)
_SEED_ORDER = ("users", "accounts", "matters", "calllogs", "messages", "emails", "events", "tasks", "notes")


def vendor_id(kind: str, canonical_id: str) -> str:
    """The PP UUID of a canonical record: stable across runs."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{canonical_id}"))


def vendor_time(moment: datetime) -> str:
    """A datetime as PP writes it: UTC without a zone (docs/vendors/practicepanther.md §3)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def matter_number(matter: Matter) -> int:
    """PP's integer number for a canonical matter ("m12" -> 1012)."""
    return MATTER_NUMBER_OFFSET + trailing_number(matter.id)


def practicepanther_seed(firm: SyntheticFirm, *, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Return a PracticePantherSandbox seed for the firm: reference data and its activity up to now."""
    return _SeedBuilder(firm, now).build()


class _SeedBuilder(FirmIndex):
    """Holds the lookups one conversion needs; used once per practicepanther_seed call."""

    def __init__(self, firm: SyntheticFirm, now: datetime) -> None:
        super().__init__(firm, now)
        self.reference_stamp = vendor_time(now - REFERENCE_AGE)
    def build(self) -> dict[str, list[dict[str, Any]]]:
        seed: dict[str, list[Json]] = {name: [] for name in _SEED_ORDER}
        seed["users"] = [self.user(tk) for tk in self.firm.timekeepers]
        seed["accounts"] = [self.account(client) for client in self.firm.clients]
        seed["matters"] = [self.matter(i, matter) for i, matter in enumerate(self.firm.matters)]
        entries: list[Json] = []
        for activity in self.firm.activities:
            collection = _COLLECTION.get(activity.kind)
            if collection is None or activity.started_at > self.now:
                continue
            record = self.source_record(activity)
            seed[collection].append(record)
            entry = self.hand_time_entry(activity, record)
            if entry is not None:
                entries.append(entry)
        seed["timeentries"] = entries
        return seed

    # -- reference data -----------------------------------------------------------------------

    def user(self, tk: Timekeeper) -> Json:
        first_name, _, last_name = tk.name.partition(" ")
        return {
            "id": vendor_id("user", tk.id),
            "display_name": tk.name,
            "first_name": first_name,
            "last_name": last_name or first_name,
            "email": _email(tk),
            "is_active": tk.enabled,
            # Sandbox bookkeeping, never served: PP applies it to entries posted without a rate.
            "default_rate": float(tk.default_rate),
            "created_at": self.reference_stamp,
            "updated_at": self.reference_stamp,
        }

    def account(self, client: Client) -> Json:
        account_id = vendor_id("client", client.id)
        contacts = [
            self.contact(client, i, email, client.phones[i] if i < len(client.phones) else None)
            for i, email in enumerate(client.emails or ("",))
        ]
        record: Json = {
            "id": account_id,
            "display_name": client.name,
            "number": trailing_number(client.id),
            "company_name": client.name,
            "primary_contact": contacts[0],
            "other_contacts": contacts[1:],
            "created_at": self.reference_stamp,
            "updated_at": self.reference_stamp,
        }
        # docs/vendors/practicepanther.md §9, Account: address_street_1/2, city, state, country, zip_code
        if client.address is not None:
            street = client.address.street.splitlines()
            record.update(
                address_street_1=street[0] if street else "",
                address_street_2=", ".join(street[1:]),
                address_city=client.address.city,
                address_state=client.address.region,
                address_country=client.address.country,
                address_zip_code=client.address.postcode,
            )
        return record

    def contact(self, client: Client, index: int, email: str, phone: str | None) -> Json:
        first_name = "General" if index == 0 else "Contact"
        last_name = "Counsel" if index == 0 else str(index + 1)
        record: Json = {
            "id": vendor_id("contact", f"{client.id}:{index}"),
            "account_ref": {"id": vendor_id("client", client.id), "display_name": client.name},
            "is_primary_contact": index == 0,
            "display_name": f"{first_name} {last_name}",
            "first_name": first_name,
            "last_name": last_name,
            "status": "Active",
        }
        if email:
            record["email"] = email
        if phone:
            record["phone_work"] = phone
        return record

    def matter(self, index: int, matter: Matter) -> Json:
        updated = min(matter.updated_at, self.now)
        # A matter is opened some time before its last change; the gap only has to be stable.
        opened = updated - timedelta(days=30 + trailing_number(matter.id) % 90)
        attorney = self.time_recorders[index % len(self.time_recorders)]
        number = matter_number(matter)
        name = matter.name or matter.number
        record: Json = {
            "id": vendor_id("matter", matter.id),
            "account_ref": {"id": vendor_id("client", matter.client_id)},
            "number": number,
            "display_name": f"{number} - {name}",
            "name": name,
            "status": _STATUS[matter.status],
            "rate": _RATE[matter.billing_method],
            "open_date": vendor_time(opened.replace(hour=0, minute=0, second=0, microsecond=0)),
            "assigned_to_users": [{"id": vendor_id("user", attorney.id)}],
            "created_at": vendor_time(opened),
            "updated_at": vendor_time(updated),
        }
        if matter.status is MatterStatus.CLOSED:
            record["close_date"] = vendor_time(updated.replace(hour=0, minute=0, second=0, microsecond=0))
        return record

    # -- the month of activity ------------------------------------------------------------------

    def source_record(self, activity: Activity) -> Json:
        tk = self.actor(activity)
        n = activity.external_id
        kind = activity.kind
        stamps = self.stamps(activity)
        subject = self.subject(activity)
        users = [{"id": vendor_id("user", tk.id)}]
        record: Json
        if kind is ActivityKind.CALL:
            seconds = activity.actual_seconds or 0
            record = {
                "id": vendor_id("calllog", n),
                "subject": subject,
                "notes": activity.body or "",  # privileged: capture must never copy it out
                "duration": round(seconds / 3600, 4),  # units UNCONFIRMED (docs/vendors/practicepanther.md §9)
                "date": vendor_time(activity.started_at),
                "call_direction": "Outbound",
                "assigned_to_users": users,
                **stamps,
            }
        elif kind is ActivityKind.EMAIL:
            record = {
                "id": vendor_id("email", n),
                "subject": subject,
                "from": {"address": _email(tk), "display_name": tk.name},
                "to": [self.address(a) for a in activity.counterpart_addresses],
                "cc": [],
                "body_text": activity.body or "",
                "external_message_id": f"<{vendor_id('email', n)}@firm.invalid>",
                "date": vendor_time(activity.started_at),
                **stamps,
            }
        elif kind is ActivityKind.SMS:
            return self.message(activity, tk, subject)
        elif kind is ActivityKind.EVENT:
            end = activity.ended_at or activity.started_at + timedelta(seconds=DEFAULT_ENTRY_SECONDS)
            record = {
                "id": vendor_id("event", n),
                "subject": subject,
                "notes": activity.body or "",
                "is_all_day": False,
                "start_date_time": vendor_time(activity.started_at),
                "end_date_time": vendor_time(end),
                "assigned_to_users": users,
                **stamps,
            }
        elif kind is ActivityKind.TASK:
            record = {
                "id": vendor_id("task", n),
                "subject": subject,
                "notes": activity.body or "",
                "status": "Completed",
                "priority": "Medium",
                "due_date": vendor_time(activity.started_at.replace(hour=0, minute=0, second=0, microsecond=0)),
                "assigned_to_users": users,
                **stamps,
            }
        else:
            record = {
                "id": vendor_id("note", n),
                "subject": subject,
                "note": activity.body or "",
                "date": vendor_time(activity.started_at),
                "assigned_to_users": users,
                **stamps,
            }
        record.update(self.links(activity))
        return record

    def message(self, activity: Activity, tk: Timekeeper, subject: str) -> Json:
        """A text a firm user sent; PP files messages by plain ids, not refs (Swagger Message)."""
        client = self.client_of(activity)
        record: Json = {
            "id": vendor_id("message", activity.external_id),
            "type": "Text",
            "sender": {"id": vendor_id("user", tk.id)},
            "subject": subject,
            "body": activity.body or "",
            "sent_date": vendor_time(activity.started_at),
            "sent_by_contact": False,
            "user_name": tk.name,
            "user_email": _email(tk),
            **self.stamps(activity),
        }
        if client is not None:
            contact = vendor_id("contact", f"{client.id}:0")
            record.update(
                contact_id=contact,
                contact={"id": contact, "display_name": "General Counsel"},
                account_id=vendor_id("client", client.id),
            )
        if activity.matter_id is not None and activity.matter_id in self.matters:
            record["matter_id"] = vendor_id("matter", activity.matter_id)
        return record

    def hand_time_entry(self, activity: Activity, source: Json) -> Json | None:
        """A time entry someone logged by hand for a covered activity (see the module docstring)."""
        if not activity.covered_by_time_entry:
            return None
        tk = self.actor(activity)
        matter = self.matter_of(activity)
        if not tk.may_record_time or matter is None:
            return None  # staff log no time; PP requires a matter on every entry (docs/vendors/practicepanther.md §9)
        hours = self.hand_logged_seconds(activity) / 3600
        logged = vendor_time(self.hand_logged_at(activity))
        return {
            "id": vendor_id("timeentry", activity.external_id),
            "date": vendor_time(self.covered_day(activity)),
            "hours": round(hours, 1),
            "rate": float(tk.default_rate),
            "is_billable": True,
            "is_billed": False,
            # The subject only, as a person types it: never the body.
            "description": f"{activity.kind.value.capitalize()}: {source['subject']}",
            "matter_ref": {"id": vendor_id("matter", matter.id)},
            "account_ref": {"id": vendor_id("client", matter.client_id)},
            "billed_by_user_ref": {"id": vendor_id("user", tk.id)},
            "created_at": logged,
            "updated_at": logged,
        }

    # -- helpers --------------------------------------------------------------------------------

    def covered_day(self, activity: Activity) -> datetime:
        """Midnight UTC of the day the connector reads for this activity (a task's: its completion)."""
        moment = self.recorded_at(activity) if activity.kind is ActivityKind.TASK else activity.started_at
        return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    def subject(self, activity: Activity) -> str:
        """The title with any canonical matter number written as PP's number."""
        if self.matter_pattern is None:
            return activity.title
        return self.matter_pattern.sub(
            lambda found: str(matter_number(self.matter_by_number[found.group(0)])), activity.title
        )

    def links(self, activity: Activity) -> Json:
        """matter_ref and account_ref as a person filing the record in PP would set them."""
        if activity.matter_id is not None and activity.matter_id in self.matters:
            matter = self.matters[activity.matter_id]
            return {
                "matter_ref": {"id": vendor_id("matter", matter.id)},
                "account_ref": {"id": vendor_id("client", matter.client_id)},
            }
        client = self.client_of(activity)
        return {} if client is None else {"account_ref": {"id": vendor_id("client", client.id)}}

    def address(self, address: str) -> Json:
        client = self.client_by_address.get(address.lower())
        return {"address": address, "display_name": client.name if client is not None else address}

    def stamps(self, activity: Activity) -> Json:
        # Records are written when the work ends, so updated_since polling finds them then.
        stamp = vendor_time(self.recorded_at(activity))
        return {"created_at": stamp, "updated_at": stamp}


def _email(tk: Timekeeper) -> str:
    # The reserved .invalid TLD marks a made-up address.
    return tk.email or f"{tk.id}@firm.invalid"
