"""The streams billsync reads from Clio, each an explicit class over one list endpoint.

Cursor: {"updated_since": ISO timestamp} (calendar entries add "ended_until"). Each read starts
an overlap window before the stored cursor (docs/vendors/clio.md §2: `updated_since` matches records strictly
after the given time; docs/reliability.md §3: inclusive cursor plus lookback). Pages come in id order, not
updated_at order, so only the last page of a walk advances the cursor, to the highest updated_at
seen; earlier pages repeat the starting cursor. A crash mid-walk therefore re-reads, never skips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import structlog

from connectors.clio import mapping
from connectors.clio.client import ClioClient
from core import paging
from core.connector import Cursor, Page, Record, StreamRole
from core.paging import PageWalk

DEFAULT_OVERLAP = timedelta(minutes=15)
# The time-entry links covered_by_time_entry needs (docs/vendors/clio.md §3.1, §3.8-3.11): one nested level.
TIME_ENTRY_FIELDS = "time_entries{id,note},time_entries_count"


class ClioStream:
    """One Clio list endpoint read incrementally by `updated_since`."""

    name: ClassVar[str]
    role: ClassVar[StreamRole]
    path: ClassVar[str]
    fields: ClassVar[str]
    params: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        client: ClioClient,
        *,
        overlap: timedelta = DEFAULT_OVERLAP,
        clock: Callable[[], datetime] | None = None,
        log: structlog.stdlib.BoundLogger | None = None,
    ) -> None:
        self._client = client
        self._overlap = overlap
        self._clock = clock or (lambda: datetime.now(UTC))
        self._log = log

    def read(self, since: Cursor) -> Iterator[Page]:
        """Pages of records changed after `since` (less the overlap); the last page moves the cursor."""
        start = cursor_time(since, "updated_since")
        params = dict(self.params)
        if start is not None:
            params["updated_since"] = (start - self._overlap).isoformat()
        self._prepare()
        walk = PageWalk(self.name, since, mapping.parse_timestamp)
        yield from walk.pages(self._client.pages(self.path, fields=self.fields, params=params), self.map)
        self._summary(walk)
        yield walk.last(self._final_cursor(since, walk.newest))

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """One Clio record -> a core model, or None when it is not billsync's business."""
        raise NotImplementedError

    def _prepare(self) -> None:
        """Fetch what mapping needs before the walk (nothing by default)."""

    def _summary(self, walk: PageWalk) -> None:
        # Counts only: never record content (titles can be client-confidential).
        if self._log is not None:
            self._log.debug("clio stream read", stream=self.name, **walk.counts)

    def _final_cursor(self, since: Cursor, newest: datetime | None) -> Cursor:
        return {"updated_since": newest.isoformat()} if newest is not None else since


def cursor_time(cursor: Cursor, key: str) -> datetime | None:
    """A timestamp from a cursor, or None when absent or unreadable."""
    return paging.cursor_time(cursor, key, mapping.parse_timestamp)


# -- reference streams --------------------------------------------------------------------------


class Users(ClioStream):
    """Clio users -> Timekeeper."""

    name = "users"
    role = StreamRole.REFERENCE
    path = "users"
    fields = (
        "id,etag,name,first_name,last_name,email,enabled,clio_connect,rate,roles,subscription_type,time_zone,"
        "updated_at,job_title{name}"
    )

    def read(self, since: Cursor) -> Iterator[Page]:
        """Every user, at every poll: a firm's users are one request (limit 2000, docs/vendors/clio.md §3.7), and
        what billsync derives from a user (the LEDES classification from the job title) must follow
        changes, and reach users stored before billsync derived it, without waiting for `updated_at`."""
        walk = PageWalk(self.name, since, mapping.parse_timestamp)
        yield from walk.pages(self._client.pages(self.path, fields=self.fields), self.map)
        self._summary(walk)
        yield walk.last(self._final_cursor(since, walk.newest))

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """A user -> Timekeeper."""
        return mapping.timekeeper(raw)


class ActivityDescriptions(ClioStream):
    """Clio activity descriptions -> ActivityCategory."""

    name = "activity_descriptions"
    role = StreamRole.REFERENCE
    path = "activity_descriptions"
    fields = "id,etag,name,category_type,rate{amount,type},updated_at"

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """An activity description -> ActivityCategory."""
        return mapping.activity_category(raw)


class ActivityRates(ClioStream):
    """Clients' agreed rates (docs/vendors/clio.md §3.3, GET /activity_rates) -> one ClientRateTable per read.

    Read whole at every poll, with the users' groups: a deleted rate leaves no trace in an
    `updated_since` read, and who a group rate covers changes with the group, not the rate. A
    firm's rates are a page or two, so this costs one or two requests a poll. The contact's own
    `activity_rates[]` name no user or group (the spec nests ActivityRate_base there), so the
    list endpoint is the one that says whose rate each is.
    """

    name = "activity_rates"
    role = StreamRole.REFERENCE
    path = "activity_rates"
    fields = "id,etag,rate,flat_rate,contact_id,co_counsel_contact_id,user{id},group{id},updated_at"

    def read(self, since: Cursor) -> Iterator[Page]:
        """One page: the whole table, with a cursor saying when it was read."""
        groups: dict[str, list[str]] = {}
        for page in self._client.pages("users", fields="id,groups{id}"):
            for user in page:
                if user.get("id") is not None:
                    listed = user.get("groups")
                    memberships = listed if isinstance(listed, list) else []
                    groups[str(user["id"])] = [str(g["id"]) for g in memberships if isinstance(g, dict) and g.get("id")]
        rows = [row for page in self._client.pages(self.path, fields=self.fields) for row in page]
        table, problems = mapping.client_rate_table(rows, groups)
        if self._log is not None:
            self._log.debug("clio stream read", stream=self.name, records=len(rows), errors=len(problems))
        read_at = self._clock()
        previous = cursor_time(since, "read_at")
        yield Page(records=[table], cursor={"read_at": max(read_at, previous or read_at).isoformat()}, errors=problems)


class Contacts(ClioStream):
    """Clio contacts that are clients -> Client."""

    name = "contacts"
    role = StreamRole.REFERENCE
    path = "contacts"
    fields = (
        "id,etag,name,first_name,last_name,type,is_client,primary_email_address,secondary_email_address,"
        "primary_phone_number,secondary_phone_number,email_addresses{address},phone_numbers{number},"
        "ledes_client_id,updated_at,primary_address{name,street,city,province,postal_code,country},"
        "addresses{name,street,city,province,postal_code,country,primary}"
    )
    params: ClassVar[Mapping[str, str]] = {"client_only": "true"}

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """A client contact -> Client."""
        return mapping.client(raw)


class Matters(ClioStream):
    """Clio matters -> Matter."""

    name = "matters"
    role = StreamRole.REFERENCE
    path = "matters"
    fields = (
        "id,etag,number,display_number,description,status,billable,billing_method,updated_at,"
        "client{id},custom_rate{type,rates}"
    )

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """A matter -> Matter."""
        return mapping.matter(raw)


# -- activity streams ---------------------------------------------------------------------------


class Communications(ClioStream):
    """Phone calls and e-mails sent by firm users -> Activity (never the body)."""

    name = "communications"
    role = StreamRole.ACTIVITY
    path = "communications"
    fields = (
        "id,etag,type,subject,received_at,updated_at,user{id},matter{id},"
        f"senders{{id,type,name,identifier}},receivers{{id,type,name,identifier}},{TIME_ENTRY_FIELDS}"
    )

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """A communication -> Activity, or None for received mail."""
        return mapping.communication_activity(raw)


class CalendarEntries(ClioStream):
    """Calendar entries that have ended -> Activity (never the description).

    An event read before it ended is not changed by ending, so `updated_since` alone would never
    bring it back: a second pass asks for the events that ended since the last read
    (`from`/`to`, docs/vendors/clio.md §3.9) and the cursor remembers that point as "ended_until".
    """

    name = "calendar_entries"
    role = StreamRole.ACTIVITY
    path = "calendar_entries"
    fields = (
        "id,etag,summary,start_at,end_at,all_day,updated_at,matter{id},calendar_owner{id,type},"
        f"calendar_owner_id,attendees{{id,type,name,email}},{TIME_ENTRY_FIELDS}"
    )

    def __init__(
        self,
        client: ClioClient,
        *,
        overlap: timedelta = DEFAULT_OVERLAP,
        clock: Callable[[], datetime] | None = None,
        log: structlog.stdlib.BoundLogger | None = None,
    ) -> None:
        super().__init__(client, overlap=overlap, clock=clock, log=log)
        self._owners: dict[str, str] = {}
        self._now = self._clock()

    def read(self, since: Cursor) -> Iterator[Page]:
        """Changed entries, then entries that ended since the last read; the last page moves the cursor."""
        self._now = self._clock()
        self._prepare()
        start = cursor_time(since, "updated_since")
        ended_from = cursor_time(since, "ended_until")
        changed = dict(self.params)
        if start is not None:
            changed["updated_since"] = (start - self._overlap).isoformat()
        first = PageWalk(self.name, since, mapping.parse_timestamp)
        yield from first.pages(self._client.pages(self.path, fields=self.fields, params=changed), self.map)
        second = PageWalk(self.name, since, mapping.parse_timestamp)
        second.continue_from(first)
        if ended_from is not None:
            # from/to select entries overlapping the window: those that ended inside it are new.
            window = {"from": (ended_from - self._overlap).isoformat(), "to": self._now.isoformat()}
            yield from second.pages(self._client.pages(self.path, fields=self.fields, params=window), self.map)
        cursor: dict[str, str] = {"ended_until": max(self._now, ended_from or self._now).isoformat()}
        self._summary(second)
        newest = second.newest
        if newest is not None:
            cursor["updated_since"] = newest.isoformat()
        yield second.last(cursor)

    def _prepare(self) -> None:
        # A calendar_owner is a Calendar, not a user (spec: Calendar_base); a user's own calendar
        # is their default_calendar_id (docs/vendors/clio.md §3.7).
        owners: dict[str, str] = {}
        for page in self._client.pages("users", fields="id,default_calendar_id"):
            for user in page:
                if user.get("default_calendar_id") is not None and user.get("id") is not None:
                    owners[str(user["default_calendar_id"])] = str(user["id"])
        self._owners = owners

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """An ended calendar entry -> Activity, or None."""
        owner = mapping.object_of(raw.get("calendar_owner"))
        calendar_id = owner.get("id", raw.get("calendar_owner_id"))
        user_id = self._owners.get(str(calendar_id)) if calendar_id is not None else None
        if user_id is None and owner.get("type") in (None, "UserCalendar") and _ended(raw, self._now):
            # A personal calendar billsync cannot tie to a user: report it, so it can be fixed.
            raise mapping.MappingError(f"calendar owner {calendar_id} is not a firm user's default calendar")
        return mapping.calendar_activity(raw, user_id, self._now)


class Tasks(ClioStream):
    """Completed tasks -> Activity (never the description)."""

    name = "tasks"
    role = StreamRole.ACTIVITY
    path = "tasks"
    fields = f"id,etag,name,status,completed_at,updated_at,matter{{id}},assignee{{id,type,name}},{TIME_ENTRY_FIELDS}"
    # Completing a task updates it, so `updated_since` sees it (docs/vendors/clio.md §3.10 filters).
    params: ClassVar[Mapping[str, str]] = {"complete": "true"}

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """A completed task -> Activity."""
        return mapping.task_activity(raw)


class Documents(ClioStream):
    """Documents created on a matter -> Activity (never the contents)."""

    name = "documents"
    role = StreamRole.ACTIVITY
    path = "documents"
    fields = "id,etag,name,filename,created_at,updated_at,matter{id},creator{id,type}"

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """A document -> Activity."""
        return mapping.document_activity(raw)


class Notes(ClioStream):
    """Matter notes -> Activity (never the detail)."""

    name = "notes"
    role = StreamRole.ACTIVITY
    path = "notes"
    fields = f"id,etag,type,subject,created_at,updated_at,matter{{id}},author{{id}},{TIME_ENTRY_FIELDS}"
    params: ClassVar[Mapping[str, str]] = {"type": "Matter"}  # docs/vendors/clio.md §3.11: the list requires type

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """A matter note -> Activity."""
        return mapping.note_activity(raw)


# -- bills a person generated (read-only: docs/vendors/clio.md §3.13) --------------------------------


class Bills(ClioStream):
    """Clio bills with their line items -> RemoteBill; each line names the activity it bills.

    A bill's line items are one more list per changed bill (`line_items?bill_id=`): the bill
    endpoint cannot nest them. Descriptions are not asked for: matching needs the activity ids,
    and the narratives are billsync's own entries'.
    """

    name = "bills"
    role = StreamRole.BILLS
    path = "bills"
    fields = (
        "id,etag,number,state,kind,type,issued_at,due_at,start_at,end_at,sub_total,total,total_tax,paid,"
        "balance,updated_at,client{id},matters{id}"
    )
    line_fields = "id,type,kind,date,quantity,price,total,activity{id},user{id}"

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """A bill and its line items -> RemoteBill."""
        bill_id = mapping.api_id(str(raw.get("id")), "bill")
        items = [
            item
            for page in self._client.pages("line_items", fields=self.line_fields, params={"bill_id": str(bill_id)})
            for item in page
        ]
        return mapping.bill(raw, items)


def _ended(raw: Mapping[str, Any], now: datetime) -> bool:
    try:
        return not raw.get("all_day") and mapping.parse_timestamp(raw.get("end_at"), "end_at") <= now
    except ValueError:
        return False


STREAM_CLASSES: tuple[type[ClioStream], ...] = (
    Users,
    ActivityDescriptions,
    Contacts,
    ActivityRates,
    Matters,
    Communications,
    CalendarEntries,
    Tasks,
    Documents,
    Notes,
    Bills,
)
"""Reference streams first: activity mapping in core needs the timekeepers and matters. Bills come
last: core reads them by their role, as read-only ledger copies, whatever their place here."""
