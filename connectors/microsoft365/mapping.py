"""Graph JSON -> core Activities: calendar events, sent messages, Teams call records.

Privilege: only subjects, categories, times and addresses are read. No function here looks at
`body`, `bodyPreview` or `uniqueBody` (an event delta returns the body whether asked or not), and
Activity.body stays None. Matter hints go where core's matcher looks: the subject is the title,
the categories are the workspace (a category named "0001-0042" names that matter).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.models import Activity, ActivityKind

SOURCE = "microsoft365"
MAX_TITLE = 500
MAX_COUNTERPART = 200
# Sensitivities that mark an event as nobody else's business (docs/vendors/microsoft365.md §3).
PRIVATE_SENSITIVITIES = frozenset({"private", "personal"})


def parse_instant(value: Any, field: str = "dateTime") -> datetime:
    """An ISO 8601 instant; Graph's UTC values may come without an offset and with 7 fraction digits."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field} is missing")
    text = value.strip().replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # Python keeps at most 6 fraction digits: trim the rest, keep any offset
        digits = "".join(ch for ch in rest if ch.isdigit())
        offset = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{offset}"
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_date_time_zone(value: Any, field: str) -> datetime:
    """A Graph dateTimeTimeZone ({"dateTime", "timeZone"}) as an aware UTC datetime."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{field} is missing")
    moment = parse_instant(value.get("dateTime"), field)
    zone = str(value.get("timeZone") or "UTC")
    if zone.upper() in ("UTC", "ETC/UTC", "GMT"):
        return moment.replace(tzinfo=UTC) if moment.utcoffset() is None else moment
    try:
        return moment.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    except (ZoneInfoNotFoundError, ValueError):
        # Windows zone names appear only with Prefer: outlook.timezone, which billsync never sends.
        raise ValueError(f"{field} has a time zone billsync cannot read: {zone}") from None


def _address(recipient: Any) -> tuple[str, str] | None:
    if not isinstance(recipient, Mapping):
        return None
    email = recipient.get("emailAddress")
    if not isinstance(email, Mapping):
        return None
    address = str(email.get("address") or "").strip().lower()
    name = str(email.get("name") or "").strip()
    return (address, name) if address else None


def _people(raw: Iterable[Any], owner: str) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for recipient in raw:
        found = _address(recipient)
        if found is not None and found[0] != owner.lower() and found[0] not in seen:
            seen[found[0]] = found[1]
    return list(seen.items())


def _counterpart(people: list[tuple[str, str]]) -> str | None:
    names = ", ".join(name or address for address, name in people)
    return names[:MAX_COUNTERPART] or None


def _workspace(categories: Any) -> str | None:
    if not isinstance(categories, list):
        return None
    text = ", ".join(str(c) for c in categories if isinstance(c, str) and c.strip())
    return text[:MAX_TITLE] or None


def _title(subject: Any) -> str:
    return str(subject or "").strip()[:MAX_TITLE]


def event_end(event: Mapping[str, Any]) -> datetime:
    """When an event ends (UTC)."""
    return parse_date_time_zone(event.get("end"), "end")


def event_is_billable_shape(event: Mapping[str, Any], mailbox: str) -> bool:
    """Not cancelled, not private, not all-day, not declined, with someone besides the owner."""
    if event.get("isCancelled") is True or event.get("isAllDay") is True:
        return False
    if str(event.get("sensitivity") or "normal").lower() in PRIVATE_SENSITIVITIES:
        return False
    response = event.get("responseStatus")
    if isinstance(response, Mapping) and str(response.get("response") or "").lower() == "declined":
        return False
    return bool(_event_people(event, mailbox))


def _event_people(event: Mapping[str, Any], mailbox: str) -> list[tuple[str, str]]:
    attendees = event.get("attendees")
    listed: list[Any] = attendees if isinstance(attendees, list) else []
    return _people([*listed, event.get("organizer")], mailbox)


def event_activity(event: Mapping[str, Any], mailbox: str, now: datetime) -> Activity | None:
    """An ended, billable-shaped calendar event as an EVENT activity; None when it is not one (yet)."""
    if not event_is_billable_shape(event, mailbox):
        return None
    start = parse_date_time_zone(event.get("start"), "start")
    end = event_end(event)
    if end > now:
        return None
    people = _event_people(event, mailbox)
    return Activity(
        source=SOURCE,
        external_id=f"event:{event['id']}",
        kind=ActivityKind.EVENT,
        actor=mailbox.lower(),
        started_at=start,
        ended_at=max(end, start),
        title=_title(event.get("subject")),
        counterpart=_counterpart(people),
        counterpart_addresses=tuple(address for address, _ in people),
        workspace=_workspace(event.get("categories")),
    )


def message_activity(message: Mapping[str, Any], mailbox: str) -> Activity | None:
    """A sent message as an EMAIL activity (subject and recipients only); None for drafts."""
    if message.get("isDraft") is True:
        return None
    sent = message.get("sentDateTime") or message.get("createdDateTime")
    recipients = [
        *(message.get("toRecipients") or []),
        *(message.get("ccRecipients") or []),
        *(message.get("bccRecipients") or []),
    ]
    people = _people(recipients, mailbox)
    if not people:
        return None
    # internetMessageId survives moves between folders; Graph's id does not (§5).
    key = message.get("internetMessageId") or message["id"]
    return Activity(
        source=SOURCE,
        external_id=f"message:{key}"[:255],
        kind=ActivityKind.EMAIL,
        actor=mailbox.lower(),
        started_at=parse_instant(sent, "sentDateTime"),
        title=_title(message.get("subject")),
        counterpart=_counterpart(people),
        counterpart_addresses=tuple(address for address, _ in people),
        workspace=_workspace(message.get("categories")),
    )


def _identity(participant: Any) -> tuple[str | None, str | None, str]:
    """(firm user id, phone or address, display name) of a call participant's identity set."""
    if not isinstance(participant, Mapping) or not isinstance(participant.get("identity"), Mapping):
        return None, None, ""
    identity = participant["identity"]
    user = identity.get("user") if isinstance(identity.get("user"), Mapping) else None
    phone = identity.get("phone") if isinstance(identity.get("phone"), Mapping) else None
    if user is not None:
        principal = str(user.get("userPrincipalName") or "").lower() or None
        return str(user.get("id") or "") or None, principal, str(user.get("displayName") or "")
    if phone is not None:
        return None, str(phone.get("id") or "") or None, str(phone.get("displayName") or "")
    for kind in ("guest", "acsUser", "spoolUser", "encrypted", "onPremises", "application", "device"):
        other = identity.get(kind)
        if isinstance(other, Mapping):
            return None, None, str(other.get("displayName") or "")
    return None, None, ""


def call_activities(
    record: Mapping[str, Any],
    participants: Iterable[Mapping[str, Any]],
    firm_users: Mapping[str, str],
) -> list[Activity]:
    """One CALL activity per firm user on a Teams call, with everyone else as counterparts.

    `firm_users` maps Entra user object ids to the mailbox (UPN) of the timekeepers followed.
    """
    start = parse_instant(record.get("startDateTime"), "startDateTime")
    end = parse_instant(record.get("endDateTime"), "endDateTime")
    everyone = [record.get("organizer_v2"), *participants]
    ours: list[str] = []
    others: dict[str, str] = {}
    names: list[str] = []
    for participant in everyone:
        user_id, address, name = _identity(participant)
        if user_id is not None and user_id in firm_users:
            if firm_users[user_id] not in ours:
                ours.append(firm_users[user_id])
            continue
        if address and address not in others:
            others[address] = name
        if name and name not in names and (address is None or address in others):
            names.append(name)
    if not ours or not (others or names):
        return []
    seconds = max(int((end - start).total_seconds()), 0)
    return [
        Activity(
            source=SOURCE,
            external_id=f"call:{record['id']}:{mailbox}"[:255],
            kind=ActivityKind.CALL,
            actor=mailbox,
            started_at=start,
            ended_at=max(end, start),
            duration_seconds=seconds,
            title="Teams call",
            counterpart=", ".join(names)[:MAX_COUNTERPART] or None,
            counterpart_addresses=tuple(others),
        )
        for mailbox in ours
    ]
