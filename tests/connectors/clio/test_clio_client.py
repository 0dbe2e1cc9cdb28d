"""ClioClient: version pin, fields, cursor paging, OAuth refresh, errors, retries, rate limits.

Most tests drive the in-process sandbox. The cassette tests at the end replay traffic recorded
once against the sandbox served by uvicorn (set BILLSYNC_RECORD_CLIO_CASSETTES=1 to record a
missing cassette); by default they run with record_mode="none" and never touch the network.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import structlog
from billsync_sandboxes.clio.errors import OAuthError
from billsync_sandboxes.clio.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, ClioSandbox, create_app
from billsync_sandboxes.kit import FakeClock
from pydantic import SecretStr
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from connectors.clio import client as client_module
from connectors.clio.client import (
    API_VERSION,
    ClioClient,
    ClioConflict,
    ClioNotFound,
    ClioRejected,
    ClioVersionGone,
    rate_key,
)
from connectors.clio.connector import ClioConnector
from connectors.clio.streams import Users
from connectors.clio.writer import ClioWriter
from core.connector import Context
from core.errors import AuthFailed, Fatal, Indeterminate, Retryable
from core.http import HttpClient
from core.tokens import OAuthToken
from tests.cassettes import cassette_tokens, serve_for_recording
from tests.connectors.clio.harness import (
    FIRM,
    LIVE_PORT,
    RECORD_ENV,
    ClioEnv,
    clio_vcr,
    make_env,
    seed,
    time_entry,
    token_store,
)


def query_of(request: requests.PreparedRequest) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(request.url)).query)


def api_calls(env: ClioEnv, method: str | None = None) -> list[dict[str, Any]]:
    return [
        r for r in env.requests_log() if r["path"].startswith("/api/v4") and (method is None or r["method"] == method)
    ]


def test_every_request_pins_the_version_sends_fields_and_pages_by_id() -> None:
    env = make_env(page_limit=1)
    pages = list(Users(env.connector.client).read(None))
    assert sum(len(p.records) for p in pages) == 2
    sent = [r for r in env.adapter.sent if "/api/v4/users" in str(r.url)]
    assert len(sent) == 2  # one user per page, following meta.paging.next
    for request in sent:
        assert request.headers["X-API-VERSION"] == API_VERSION == "4.0.13"
        assert request.headers["Authorization"].startswith("Bearer ")
        query = query_of(request)
        assert query["fields"][0].startswith("id,etag,")
        assert query["order"] == ["id(asc)"] and query["limit"] == ["1"] and "offset" not in query
    assert "page_token" in query_of(sent[1])


def test_regional_hosts_and_a_base_url_override() -> None:
    env = make_env()
    make = lambda **kw: ClioClient(env.ctx, client_id="c", client_secret=SecretStr("s"), **kw)  # noqa: E731
    assert make().api_root == "https://app.clio.com/api/v4"
    assert make(region="eu").api_root == "https://eu.app.clio.com/api/v4"
    assert make(region="ca").token_url == "https://ca.app.clio.com/oauth/token"
    assert make(region="au").api_root == "https://au.app.clio.com/api/v4"
    assert make(base_url="http://127.0.0.1:8765/clio/").api_root == "http://127.0.0.1:8765/clio/api/v4"
    with pytest.raises(ValueError, match="region"):
        make(region="uk")
    with pytest.raises(ValueError, match="page_limit"):
        make(page_limit=201)


def test_the_rate_limit_bucket_is_the_tokens_identity_not_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env()
    keys: list[str] = []
    original = env.ctx.http.request

    def spy(method: str, url: str, **kwargs: Any) -> requests.Response:
        keys.append(kwargs["rate_key"])
        return original(method, url, **kwargs)

    monkeypatch.setattr(env.ctx.http, "request", spy)
    env.connector.check()
    token = env.tokens.get(FIRM, "clio")
    assert token is not None
    assert keys == [rate_key(token.access_token)]
    assert token.access_token not in keys[0] and keys[0].startswith("clio:")


def test_a_401_refreshes_once_and_retries_keeping_the_refresh_token() -> None:
    env = make_env()
    stored = env.tokens.get(FIRM, "clio")
    assert stored is not None
    env.tokens.save(FIRM, "clio", OAuthToken("revoked-access", stored.refresh_token, stored.expires_at))
    env.connector.check()
    calls = [(r["method"], r["path"], r["status"]) for r in env.requests_log()]
    assert calls == [
        ("GET", "/api/v4/users/who_am_i.json", 401),
        ("POST", "/oauth/token", 200),
        ("GET", "/api/v4/users/who_am_i.json", 200),
    ]
    fresh = env.tokens.get(FIRM, "clio")
    assert fresh is not None and fresh.access_token != "revoked-access"
    assert fresh.refresh_token == stored.refresh_token  # Manage refresh tokens never rotate


def test_a_refresh_answer_without_a_refresh_token_keeps_the_old_one(monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env()
    original = env.sandbox.tokens.response
    monkeypatch.setattr(
        env.sandbox.tokens, "response", lambda token: {k: v for k, v in original(token).items() if k != "refresh_token"}
    )
    stored = env.tokens.get(FIRM, "clio")
    assert stored is not None
    env.tokens.save(FIRM, "clio", OAuthToken("revoked-access", stored.refresh_token, stored.expires_at))
    env.connector.check()
    fresh = env.tokens.get(FIRM, "clio")
    assert fresh is not None and fresh.refresh_token == stored.refresh_token


def test_an_expired_token_is_refreshed_before_use() -> None:
    env = make_env()
    env.clock.advance(8 * 24 * 3600)  # the sandbox's tokens live 7 days; expires_in says so
    env.connector.check()
    assert [r["path"] for r in env.requests_log()] == ["/oauth/token", "/api/v4/users/who_am_i.json"]


def test_a_second_401_is_a_clear_auth_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env()

    def refuse(header: str | None) -> Any:
        raise OAuthError(401, "invalid_token", "The access token provided is expired, revoked, malformed or invalid")

    monkeypatch.setattr(env.sandbox.tokens, "authenticate", refuse)
    with pytest.raises(AuthFailed, match=r"connect clio"):
        env.connector.check()
    assert [r["path"] for r in env.requests_log()].count("/oauth/token") == 1


def test_a_refused_refresh_token_or_no_connection_is_auth_failed() -> None:
    env = make_env()
    env.tokens.save(FIRM, "clio", OAuthToken("revoked-access", "revoked-refresh"))
    with pytest.raises(AuthFailed, match="connect clio"):
        env.connector.check()
    with pytest.raises(AuthFailed, match="not connected"):
        make_env(connected=False).connector.check()


def test_statuses_clio_documents_are_classified() -> None:
    env = make_env()
    client = env.connector.client
    activity = client.get("activities/125565936", fields="id,etag")
    assert activity is not None
    assert client.get("activities/125565936", fields="id,etag", etag=activity["etag"]) is None  # 304
    with pytest.raises(ClioNotFound):
        client.get("activities/1", fields="id")
    with pytest.raises(ClioConflict):  # 412: a Retryable, the caller reads again
        client.update("activities/125565936", {"note": "x"}, fields="id", if_match='"stale"')
    with pytest.raises(ClioRejected):  # 422: a matter that does not exist
        client.create("activities", {"type": "TimeEntry", "date": "2026-04-01", "matter": {"id": 9}}, fields="id")
    with pytest.raises(Fatal, match="HTTP 400"):
        client.get("activities/125565936", fields="no_such_field")


def test_a_retired_api_version_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env()
    monkeypatch.setattr(client_module, "API_VERSION", "4.0.2")
    with pytest.raises(ClioVersionGone, match=r"4\.0\.2"):
        env.connector.check()


def test_the_rate_limit_is_honoured_on_the_injected_clock() -> None:
    env = make_env(rate_limit_per_minute=3)
    for _ in range(5):
        env.connector.check()
    # It slowed down before Clio said 429, waiting for each window's reset in fake time.
    assert env.sleeps and all(0 < s <= 60 for s in env.sleeps)
    assert all(r["status"] == 200 for r in env.requests_log())


def test_a_429_is_retried_after_retry_after() -> None:
    env = make_env()
    env.faults({"route": "/api/v4/users*", "kind": "429", "probability": 0.5, "retry_after": 7})
    for _ in range(4):
        env.connector.check()
    statuses = [r["status"] for r in env.requests_log()]
    assert 429 in statuses and statuses.count(200) == 4
    assert any(7 <= s <= 7.25 for s in env.sleeps)


def test_a_get_is_retried_on_5xx_and_then_gives_up_as_retryable() -> None:
    env = make_env()
    env.faults({"route": "/api/v4/users*", "kind": "500"})
    with pytest.raises(Retryable):
        env.connector.check()
    assert len(api_calls(env, "GET")) == 6  # core.http's bounded policy
    assert len(env.sleeps) == 5


def test_a_post_whose_answer_is_lost_is_indeterminate_and_never_resent() -> None:
    env = make_env()
    for kind in ("reset", "truncate", "500"):
        env.admin("DELETE", "requests")
        env.faults({"route": "/api/v4/activities*", "kind": kind, "methods": ["POST"]})
        with pytest.raises(Indeterminate):
            ClioWriter(env.connector.client).write_time_entry(time_entry(), f"key-{kind}", billable=False)
        assert len(api_calls(env, "POST")) == 1, kind


def test_a_get_whose_answer_is_cut_off_is_retryable() -> None:
    env = make_env()
    env.faults({"route": "/api/v4/users*", "kind": "truncate"})
    with pytest.raises(Retryable) as raised:
        env.connector.check()
    assert not isinstance(raised.value, Indeterminate)


class CannedAdapter(BaseAdapter):
    """Answers every request with the same JSON body."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__()
        self.body = body

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response._content = json.dumps(self.body).encode()
        response.url = str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        pass


def canned_client(body: dict[str, Any]) -> ClioClient:
    session = requests.Session()
    session.mount("https://", CannedAdapter(body))
    tokens = token_store(lambda: datetime(2026, 4, 6, tzinfo=UTC))
    tokens.save(FIRM, "clio", OAuthToken("access", "refresh"))
    ctx = Context(
        firm=FIRM, http=HttpClient(session=session, sleep=lambda s: None), tokens=tokens, log=structlog.get_logger()
    )
    return ClioClient(ctx, client_id="c", client_secret=SecretStr("s"))


def test_a_paging_link_to_another_host_is_never_followed() -> None:
    client = canned_client(
        {"data": [{"id": 1}], "meta": {"paging": {"next": "https://evil.example.test/api/v4/users.json"}}}
    )
    with pytest.raises(Fatal, match="outside"):
        list(client.pages("users", fields="id"))


def test_a_repeated_paging_link_stops_instead_of_looping() -> None:
    client = canned_client(
        {"data": [{"id": 1}], "meta": {"paging": {"next": "https://app.clio.com/api/v4/users.json?page_token=x"}}}
    )
    with pytest.raises(Fatal, match="repeated"):
        list(client.pages("users", fields="id"))


# -- cassettes --------------------------------------------------------------------------------

RECORDING = os.environ.get(RECORD_ENV) == "1"
LIVE_BASE = f"http://127.0.0.1:{LIVE_PORT}"


@pytest.fixture(scope="module")
def live_sandbox() -> Iterator[ClioSandbox | None]:
    """The sandbox on uvicorn, only while recording; replay needs nothing running."""
    if not RECORDING:
        yield None
        return
    sandbox = ClioSandbox(
        seed(), clock=FakeClock(), rng_seed=1, rate_limit_per_minute=10_000, deliver=lambda url, headers, body: 200
    )
    with serve_for_recording(create_app(sandbox), LIVE_PORT):
        yield sandbox


def cassette_connector(live: ClioSandbox | None, *, access: str | None = None, page_limit: int = 200) -> ClioConnector:
    """A connector on a plain requests session (vcrpy intercepts it), with sandbox or placeholder tokens."""
    clock = lambda: datetime(2026, 4, 6, 15, 0, tzinfo=UTC)  # noqa: E731
    tokens = cassette_tokens(live, FIRM, "clio", clock, access=access)
    ctx = Context(firm=FIRM, http=HttpClient(sleep=lambda s: None), tokens=tokens, log=structlog.get_logger())
    settings = ClioConnector.Settings(
        client_id=DEFAULT_CLIENT_ID,
        client_secret=SecretStr(DEFAULT_CLIENT_SECRET),
        base_url=f"{LIVE_BASE}/clio",
        page_limit=page_limit,
    )
    return ClioConnector(settings, ctx, clock=clock)


def test_cassette_check_and_cursor_paging(live_sandbox: ClioSandbox | None) -> None:
    connector = cassette_connector(live_sandbox, page_limit=1)
    with clio_vcr(record=RECORDING).use_cassette("test_clio_client/check_and_paging.yaml") as cassette:
        connector.check()
        users = [r for page in Users(connector.client).read(None) for r in page.records]
    assert [u.id for u in users] == ["345", "346"]  # type: ignore[union-attr]
    assert cassette.all_played or RECORDING


def test_cassette_refresh_after_a_401(live_sandbox: ClioSandbox | None) -> None:
    connector = cassette_connector(live_sandbox, access="revoked-access-token")
    with clio_vcr(record=RECORDING).use_cassette("test_clio_client/refresh_after_401.yaml") as cassette:
        me = connector.client.who_am_i()
    assert me["id"] == 345
    assert [r.method for r in cassette.requests] == ["GET", "POST", "GET"]


def test_cassette_write_find_update_read(live_sandbox: ClioSandbox | None) -> None:
    connector = cassette_connector(live_sandbox)
    writer = connector.writer()
    entry = time_entry()
    with clio_vcr(record=RECORDING).use_cassette("test_clio_client/write_find_update_read.yaml") as cassette:
        remote_id = writer.write_time_entry(entry, "firm-clio-test|clio|communication:4001|create", billable=False)
        assert writer.find_time_entry("firm-clio-test|clio|communication:4001|create", entry) == remote_id
        writer.update_time_entry(
            remote_id, entry.model_copy(update={"narrative": "Email: Draft motion (reviewed)"}), billable=True
        )
        [remote] = writer.read_time_entries([remote_id])
    assert remote.narrative == "Email: Draft motion (reviewed)" and remote.billable and remote.billed_seconds == 360
    posted = [r for r in cassette.requests if r.method == "POST"]
    assert len(posted) == 1 and json.loads(posted[0].body)["data"]["quantity"] == 360


def test_check_is_retryable_when_clio_cannot_be_reached() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    sleeps: list[float] = []
    tokens = token_store(lambda: datetime(2026, 4, 6, tzinfo=UTC))
    tokens.save(FIRM, "clio", OAuthToken("access", "refresh"))
    ctx = Context(firm=FIRM, http=HttpClient(sleep=sleeps.append), tokens=tokens, log=structlog.get_logger())
    settings = ClioConnector.Settings(
        client_id="c", client_secret=SecretStr("s"), base_url=f"http://127.0.0.1:{port}/clio"
    )
    with pytest.raises(Retryable, match="connection failed"):
        ClioConnector(settings, ctx).check()
    assert len(sleeps) == 5  # bounded retries, and no real waiting


def test_settings_keep_the_secret_secret_and_bound_the_page_size() -> None:
    settings = ClioConnector.Settings(client_id="c", client_secret=SecretStr("s3cr3t"))
    assert "s3cr3t" not in repr(settings) and settings.region == "us" and settings.page_limit == 200
    assert settings.overlap_minutes == 15
    with pytest.raises(ValueError, match="page_limit"):
        ClioConnector.Settings(client_id="c", client_secret=SecretStr("s"), page_limit=201)
    with pytest.raises(ValueError, match="region"):
        ClioConnector.Settings(client_id="c", client_secret=SecretStr("s"), region="uk")


def test_the_limit_clio_says_is_learned_from_a_refused_answer_too() -> None:
    env = make_env(rate_limit_per_minute=120)
    client = env.connector.client
    with pytest.raises(ClioNotFound) as raised:
        client.get("activities/1", fields="id")
    assert raised.value.answer is not None and raised.value.answer.status == 404
    assert raised.value.answer.headers["X-RateLimit-Limit"] == "120"
    assert client.requests_per_minute() == 120
