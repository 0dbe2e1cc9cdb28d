"""Turn a synthetic firm (billsync_sandboxes.demo.data) into a NetDocuments seed, in NetDocuments' own JSON shapes.

The firm's document activities become documents in a "Client Matters" cabinet, profiled with
the Client and Matter attributes that spell the firm's matter numbers ("0003-0042" is client
"0003", matter "0042"), and a repository log of the work on them: the create and edit bursts the
attorneys did, a new version now and then, and the noise a real log carries (views, downloads,
profile edits, a client's external user, a background job). About one document in six has no
Client/Matter profile (filed in the firm-administration cabinet, or never profiled), so it
cannot be placed on a matter. Users are the firm's timekeepers with the same e-mail addresses.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from billsync_sandboxes.demo.data import SyntheticFirm
from billsync_sandboxes.netdocuments.state import DEFAULT_REPOSITORY
from billsync_sandboxes.netdocuments.state import log_entry as _log_entry
from core.models import ActivityKind, Matter, Timekeeper

MATTERS_CABINET = "NG-SANDBOX1"
ADMIN_CABINET = "NG-SANDBOX2"  # no workspaces: no Client/Matter attributes
CLIENT_ATTRIBUTE = 1
MATTER_ATTRIBUTE = 2
UNPROFILED_SHARE = 1 / 6
DOCUMENT_TEXT = "Privileged draft: strategy and client admissions not for disclosure."
SYSTEM_USER = {"id": "SYSTEM", "displayName": "NetDocuments", "email": None}


def netdocuments_seed(firm: SyntheticFirm, *, now: datetime, seed: int = 3) -> dict[str, Any]:
    """A NetDocumentsSandbox seed for the firm: users, cabinets, documents and the log up to now."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    rng = random.Random(seed)  # noqa: S311 - synthetic data: reproducible, not secret
    users = [_user(tk) for tk in firm.timekeepers]
    by_email = {str(u["email"]).lower(): u for u in users}
    outsider = {
        "id": "EXT-0001",
        "displayName": "Client reviewer",
        "email": "reviewer@client.example.com",
        "external": True,
        "registered": True,
        "lastLogin": _stamp(now - timedelta(days=2)),
    }
    matters = {m.id: m for m in firm.matters}
    by_number = {m.number: m for m in firm.matters}
    documents: list[dict[str, Any]] = []
    log: list[dict[str, Any]] = []
    for activity in (a for a in firm.activities if a.kind is ActivityKind.DOCUMENT and a.started_at < now):
        author = by_email.get(activity.actor.lower())
        if author is None:
            continue
        matter = matters.get(activity.matter_id or "") or next(
            (m for number, m in by_number.items() if number in activity.title), None
        )
        if matter is None and rng.random() >= UNPROFILED_SHARE:
            matter = rng.choice(firm.matters)
        document = _document(rng, activity.title, matter, author, activity.started_at)
        documents.append(document)
        colleagues = [u for u in users if u is not author]
        log += _work(
            rng, document, author=author, colleagues=colleagues, outsider=outsider, created=activity.started_at, now=now
        )
    log.sort(key=lambda entry: entry["activity"]["date"])
    return {
        "region": "us",
        "repository": {"id": DEFAULT_REPOSITORY, "name": "Sandbox Law LLP"},
        "cabinets": [
            {
                "id": MATTERS_CABINET,
                "name": "Client Matters",
                "wsAttrNum": MATTER_ATTRIBUTE,
                "wsOrgAttrNum": CLIENT_ATTRIBUTE,
                "isCollaborationSpacesEnabled": False,
            },
            {
                "id": ADMIN_CABINET,
                "name": "Firm Administration",
                "wsAttrNum": 0,
                "wsOrgAttrNum": 0,
                "isCollaborationSpacesEnabled": False,
            },
        ],
        "customAttributes": {
            MATTERS_CABINET: [
                {"id": CLIENT_ATTRIBUTE, "name": "Client", "parentId": None},
                {"id": MATTER_ATTRIBUTE, "name": "Matter", "parentId": CLIENT_ATTRIBUTE},
            ],
            ADMIN_CABINET: [],
        },
        "users": [*users, outsider],
        "documents": documents,
        "log": log,
    }


def matter_attributes(matter: Matter) -> tuple[str, str]:
    """The demo firm writes matter numbers "{client}-{matter}": the two profile values."""
    client_value, _, matter_value = matter.number.partition("-")
    return client_value, matter_value


def _user(tk: Timekeeper) -> dict[str, Any]:
    return {
        "id": f"ND-{tk.id.upper()}",
        "displayName": tk.name,
        "email": tk.email,
        "external": False,
        "registered": True,
        "lastLogin": None,
    }


def _document(
    rng: random.Random, title: str, matter: Matter | None, author: dict[str, Any], created: datetime
) -> dict[str, Any]:
    number = f"{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}"
    custom: list[dict[str, Any]] = []
    if matter is not None:
        client_value, matter_value = matter_attributes(matter)
        custom = [
            {"id": CLIENT_ATTRIBUTE, "value": client_value, "description": f"Client {client_value}"},
            {"id": MATTER_ATTRIBUTE, "value": matter_value, "description": matter.name},
        ]
    return {
        "standardAttributes": {
            "id": number,
            "envId": f":Q24:{number.replace('-', ':')}",
            "name": title,
            "extension": "docx",
            "size": rng.randrange(20_000, 400_000),
            "version": 1,
            "created": _stamp(created),
            "createdBy": author["displayName"],
            "modified": _stamp(created),
            "modifiedBy": author["displayName"],
            "locked": False,
            "url": f"https://vault.netvoyage.com/neWeb2/goid.aspx?id={number}",
            "cabinet": MATTERS_CABINET if matter is not None or rng.random() < 0.5 else ADMIN_CABINET,
        },
        "customAttributes": custom,
        "misc": {"archived": False, "deleted": False},
        "contents": DOCUMENT_TEXT,  # sandbox-only: what a download returns; never in a profile
    }


def _work(
    rng: random.Random,
    document: dict[str, Any],
    *,
    author: dict[str, Any],
    colleagues: list[dict[str, Any]],
    outsider: dict[str, Any],
    created: datetime,
    now: datetime,
) -> list[dict[str, Any]]:
    """The log of one document: a create-and-edit burst, maybe a new version, and noise."""
    events = [("Create", author, created)]
    at = created
    for _ in range(rng.choice((0, 1, 2, 3))):
        at += timedelta(minutes=rng.randint(2, 12))
        events.append(("Edit", author, at))
    events.append(("View", rng.choice(colleagues) if colleagues else author, at + timedelta(minutes=40)))
    if rng.random() < 0.35:
        events.append(("New Version", author, created + timedelta(days=1, minutes=rng.randint(0, 300))))
    if rng.random() < 0.3:
        events.append(("Edit Profile", author, created + timedelta(hours=2)))
    if rng.random() < 0.2:
        events.append(("Download", outsider, created + timedelta(hours=5)))
    if rng.random() < 0.2:
        events.append(("Edit", SYSTEM_USER, created + timedelta(hours=3)))  # a background job, not a person
    return [_log_entry(_stamp(when), name, user, document) for name, user, when in events if when < now]


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S")
