"""Writes billsync's time entries to PracticePanther, exactly once per key.

PP has no idempotency key, so the entry's private notes (internal only, never on the client's
invoice, docs/vendors/practicepanther.md §9) carry a marker `[bs:<hash of the key>]`. A POST is never re-sent blindly
(core.http raises Indeterminate when its outcome is unknown); core then calls find_time_entry,
which looks for the marker before anything is sent again; entries an earlier store may have
written are looked for in groups (find_time_entries): core asks for one matter's at a time, and
they are found with one listing. Updates GET, merge and PUT the whole record, since PUT is a
full replace (docs/vendors/practicepanther.md §3).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import structlog

from connectors.practicepanther import mapping
from connectors.practicepanther.client import PracticePantherClient, PracticePantherNotFound
from core.connector import RemoteEntry, matter_of_group
from core.errors import Fatal
from core.models import TimeEntry

PATH = "timeentries"


class PracticePantherWriter:
    """core.connector.Writer for PP time entries."""

    def __init__(self, client: PracticePantherClient, *, log: structlog.stdlib.BoundLogger | None = None) -> None:
        self._client = client
        self._log = log

    def write_time_entry(self, entry: TimeEntry, key: str, *, billable: bool) -> str:
        """POST the entry once; returns PP's id. Indeterminate means: look it up first."""
        body = _built(lambda: mapping.time_entry_body(entry, key, billable=billable))
        created = self._client.create(PATH, body)
        if not isinstance(created.get("id"), str):
            raise Fatal("POST timeentries: PracticePanther answered without an id")
        if self._log is not None:
            self._log.debug("practicepanther time entry created", entry=entry.id, remote_id=created["id"])
        return str(created["id"])

    def find_time_entry(self, key: str, entry: TimeEntry) -> str | None:
        """The time entry whose private notes carry this key's marker, or None."""
        # The user and matter narrow the list (docs/vendors/practicepanther.md §8: the filter is user_id).
        day = entry.work_date
        listing = self._listing(day, day, matter_id=entry.matter_id, user_id=entry.timekeeper_id)
        return _matched(listing, [key]).get(key)

    def find_time_entries(self, wanted: Sequence[tuple[str, TimeEntry]]) -> Mapping[str, str]:
        """core.connector.FindsManyEntries: one listing of one matter's entries (every user's,
        docs/vendors/practicepanther.md §8 filters) over the wanted work dates, matched by marker as find_time_entry
        matches."""
        matter_id = matter_of_group(wanted)
        days = [entry.work_date for _, entry in wanted]
        return _matched(self._listing(min(days), max(days), matter_id=matter_id), [key for key, _ in wanted])

    def _listing(self, first: date, last: date, **filters: str) -> Iterable[list[dict[str, Any]]]:
        # A day either side covers a date PP shifted across midnight (docs/vendors/practicepanther.md §3, zone
        # UNCONFIRMED); date_to is a moment, so the last day's end is the next day's start.
        start = datetime.combine(first, time(0), tzinfo=UTC) - timedelta(days=1)
        end = datetime.combine(last, time(0), tzinfo=UTC) + timedelta(days=2)
        params = {**filters, "date_from": mapping.query_time(start), "date_to": mapping.query_time(end)}
        return self._client.pages(PATH, params)

    def update_time_entry(self, remote_id: str, entry: TimeEntry, *, billable: bool) -> None:
        """GET, merge billsync's fields into the whole record, PUT it back (docs/vendors/practicepanther.md §3)."""
        current = self._client.get(PATH, _checked(remote_id))
        if current.get("is_billed") is True:
            raise Fatal(f"PracticePanther time entry {remote_id} is billed; change it in PracticePanther")
        body = _built(lambda: mapping.merged_time_entry(current, entry, billable=billable))
        self._client.replace(PATH, remote_id, body)

    def read_time_entries(
        self, remote_ids: Sequence[str], *, work_dates: tuple[date, date] | None = None
    ) -> Sequence[RemoteEntry]:
        """The current state of the given entries, found by an id scan; a 404 confirms a deletion.

        PP has no webhooks and no read-by-ids call (docs/vendors/practicepanther.md §7, §8), so deletions are found by
        scanning: one list walk over the entries' work-date window (a day of margin either side,
        for dates PP shifts across midnight) finds every entry still there. Only the ids the
        scan did not see are asked for one by one, and only a 404 makes one a deletion: absent
        from a list could also mean not visible to this user.
        """
        wanted = list(dict.fromkeys(_checked(remote_id) for remote_id in remote_ids))
        found: dict[str, RemoteEntry] = {}
        if work_dates is not None and len(wanted) > 1:
            first, last = work_dates
            window = {
                "date_from": mapping.query_time(datetime.combine(first, time(0), tzinfo=UTC) - timedelta(days=1)),
                "date_to": mapping.query_time(datetime.combine(last, time(0), tzinfo=UTC) + timedelta(days=2)),
            }
            want = set(wanted)
            for page in self._client.pages(PATH, window):
                for raw in page:
                    if raw.get("id") in want:
                        found[str(raw["id"])] = _remote(raw)
        return [found.get(remote_id) or self._read_one(remote_id) for remote_id in wanted]

    def _read_one(self, remote_id: str) -> RemoteEntry:
        try:
            return _remote(self._client.get(PATH, remote_id))
        except PracticePantherNotFound:
            return RemoteEntry.gone(remote_id)


def _matched(listing: Iterable[list[dict[str, Any]]], keys: Sequence[str]) -> dict[str, str]:
    """Key → PP id of the first listed time entry whose private notes carry the key's marker."""
    markers = {mapping.marker(key): key for key in keys}
    found: dict[str, str] = {}
    for page in listing:
        for raw in page:
            notes, remote_id = raw.get("private_notes"), raw.get("id")
            if isinstance(notes, str) and isinstance(remote_id, str):
                for marker in (m for m in markers if m in notes):
                    found.setdefault(markers[marker], remote_id)
        if len(found) == len(markers):
            break
    return found


def _built(build: Callable[[], Any]) -> Any:
    try:
        return build()
    except mapping.MappingError as exc:
        raise Fatal(f"PracticePanther time entry: {exc}") from None


def _remote(raw: dict[str, Any]) -> RemoteEntry:
    try:
        return mapping.remote_entry(raw)
    except mapping.MappingError as exc:
        raise Fatal(f"PracticePanther time entry: {exc}") from None


def _checked(remote_id: str) -> str:
    try:
        uuid.UUID(remote_id)
    except ValueError:
        raise Fatal(f"{remote_id!r} is not a PracticePanther id (a UUID)") from None
    return remote_id
