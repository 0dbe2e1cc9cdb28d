"""The Connector: settings, check, connecting with OAuth, and the sandbox factory."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from billsync_sandboxes.practicepanther.factory import build_sandbox, connector_settings
from pydantic import SecretStr

from connectors.practicepanther.connector import PracticePantherConnector, PracticePantherSettings
from core.errors import AuthFailed
from tests.connectors.practicepanther.harness import make_env
from tests.connectors.practicepanther.seed import seed


def test_settings_keep_the_secret_secret_and_name_matches_the_folder() -> None:
    settings = PracticePantherSettings(client_id="id", client_secret=SecretStr("s3cret"))
    assert "s3cret" not in repr(settings) and PracticePantherConnector.name == "practicepanther"
    with pytest.raises(ValueError):
        PracticePantherSettings(client_id="id", client_secret=SecretStr("s"), page_size=500)


def test_check_needs_a_connection_and_reports_revocation() -> None:
    env = make_env(connected=False)
    with pytest.raises(AuthFailed, match="connect practicepanther"):
        env.connector.check()
    env = make_env()
    env.connector.check()
    assert env.connector.webhooks() is None
    env.admin("POST", "tokens/revoke")
    with pytest.raises(AuthFailed):
        env.connector.check()


def test_connecting_with_the_authorization_code_grant() -> None:
    env = make_env(connected=False)
    url = env.connector.authorize_url("https://billsync.example.test/cb", "st4te")
    parts = urlsplit(url)
    assert parts.path == "/practicepanther/oauth/authorize"
    consent = env.app.get(f"{parts.path}?{parts.query}", follow_redirects=False)
    query = parse_qs(urlsplit(consent.headers["location"]).query)
    assert query["state"] == ["st4te"]
    token = env.connector.exchange_code(query["code"][0], "https://billsync.example.test/cb")
    assert token.refresh_token and token.expires_at is not None
    with pytest.raises(AuthFailed):  # an authorization code works once
        env.connector.exchange_code(query["code"][0], "https://billsync.example.test/cb")


def test_the_factory_builds_a_sandbox_the_settings_reach() -> None:
    sandbox = build_sandbox(seed(), rate_limit_per_minute=50)
    assert sandbox.rate_limiter.limit == 300  # never below PP's 300 per 5 minutes
    assert build_sandbox(seed(), rate_limit_per_minute=100_000).rate_limiter.limit == 500_000
    settings = PracticePantherSettings(**connector_settings("http://127.0.0.1:8700/"))
    assert settings.base_url == "http://127.0.0.1:8700/practicepanther"
    assert settings.client_secret.get_secret_value() == sandbox.client_secret
