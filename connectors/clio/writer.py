"""Writes billsync's time entries to Clio as TimeEntry activities, exactly once per key.

Clio has no idempotency key (docs/vendors/clio.md §6), so the note carries a marker `[bs:<hash of the key>]`.
A POST is never re-sent blindly (core.http raises Indeterminate when its outcome is unknown);
core then calls find_time_entry, which looks for the marker before anything is sent again.
Entries an earlier store may have written are looked for in groups (find_time_entries): core
asks for one matter's entries at a time, and they are found with one listing instead of one each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import structlog

from connectors.clio import mapping
from connectors.clio.client import ClioClient, ClioForbidden, ClioNotFound
from core.connector import RemoteEntry, matter_of_group
from core.errors import AuthFailed, Fatal
from core.logging import per_record
from core.models import TimeEntry

ACTIVITY_FIELDS = (
    "id,etag,type,date,quantity,quantity_redacted,price,note,non_billable,billed,on_bill,matter{id},user{id},"
    "activity_description{id,utbms_task_id}"
)
# URLs stay short enough for any proxy with this many ids[] per request.
IDS_PER_REQUEST = 100
# What a lookup by marker reads of each activity; a listing that covers many entries' dates
# reads the date too, which bounds the unmarked fallback to each entry's own days.
LOOKUP_FIELDS = "id,note,user{id}"
GROUPED_LOOKUP_FIELDS = "id,date,note,user{id}"
# A day either side of a work date covers a date Clio shifted across midnight (docs/vendors/clio.md §4 item
# 10, UNCONFIRMED).
DATE_SLACK = timedelta(days=1)
UtbmsIndex = dict[tuple[str, str], tuple[tuple[int, int | None], ...]]


class ClioWriter:
    """core.connector.Writer for Clio activities."""

    def __init__(self, client: ClioClient, *, log: structlog.stdlib.BoundLogger | None = None) -> None:
        self._client = client
        self._log = log
        # Clio's UTBMS codes (docs/vendors/clio.md §3.15), read on first need and kept for this writer's life;
        # an empty index after a refused read means "write without codes".
        self._utbms: UtbmsIndex | None = None
        self._utbms_refused = False

    vendor = "Clio"  # core.connector.WritePace

    def requests_per_minute(self) -> int:
        """Clio's limit for the connected token: as its last answer said, else the documented 50."""
        return self._client.requests_per_minute()

    def requests_per_write(self, operation: str, *, unknown_outcome: bool = False) -> int:
        """A create is one POST; an update reads the activity first (GET, then PATCH with its etag).

        After a lost answer a create first looks for the entry (one list page, usually)."""
        cost = 2 if operation == "update" else 1
        return cost + (1 if unknown_outcome and operation != "update" else 0)

    def write_time_entry(self, entry: TimeEntry, key: str, *, billable: bool) -> str:
        """POST the entry once; returns the Clio activity id. Indeterminate means: look it up first."""
        utbms = self._utbms_ids(entry)
        body = self._body(lambda: mapping.time_entry_body(entry, key, billable=billable, utbms=utbms))
        created = self._client.create("activities", body, fields="id,etag")
        if created.get("id") is None:
            raise Fatal("POST activities: Clio answered without an id")
        if self._log is not None:
            self._log.debug("clio time entry created", entry=entry.id, remote_id=str(created["id"]))
        return str(created["id"])

    def find_time_entry(self, key: str, entry: TimeEntry) -> str | None:
        """The activity whose note carries this key's marker, or None.

        An entry approved through billsync lost its marker (a billable note may be printed on the
        client's bill): an activity of the entry's user with no marker at all whose note is the
        entry's narrative, word for word, is taken as that entry (billsync wrote those words; a
        store rebuilt from nothing finds it so). One whose note a person rewrote cannot be told
        from other work, and Clio keeps no other field on a time entry (docs/vendors/clio.md §3.1, §4 item 13).
        """
        listing = self._listing(entry.matter_id, entry.work_date, entry.work_date, fields=LOOKUP_FIELDS)
        return _matched(listing, [(key, entry)], dated=False).get(key)

    def find_time_entries(self, wanted: Sequence[tuple[str, TimeEntry]]) -> Mapping[str, str]:
        """core.connector.FindsManyEntries: one paged listing for one matter's wanted entries.

        The listing spans the entries' work dates (a day either side); each entry is matched
        exactly as find_time_entry matches it, the unmarked fallback within the entry's own days,
        and an unmarked activity is taken as one entry at most."""
        matter_id = matter_of_group(wanted)
        days = [entry.work_date for _, entry in wanted]
        listing = self._listing(matter_id, min(days), max(days), fields=GROUPED_LOOKUP_FIELDS)
        return _matched(listing, wanted, dated=True)

    def _listing(self, matter_id: str, first: date, last: date, *, fields: str) -> Iterable[list[dict[str, Any]]]:
        # The marker is matched exactly in the note. Clio's `query` is a wildcard text search
        # whose tokenising is undocumented, so it is not trusted to find "[bs:…]"; the entries'
        # matter and dates narrow the list instead (docs/vendors/clio.md §3.1 filters).
        params = {
            "type": "TimeEntry",
            "matter_id": matter_id,
            "start_date": (first - DATE_SLACK).isoformat(),
            "end_date": (last + DATE_SLACK).isoformat(),
        }
        return self._client.pages("activities", fields=fields, params=params)

    def update_time_entry(self, remote_id: str, entry: TimeEntry, *, billable: bool) -> None:
        """PATCH note, quantity, price and billability; an entry made billable loses the marker.

        The price is Clio's own as it stands: billsync's rate only ever comes from capture or from
        Clio, so a different price was typed by a person since the last reconcile, and it is kept
        (the next reconcile takes it as the entry's rate). Hidden by rate visibility, the entry's
        rate is sent. An entry moved to another matter in billsync (`billsync review edit
        --matter`) carries its new `matter{id}` (docs/vendors/clio.md §3.1) and the rate billsync found for
        that matter: the old matter's price does not follow it.
        """
        path = _activity_path(remote_id)
        current = self._client.get(path, fields="id,etag,note,price,billed,on_bill,matter")
        if current is None:  # no etag was sent, so a 304 cannot happen
            raise Fatal(f"GET {path}: unexpected 304")
        if current.get("billed") or current.get("on_bill"):
            # docs/vendors/clio.md §3.13: an activity on a bill is locked until the bill is voided or deleted.
            raise Fatal(f"Clio activity {remote_id} is on a bill and locked; void or delete the bill to change it")
        _, key_hash = mapping.split_note(current.get("note") if isinstance(current.get("note"), str) else None)
        if billable:
            # The marker only guards the create (its id is stored by now); a billable entry's note
            # may be printed on the client's bill, so it goes.
            key_hash = None
        utbms = self._utbms_ids(entry)
        held = mapping.matter_id_of(current.get("matter"))
        moved = held is not None and held != entry.matter_id
        price = None if moved else mapping.remote_price(current.get("price"))
        changes = self._body(
            lambda: mapping.time_entry_changes(
                entry, key_hash, billable=billable, utbms=utbms, price=price, matter=moved
            )
        )
        etag = current.get("etag") if isinstance(current.get("etag"), str) else None
        # If-Match: a person editing the entry meanwhile gives 412 (ClioConflict, retried later).
        self._client.update(path, changes, fields="id,etag", if_match=etag)

    def read_time_entries(
        self, remote_ids: Sequence[str], *, work_dates: tuple[date, date] | None = None
    ) -> Sequence[RemoteEntry]:
        """The current state of the given activities; a missing one is confirmed deleted by a 404.

        Clio reads by ids (`ids[]`), so the work-date window is not needed."""
        found: dict[str, RemoteEntry] = {}
        ids = list(dict.fromkeys(remote_ids))
        for remote_id in ids:
            _activity_path(remote_id)  # refuses anything that is not a Clio id before any request
        for start in range(0, len(ids), IDS_PER_REQUEST):
            params = {"ids[]": ids[start : start + IDS_PER_REQUEST]}
            for page in self._client.pages("activities", fields=ACTIVITY_FIELDS, params=params):
                for raw in page:
                    entry = self._remote(raw)
                    found[entry.remote_id] = entry
        result: list[RemoteEntry] = []
        for remote_id in ids:
            known = found.get(remote_id)
            result.append(known if known is not None else self._confirm(remote_id))
        return result

    def _confirm(self, remote_id: str) -> RemoteEntry:
        # Absent from a list can also mean "not visible to this user" (docs/vendors/clio.md §4 item 5): only
        # a 404 on the record itself makes it a deletion, since a deletion is a tombstone.
        try:
            raw = self._client.get(_activity_path(remote_id), fields=ACTIVITY_FIELDS)
        except ClioNotFound:
            return RemoteEntry.gone(remote_id)
        if raw is None:
            raise Fatal(f"GET activities/{remote_id}: unexpected 304")
        return self._remote(raw)

    def _remote(self, raw: dict[str, Any]) -> RemoteEntry:
        task_codes: dict[int, str] = {}
        if mapping.object_of(raw.get("activity_description")).get("utbms_task_id") is not None:
            # A UTBMS task code set on the entry (docs/vendors/clio.md §3.1) comes as Clio's id: read the codes once.
            if self._utbms is None:
                self._utbms = self._read_utbms()
            tasks = ((code, found) for (kind, code), found in self._utbms.items() if kind == "UtbmsTask")
            task_codes = {code_id: code for code, found in tasks for code_id, _ in found}
        try:
            return mapping.remote_entry(raw, task_codes)
        except mapping.MappingError as exc:
            # Redacted hours (docs/vendors/clio.md §4 item 4) need a user who may see them: a person must act.
            raise AuthFailed(f"{exc}; connect Clio as a user who can see activity hours") from None

    def _utbms_ids(self, entry: TimeEntry) -> dict[str, int]:
        """Clio's ids for the entry's UTBMS codes; a code Clio cannot take is left out and counted.

        Each left-out code is a DEBUG line and a count in the run's summary line (core.logging.per_record):
        a line per entry at INFO drowned the summaries (206 of them in one sync of the demo firm)."""
        if not (entry.task_code or entry.activity_code):
            return {}
        if not entry.category_id:
            # docs/vendors/clio.md §3.1: the codes are keys of the activity_description reference, next to its id.
            # Usual for work from other sources (documents, calendars); the e-billing rules flag
            # entries whose matter needs the codes, so this is information, not a warning.
            if self._log is not None:
                reason = "the entry has no activity category"
                per_record(self._log, "clio utbms codes left out", reason=reason, entry=entry.id)
            return {}
        if self._utbms is None:
            self._utbms = self._read_utbms()
        if self._utbms_refused:
            return {}  # warned once when the read was refused
        ids, problems = mapping.resolve_utbms(entry, self._utbms)
        for problem in problems:
            if self._log is not None:  # a code a person typed that Clio cannot take: worth a look
                per_record(self._log, "clio utbms code left out", reason=problem, warning=True, entry=entry.id)
        return ids

    def _read_utbms(self) -> UtbmsIndex:
        try:
            return mapping.utbms_index(self._client.utbms_codes())
        except (ClioForbidden, ClioNotFound) as exc:
            # The entry is still worth writing without codes; a person can add them in Clio.
            # Retryable and AuthFailed errors propagate: the write is tried again later.
            self._warn("clio utbms codes unreadable; entries are written without them", reason=type(exc).__name__)
            self._utbms_refused = True
            return {}

    def _warn(self, event: str, **fields: str) -> None:
        if self._log is not None:
            self._log.warning(event, **fields)

    def _body(self, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return build()
        except mapping.MappingError as exc:
            raise Fatal(f"cannot write to Clio: {exc}") from None


def _matched(
    listing: Iterable[list[dict[str, Any]]], wanted: Sequence[tuple[str, TimeEntry]], *, dated: bool
) -> dict[str, str]:
    """Key → activity id for each wanted (key, entry) the listing holds; the one matching rule.

    The activity whose note carries the key's marker, the first one listed; else the first listed
    activity with no marker whose note is the entry's narrative word for word, by the entry's user,
    within a day of its work date, and not already taken for another entry. A `dated` listing
    (one over many entries' dates) says each activity's date, checked here; otherwise the listing
    is the entry's own days. The listing is read only until every key has its marker match.
    """
    markers = {mapping.marker(key): key for key, _ in wanted}
    marked: dict[str, str] = {}
    unmarked: list[tuple[str, str, str, date | None]] = []  # (id, note, user id, date), listing order
    for page in listing:
        for activity in page:
            note, remote_id = activity.get("note"), activity.get("id")
            if not isinstance(note, str) or remote_id is None:
                continue
            key = next((markers[m] for m in markers if m in note), None)
            if key is not None:
                marked.setdefault(key, str(remote_id))
                continue
            user = str(mapping.object_of(activity.get("user")).get("id"))
            unmarked.append((str(remote_id), note.strip(), user, _day(activity.get("date"))))
        if len(marked) == len(markers):
            return marked
    found = dict(marked)
    taken: set[str] = set()
    for key, entry in wanted:
        narrative = mapping.split_note(entry.narrative)[0].strip()
        if key in found or not narrative:
            continue
        for remote_id, note, user, day in unmarked:
            near = not dated or (day is not None and abs(day - entry.work_date) <= DATE_SLACK)
            if remote_id not in taken and note == narrative and user == entry.timekeeper_id and near:
                found[key] = remote_id
                taken.add(remote_id)
                break
    return found


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _activity_path(remote_id: str) -> str:
    if not remote_id.isdigit():
        raise Fatal(f"{remote_id!r} is not a Clio activity id")
    return f"activities/{remote_id}"
