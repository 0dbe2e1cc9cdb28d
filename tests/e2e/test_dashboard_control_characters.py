"""A client named with NUL and ESC in Clio: the dashboard embeds the name without them.

The dashboard page carries its data as JSON in a <script> element; JSON escapes a NUL as
`\\u0000` and an ESC as `\\u001b`, which the page's script turns back into the characters
themselves, into the tables, the charts and any copy a person makes. Names are data: their
control characters are taken out before they are embedded, as everywhere billsync writes them.
The firm's records are in Clio's shapes, served by `billsync sandbox`; the commands run as processes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RUN, serve_sandbox

pytestmark = pytest.mark.e2e

HOSTILE_CLIENT = "Harbor\x00 Insurance\x1b[2J\x1b]8;;http://evil.example\x07 Group\x7f"
SHOWN_CLIENT = "Harbor Insurance[2J]8;;http://evil.example Group"  # the same, without its control characters
STAMP = "2026-09-01T12:00:00+00:00"
SEED: dict[str, Any] = {
    "clio": {
        "users": [
            {
                "id": 1001, "name": "Ava Nguyen", "first_name": "Ava", "last_name": "Nguyen",
                "email": "ava@firm.example", "enabled": True, "account_owner": True, "clio_connect": False,
                "rate": 400.0, "roles": ["admin"], "subscription_type": "Attorney",
                "time_zone": "America/New_York", "updated_at": STAMP,
            }
        ],
        "contacts": [
            {
                "id": 2001, "name": HOSTILE_CLIENT, "type": "Company", "is_client": True,
                "primary_email_address": "gc@harbor.example", "created_at": STAMP, "updated_at": STAMP,
            }
        ],
        "matters": [
            {
                "id": 3001, "number": 3001, "display_number": "HARB-0001", "description": "Harbor v. Smith",
                "status": "Open", "billable": True, "billing_method": "hourly", "open_date": "2026-08-01",
                "client": {"id": 2001}, "responsible_attorney": {"id": 1001},
                "created_at": STAMP, "updated_at": STAMP,
            }
        ],
        "communications": [
            {
                "id": 4001, "type": "PhoneCommunication", "subject": "settlement terms", "body": "",
                "date": "2026-10-05", "received_at": "2026-10-05T14:00:00+00:00", "user": {"id": 1001},
                "senders": [{"id": 1001, "type": "User", "name": "Ava", "identifier": "ava@firm.example"}],
                "receivers": [{"type": "Person", "name": "Pat Jones", "identifier": "pat@harbor.example"}],
                "matter": {"id": 3001}, "created_at": "2026-10-05T14:00:00+00:00",
                "updated_at": "2026-10-05T14:00:00+00:00",
            }
        ],
    }
}  # fmt: skip


def billsync(*args: str) -> str:
    run = subprocess.run(
        [*RUN, *args], capture_output=True, text=True, timeout=300, check=False, env={**os.environ, "COLUMNS": "200"}
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def embedded(page: str) -> list[str]:
    """The JSON the page carries in its <script type="application/json"> elements (the data and the charts)."""
    blocks = re.findall(r'<script[^>]*type="application/json"[^>]*>(.*?)</script>', page, re.S)
    assert len(blocks) == 2, page[:2000]
    return blocks


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (*strings(key), *strings(item))]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    return []


def test_a_client_named_with_nul_and_esc_is_embedded_without_them(tmp_path: Path) -> None:
    seed, config = tmp_path / "seed.json", tmp_path / "billsync.toml"
    seed.write_text(json.dumps(SEED), encoding="utf-8")
    with serve_sandbox(seed, config):
        billsync("connect", "clio", "--config", str(config), "--auto-approve")
        assert "written 1," in billsync("sync", "--once", "--config", str(config))
    page_file = tmp_path / "dashboard.html"
    billsync("report", "--by", "client", "--html", str(page_file), "--config", str(config))
    page = page_file.read_text(encoding="utf-8")
    blocks = embedded(page)  # (the inlined plotly.js has control characters of its own: not data)
    assert not [block for block in blocks if re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", block)]
    for escaped in ("\\u0000", "\\u001b", "\\u0007", "\\u007f"):  # JSON's escapes of NUL, ESC, BEL, DEL
        assert not [block for block in blocks if escaped in block.lower()], escaped
    texts = [text for block in blocks for text in strings(json.loads(block))]
    assert SHOWN_CLIENT in texts  # the client's row, as the report's JSON names it
    assert not [text for text in texts if re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", text)]
