"""An in-memory collection of API records with ids, etags and timestamps."""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from billsync_sandboxes.kit.clock import Clock

RecordId = int | str
Record = dict[str, Any]


def iso_timestamp(when: datetime) -> str:
    """Format a time as an ISO-8601 timestamp with offset, at second precision."""
    return when.astimezone(UTC).isoformat(timespec="seconds")


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO-8601 timestamp or date; naive values are taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class RecordNotFound(KeyError):
    """No record has the requested id."""


class RecordCollection:
    """Records of one resource kept in id order, with etags that change on every write."""

    def __init__(self, name: str, clock: Clock, *, string_ids: bool = False) -> None:
        self.name = name
        self.string_ids = string_ids
        self._clock = clock
        self._records: dict[RecordId, Record] = {}
        self._next_id = 1
        self._version = 0
        self._lock = threading.RLock()

    def key(self, record_id: object) -> RecordId:
        """Normalise an id from a URL or body to the stored key type."""
        if isinstance(record_id, bool):
            raise RecordNotFound(record_id)
        if self.string_ids:
            return str(record_id)
        try:
            return int(str(record_id))
        except ValueError as exc:
            raise RecordNotFound(record_id) from exc

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, record_id: object) -> bool:
        try:
            return self.key(record_id) in self._records
        except RecordNotFound:
            return False

    def get(self, record_id: object) -> Record:
        """Return a copy of one record, or raise RecordNotFound."""
        with self._lock:
            return copy.deepcopy(self._stored(record_id))

    def find(self, record_id: object) -> Record | None:
        """Return a copy of one record, or None."""
        try:
            return self.get(record_id)
        except RecordNotFound:
            return None

    def peek(self, record_id: object) -> Record | None:
        """Return the stored record itself (read-only by convention), or None."""
        try:
            return self._stored(record_id)
        except RecordNotFound:
            return None

    def all(self) -> list[Record]:
        """Return the stored records in id order (read-only by convention)."""
        with self._lock:
            return [self._records[k] for k in sorted(self._records, key=id_sort_key)]

    def seed(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Load records, keeping any id, etag and timestamps they already carry."""
        for record in records:
            self.insert(record, keep_etag=True)

    def insert(self, record: Mapping[str, Any], *, keep_etag: bool = False) -> Record:
        """Add a record; assign id, etag, created_at and updated_at when missing."""
        with self._lock:
            stored: Record = copy.deepcopy(dict(record))
            if stored.get("id") is None:
                stored["id"] = self._allocate_id()
            else:
                stored["id"] = self.key(stored["id"])
                if stored["id"] in self._records:
                    raise ValueError(f"{self.name}: duplicate id {stored['id']!r}")
                self._bump_next_id(stored["id"])
            now = iso_timestamp(self._clock.now())
            stored.setdefault("created_at", now)
            stored.setdefault("updated_at", now)
            if not (keep_etag and stored.get("etag")):
                stored["etag"] = self._etag(stored)
            self._records[stored["id"]] = stored
            return copy.deepcopy(stored)

    def update(self, record_id: object, changes: Mapping[str, Any]) -> tuple[Record, Record]:
        """Apply changes; bump updated_at and the etag; return (before, after) copies."""
        with self._lock:
            stored = self._stored(record_id)
            before = copy.deepcopy(stored)
            for field, value in changes.items():
                if field not in ("id", "created_at"):
                    stored[field] = copy.deepcopy(value)
            stored["updated_at"] = iso_timestamp(self._clock.now())
            stored["etag"] = self._etag(stored)
            return before, copy.deepcopy(stored)

    def delete(self, record_id: object) -> Record:
        """Remove a record and return it."""
        with self._lock:
            stored = self._stored(record_id)
            del self._records[stored["id"]]
            return stored

    def _stored(self, record_id: object) -> Record:
        key = self.key(record_id)
        try:
            return self._records[key]
        except KeyError:
            raise RecordNotFound(record_id) from None

    def _allocate_id(self) -> RecordId:
        new_id = self._next_id
        self._next_id += 1
        return str(new_id) if self.string_ids else new_id

    def _bump_next_id(self, record_id: RecordId) -> None:
        numeric = _numeric(record_id)
        if numeric is not None and numeric >= self._next_id:
            self._next_id = numeric + 1

    def _etag(self, record: Mapping[str, Any]) -> str:
        # The version counter makes every write produce a fresh etag, even a no-op one.
        self._version += 1
        payload = json.dumps({k: v for k, v in record.items() if k != "etag"}, sort_keys=True, default=str)
        digest = hashlib.blake2b(f"{self.name}:{self._version}:{payload}".encode(), digest_size=16).hexdigest()
        return f'"{digest}"'


def _numeric(record_id: RecordId) -> int | None:
    if isinstance(record_id, int):
        return record_id
    return int(record_id) if record_id.isdigit() else None


def id_sort_key(record_id: RecordId) -> tuple[int, int, str]:
    """Order ids numerically where they are numbers (string ids included)."""
    numeric = _numeric(record_id)
    return (0, numeric, "") if numeric is not None else (1, 0, str(record_id))
