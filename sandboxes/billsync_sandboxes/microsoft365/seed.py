"""The demo firm's Microsoft 365 tenant (billsync_sandboxes.demo.data), in Graph's own JSON shapes.

Mailboxes are the timekeepers' e-mail addresses; meetings, sent mail and Teams calls are with the
demo clients' addresses and phone numbers. Some subjects carry a matter number, some meetings a
matter-number category. The first attorney has a Teams call inside a meeting with the same client
(cross-source overlap). Every event and message carries a privileged body, as real ones do: the
connector must never read it.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from billsync_sandboxes.demo.data import PRIVILEGED_BODY, SyntheticFirm
from core.models import Client, Matter, Timekeeper

Json = dict[str, Any]
NAMESPACE = uuid.UUID("6f1b7a52-9c3e-4d7a-8a55-5d2f0e1c0365")
EVENTS_PER_ATTORNEY = 3
MESSAGES_PER_ATTORNEY = 3
CALLS_PER_ATTORNEY = 2
_MEETINGS = ("Client meeting", "Strategy session", "Settlement conference", "Deposition prep")
_MAIL = ("Draft agreement", "Discovery schedule", "Settlement offer", "Closing checklist")


def object_id(name: str) -> str:
    """A stable Entra-style object id (GUID) for a name."""
    return str(uuid.uuid5(NAMESPACE, name))


def microsoft365_seed(firm: SyntheticFirm, *, now: datetime) -> dict[str, Any]:
    """A Microsoft365Sandbox seed for the firm: users, meetings, sent mail and Teams calls before `now`."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    rng = random.Random(365)  # noqa: S311 - synthetic data: reproducible, not secret
    attorneys = [tk for tk in firm.timekeepers if tk.may_record_time and tk.email]
    by_client: dict[str, list[Matter]] = {}
    for matter in firm.matters:
        by_client.setdefault(matter.client_id, []).append(matter)
    clients = [c for c in firm.clients if c.emails and by_client.get(c.id)]
    seed: dict[str, Any] = {
        "users": [_user(tk) for tk in firm.timekeepers if tk.email],
        "events": {},
        "messages": {},
        "callRecords": [],
    }
    for n, tk in enumerate(attorneys):
        mailbox = str(tk.email)
        events: list[Json] = []
        messages: list[Json] = []
        for i in range(EVENTS_PER_ATTORNEY):
            client = rng.choice(clients)
            matter = rng.choice(by_client[client.id])
            start = _working_time(now, rng)
            subject = rng.choice(_MEETINGS) + (f" [{matter.number}]" if i == 0 else "")
            categories = [matter.number] if i == 1 else []
            events.append(
                _event(
                    f"{mailbox}-e{i}",
                    tk,
                    client,
                    subject,
                    start=start,
                    end=start + timedelta(minutes=60),
                    categories=categories,
                )
            )
        for i in range(MESSAGES_PER_ATTORNEY):
            client = rng.choice(clients)
            matter = rng.choice(by_client[client.id])
            subject = rng.choice(_MAIL) + (f" - {matter.number}" if i == 0 else "")
            messages.append(_message(f"{mailbox}-m{i}", tk, client, subject, _working_time(now, rng)))
        for i in range(CALLS_PER_ATTORNEY):
            client = rng.choice(clients)
            start = _working_time(now, rng)
            minutes = rng.choice((7, 12, 25, 40))
            seed["callRecords"].append(_call(f"{mailbox}-c{i}", tk, client, start, start + timedelta(minutes=minutes)))
        if n == 0:
            # A Teams call inside a meeting with the same client: two records, one stretch of work.
            # The meeting's subject says what it was for, so its entry is not held as vague and
            # the call merges into it.
            client = clients[0]
            start = (now - timedelta(days=2)).replace(hour=15, minute=0, second=0, microsecond=0)
            events.append(
                _event(
                    f"{mailbox}-overlap",
                    tk,
                    client,
                    "Settlement conference",
                    start=start,
                    end=start + timedelta(hours=1),
                    categories=[],
                )
            )
            seed["callRecords"].append(
                _call(f"{mailbox}-overlap", tk, client, start + timedelta(minutes=5), start + timedelta(minutes=50))
            )
        seed["events"][mailbox] = events
        seed["messages"][mailbox] = messages
    return seed


def _working_time(now: datetime, rng: random.Random) -> datetime:
    day = now - timedelta(days=rng.randint(3, 20))
    return day.replace(hour=rng.randint(13, 21), minute=rng.choice((0, 15, 30, 45)), second=0, microsecond=0)


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000")


def _user(tk: Timekeeper) -> Json:
    return {
        "id": object_id(tk.id),
        "displayName": tk.name,
        "userPrincipalName": tk.email,
        "mail": tk.email,
        "accountEnabled": tk.enabled,
    }


def _event(
    key: str, tk: Timekeeper, client: Client, subject: str, *, start: datetime, end: datetime, categories: list[str]
) -> Json:
    return {
        "id": "AAMkAD" + uuid.uuid5(NAMESPACE, key).hex,
        "subject": subject,
        "bodyPreview": PRIVILEGED_BODY[:255],
        "body": {"contentType": "html", "content": f"<p>{PRIVILEGED_BODY}</p>"},
        "categories": categories,
        "start": {"dateTime": _graph_time(start), "timeZone": "UTC"},
        "end": {"dateTime": _graph_time(end), "timeZone": "UTC"},
        "isAllDay": False,
        "isCancelled": False,
        "isOrganizer": True,
        "isOnlineMeeting": True,
        "onlineMeetingProvider": "teamsForBusiness",
        "showAs": "busy",
        "sensitivity": "normal",
        "type": "singleInstance",
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "organizer": {"emailAddress": {"name": tk.name, "address": tk.email}},
        "attendees": [
            {
                "type": "required",
                "status": {"response": "accepted", "time": _graph_time(start - timedelta(days=1)) + "Z"},
                "emailAddress": {"name": client.name, "address": client.emails[0]},
            }
        ],
    }


def _message(key: str, tk: Timekeeper, client: Client, subject: str, sent: datetime) -> Json:
    stamp = sent.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": "AAMkAG" + uuid.uuid5(NAMESPACE, key).hex,
        "internetMessageId": f"<{uuid.uuid5(NAMESPACE, key).hex}@firm.example>",
        "subject": subject,
        "bodyPreview": PRIVILEGED_BODY[:255],
        "body": {"contentType": "text", "content": PRIVILEGED_BODY},
        "sentDateTime": stamp,
        "receivedDateTime": stamp,
        "createdDateTime": stamp,
        "isDraft": False,
        "parentFolderId": "sentitems",
        "categories": [],
        "from": {"emailAddress": {"name": tk.name, "address": tk.email}},
        "sender": {"emailAddress": {"name": tk.name, "address": tk.email}},
        "toRecipients": [{"emailAddress": {"name": client.name, "address": client.emails[0]}}],
        "ccRecipients": [],
        "bccRecipients": [],
    }


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _call(key: str, tk: Timekeeper, client: Client, start: datetime, end: datetime) -> Json:
    organizer = {
        "id": object_id(tk.id),
        "identity": {"user": {"id": object_id(tk.id), "displayName": tk.name, "tenantId": object_id("tenant")}},
    }
    phone = client.phones[0] if client.phones else "+1 555 000 0000"
    return {
        "id": str(uuid.uuid5(NAMESPACE, key)),
        "version": 1,
        "type": "groupCall",
        "modalities": ["audio"],
        "startDateTime": _stamp(start),
        "endDateTime": _stamp(end),
        "lastModifiedDateTime": _stamp(end + timedelta(minutes=3)),
        "joinWebUrl": None,
        "organizer_v2": organizer,
        "participants_v2": [
            organizer,
            {"id": object_id(f"{key}-pstn"), "identity": {"phone": {"id": phone, "displayName": client.name}}},
        ],
    }
