"""A small NetDocuments repository for the connector tests, in NetDocuments' own JSON shapes.

Times sit around the sandbox's fake clock start (2026-04-06 15:00 UTC). Attribute numbers are
1001 (client) and 1002 (matter), not the 1/2 of the demo, so discovery is really exercised.
Every privileged field (document contents, the log's free-text `desc`) carries CANARY.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from billsync_sandboxes.netdocuments.state import DEFAULT_REPOSITORY, log_entry

CANARY = "CANARY-PRIVILEGED-nd-5d21"
CABINET = "NG-MATTERS1"
ADMIN_CABINET = "NG-ADMIN1"
CLIENT_ATTR, MATTER_ATTR = 1001, 1002

JANE = {"id": "ND-JANE", "displayName": "Jane Doe", "email": "Jane.Doe@firm.example", "external": False}
BOB = {"id": "ND-BOB", "displayName": "Bob Roe", "email": "bob.roe@firm.example", "external": False}
GUEST = {"id": "ND-GUEST", "displayName": "Client GC", "email": "gc@client.example.com", "external": True}
SYSTEM = {"id": "SYSTEM", "displayName": "NetDocuments", "email": None}

MOTION = "4824-5093-9170"  # on matter 0003-0042
LETTER = "4824-5093-9171"  # on matter 0003-0042
MEMO = "4824-5093-9172"  # no Client/Matter profile
POLICY = "4824-5093-9173"  # in the administration cabinet (no workspaces)
GONE = "4824-5093-9174"  # deleted since


def document(doc_id: str, name: str, *, client: str | None, matter: str | None, cabinet: str = CABINET) -> dict:
    custom = []
    if client is not None:
        custom.append({"id": CLIENT_ATTR, "value": client, "description": "Harbor Holdings"})
    if matter is not None:
        custom.append({"id": MATTER_ATTR, "value": matter, "description": "Harbor / Lease amendment"})
    return {
        "standardAttributes": {
            "id": doc_id,
            "envId": f":Q24:{doc_id}",
            "name": name,
            "extension": "docx",
            "size": 12345,
            "version": 1,
            "created": "2026-04-06T13:00:00",
            "createdBy": "Jane Doe",
            "modified": "2026-04-06T13:00:00",
            "modifiedBy": "Jane Doe",
            "locked": False,
            "url": f"http://testserver/netdocuments/vault.netvoyage.com/neWeb2/goid.aspx?id={doc_id}",
            "cabinet": cabinet,
        },
        "customAttributes": custom,
        "misc": {"archived": False, "deleted": False},
        "contents": f"Draft: the client admits the lease was backdated. {CANARY}",
    }


DOCUMENTS = {
    MOTION: document(MOTION, "Motion to compel", client="0003", matter="0042"),
    LETTER: document(LETTER, "Engagement letter", client="0003", matter="0042"),
    MEMO: document(MEMO, "Research memo", client=None, matter=None),
    POLICY: document(POLICY, "Holiday policy", client=None, matter=None, cabinet=ADMIN_CABINET),
    GONE: document(GONE, "Old draft", client="0003", matter="0042"),
}


def event(when: str, action: str, user: dict, doc_id: str) -> dict:
    """A log entry; its free-text desc carries the canary (it may quote anything)."""
    entry = log_entry(when, action, user, DOCUMENTS[doc_id])
    entry["activity"]["desc"] = f"{action}: {CANARY}"
    return entry


# Closed windows before the fake clock's 15:00, plus noise; nothing open.
LOG = [
    event("2026-04-06T13:02:10", "Create", JANE, MOTION),
    event("2026-04-06T13:09:00", "Edit", JANE, MOTION),
    event("2026-04-06T13:21:45", "Edit", JANE, MOTION),  # one burst: 13:00-13:30 window
    event("2026-04-06T13:10:00", "View", BOB, MOTION),
    event("2026-04-06T13:40:00", "Edit", BOB, LETTER),
    event("2026-04-06T13:41:00", "Download", GUEST, LETTER),
    event("2026-04-06T13:42:00", "Edit", GUEST, LETTER),  # an external user's edit: not firm work
    event("2026-04-06T13:50:00", "Edit", SYSTEM, LETTER),  # a background job
    event("2026-04-06T14:05:00", "New Version", JANE, LETTER),
    event("2026-04-06T14:06:00", "Edit Profile", JANE, LETTER),
    event("2026-04-06T14:10:00", "Edit", BOB, MEMO),
    event("2026-04-06T14:12:00", "Edit", BOB, POLICY),
    event("2026-04-06T14:13:00", "Edit", JANE, GONE),
]


def seed(*, at: datetime | None = None) -> dict[str, Any]:
    """A fresh copy of the repository."""
    documents = copy.deepcopy(list(DOCUMENTS.values()))
    documents[-1]["misc"]["deleted"] = True
    return {
        "region": "us",
        "repository": {"id": DEFAULT_REPOSITORY, "name": "Test Law LLP"},
        "cabinets": [
            {"id": CABINET, "name": "Client Matters", "wsAttrNum": MATTER_ATTR, "wsOrgAttrNum": CLIENT_ATTR},
            {"id": ADMIN_CABINET, "name": "Administration", "wsAttrNum": 0, "wsOrgAttrNum": 0},
        ],
        "customAttributes": {
            CABINET: [{"id": CLIENT_ATTR, "name": "Client"}, {"id": MATTER_ATTR, "name": "Matter"}],
            ADMIN_CABINET: [],
        },
        "users": [JANE, BOB, GUEST],
        "documents": documents,
        "log": copy.deepcopy(LOG),
    }
