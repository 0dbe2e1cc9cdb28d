"""Signing a browser in at /reports/login, over HTTP on loopback as the daemon serves it.

The cookie is Secure wherever the browser is on https (the request, a proxy in front that says
so and that `[server] trusted_proxies` names, or the public URL the daemon was given) and always
HttpOnly and SameSite=strict; a script that bears a valid token is signed in as the other report
pages let it read; and guessing tokens is slowed: after ten failed tries an address waits, with
429 and Retry-After. The address is the connection's peer unless that peer is a trusted proxy:
an X-Forwarded-For from anyone else changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from billsync_sandboxes.cli.sandbox import write_sandbox_config
from pydantic import SecretStr, ValidationError

from config.server import ServerSettings
from config.settings import BillsyncSettings, load_settings
from core.runtime import build_runtime
from core.server import BackgroundWork, build_app
from core.serving import run_in_thread
from core.store.store import Store

READ_TOKEN = "read-token-of-the-firm-0123456789"
NOT_A_TOKEN = "not-the-token-of-any-firm-000000"


class Clock:
    """The server's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class SignInServer:
    """The daemon's app for one firm with a read token, served on 127.0.0.1 with a clock the test moves."""

    def __init__(self, tmp: Path, *, public_url: str | None = None, trusted_proxies: str = "") -> None:
        config = tmp / "billsync.toml"
        write_sandbox_config(config, "http://127.0.0.1:9", ["clio"])  # no vendor is called here
        if trusted_proxies:  # as the firm writes it in its configuration file
            config.write_text(config.read_text() + f"\n[server]\ntrusted_proxies = {trusted_proxies}\n")
        loaded = load_settings(config)
        firm = loaded.firms["demo"]
        reports = firm.reports.model_copy(update={"read_token": SecretStr(READ_TOKEN)})
        self.settings: BillsyncSettings = loaded.model_copy(
            update={"firms": {"demo": firm.model_copy(update={"reports": reports})}}
        )
        self.store = Store.open(self.settings.database_url)
        self.clock = Clock()
        self.worker = BackgroundWork()
        runtime = build_runtime(self.settings, "demo", self.store)
        self.app = build_app(
            {"demo": runtime}, settings=self.settings, worker=self.worker, clock=self.clock, public_url=public_url
        )
        self.port, self._stop = run_in_thread(self.app, trusted_proxies=self.settings.server.trusted_proxies)
        self.base = f"http://127.0.0.1:{self.port}"

    def post_login(self, token: str | None = None, **kwargs: object) -> requests.Response:
        data = {"token": token} if token is not None else None
        return requests.post(f"{self.base}/reports/login", data=data, allow_redirects=False, timeout=10, **kwargs)

    def close(self) -> None:
        self._stop()
        self.worker.close()
        self.store.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SignInServer]:
    served = SignInServer(tmp_path)
    yield served
    served.close()


def cookie_attributes(response: requests.Response) -> set[str]:
    header = response.headers["set-cookie"]
    assert header.startswith("billsync_reports=") and READ_TOKEN not in header
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}


def test_over_plain_http_the_cookie_is_httponly_and_strict_but_not_secure(server: SignInServer) -> None:
    signed = server.post_login(READ_TOKEN)
    assert signed.status_code == 303 and signed.headers["location"] == "/reports"
    attributes = cookie_attributes(signed)
    assert {"httponly", "samesite", "path", "max-age"} <= attributes and "secure" not in attributes
    assert "SameSite=strict" in signed.headers["set-cookie"]


def test_behind_a_trusted_proxy_that_says_https_the_cookie_is_secure(tmp_path: Path) -> None:
    served = SignInServer(tmp_path, trusted_proxies='["127.0.0.1"]')  # nginx on the same machine
    try:
        signed = served.post_login(READ_TOKEN, headers={"X-Forwarded-Proto": "https"})
        assert signed.status_code == 303
        assert {"secure", "httponly", "samesite"} <= cookie_attributes(signed)
        plain = served.post_login(READ_TOKEN, headers={"X-Forwarded-Proto": "http"})
        assert plain.status_code == 303 and "secure" not in cookie_attributes(plain)
    finally:
        served.close()


def test_a_forwarded_scheme_from_a_peer_not_trusted_is_ignored(server: SignInServer) -> None:
    for header in ({"X-Forwarded-Proto": "https"}, {"Forwarded": "for=203.0.113.9;proto=https"}):
        signed = server.post_login(READ_TOKEN, headers=header)
        assert signed.status_code == 303
        assert "secure" not in cookie_attributes(signed), header


def test_with_an_https_public_url_the_cookie_is_secure_even_if_the_proxy_says_nothing(tmp_path: Path) -> None:
    served = SignInServer(tmp_path, public_url="https://billing.firm.example")
    try:
        signed = served.post_login(READ_TOKEN)
        assert signed.status_code == 303
        assert {"secure", "httponly", "samesite"} <= cookie_attributes(signed)
    finally:
        served.close()


def test_a_valid_bearer_token_signs_in_as_the_other_pages_accept_it(server: SignInServer) -> None:
    bearer = {"Authorization": f"Bearer {READ_TOKEN}"}
    page = requests.get(f"{server.base}/reports/demo", headers=bearer, timeout=30)
    assert page.status_code == 200  # the other pages accept it
    form = requests.get(f"{server.base}/reports/login", headers=bearer, allow_redirects=False, timeout=10)
    assert form.status_code == 303 and form.headers["location"] == "/reports"
    signed = server.post_login(headers=bearer)
    assert signed.status_code == 303 and signed.headers["location"] == "/reports"
    assert "httponly" in cookie_attributes(signed)
    wrong = {"Authorization": f"Bearer {NOT_A_TOKEN}"}
    refused = requests.get(f"{server.base}/reports/login", headers=wrong, allow_redirects=False, timeout=10)
    assert refused.status_code == 401
    assert server.post_login(headers=wrong).status_code == 401


def test_ten_failed_tries_make_an_address_wait_with_429_and_retry_after(server: SignInServer) -> None:
    for attempt in range(10):
        server.clock.now += 30  # one try every 30 s: ten tries within the 10-minute window
        refused = server.post_login(NOT_A_TOKEN)
        assert refused.status_code == 401, attempt
    limited = server.post_login(READ_TOKEN)  # even the right token waits: guessing must stop
    assert limited.status_code == 429 and "set-cookie" not in limited.headers
    # The first failure was at +30 s, the clock is at +300 s: it ages out at +630 s, 330 s from now.
    assert limited.headers["retry-after"] == "330"
    assert "Too many failed sign-ins from this address: try again in 6 minute(s)." in limited.text
    server.clock.now += 330
    assert server.post_login(READ_TOKEN).status_code == 303  # the oldest failure aged out
    for _ in range(10):  # a success starts the address afresh: ten more tries before it waits
        assert server.post_login(NOT_A_TOKEN).status_code == 401
    assert server.post_login(NOT_A_TOKEN).status_code == 429


def test_without_a_trusted_proxy_x_forwarded_for_does_not_dodge_the_limit(server: SignInServer) -> None:
    # One machine guessing, each try claiming another address: they all count against its own.
    for attempt in range(10):
        refused = server.post_login(NOT_A_TOKEN, headers={"X-Forwarded-For": f"10.0.0.{attempt}"})
        assert refused.status_code == 401, attempt
    for attempt in range(10, 25):
        limited = server.post_login(NOT_A_TOKEN, headers={"X-Forwarded-For": f"10.0.0.{attempt}"})
        assert limited.status_code == 429, attempt
    assert server.post_login(READ_TOKEN, headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 429
    assert server.post_login(READ_TOKEN).status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_limited(tmp_path: Path) -> None:
    served = SignInServer(tmp_path, trusted_proxies='["127.0.0.1"]')
    try:
        guesser = {"X-Forwarded-For": "203.0.113.5"}
        for attempt in range(10):
            assert served.post_login(NOT_A_TOKEN, headers=guesser).status_code == 401, attempt
        assert served.post_login(READ_TOKEN, headers=guesser).status_code == 429
        # Another client behind the same proxy, and the proxy's own address, are not held up.
        assert served.post_login(READ_TOKEN, headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 303
        assert served.post_login(READ_TOKEN).status_code == 303
    finally:
        served.close()


def test_a_trusted_proxy_must_be_an_address_or_a_network() -> None:
    assert ServerSettings(trusted_proxies=("127.0.0.1", "10.0.0.0/8", "::1")).trusted_proxies[1] == "10.0.0.0/8"
    with pytest.raises(ValidationError, match="'nginx' is not an IP address or network"):
        ServerSettings(trusted_proxies=("nginx",))
