"""Walking a vendor's list pages into core Pages: the part every connector's streams share.

Pages of an `updated_since` read come in id order, not updated_at order, so only the last page of
a walk may advance the cursor (to the newest updated_at seen); earlier pages repeat the starting
cursor. A crash mid-walk therefore re-reads, never skips. Each page is held back until the next
one arrives, so the walk knows which page is the last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from core.connector import Cursor, Page, Record

Parse = Callable[..., datetime]  # a vendor's timestamp parser: (value[, field name]) -> aware datetime


def cursor_time(cursor: Cursor, key: str, parse: Parse) -> datetime | None:
    """A timestamp from a cursor, or None when absent or unreadable."""
    if not cursor or not isinstance(cursor.get(key), str):
        return None
    try:
        return parse(cursor[key], key)
    except ValueError:
        return None


class PageWalk:
    """Maps pages, collects per-record errors, skips records met twice, tracks the newest change."""

    def __init__(self, stream: str, since: Cursor, parse: Parse, floor: datetime | None = None) -> None:
        self._stream = stream
        self._since = since  # repeated verbatim on every page but the last
        self._parse = parse
        self.floor = floor  # records not updated after this are old news (for vendors without a filter)
        self.newest = cursor_time(since, "updated_since", parse)
        self._held: tuple[list[Record], list[str]] | None = None
        self._seen: set[str] = set()
        self.counts = {"records": 0, "skipped": 0, "errors": 0}

    def pages(
        self, raw_pages: Iterator[list[dict[str, Any]]], map_one: Callable[[Mapping[str, Any]], Record | None]
    ) -> Iterator[Page]:
        """Every page but the last, each with the starting cursor."""
        for raw_page in raw_pages:
            if self._held is not None:
                records, errors = self._held
                yield Page(records=records, cursor=self._since, errors=errors)
            self._held = self._map_page(raw_page, map_one)

    def last(self, cursor: Cursor) -> Page:
        """The held-back last page, with the cursor the whole walk earned."""
        records, errors = self._held or ([], [])
        self._held = None
        return Page(records=records, cursor=cursor, errors=errors)

    def continue_from(self, other: PageWalk) -> None:
        """Carry a finished walk's state into this one (two passes, one read)."""
        self.newest = other.newest
        self._seen = other._seen
        self._held = other._held
        self.counts = other.counts
        other._held = None

    def _map_page(
        self, raw_page: list[dict[str, Any]], map_one: Callable[[Mapping[str, Any]], Record | None]
    ) -> tuple[list[Record], list[str]]:
        records: list[Record] = []
        errors: list[str] = []
        for raw in raw_page:
            label = f"{self._stream} {raw.get('id')}"
            key = str(raw.get("id"))
            if key in self._seen:
                continue  # a second pass, or offset paging while records are inserted, meets it again
            self._seen.add(key)
            try:
                updated = self._parse(raw.get("updated_at"))
                if self.floor is not None and updated <= self.floor:
                    self.counts["skipped"] += 1
                    continue
                if self.newest is None or updated > self.newest:
                    self.newest = updated
                record = map_one(raw)
            except ValueError as exc:  # a vendor's mapping error and pydantic's ValidationError
                errors.append(f"{label}: {exc}")
                self.counts["errors"] += 1
                continue
            if record is not None:
                records.append(record)
            self.counts["records" if record is not None else "skipped"] += 1
        return records, errors
