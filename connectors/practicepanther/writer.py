"""Writes billsync's time entries to PracticePanther, exactly once per key.

PP has no idempotency key, so the entry's private notes (internal only, never on the client's
invoice, pp.md §9) carry a marker `[bs:<hash of the key>]`. A POST is never re-sent blindly
(core.http raises Indeterminate when its outcome is unknown); core then calls find_time_entry,
which looks for the marker before anything is sent again. Updates GET, merge and PUT the whole
record, since PUT is a full replace (pp.md §3).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

import structlog

from connectors.practicepanther import mapping
from connectors.practicepanther.client import PPNotFound, PracticePantherClient
from core.connector import RemoteEntry
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
            self._log.debug("practicepanther time entry created", entry=entry.id, ref=created["id"])
        return str(created["id"])

    def find_time_entry(self, key: str, entry: TimeEntry) -> str | None:
        """The time entry whose private notes carry this key's marker, or None."""
        wanted = mapping.marker(key)
        # The user and matter narrow the list (pp.md §8: the filter is user_id); a day either
        # side covers a date PP shifted across midnight (pp.md §3, zone UNCONFIRMED).
        day = datetime.combine(entry.work_date, time(0), tzinfo=UTC)
        params = {
            "matter_id": entry.matter_id,
            "user_id": entry.timekeeper_id,
            "date_from": mapping.query_time(day - timedelta(days=1)),
            "date_to": mapping.query_time(day + timedelta(days=2)),
        }
        for page in self._client.pages(PATH, params):
            for raw in page:
                notes = raw.get("private_notes")
                if isinstance(notes, str) and wanted in notes and isinstance(raw.get("id"), str):
                    return str(raw["id"])
        return None

    def update_time_entry(self, ref: str, entry: TimeEntry, *, billable: bool) -> None:
        """GET, merge billsync's fields into the whole record, PUT it back (pp.md §3)."""
        current = self._client.get(PATH, _checked(ref))
        if current.get("is_billed") is True:
            raise Fatal(f"PracticePanther time entry {ref} is billed; change it in PracticePanther")
        body = _built(lambda: mapping.merged_time_entry(current, entry, billable=billable))
        self._client.replace(PATH, ref, body)

    def read_time_entries(self, refs: Sequence[str]) -> Sequence[RemoteEntry]:
        """The current state of the given entries; a 404 means deleted."""
        result: list[RemoteEntry] = []
        for ref in dict.fromkeys(refs):
            try:
                raw = self._client.get(PATH, _checked(ref))
            except PPNotFound:
                result.append(
                    RemoteEntry(
                        ref=ref,
                        idempotency_key=None,
                        narrative="",
                        billed_seconds=0,
                        matter_id="",
                        billable=False,
                        deleted=True,
                    )
                )
                continue
            result.append(_remote(raw))
        return result


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


def _checked(ref: str) -> str:
    try:
        uuid.UUID(ref)
    except ValueError:
        raise Fatal(f"{ref!r} is not a PracticePanther id (a UUID)") from None
    return ref
