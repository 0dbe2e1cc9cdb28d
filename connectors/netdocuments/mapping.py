"""NetDocuments JSON -> billsync's core models. Pure functions; no HTTP.

The repository log says who did what to which document and when (docs/vendors/netdocuments.md §6). Three kinds of
event are authoring work (create, edit, new version); everything else (views, downloads,
profile edits, system jobs) is not billable and is dropped here. A burst of edits to one
document by one user becomes one activity per coalescing window.

Coalescing is stable across polls because the window an event belongs to is a function of the
event alone: windows are fixed, aligned to the Unix epoch, so the activity's external_id
(document, user, window start) comes out the same whichever read sees the event, and however
reads split a burst. Document contents never reach this module; titles are document names.
Vendor facts are cited as "docs/vendors/netdocuments.md §n".
"""

from __future__ import annotations

import enum
import json
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.models import Activity, ActivityKind

SOURCE = "netdocuments"
BOM = "\ufeff"
MAX_TITLE = 500
WORKSPACE_FIELDS = frozenset({"client", "matter"})


class MappingError(ValueError):
    """A NetDocuments answer billsync cannot use; the message is safe to show (no content)."""


class Action(enum.IntEnum):
    """Authoring work on a document; a window holding several is named by the strongest."""

    REVISED = 1
    NEW_VERSION = 2
    CREATED = 3

    @property
    def label(self) -> str:
        """The verb that starts the activity's title."""
        return {Action.CREATED: "Created", Action.NEW_VERSION: "New version", Action.REVISED: "Revised"}[self]


# docs/vendors/netdocuments.md §6/§11: the list of log event names is UNCONFIRMED. These are the UI history's actions
# (docs/vendors/netdocuments.md §6 "Per-document history") that change a document's content, compared case- and
# space-insensitively. Anything else (view, open, download, print, edit profile, move, ...) is
# not authoring work and is ignored.
AUTHORING_EVENTS: Mapping[str, Action] = {
    "create": Action.CREATED,
    "created": Action.CREATED,
    "edit": Action.REVISED,
    "edit content": Action.REVISED,
    "edited": Action.REVISED,
    "check in": Action.REVISED,  # a checked-out copy edited elsewhere comes back: content changed
    "new version": Action.NEW_VERSION,
}


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One entry of the repository log, with only the fields billsync uses (never `desc`)."""

    at: datetime
    name: str
    user_id: str
    user_email: str
    doc_id: str
    doc_name: str

    @property
    def key(self) -> tuple[str, ...]:
        """The log has no event id (docs/vendors/netdocuments.md §6): events are the same when all of this is."""
        return (self.at.isoformat(), self.name, self.user_id, self.user_email, self.doc_id)


@dataclass(frozen=True, slots=True)
class Burst:
    """The authoring events of one user on one document within one coalescing window."""

    doc_id: str
    user_key: str
    actor: str
    window_start: datetime
    window_end: datetime
    first: datetime
    last: datetime
    action: Action
    doc_name: str

    @property
    def external_id(self) -> str:
        """Stable across polls: the window start is the event time floored to a fixed grid."""
        return f"{self.doc_id}|{self.user_key}|{self.window_start:%Y-%m-%dT%H:%M:%SZ}"


# -- the log response ------------------------------------------------------------------------


def parse_log_body(raw: bytes) -> list[dict[str, Any]]:
    """The log's JSON array; a leading UTF-8 byte-order mark is stripped first (docs/vendors/netdocuments.md §6)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MappingError("the repository log is not UTF-8") from None
    text = text.removeprefix(BOM).strip()
    if not text:
        return []  # an empty body is an empty log, not an error
    try:
        body = json.loads(text)
    except ValueError:
        raise MappingError("the repository log is not JSON") from None
    if not isinstance(body, list):
        raise MappingError("the repository log is not a JSON array")
    return [item for item in body if isinstance(item, dict)]


def parse_time(value: Any, name: str = "date") -> datetime:
    """A NetDocuments timestamp: UTC, `%Y-%m-%dT%H:%M:%S` without a zone (docs/vendors/netdocuments.md §6)."""
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{name} is missing")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise MappingError(f"{name} is not a timestamp") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def query_time(when: datetime) -> str:
    """`yyyy-MM-ddThh:mm:ssZ`, the log's `start`/`end` form (docs/vendors/netdocuments.md §4)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def log_event(item: Mapping[str, Any]) -> LogEvent:
    """One `{"activity": {...}}` element -> LogEvent (raises MappingError)."""
    activity = item.get("activity")
    if not isinstance(activity, Mapping):
        raise MappingError("a log entry without an activity object")
    user = activity.get("user") if isinstance(activity.get("user"), Mapping) else {}
    stored = activity.get("storageObject") if isinstance(activity.get("storageObject"), Mapping) else {}
    assert isinstance(user, Mapping) and isinstance(stored, Mapping)
    return LogEvent(
        at=parse_time(activity.get("date")),
        name=_text(activity.get("name")),
        user_id=_text(user.get("id") or user.get("guid")),
        user_email=_text(user.get("email")).lower(),
        doc_id=_text(stored.get("docId")),
        doc_name=_text(stored.get("name")),
    )


def action_of(event_name: str) -> Action | None:
    """The authoring action an event name stands for, or None for anything else."""
    return AUTHORING_EVENTS.get(" ".join(event_name.replace("_", " ").lower().split()))


# -- coalescing ------------------------------------------------------------------------------


def window_start(at: datetime, window: timedelta) -> datetime:
    """The start of the fixed window holding `at`: the epoch grid, so every poll agrees."""
    size = int(window.total_seconds())
    if size <= 0:
        raise ValueError("the coalescing window must be positive")
    seconds = int(at.timestamp())
    return datetime.fromtimestamp(seconds - seconds % size, tz=UTC)


def align_read_start(since: datetime, overlap: timedelta, window: timedelta) -> datetime:
    """Where a read begins: the overlap before the cursor, floored to a window start.

    Flooring means every window a read touches is read whole, so a window read again (in the
    overlap) gives the very same activity, not a shorter one with a later start.
    """
    return window_start(since - overlap, window)


@dataclass(frozen=True, slots=True)
class FirmUser:
    """A repository member who is not an external user (docs/vendors/netdocuments.md §4 Repository users)."""

    id: str
    email: str


def coalesce(
    events: Iterable[LogEvent], users: Mapping[str, FirmUser], window: timedelta
) -> tuple[list[Burst], dict[str, int]]:
    """Authoring events by firm users, grouped per (document, user, window); and what was dropped.

    `users` maps both ND user ids and lower-cased e-mails to the firm user. Returns bursts in
    window order and counts by reason (never content) for the summary log line.
    """
    dropped = {"not_authoring": 0, "not_firm_user": 0, "no_document": 0}
    grouped: dict[tuple[str, str, datetime], list[tuple[LogEvent, Action]]] = {}
    for event in events:
        action = action_of(event.name)
        if action is None:
            dropped["not_authoring"] += 1
            continue
        user = users.get(event.user_id) or users.get(event.user_email)
        if user is None:
            dropped["not_firm_user"] += 1  # system jobs, external users, unknown ids
            continue
        if not event.doc_id:
            dropped["no_document"] += 1
            continue
        key = (event.doc_id, user.id, window_start(event.at, window))
        grouped.setdefault(key, []).append((event, action))
    bursts = []
    for (doc_id, user_id, start), members in grouped.items():
        members.sort(key=lambda pair: pair[0].at)
        actor = users[user_id].email or user_id
        named = [e.doc_name for e, _ in members if e.doc_name]
        bursts.append(
            Burst(
                doc_id=doc_id,
                user_key=user_id,
                actor=actor,
                window_start=start,
                window_end=start + window,
                first=members[0][0].at,
                last=members[-1][0].at,
                action=max(action for _, action in members),
                doc_name=named[-1] if named else "",  # the name as the work ended
            )
        )
    bursts.sort(key=lambda b: (b.window_start, b.first, b.doc_id, b.user_key))
    return bursts, dropped


# -- the document profile: client and matter -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Profile:
    """What billsync reads from a document's profile: its name, cabinet and custom attributes."""

    name: str
    cabinet: str
    attributes: Mapping[int, str]


def profile(info: Mapping[str, Any]) -> Profile:
    """`GET /v1/Document/{id}/info` -> Profile (docs/vendors/netdocuments.md §5)."""
    standard = info.get("standardAttributes")
    if not isinstance(standard, Mapping):
        raise MappingError("a document profile without standardAttributes")
    attributes: dict[int, str] = {}
    custom = info.get("customAttributes")
    for attribute in custom if isinstance(custom, list) else []:
        if not isinstance(attribute, Mapping):
            continue
        try:
            number = int(attribute.get("id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        value = _text(attribute.get("value"))
        if value:
            attributes[number] = value
    return Profile(name=_text(standard.get("name")), cabinet=_text(standard.get("cabinet")), attributes=attributes)


def workspace_fields(template: str) -> frozenset[str]:
    """The placeholders a workspace template uses; only {client} and {matter} are allowed."""
    names = set()
    for _, field_name, spec, conversion in string.Formatter().parse(template):
        if field_name is None:
            continue
        if field_name not in WORKSPACE_FIELDS or spec or conversion:
            raise ValueError(f"workspace_format may use only {{client}} and {{matter}}, not {{{field_name}}}")
        names.add(field_name)
    if "matter" not in names:
        raise ValueError("workspace_format must contain {matter}")
    return frozenset(names)


def workspace(template: str, client: str | None, matter: str | None) -> str | None:
    """The matter number as the firm writes it, e.g. "{client}-{matter}" -> "0003-0042"; None when unknown."""
    values = {"client": client, "matter": matter}
    if any(not values[name] for name in workspace_fields(template)):
        return None
    return template.format(**values)[:500]


def activity(burst: Burst, *, workspace_name: str | None) -> Activity:
    """A burst -> Activity: "Revised: Motion to compel", the document name and the action only."""
    name = burst.doc_name or f"document {burst.doc_id}"
    title = f"{burst.action.label}: {name}"
    return Activity(
        source=SOURCE,
        external_id=burst.external_id,
        kind=ActivityKind.DOCUMENT,
        actor=burst.actor,
        started_at=burst.first,
        ended_at=burst.last,
        title=title[:MAX_TITLE],
        workspace=workspace_name,
    )


def firm_users(raw_users: Sequence[Mapping[str, Any]]) -> dict[str, FirmUser]:
    """`GET /v1/Repository/{id}/users` -> firm users by id and by e-mail; external users left out."""
    found: dict[str, FirmUser] = {}
    for raw in raw_users:
        if raw.get("external") is True:
            continue
        user_id, email = _text(raw.get("id")), _text(raw.get("email")).lower()
        if not user_id:
            continue
        user = FirmUser(id=user_id, email=email)
        found[user_id] = user
        if email:
            found[email] = user
    return found


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else (str(value) if isinstance(value, int) else "")
