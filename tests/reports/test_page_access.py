"""Who reads the report pages, what a link can make them say, and what a browser may do with them.

The demo firm's month (tests/reports/firm.py), its first timekeeper named like a link to a
phishing page, served by the daemon's app. The pages show client names, narratives and amounts
on the listener vendors' webhooks reach from the internet: a stranger gets the sign-in form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from config.settings import BillsyncSettings
from core.server import BackgroundWork, build_app
from tests.reports.firm import REVIEW_TOKEN, ReportFirm

pytestmark = pytest.mark.e2e
HOSTILE_NAME = '<a href="https://evil.example/login">Session expired - sign in</a>'
READ_TOKEN = "read-token-for-the-demo-firm-000"
OTHER_TOKEN = "token-of-another-firm-1111111111"
PAGES = ("/reports", "/reports/demo", "/reports/demo/review")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def firm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportFirm]:
    made = ReportFirm(tmp_path_factory.mktemp("page-access"), first_user_name=HOSTILE_NAME)
    made.run_month()
    yield made
    made.close()


def with_reports(settings: BillsyncSettings, firm_id: str, **tokens: str | None) -> BillsyncSettings:
    """The settings with the firm's read and review tokens set as given (None: no such token)."""
    current = settings.firms[firm_id]
    values = {k: SecretStr(v) if v is not None else None for k, v in tokens.items()}
    firm = current.model_copy(update={"reports": current.reports.model_copy(update=values)})
    return settings.model_copy(update={"firms": {**settings.firms, firm_id: firm}})


@pytest.fixture
def worker() -> Iterator[BackgroundWork]:
    work = BackgroundWork()
    yield work
    work.close()


def several_firms_client(firm: ReportFirm, settings: BillsyncSettings, worker: BackgroundWork) -> TestClient:
    """The app over every firm of `settings`, each a runtime on the demo firm's store, as one daemon serves them."""
    runtimes = {
        firm_id: replace(firm.runtime, firm_id=firm_id, settings=settings.firm(firm_id)) for firm_id in settings.firms
    }
    return TestClient(build_app(runtimes, settings=settings, worker=worker))


def client_data(firm: ReportFirm) -> list[str]:
    """What the pages must not show a stranger: the firm's clients' matter names and a narrative."""
    reference = firm.store.load_reference("demo")
    narrative = firm.store.entries("demo")[0].narrative
    return [*[m.name for m in reference.matters.values()][:3], narrative]


def test_every_page_needs_a_token_and_a_stranger_gets_the_sign_in_form(firm: ReportFirm) -> None:
    settings = with_reports(firm.settings, "demo", read_token=READ_TOKEN)
    with firm.app(settings) as client:
        for path in PAGES:
            stranger = client.get(path, follow_redirects=False)
            assert stranger.status_code == 401, path
            assert 'action="/reports/login"' in stranger.text and 'type="password"' in stranger.text
            assert not [text for text in client_data(firm) if text in stranger.text], path
            wrong = client.get(path, headers=bearer("not-the-token-of-any-firm"), follow_redirects=False)
            assert wrong.status_code == 401 and wrong.json() == {"error": "a valid read or review token is required"}
        for token in (READ_TOKEN, REVIEW_TOKEN):
            assert client.get("/reports/demo", headers=bearer(token)).status_code == 200
            assert client.get("/reports/demo/review", headers=bearer(token)).status_code == 200
        # plotly.js is the open-source library, the same for everyone: no token needed.
        assert client.get("/reports/static/plotly.min.js").status_code == 200


def test_a_firm_without_tokens_has_pages_nobody_reads(firm: ReportFirm) -> None:
    settings = with_reports(firm.settings, "demo", read_token=None, review_token=None)
    with firm.app(settings) as client:
        for path in PAGES:
            assert client.get(path, headers=bearer(REVIEW_TOKEN), follow_redirects=False).status_code == 401


def test_a_token_opens_its_own_firms_only_and_the_index_lists_just_those(
    firm: ReportFirm, worker: BackgroundWork
) -> None:
    settings = with_reports(firm.settings, "demo", read_token=READ_TOKEN)
    other = settings.firms["demo"].model_copy(update={"name": "Other Firm LLP"})
    settings = settings.model_copy(update={"firms": {**settings.firms, "other": other, "third": other}})
    settings = with_reports(settings, "other", read_token=OTHER_TOKEN, review_token=None)
    settings = with_reports(settings, "third", read_token=OTHER_TOKEN, review_token=None)
    with several_firms_client(firm, settings, worker) as client:
        only_demo = client.get("/reports", headers=bearer(READ_TOKEN), follow_redirects=False)
        assert only_demo.status_code == 303 and only_demo.headers["location"] == "/reports/demo"
        both = client.get("/reports", headers=bearer(OTHER_TOKEN))
        assert both.status_code == 200
        assert re.findall(r'href="/reports/([a-z]+)"', both.text) == ["other", "third"]
        # Another firm's page and a firm that does not exist look the same to a token: 404.
        assert client.get("/reports/other", headers=bearer(READ_TOKEN)).status_code == 404
        assert client.get("/reports/other/review", headers=bearer(READ_TOKEN)).status_code == 404
        assert client.get("/reports/nobody", headers=bearer(READ_TOKEN)).status_code == 404
        assert client.get("/reports/demo", headers=bearer(OTHER_TOKEN)).status_code == 404


def test_signing_in_gives_a_read_cookie_that_is_not_the_token_and_allows_no_action(firm: ReportFirm) -> None:
    entry = firm.store.entries("demo")[0]
    with firm.app() as client:
        refused = client.post("/reports/login", data={"token": "not-the-token-of-any-firm"}, follow_redirects=False)
        assert refused.status_code == 401 and "That token opens no firm&#39;s pages." in refused.text
        assert "set-cookie" not in refused.headers

        signed = client.post("/reports/login", data={"token": REVIEW_TOKEN}, follow_redirects=False)
        assert signed.status_code == 303 and signed.headers["location"] == "/reports"
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith("billsync_reports=") and REVIEW_TOKEN not in cookie
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/reports" in cookie
        assert client.get("/reports/demo").status_code == 200  # the browser's cookie opens the pages
        assert client.get("/reports", follow_redirects=False).headers["location"] == "/reports/demo"

        action = client.post(f"/reports/demo/review/entries/{entry.id}/reject", data={"matter_id": "x"})
        assert action.status_code == 401  # the cookie reads; acting needs the review token itself
        assert firm.store.entries("demo", ids=[entry.id])[0].state is entry.state

        out = client.post("/reports/logout", follow_redirects=False)
        assert out.status_code == 303 and 'billsync_reports=""' in out.headers["set-cookie"]
        assert client.get("/reports/demo").status_code == 401


def test_no_page_puts_a_token_in_a_link(firm: ReportFirm) -> None:
    settings = with_reports(firm.settings, "demo", read_token=READ_TOKEN)
    with firm.app(settings) as client:
        pages = [client.get(p, headers=bearer(t)).text for p in PAGES[1:] for t in (READ_TOKEN, REVIEW_TOKEN)]
    for page in pages:
        assert READ_TOKEN not in page and REVIEW_TOKEN not in page
        assert not [href for href in re.findall(r'(?:href|action|src)="([^"]*)"', page) if "token" in href.lower()]


def test_a_link_cannot_choose_what_the_review_page_says(firm: ReportFirm) -> None:
    phishing = "Session expired: sign in again at evil.example"
    with firm.app() as client:
        page = client.get(
            "/reports/demo/review", params={"done": phishing, "error": phishing}, headers=bearer(REVIEW_TOKEN)
        ).text
        assert phishing not in page and 'class="done"' not in page and 'class="error"' not in page
        # A message cookie the server did not sign (here: signed under another key) is not shown either.
        forged = base64.urlsafe_b64encode(json.dumps(["done", phishing]).encode()).decode()
        signature = hmac.new(b"a key that is not the firm's", forged.encode(), hashlib.sha256).hexdigest()
        client.cookies.set("billsync_flash", f"{forged}.{signature}", path="/reports/demo/review")
        page = client.get("/reports/demo/review", headers=bearer(REVIEW_TOKEN)).text
        assert phishing not in page and 'class="done"' not in page


def test_an_action_leaves_its_own_message_once(firm: ReportFirm) -> None:
    with firm.app() as client:
        answer = client.post(
            "/reports/demo/review/activities/nope/assign",
            data={"token": REVIEW_TOKEN, "matter_id": "ZZZ-404"},
            follow_redirects=False,
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/reports/demo/review"
        first = client.get("/reports/demo/review", headers=bearer(REVIEW_TOKEN)).text
        again = client.get("/reports/demo/review", headers=bearer(REVIEW_TOKEN)).text
    assert '<p class="error" role="alert">no matter with id or number &#39;ZZZ-404&#39;</p>' in first
    assert 'class="error"' not in again


def inline_scripts(page: str) -> list[str]:
    """The opening tags of the page's inline scripts that would run (data blocks excluded)."""
    tags = re.findall(r"<script\b[^>]*>", page)
    return [t for t in tags if "src=" not in t and 'type="application/json"' not in t]


def test_pages_forbid_framing_and_sniffing_and_run_only_their_own_scripts(firm: ReportFirm) -> None:
    with firm.app() as client:
        answers = {path: client.get(path, headers=bearer(REVIEW_TOKEN)) for path in PAGES[1:]}
        answers["/reports/login"] = client.get("/reports/login")
        answers["stranger"] = client.get("/reports/demo")
        again = client.get("/reports/demo", headers=bearer(REVIEW_TOKEN))
        health = client.get("/healthz")
    nonces = set()
    for path, answer in answers.items():
        policy = answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY", path
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy, path
        [nonce] = re.findall(r"script-src 'self' 'nonce-([A-Za-z0-9_-]+)'", policy)
        nonces.add(nonce)
        assert all(f'nonce="{nonce}"' in tag for tag in inline_scripts(answer.text)), path
        assert not re.search(r"<[^>]+\son[a-z]+=", answer.text), f"{path}: an inline event handler"
    assert inline_scripts(answers["/reports/demo"].text)  # the dashboard does run a script of its own
    assert len(nonces) == len(answers)  # a nonce per answer
    assert again.headers["content-security-policy"] != answers["/reports/demo"].headers["content-security-policy"]
    assert health.headers["x-content-type-options"] == "nosniff" and health.headers["x-frame-options"] == "DENY"


def chart_figures(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page, re.S)
    assert found is not None, "the dashboard embeds no chart data"
    figures: dict[str, Any] = json.loads(found.group(1))
    return figures


def test_a_name_reaches_chart_labels_as_text_never_as_markup(firm: ReportFirm) -> None:
    with firm.app() as client:
        page = client.get("/reports/demo", params={"period": "2026-10"}, headers=bearer(REVIEW_TOKEN)).text
    names = [trace["name"] for trace in chart_figures(page)["chart-hours"]["data"]]
    # Plotly reads <a>, <b>, <br>... in every label and decodes entities after: escaped, it draws the characters.
    assert "&lt;a href=\"https://evil.example/login\"&gt;Session expired - sign in&lt;/a&gt;" in names
    assert not [name for name in names if "<" in name or ">" in name]
