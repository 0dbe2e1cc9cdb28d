"""The streams billsync reads from PracticePanther, each an explicit class over one list endpoint.

Cursor: {"updated_since": ISO timestamp} (events add "ended_until"). PP has no webhooks
(docs/vendors/practicepanther.md §7), so every stream polls. Each read starts an overlap window before the stored
cursor, because `updated_since` may match strictly after the given time. Pages come in created_at order
($top/$skip, docs/vendors/practicepanther.md §4), not updated_at order, so only the last page of a walk advances the
cursor, to the highest updated_at seen; earlier pages repeat the starting cursor. A crash mid-walk
therefore re-reads, never skips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import structlog

from connectors.practicepanther import mapping
from connectors.practicepanther.client import PracticePantherClient
from core import paging
from core.connector import Cursor, Page, Record, StreamRole
from core.paging import PageWalk

DEFAULT_OVERLAP = timedelta(minutes=15)
# How far before the cursor to look for time entries that cover an activity (by their date).
COVER_LOOKBACK = timedelta(days=7)
# Events longer than this that ended since the last read may be missed by the second pass.
LONGEST_EVENT = timedelta(days=1)


class PracticePantherStream:
    """One PP list endpoint read incrementally by `updated_since`."""

    name: ClassVar[str]
    role: ClassVar[StreamRole]
    path: ClassVar[str]
    params: ClassVar[Mapping[str, str]] = {}
    server_filters: ClassVar[bool] = True  # False: the endpoint ignores filters (messages)

    def __init__(
        self,
        client: PracticePantherClient,
        *,
        overlap: timedelta = DEFAULT_OVERLAP,
        clock: Callable[[], datetime] | None = None,
        log: structlog.stdlib.BoundLogger | None = None,
    ) -> None:
        self._client = client
        self._overlap = overlap
        self._clock = clock or (lambda: datetime.now(UTC))
        self._log = log
        self._now = self._clock()

    def read(self, since: Cursor) -> Iterator[Page]:
        """Pages of records changed after `since` (less the overlap); the last page moves the cursor."""
        self._now = self._clock()
        start = cursor_time(since, "updated_since")
        floor = start - self._overlap if start is not None else None
        params = dict(self.params)
        if floor is not None and self.server_filters:
            params["updated_since"] = mapping.query_time(floor)
        self._prepare(start)
        walk = PageWalk(self.name, since, mapping.parse_timestamp, floor)
        yield from walk.pages(self._client.pages(self.path, params), self.map)
        yield from self._more(since, walk)
        self._summary(walk)
        yield walk.last(self._final_cursor(since, walk))

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """One PP record -> a core model, or None when it is not billsync's business."""
        raise NotImplementedError

    def _prepare(self, start: datetime | None) -> None:
        """Fetch what mapping needs before the walk (nothing by default)."""

    def _more(self, since: Cursor, walk: PageWalk) -> Iterator[Page]:
        """Further passes of the same read (none by default)."""
        yield from ()

    def _final_cursor(self, since: Cursor, walk: PageWalk) -> Cursor:
        return {**(since or {}), "updated_since": walk.newest.isoformat()} if walk.newest is not None else since

    def _summary(self, walk: PageWalk) -> None:
        # Counts only: never record content (subjects can be client-confidential).
        if self._log is not None:
            self._log.debug("practicepanther stream read", stream=self.name, **walk.counts)


def cursor_time(cursor: Cursor, key: str) -> datetime | None:
    """A timestamp from a cursor, or None when absent or unreadable."""
    return paging.cursor_time(cursor, key, mapping.parse_timestamp)


# -- reference streams --------------------------------------------------------------------------


class Users(PracticePantherStream):
    """PP users -> Timekeeper."""

    name = "users"
    role = StreamRole.REFERENCE
    path = "users"

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """A user -> Timekeeper."""
        return mapping.timekeeper(raw)


class Accounts(PracticePantherStream):
    """PP accounts -> Client."""

    name = "accounts"
    role = StreamRole.REFERENCE
    path = "accounts"

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """An account -> Client."""
        return mapping.client(raw)


class Matters(PracticePantherStream):
    """PP matters -> Matter."""

    name = "matters"
    role = StreamRole.REFERENCE
    path = "matters"

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """A matter -> Matter."""
        return mapping.matter(raw)


class Invoices(PracticePantherStream):
    """PP invoices -> RemoteBill: read-only copies for reconciliation and reports
    (docs/vendors/practicepanther.md §11)."""

    name = "invoices"
    role = StreamRole.BILLS
    path = "invoices"

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """An invoice -> RemoteBill."""
        return mapping.invoice(raw)


class Payments(PracticePantherStream):
    """PP payments -> RemotePayment: trust or operating by their bank account (docs/vendors/practicepanther.md §9)."""

    name = "payments"
    role = StreamRole.PAYMENTS
    path = "payments"

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """A payment -> RemotePayment."""
        return mapping.payment(raw)


# -- activity streams ---------------------------------------------------------------------------


class ActivityStream(PracticePantherStream):
    """An activity list; time entries are read first to mark activities already covered."""

    role = StreamRole.ACTIVITY
    _cover: mapping.CoverIndex

    def _prepare(self, start: datetime | None) -> None:
        params: dict[str, str] = {}
        if start is not None:
            params["date_from"] = mapping.query_time(start - self._overlap - COVER_LOOKBACK)
        entries = (entry for page in self._client.pages("timeentries", params) for entry in page)
        self._cover = mapping.cover_index(entries)

    def covered(self, raw: Mapping[str, Any], started: Any) -> bool:
        """Whether a time entry by the same user on the same matter and day names this subject."""
        return mapping.covered_by(raw, mapping.actor_of(raw), started, self._cover)


class CallLogs(ActivityStream):
    """Call logs -> calls (never the notes)."""

    name = "calllogs"
    path = "calllogs"

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """A call log -> Activity."""
        return mapping.call_activity(raw, self.covered(raw, raw.get("date")))


class Messages(ActivityStream):
    """Text messages sent by firm users -> SMS (never the body).

    /messages declares no filters (docs/vendors/practicepanther.md §9): every read walks the whole list and keeps what
    changed since the cursor (less the overlap) on this side.
    """

    name = "messages"
    path = "messages"
    server_filters = False

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """A sent text -> Activity, or None."""
        return mapping.message_activity(raw, self.covered(raw, raw.get("sent_date")))


class Emails(ActivityStream):
    """E-mails sent by firm users (the sender is a user's address) -> Activity (never the body)."""

    name = "emails"
    path = "emails"
    _users: dict[str, str]

    def _prepare(self, start: datetime | None) -> None:
        super()._prepare(start)
        users = (user for page in self._client.pages("users") for user in page)
        self._users = {
            str(u["email"]).lower(): str(u["id"]) for u in users if isinstance(u.get("email"), str) and u.get("id")
        }

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """A sent e-mail -> Activity, or None for mail from anyone else."""
        sender = mapping.email_activity(raw, self._users)
        if sender is None:
            return None
        covered = mapping.covered_by(raw, sender.actor, raw.get("date"), self._cover)
        return sender.model_copy(update={"covered_by_time_entry": covered})


class Events(ActivityStream):
    """Timed events that have ended -> Activity (never the notes).

    Ending does not update an event, so `updated_since` alone never brings it back: a second pass
    asks for events that started in the window that can hold events which ended since the last
    read (`date_from`/`date_to` on the start, docs/vendors/practicepanther.md §8); the cursor remembers that point as
    "ended_until".
    """

    name = "events"
    path = "events"

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """An ended event -> Activity, or None."""
        return mapping.event_activity(raw, self._now, self.covered(raw, raw.get("start_date_time")))

    def _more(self, since: Cursor, walk: PageWalk) -> Iterator[Page]:
        ended_from = cursor_time(since, "ended_until")
        if ended_from is None:
            return
        window = {
            "date_from": mapping.query_time(ended_from - self._overlap - LONGEST_EVENT),
            "date_to": mapping.query_time(self._now),
        }
        walk.floor = None  # this pass selects by date, not by change
        yield from walk.pages(self._client.pages(self.path, window), self.map)

    def _final_cursor(self, since: Cursor, walk: PageWalk) -> Cursor:
        ended_from = cursor_time(since, "ended_until")
        cursor: dict[str, str] = {"ended_until": max(self._now, ended_from or self._now).isoformat()}
        if walk.newest is not None:
            cursor["updated_since"] = walk.newest.isoformat()
        return cursor


class Tasks(ActivityStream):
    """Completed tasks -> Activity (never the notes). Completing a task updates it."""

    name = "tasks"
    path = "tasks"
    params: ClassVar[Mapping[str, str]] = {"status": "Completed"}

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """A completed task -> Activity."""
        return mapping.task_activity(raw, self.covered(raw, raw.get("updated_at")))


class Notes(ActivityStream):
    """Notes -> Activity (never the note text)."""

    name = "notes"
    path = "notes"

    def map(self, raw: Mapping[str, Any]) -> Record | None:
        """A note -> Activity."""
        return mapping.note_activity(raw, self.covered(raw, raw.get("date") or raw.get("created_at")))


STREAM_CLASSES: tuple[type[PracticePantherStream], ...] = (
    Users,
    Accounts,
    Matters,
    Invoices,
    Payments,
    CallLogs,
    Messages,
    Emails,
    Events,
    Tasks,
    Notes,
)
"""Reference streams first: activity mapping in core needs the timekeepers and matters."""
