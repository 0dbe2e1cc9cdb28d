"""The three activity streams: calendar events, sent mail, Teams calls.

Calendar and sent mail are delta rounds per mailbox (docs/vendors/microsoft365.md §4-5): follow nextLinks to a
deltaLink and keep only deltaLinks in the cursor, which is JSON with one entry per mailbox. A page
before the deltaLink repeats the starting cursor, so a crash mid-round re-reads, never skips. The
first page of every mailbox's round is read in $batch calls (one request per mailbox saved,
less one per 20). A 410 / syncStateNotFound starts that mailbox's round again from scratch.

Every stream also accepts {"updated_since": ISO} (a backfill): a fresh round from that date.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import structlog

from connectors.microsoft365 import mapping
from connectors.microsoft365.client import TENANT_WIDE, DeltaExpired, GraphClient, GraphNotFound, Json, error_code
from core.connector import Cursor, Page, Record, StreamRole
from core.errors import Fatal, Retryable
from core.paging import cursor_time

# How late a call record may appear after its call started (UNCONFIRMED: README). Re-listed
# records are skipped by id and version, so the overlap costs list pages, not lookups.
CALL_RECORD_OVERLAP = timedelta(days=1)
# Read from events and messages: never body, bodyPreview or uniqueBody (Mail.ReadBasic, §5).
MESSAGE_SELECT = (
    "id,subject,sentDateTime,createdDateTime,toRecipients,ccRecipients,bccRecipients,from,"
    "internetMessageId,categories,isDraft,parentFolderId"
)
EVENT_SELECT = (
    "id,subject,start,end,isAllDay,isCancelled,sensitivity,attendees,organizer,categories,responseStatus,showAs,type"
)
USER_SELECT = "id,userPrincipalName,mail,accountEnabled"
Clock = Callable[[], datetime]


def iso(moment: datetime) -> str:
    """UTC seconds precision with a Z, as Graph writes instants."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class MailboxDirectory:
    """The mailboxes followed (timekeepers' UPNs) and their Entra object ids, read once per instance."""

    REFRESH = timedelta(hours=1)  # people join and leave the firm: read the directory again hourly

    def __init__(self, client: GraphClient, configured: Sequence[str], clock: Clock) -> None:
        self._client = client
        self._configured = [m.strip().lower() for m in configured if m.strip()]
        self._clock = clock
        self._users: dict[str, str] | None = None  # object id -> mailbox
        self._read_at: datetime | None = None

    def mailboxes(self) -> list[str]:
        """The mailboxes to read: the configured ones, or every enabled user with a mailbox."""
        if self._configured:
            return list(self._configured)
        return sorted(set(self.users().values()))

    def users(self) -> dict[str, str]:
        """Entra object id -> mailbox of every followed user (call records name people by id)."""
        now = self._clock()
        if self._users is None or self._read_at is None or now - self._read_at >= self.REFRESH:
            self._users = self._read_users()
            self._read_at = now
        return self._users

    def _read_users(self) -> dict[str, str]:
        found: dict[str, str] = {}
        if self._configured:
            answers = self._client.batch(
                {
                    str(i): (TENANT_WIDE, f"users/{quote(m)}?$select={USER_SELECT}")
                    for i, m in enumerate(self._configured)
                }
            )
            for i, mailbox in enumerate(self._configured):
                user = answers[str(i)].body
                if answers[str(i)].status == 200 and user.get("id"):
                    found[str(user["id"])] = mailbox
            return found
        for page in self._client.pages("users", params={"$select": USER_SELECT}):
            for user in page.get("value") or []:
                principal = str(user.get("userPrincipalName") or "").lower()
                if user.get("accountEnabled") is not False and user.get("mail") and principal:
                    found[str(user["id"])] = principal
        return found


class _FirmActivityStream:
    """What every Graph activity stream is built with: the client, the firm's mailboxes, how far
    back a first read reaches, and the clock."""

    name: ClassVar[str]
    role: ClassVar[StreamRole] = StreamRole.ACTIVITY

    def __init__(
        self,
        client: GraphClient,
        directory: MailboxDirectory,
        *,
        lookback: timedelta,
        clock: Clock,
        log: structlog.stdlib.BoundLogger | None = None,
    ) -> None:
        self._client = client
        self._directory = directory
        self._lookback = lookback
        self._clock = clock
        self._log = log


class _MailboxDeltaStream(_FirmActivityStream):
    """A delta round per mailbox; subclasses say where a round starts and what an item becomes."""

    def read(self, since: Cursor) -> Iterator[Page]:
        """Pages of activities after `since`, mailbox by mailbox."""
        now = self._clock()
        backfill_from = cursor_time(since, "updated_since", lambda value, *_: mapping.parse_instant(value))
        known: dict[str, Any] = {}
        if since and backfill_from is None and isinstance(since.get("mailboxes"), Mapping):
            known = dict(since["mailboxes"])
        mailboxes = self._directory.mailboxes()
        state = {m: known[m] for m in mailboxes if isinstance(known.get(m), Mapping)}
        starts = {m: self._start(m, state.get(m), now, backfill_from) for m in mailboxes}
        firsts = self._client.batch({m: (m, url) for m, (url, _) in starts.items()})
        passing: list[str] = []  # mailboxes refused for now inside the batch (429, 5xx: Retryable)
        for mailbox in mailboxes:
            url, fresh = starts[mailbox]
            answer = firsts[mailbox]
            first: Json | None = answer.body
            if isinstance(answer.error, DeltaExpired):
                url, fresh = self._fresh(mailbox, now, backfill_from), True
                first = None
            elif isinstance(answer.error, Retryable):
                passing.append(f"{mailbox} ({answer.status})")
                continue
            elif answer.error is not None:
                problem = f"mailbox {mailbox}: HTTP {answer.status} {error_code(answer.body)}; skipped this cycle"
                yield Page(records=[], cursor=_cursor(state), errors=[problem])
                continue
            try:
                yield from self._round(mailbox, url, first=first, fresh=fresh, state=state, now=now)
            except DeltaExpired:
                # A token evicted mid-round (§4): the whole round again, from scratch.
                fresh_url = self._fresh(mailbox, now, backfill_from)
                yield from self._round(mailbox, fresh_url, first=None, fresh=True, state=state, now=now)
        if passing:
            # The other mailboxes' pages are stored; this poll stops here, so no later stream runs
            # ahead of these mailboxes (overlapping work then arrives in the same order as without
            # the failure), and the next poll reads them again from their cursors.
            raise Retryable(f"{self.name}: mailboxes {', '.join(passing)} to be read again next poll")

    def _round(
        self, mailbox: str, url: str, *, first: Json | None, fresh: bool, state: dict[str, Any], now: datetime
    ) -> Iterator[Page]:
        previous = _cursor(state)
        mine: dict[str, Any] = {} if fresh else dict(state.get(mailbox) or {})
        if fresh:
            mine.update(self._fresh_state(now))
        records: list[Record] = []
        errors: list[str] = []
        delta_link: str | None = None
        for body in self._client.pages(url, mailbox=mailbox, first=first):
            if records or errors:
                yield Page(records=records, cursor=previous, errors=errors)
                records, errors = [], []
            for item in body.get("value") or []:
                if not isinstance(item, Mapping) or not item.get("id"):
                    continue
                try:
                    record = self._item(mailbox, item, mine, now)
                except (ValueError, KeyError) as exc:
                    errors.append(f"{self.name} {mailbox} {str(item.get('id'))[:24]}: {exc}")
                    continue
                if record is not None:
                    records.append(record)
            link = body.get("@odata.deltaLink")
            delta_link = link if isinstance(link, str) else delta_link
        records.extend(self._after_round(mailbox, mine, now, errors))
        if delta_link is None:
            raise Fatal(f"{self.name} {mailbox}: the delta round ended without a deltaLink")
        mine["delta"] = delta_link
        state[mailbox] = mine
        yield Page(records=records, cursor=_cursor(state), errors=errors)

    def _start(
        self, mailbox: str, known: Mapping[str, Any] | None, now: datetime, backfill_from: datetime | None
    ) -> tuple[str, bool]:
        if backfill_from is None and known and isinstance(known.get("delta"), str) and self._still_usable(known, now):
            return str(known["delta"]), False
        return self._fresh(mailbox, now, backfill_from), True

    # Subclass hooks -------------------------------------------------------------------------------

    def _fresh(self, mailbox: str, now: datetime, backfill_from: datetime | None) -> str:
        raise NotImplementedError

    def _fresh_state(self, now: datetime) -> dict[str, Any]:
        return {}

    def _still_usable(self, known: Mapping[str, Any], now: datetime) -> bool:
        return True

    def _item(self, mailbox: str, item: Mapping[str, Any], mine: dict[str, Any], now: datetime) -> Record | None:
        raise NotImplementedError

    def _after_round(self, mailbox: str, mine: dict[str, Any], now: datetime, errors: list[str]) -> list[Record]:
        return []


class CalendarEvents(_MailboxDeltaStream):
    """Ended meetings from each mailbox's primary calendar (calendarView/delta).

    A delta round is tied to the window it started with (§4), so a round covers
    [now - lookback, now + horizon] and a fresh round starts when half the horizon has passed.
    Meetings seen before they end wait in the cursor ("pending") and are read again once over.
    """

    name: ClassVar[str] = "calendar_events"

    def __init__(
        self,
        client: GraphClient,
        directory: MailboxDirectory,
        *,
        lookback: timedelta,
        horizon: timedelta,
        clock: Clock,
        log: structlog.stdlib.BoundLogger | None = None,
    ) -> None:
        super().__init__(client, directory, lookback=lookback, clock=clock, log=log)
        self._horizon = horizon

    def _fresh(self, mailbox: str, now: datetime, backfill_from: datetime | None) -> str:
        start = backfill_from or now - self._lookback
        query = urlencode({"startDateTime": iso(start), "endDateTime": iso(now + self._horizon)})
        return f"users/{quote(mailbox)}/calendarView/delta?{query}"

    def _fresh_state(self, now: datetime) -> dict[str, Any]:
        return {"window_end": iso(now + self._horizon), "pending": {}}

    def _still_usable(self, known: Mapping[str, Any], now: datetime) -> bool:
        try:
            window_end = mapping.parse_instant(known.get("window_end"))
        except ValueError:
            return False
        return now < window_end - self._horizon / 2

    def _item(self, mailbox: str, item: Mapping[str, Any], mine: dict[str, Any], now: datetime) -> Record | None:
        pending: dict[str, str] = dict(mine.get("pending") or {})
        event_id = str(item["id"])
        pending.pop(event_id, None)
        mine["pending"] = pending
        if "@removed" in item:
            return None  # deleted, or out of the window: an activity already read stays (README)
        activity = mapping.event_activity(item, mailbox, now)
        if activity is None and mapping.event_is_billable_shape(item, mailbox):
            pending[event_id] = iso(mapping.event_end(item))  # not over yet
        return activity

    def _after_round(self, mailbox: str, mine: dict[str, Any], now: datetime, errors: list[str]) -> list[Record]:
        pending: dict[str, str] = dict(mine.get("pending") or {})
        due = [event_id for event_id, end in pending.items() if mapping.parse_instant(end) <= now]
        if not due:
            return []
        answers = self._client.batch(
            {
                event_id: (mailbox, f"users/{quote(mailbox)}/events/{quote(event_id)}?$select={EVENT_SELECT}")
                for event_id in due
            }
        )
        found: list[Record] = []
        for event_id in due:
            answer = answers[event_id]
            if answer.status == 200:
                try:
                    activity = mapping.event_activity(answer.body, mailbox, now)
                except (ValueError, KeyError) as exc:
                    errors.append(f"{self.name} {mailbox} {event_id[:24]}: {exc}")
                    activity = None
                if activity is not None:
                    found.append(activity)
                elif mapping.event_is_billable_shape(answer.body, mailbox) and answer.body.get("end"):
                    pending[event_id] = iso(mapping.event_end(answer.body))  # moved later: wait again
                    continue
            elif not isinstance(answer.error, (GraphNotFound, DeltaExpired)):  # 404 or 410: the event is gone
                errors.append(f"{self.name} {mailbox} {event_id[:24]}: HTTP {answer.status}; will retry")
                continue
            pending.pop(event_id, None)
        mine["pending"] = pending
        return found


class SentMail(_MailboxDeltaStream):
    """Messages in each mailbox's Sent Items (mailFolders/sentitems/messages/delta, §5)."""

    name: ClassVar[str] = "sent_mail"

    def _fresh(self, mailbox: str, now: datetime, backfill_from: datetime | None) -> str:
        start = backfill_from or now - self._lookback
        # The only filter a message delta takes; it caps the round at 5,000 messages (§5).
        query = urlencode({"$select": MESSAGE_SELECT, "$filter": f"receivedDateTime ge {iso(start)}"})
        return f"users/{quote(mailbox)}/mailFolders/sentitems/messages/delta?{query}"

    def _item(self, mailbox: str, item: Mapping[str, Any], mine: dict[str, Any], now: datetime) -> Record | None:
        if "@removed" in item:
            return None
        return mapping.message_activity(item, mailbox)


class TeamsCalls(_FirmActivityStream):
    """Teams call records (GET /communications/callRecords, §6), kept 30 days by Microsoft.

    The list has no delta: it is filtered on startDateTime from a day before the newest call
    seen, records already read (same id and version) are skipped, and participants are read
    for the rest in $batch calls (the list omits them).

    The first read reaches back the configured lookback and Graph answers with what it still keeps:
    the floor is not cut at 30 days by billsync's own clock, so a tenant whose clock stands
    elsewhere (the demo's, at its month's end) is not asked for less than it has.
    """

    name: ClassVar[str] = "teams_calls"

    def read(self, since: Cursor) -> Iterator[Page]:
        """Pages of call activities for the firm's users."""
        now = self._clock()
        parse = lambda value, *_: mapping.parse_instant(value)  # noqa: E731
        backfill_from = cursor_time(since, "updated_since", parse)
        newest = None if backfill_from is not None else cursor_time(since, "newest_start", parse)
        seen: dict[str, list[Any]] = {}
        if since and backfill_from is None and isinstance(since.get("seen"), Mapping):
            seen = {str(k): list(v) for k, v in since["seen"].items() if isinstance(v, list) and len(v) == 2}
        floor = backfill_from or (newest - CALL_RECORD_OVERLAP if newest else now - self._lookback)
        start_cursor = since if backfill_from is None else None
        users = self._directory.users()
        held: Page | None = None
        retry_from: datetime | None = None  # the earliest call whose participants must be read again
        params = {"$filter": f"startDateTime ge {iso(floor)}"}
        for body in self._client.pages("communications/callRecords", params=params):
            if held is not None:
                yield held
            fresh = [
                r
                for r in body.get("value") or []
                if isinstance(r, Mapping) and r.get("id") and seen.get(str(r["id"]), [None])[0] != r.get("version")
            ]
            records, errors, retry = self._map(fresh, users)
            for record in fresh:
                start = str(record.get("startDateTime") or "")
                try:
                    moment: datetime | None = mapping.parse_instant(start)
                except ValueError:
                    moment = None
                if str(record["id"]) in retry:
                    # Its participants could not be read now (a 429 or 5xx inside the batch): it is
                    # not marked seen, and the cursor stays early enough to list it again.
                    retry_from = moment if retry_from is None or (moment and moment < retry_from) else retry_from
                    continue
                seen[str(record["id"])] = [record.get("version"), start]
                if moment is not None:
                    newest = moment if newest is None or moment > newest else newest
            held = Page(records=records, cursor=start_cursor, errors=errors)
        if retry_from is not None and newest is not None:
            newest = min(newest, retry_from + CALL_RECORD_OVERLAP - timedelta(seconds=1))
        cursor = self._cursor(newest, seen)
        yield Page(records=held.records if held else [], cursor=cursor, errors=held.errors if held else [])

    def _map(
        self, records: list[Mapping[str, Any]], users: Mapping[str, str]
    ) -> tuple[list[Record], list[str], set[str]]:
        """Activities, per-record problems, and the ids to read again later (a passing failure)."""
        if not records:
            return [], [], set()
        answers = self._client.batch(
            {
                str(r["id"]): (TENANT_WIDE, f"communications/callRecords/{quote(str(r['id']))}/participants_v2")
                for r in records
            }
        )
        found: list[Record] = []
        errors: list[str] = []
        retry: set[str] = set()
        for record in records:
            answer = answers[str(record["id"])]
            if answer.status != 200:
                errors.append(f"teams call {str(record['id'])[:24]}: participants HTTP {answer.status}")
                if isinstance(answer.error, Retryable):
                    retry.add(str(record["id"]))
                continue
            participants = [p for page in self._client.pages("", first=answer.body) for p in page.get("value") or []]
            try:
                found.extend(mapping.call_activities(record, participants, users))
            except (ValueError, KeyError) as exc:
                errors.append(f"teams call {str(record['id'])[:24]}: {exc}")
        return found, errors, retry

    @staticmethod
    def _cursor(newest: datetime | None, seen: Mapping[str, list[Any]]) -> Cursor:
        if newest is None:
            return None
        # The next read lists from a day before the newest call: only those need remembering.
        keep_from = newest - CALL_RECORD_OVERLAP
        kept = {k: v for k, v in seen.items() if _start_or_min(v[1]) >= keep_from}
        return {"newest_start": iso(newest), "seen": kept}


def _start_or_min(value: Any) -> datetime:
    try:
        return mapping.parse_instant(value)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def _cursor(state: Mapping[str, Any]) -> Cursor:
    return {"mailboxes": {m: dict(v) for m, v in sorted(state.items())}} if state else None
