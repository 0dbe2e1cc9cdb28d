"""The plain client against the sandbox: $top/$skip paging, the rate limit, OAuth refresh, errors."""

from __future__ import annotations

import pytest

from connectors.practicepanther.client import (
    PracticePantherNotAllowed,
    PracticePantherNotFound,
    PracticePantherRejected,
)
from core.errors import AuthFailed, Fatal
from tests.connectors.practicepanther.harness import FIRM, make_env


def test_paging_walks_every_record_exactly_once() -> None:
    env = make_env(page_size=2)
    for n in range(7):
        env.admin("POST", "notes", {"subject": f"n{n}", "assigned_to_users": []})
    pages = list(env.connector.client.pages("notes"))
    ids = [r["id"] for page in pages for r in page]
    assert len(ids) == len(set(ids)) == 8
    assert [len(p) for p in pages] == [2, 2, 2, 2, 0]  # stops after a short (here empty) page
    queries = [e["query"] for e in env.requests_log() if e["path"] == "/api/v2/notes"]
    assert all("%24top=2" in q and "%24orderby=created_at" in q for q in queries)
    assert [q.split("%24skip=")[1].split("&")[0] for q in queries] == ["0", "2", "4", "6", "8"]


def test_a_server_that_ignores_skip_stops_the_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env(page_size=1)
    monkeypatch.setattr(
        "billsync_sandboxes.practicepanther.api._count", lambda params, name: 1 if name == "$top" else 0
    )
    with pytest.raises(Fatal, match="skip"):
        list(env.connector.client.pages("calllogs"))


def test_the_rate_limit_is_waited_out_on_the_injected_clock() -> None:
    env = make_env(rate_limit=300)
    for _ in range(301):
        env.connector.client.me()
    statuses = [e["status"] for e in env.requests_log()]
    assert statuses.count(429) == 1 and statuses.count(200) == 301
    assert env.sleeps and sum(env.sleeps) >= 60  # backed off without sleeping for real


def test_an_expired_token_is_refreshed_once_and_the_rotated_pair_saved() -> None:
    env = make_env()
    before = env.tokens.get(FIRM, "practicepanther")
    assert before is not None
    env.clock.advance(86_400)  # the 24 h access token has expired
    assert env.connector.client.me()["email"] == "jane@firm.test"
    after = env.tokens.get(FIRM, "practicepanther")
    assert after is not None and after.refresh_token != before.refresh_token
    assert sum(e["path"].lower() == "/oauth/token" for e in env.requests_log()) == 1


def test_a_401_forces_one_refresh_and_a_revoked_app_is_auth_failed() -> None:
    env = make_env()
    env.sandbox.tokens.issue(env.sandbox.authorizing_user_id())  # unrelated tokens stay valid
    token = env.tokens.get(FIRM, "practicepanther")
    assert token is not None
    for live in env.sandbox.tokens._tokens.values():
        if live.value == token.access_token:
            live.revoked = True  # revoked server-side before expiry (docs/vendors/practicepanther.md §2)
    env.connector.client.me()  # refreshed and retried
    env.admin("POST", "tokens/revoke")
    with pytest.raises(AuthFailed) as raised:
        env.connector.client.me()
    assert "Bearer" not in str(raised.value)


def test_errors_are_classified_without_record_content() -> None:
    env = make_env()
    client = env.connector.client
    with pytest.raises(PracticePantherNotFound):
        client.get("timeentries", "00000000-0000-4000-8000-000000000000")
    with pytest.raises(PracticePantherNotAllowed):
        client.create("invoices", {})
    with pytest.raises(PracticePantherRejected) as raised:
        client.create("timeentries", {"description": "secret words"})
    assert "value.hours" in str(raised.value) and "secret" not in str(raised.value)
