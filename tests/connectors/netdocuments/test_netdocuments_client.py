"""The NetDocuments client over the sandbox: both OAuth grants, token expiry, regions, limits, errors.

The cassette tests at the end replay traffic recorded against the sandbox on uvicorn (set
BILLSYNC_RECORD_ND_CASSETTES=1 to record a missing cassette); by default they run with
record_mode="none" and never touch the network.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import structlog
from billsync_sandboxes.kit import FakeClock
from billsync_sandboxes.netdocuments.state import (
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REPOSITORY,
    NetDocumentsSandbox,
    create_app,
)
from sqlalchemy import select

from connectors.netdocuments.client import WEB_HOSTS, NetDocumentsClient, api_host
from connectors.netdocuments.connector import NetDocumentsConnector
from core.connector import Context
from core.errors import AuthFailed
from core.http import HttpClient
from core.store.schema import oauth_tokens
from core.tokens import OAuthToken
from tests.cassettes import serve_for_recording
from tests.connectors.netdocuments.harness import (
    FIRM,
    LIVE_PORT,
    RECORD_ENV,
    NetDocumentsEnv,
    connector_settings,
    make_env,
    netdocuments_vcr,
    token_store,
)
from tests.connectors.netdocuments.seed import seed

CONSENT_REDIRECT = "http://127.0.0.1:8765/callback"


def basic_user(env: NetDocumentsEnv, index: int = 0) -> str:
    header = env.token_requests()[index].headers["Authorization"]
    return base64.b64decode(header.removeprefix("Basic ")).decode().rsplit(":", 1)[0]


# -- the service account (client_credentials) ----------------------------------------------------


def test_the_service_account_gets_a_token_by_itself_and_keeps_it_encrypted() -> None:
    env = make_env()
    env.connector.check()
    env.connector.client.user_info()
    assert len(env.token_requests()) == 1  # acquired once, then reused
    # docs/vendors/netdocuments.md §3: "{client_id}|{repository_id}"
    assert basic_user(env) == f"AP-SANDBOX1|{DEFAULT_REPOSITORY}"
    body = env.token_requests()[0].body
    assert body == "grant_type=client_credentials&scope=full"
    token = env.tokens.get(FIRM, "netdocuments")
    assert token is not None and token.expires_at == env.clock.now() + timedelta(seconds=3600)
    with env.tokens._engine.connect() as conn:  # what is on disk is ciphertext only
        stored = conn.execute(select(oauth_tokens.c.ciphertext)).scalar_one()
    assert token.access_token not in stored


def test_scopes_go_with_a_literal_space() -> None:
    env = make_env(scope="read admin")
    env.connector.check()
    assert env.token_requests()[0].body == "grant_type=client_credentials&scope=read admin"


def test_a_token_near_its_announced_expiry_is_renewed_before_use() -> None:
    env = make_env()
    env.connector.client.user_info()
    for _ in range(3):  # used every 20 minutes: never idle, but its hour runs out
        env.clock.advance(20 * 60)
        env.connector.client.user_info()
    assert len(env.token_requests()) == 2
    assert not [r for r in env.requests_log() if r["status"] == 401]


def test_a_token_expired_while_idle_is_replaced_once_after_the_401() -> None:
    env = make_env()
    env.connector.client.user_info()
    # docs/vendors/netdocuments.md §3: idle tokens die after 45-90 minutes, whatever expires_in said
    env.clock.advance(46 * 60)
    assert env.connector.client.user_info()["id"] == "service"
    statuses = [r["status"] for r in env.requests_log() if r["path"].endswith("/User/info")]
    assert statuses == [200, 401, 200]
    assert len(env.token_requests()) == 2


def test_a_rotated_secret_fails_cleanly() -> None:
    env = make_env()
    env.connector.check()
    env.sandbox.client_secret = "rotated"
    env.sandbox.tokens.revoke_all()
    with pytest.raises(AuthFailed) as raised:
        env.connector.check()
    assert "service account" in str(raised.value) and "Basic" not in str(raised.value)


def test_a_token_that_cannot_read_the_log_is_reported_at_check() -> None:
    env = make_env(scope="read")
    with pytest.raises(AuthFailed, match="repository log"):
        env.connector.check()


def test_expires_in_is_read_defensively() -> None:
    from connectors.netdocuments.auth import _readable_expiry

    assert _readable_expiry({"expires_in": "3600"})["expires_in"] == 3600.0
    assert _readable_expiry({"expires_in": 1800})["expires_in"] == 1800.0
    assert _readable_expiry({"expires_in": "soon"})["expires_in"] == 1800.0
    assert _readable_expiry({})["expires_in"] == 1800.0
    assert _readable_expiry({"expires_in": "-5"})["expires_in"] == 1800.0


# -- a person's grant (authorization_code) --------------------------------------------------------


def connect_person(env: NetDocumentsEnv) -> None:
    url = env.connector.authorize_url(CONSENT_REDIRECT, "state-123")
    parts = urlsplit(url)
    assert parts.path == f"/netdocuments/{WEB_HOSTS['us']}/neWeb2/OAuth.aspx"
    query = parse_qs(parts.query)
    assert query["scope"] == ["full"] and query["response_type"] == ["code"] and query["state"] == ["state-123"]
    answer = env.app.get(url.removeprefix("http://testserver"), follow_redirects=False)
    assert answer.status_code == 302
    location = parse_qs(urlsplit(answer.headers["location"]).query)
    assert location["state"] == ["state-123"]
    env.tokens.save(FIRM, "netdocuments", env.connector.exchange_code(location["code"][0], CONSENT_REDIRECT))


def test_a_person_connects_and_the_refresh_token_is_spent_and_replaced() -> None:
    env = make_env(grant="authorization_code")
    with pytest.raises(AuthFailed, match="billsync connect netdocuments"):
        env.connector.check()
    connect_person(env)
    first = env.tokens.get(FIRM, "netdocuments")
    assert first is not None and first.refresh_token
    env.connector.check()
    env.clock.advance(58 * 60)  # within five minutes of the announced hour: refresh first
    env.connector.client.user_info()
    second = env.tokens.get(FIRM, "netdocuments")
    assert second is not None and second.refresh_token not in (None, first.refresh_token)
    assert parse_qs(env.token_requests()[-1].body)["grant_type"] == ["refresh_token"]  # type: ignore[arg-type]
    assert basic_user(env, -1) == "AP-SANDBOX1"  # the code flow's Basic user is the client id alone


def test_a_spent_refresh_token_asks_for_a_new_connection() -> None:
    env = make_env(grant="authorization_code")
    connect_person(env)
    token = env.tokens.get(FIRM, "netdocuments")
    assert token is not None
    env.sandbox.tokens.revoke_all()
    with pytest.raises(AuthFailed, match="reconnect"):
        env.connector.client.user_info()


# -- regions and hosts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "web", "api"),
    [
        ("us", "vault.netvoyage.com", "api.vault.netvoyage.com"),
        ("eu", "eu.netdocuments.com", "api.eu.netdocuments.com"),
        ("au", "au.netdocuments.com", "api.au.netdocuments.com"),
        ("de", "de.netdocuments.com", "api.de.netdocuments.com"),
        ("ca", "can.netdocuments.com", "api.can.netdocuments.com"),
        ("dev", "ducot.netdocuments.com", "api.ducot.netdocuments.com"),
    ],
)
def test_each_region_has_its_hosts(region: str, web: str, api: str) -> None:
    assert WEB_HOSTS[region] == web and api_host(region) == api
    clock = FakeClock()
    ctx = Context(firm=FIRM, http=HttpClient(), tokens=token_store(clock), log=structlog.get_logger())
    client = NetDocumentsClient(
        ctx,
        client_id="AP-1",
        client_secret=DEFAULT_CLIENT_SECRET,
        repository_id="CA-1",
        region=region,  # type: ignore[arg-type]
    )
    assert client.token_url == f"https://{api}/v1/OAuth"
    assert client.authorize_url("https://x.example/cb", "s").startswith(f"https://{web}/neWeb2/OAuth.aspx?")


def test_a_repository_in_another_region_refuses_the_credentials() -> None:
    env = make_env(region="eu")  # the sandbox repository lives in the US
    with pytest.raises(AuthFailed, match="wrong region"):
        env.connector.check()


# -- limits and errors ------------------------------------------------------------------------------


def test_a_bare_429_is_waited_out_and_retried() -> None:
    env = make_env(rate_limit=2)
    env.connector.client.user_info()
    env.connector.client.user_info()
    assert env.connector.client.user_info()["id"] == "service"  # the third waits for the window
    assert 429 in [r["status"] for r in env.requests_log()]
    assert env.sleeps and sum(env.sleeps) >= 1


def test_a_truncated_log_is_read_again() -> None:
    env = make_env()
    env.faults({"route": "*/log", "kind": "truncate", "probability": 0.5})
    [stream] = env.connector.streams()
    activities = [r for page in stream.read({"updated_since": "2026-04-06T13:00:00+00:00"}) for r in page.records]
    assert len(activities) == 6
    assert "truncate" in [r["fault"] for r in env.requests_log()]  # it did happen, and cost nothing


# -- cassettes --------------------------------------------------------------------------------------

RECORDING = os.environ.get(RECORD_ENV) == "1"
LIVE_BASE = f"http://127.0.0.1:{LIVE_PORT}"
CASSETTE_NOW = datetime(2026, 4, 6, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def live_sandbox() -> Iterator[NetDocumentsSandbox | None]:
    """The sandbox on uvicorn, only while recording; replay needs nothing running."""
    if not RECORDING:
        yield None
        return
    data = seed()
    for entry in data["log"]:  # cassettes are committed: no privileged sandbox text on the wire
        entry["activity"]["desc"] = entry["activity"]["name"]
    sandbox = NetDocumentsSandbox(data, clock=FakeClock(CASSETTE_NOW), rng_seed=1)
    with serve_for_recording(create_app(sandbox), LIVE_PORT):
        yield sandbox


def cassette_connector(token: OAuthToken | None = None, **settings: object) -> NetDocumentsConnector:
    """A connector on a plain requests session (vcrpy intercepts it)."""
    clock = FakeClock(CASSETTE_NOW)
    tokens = token_store(clock)
    if token is not None:
        tokens.save(FIRM, "netdocuments", token)
    ctx = Context(firm=FIRM, http=HttpClient(sleep=lambda s: None), tokens=tokens, log=structlog.get_logger())
    return NetDocumentsConnector(
        NetDocumentsConnector.Settings(**connector_settings(f"{LIVE_BASE}/netdocuments", **settings)),
        ctx,
        clock=clock.now,
    )


def test_cassette_service_account_check_and_log(live_sandbox: NetDocumentsSandbox | None) -> None:
    connector = cassette_connector()
    with netdocuments_vcr(record=RECORDING).use_cassette(
        "test_netdocuments_client/service_account_log.yaml"
    ) as cassette:
        connector.check()
        [stream] = connector.streams()
        activities = [r for page in stream.read(None) for r in page.records]
    assert len(activities) == 6
    log_bodies = [resp["body"]["string"] for req, resp in cassette.data if req.path.endswith("/log")]
    bom = "\ufeff"
    assert log_bodies and all((b if isinstance(b, str) else b.decode()).startswith(bom) for b in log_bodies)
    assert cassette.all_played or RECORDING


def test_cassette_an_idle_token_is_replaced_after_a_401(live_sandbox: NetDocumentsSandbox | None) -> None:
    stale = OAuthToken("stale-access-token", None, CASSETTE_NOW + timedelta(hours=1))
    connector = cassette_connector(stale)
    with netdocuments_vcr(record=RECORDING).use_cassette("test_netdocuments_client/idle_token_401.yaml") as cassette:
        me = connector.client.user_info()
    assert me["id"] == "service"
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in cassette.requests] == [
        ("GET", "info"),
        ("POST", "OAuth"),
        ("GET", "info"),
    ]
