"""Tripwire: every committed vcrpy cassette holds sandbox data only, and no credential.

Law-firm data is privileged; cassettes are recorded only against local sandboxes seeded with
synthetic data, and replayed with record_mode="none". This scans every cassette under tests/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

TESTS = Path(__file__).resolve().parent
CASSETTES = sorted(p for p in TESTS.rglob("*.yaml") if "cassettes" in p.parts)
SANDBOX_HOSTS = frozenset({"127.0.0.1", "localhost", "testserver"})
ALLOWED_EMAIL_DOMAINS = (".test", ".example", "example.com", "example.org", "example.net")
SECRET_NAMES = ("access_token", "refresh_token", "client_secret", "shared_secret", "id_token", "password")
PRIVILEGE_CANARY = "CANARY-PRIVILEGED"

BEARER = re.compile(r"Bearer\s+(?!REDACTED\b)[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE)
SECRET_VALUE = re.compile(
    r"""["']?\b(?P<name>""" + "|".join(SECRET_NAMES) + r""")\b["']?\s*(?::|=)\s*["']?(?P<value>[^"'&\s,}\]]+)"""
)
# An OAuth authorization code in a form body or query (vcr's own `code: 200` is a status).
AUTH_CODE = re.compile(r"(?:^|[?&\s'])code=(?!REDACTED\b)[^&\s']+")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@(?P<domain>[A-Za-z0-9.-]+\.[A-Za-z]{2,})")
HOST = re.compile(r"https?://(?P<host>[^/:?\s'\"]+)")


def problems(text: str) -> list[str]:
    """Everything in a cassette's text that must not be committed."""
    found: list[str] = []
    if BEARER.search(text):
        found.append("a Bearer token")
    for match in SECRET_VALUE.finditer(text):
        if match["value"] not in ("REDACTED", "null", "None"):
            found.append(f"a {match['name']} value")
    if AUTH_CODE.search(text):
        found.append("an OAuth authorization code")
    for name in ("set-cookie", "cookie"):
        if re.search(rf"^\s*{name}\s*:", text, re.IGNORECASE | re.MULTILINE):
            found.append(f"a {name} header")
    for match in EMAIL.finditer(text):
        if not match["domain"].lower().endswith(ALLOWED_EMAIL_DOMAINS):
            found.append(f"a real-looking e-mail domain {match['domain']}")
    for match in HOST.finditer(text):
        if match["host"] not in SANDBOX_HOSTS:
            found.append(f"a non-sandbox host {match['host']}")
    if PRIVILEGE_CANARY in text:
        found.append("privileged sandbox text")
    return found


def test_there_are_cassettes_to_check() -> None:
    assert CASSETTES, "no cassettes found under tests/; the scan would prove nothing"


@pytest.mark.parametrize("path", CASSETTES, ids=lambda p: str(p.relative_to(TESTS)))
def test_cassette_is_clean(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    yaml.safe_load(text)  # it is a cassette, not something else named .yaml
    assert problems(text) == [], path


@pytest.mark.parametrize(
    "dirty",
    [
        "authorization:\n- Bearer 3f9a1c2b7d8e9f00aa11\n",
        'string: \'{"access_token": "3f9a1c2b7d8e9f00", "expires_in": 604800}\'',
        "body: grant_type=refresh_token&refresh_token=r-123456&client_id=x",
        "body: client_id=x&client_secret=hunter22",
        "body: grant_type=authorization_code&code=abc123&redirect_uri=x",
        "headers:\n  Set-Cookie:\n  - session=abc\n",
        "uri: https://app.clio.com/api/v4/users.json",
        'string: \'{"email": "partner@bigfirm.com"}\'',
        f"string: 'note {PRIVILEGE_CANARY}-1'",
    ],
)
def test_the_scan_catches_what_it_looks_for(dirty: str) -> None:
    assert problems(dirty)


def test_scrubbed_values_pass() -> None:
    clean = (
        "authorization:\n- REDACTED\nbody: grant_type=refresh_token&refresh_token=REDACTED&client_secret=REDACTED\n"
        'string: \'{"access_token": "REDACTED", "email": "jane.doe@example.test"}\'\n'
        "uri: http://127.0.0.1:8765/clio/api/v4/users.json\n"
    )
    assert problems(clean) == []
