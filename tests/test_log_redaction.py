"""No secret or privileged text reaches a log line, whichever logging path carries it.

Canaries are planted under sensitive keys, nested in dicts and lists, inside free text
(exception messages with URLs, headers quoted in errors) and in tracebacks; the captured
output must contain none of them, in JSON and in console form.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import NamedTuple

import pytest
import structlog
from cryptography.fernet import Fernet

from core.logging import REDACTED, configure_logging

ACCESS_TOKEN = "CANARY-access-9f2c1e"
REFRESH_TOKEN = "CANARY-refresh-4b7d0a"
CLIENT_SECRET = "CANARY-client-secret-77e1"
FERNET_KEY = Fernet.generate_key().decode()
WEBHOOK_SECRET = "whsec_Q0FOQVJZLXdlYmhvb2stc2VjcmV0"
BODY = "CANARY-body: the client will settle for 40k"
CANARIES = (ACCESS_TOKEN, REFRESH_TOKEN, CLIENT_SECRET, FERNET_KEY, WEBHOOK_SECRET, BODY)


class Hit(NamedTuple):
    matter: str
    authorization: str


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def capture(json_output: bool, emit) -> str:
    out = io.StringIO()
    configure_logging(level="debug", stream=out, json=json_output)
    emit(structlog.get_logger())
    return out.getvalue()


def leaked(text: str) -> list[str]:
    return [canary for canary in CANARIES if canary in text]


def log_everything(log) -> None:
    # Sensitive keys at the top level.
    log.info(
        "oauth refreshed",
        access_token=ACCESS_TOKEN,
        refresh_token=REFRESH_TOKEN,
        client_secret=CLIENT_SECRET,
        secret_key=FERNET_KEY,
        fernet_key=FERNET_KEY,
        webhook_secret=WEBHOOK_SECRET,
        authorization=f"Bearer {ACCESS_TOKEN}",
        body=BODY,
    )
    # Nested in dicts and lists, and in a named tuple.
    log.info(
        "request",
        request={"headers": {"Authorization": f"Bearer {ACCESS_TOKEN}"}, "json": {"client_secret": CLIENT_SECRET}},
        tokens=[{"token": REFRESH_TOKEN}],
        messages=[{"subject": "hello", "body": BODY}, ({"content": BODY},)],
        hits=[Hit("m-1", f"Bearer {ACCESS_TOKEN}")],
        subscription={"id": "sub-1", "secret": WEBHOOK_SECRET},
    )
    # Free text: what a careless error message or f-string carries.
    url = f"https://app.clio.com/api/v4/users?access_token={ACCESS_TOKEN}&fields=id"
    log.warning(f"GET {url} failed")
    log.error("job", error=f"401 Client Error: Unauthorized for url: {url}")
    log.error("token exchange failed", detail=f"grant_type=refresh_token&refresh_token={REFRESH_TOKEN}")
    log.error("vendor said", response=f'{{"access_token": "{ACCESS_TOKEN}", "refresh_token": "{REFRESH_TOKEN}"}}')
    log.error("header echo", note=f"sent Authorization: Bearer {ACCESS_TOKEN}")
    log.error("signing", note=f"verifying with {WEBHOOK_SECRET}")
    log.error("oauth", detail=f"client_id=abc&client_secret={CLIENT_SECRET}")
    # Exceptions: as a value and as exc_info (tracebacks carry the message).
    error = RuntimeError(f"401 for url: {url}")
    log.error("failed", error=error)
    try:
        raise error
    except RuntimeError:
        log.exception("failed with traceback")
    log.error("failed again", exc_info=error)


@pytest.mark.parametrize("json_output", [True, False], ids=["json", "console"])
def test_no_canary_reaches_the_output(json_output: bool) -> None:
    text = capture(json_output, log_everything)
    assert "oauth refreshed" in text and "failed with traceback" in text  # the lines are there
    assert leaked(text) == []
    assert REDACTED in text


def test_json_lines_stay_valid_and_keep_harmless_fields() -> None:
    def emit(log) -> None:
        log.info("job", firm="acme", job="poll", read=3, access_token=ACCESS_TOKEN, idempotency="k-1")
        log.error("job", error=f"GET https://x.test/a?access_token={ACCESS_TOKEN}&page=2 failed")

    lines = [json.loads(line) for line in capture(True, emit).splitlines()]
    assert lines[0]["firm"] == "acme" and lines[0]["read"] == 3 and lines[0]["idempotency"] == "k-1"
    assert lines[0]["access_token"] == REDACTED
    assert lines[1]["error"] == f"GET https://x.test/a?access_token={REDACTED}&page=2 failed"


AUTH_CODE = "CANARY-oauth-code-5d1a"


def test_an_oauth_code_is_redacted_but_a_vendors_error_code_is_kept() -> None:
    graph_error = '{"error":{"code":"ExtensionError","message":"Operation: Create; Status Code: Forbidden"}}'

    def emit(log) -> None:
        log.error("callback failed", url=f"https://billsync.example/connect/clio/callback?code={AUTH_CODE}&state=s1")
        log.error("token exchange failed", detail=f"grant_type=authorization_code&code={AUTH_CODE}&redirect_uri=x")
        log.error("token exchange failed", detail=f"code={AUTH_CODE}&state=s1")
        log.error("vendor said", response=f'{{"authorization_code": "{AUTH_CODE}"}}')
        log.info("oauth", authorization_code=AUTH_CODE)
        log.warning("graph subscription for a mail resource not made", problem=f"403 Forbidden: {graph_error}")
        log.warning("vendor error", error={"code": "InvalidRequest", "message": "bad filter"}, status_code=400)

    text = capture(True, emit)
    lines = [json.loads(line) for line in text.splitlines()]
    assert AUTH_CODE not in text and len(lines) == 7
    assert lines[0]["url"] == f"https://billsync.example/connect/clio/callback?code={REDACTED}&state=s1"
    assert lines[1]["detail"] == f"grant_type=authorization_code&code={REDACTED}&redirect_uri=x"
    assert lines[4]["authorization_code"] == REDACTED
    assert lines[5]["problem"] == f"403 Forbidden: {graph_error}"  # the Graph code an operator looks up
    assert lines[6]["error"] == {"code": "InvalidRequest", "message": "bad filter"} and lines[6]["status_code"] == 400


def test_canaries_are_what_they_claim() -> None:
    # A canary that never appears even unredacted would prove nothing.
    def emit(log) -> None:
        log.info("plain", note=" ".join(c for c in CANARIES))

    assert len(leaked(capture(True, emit))) >= 1


def log_from_libraries(_log) -> None:
    """What apscheduler, urllib3 and uvicorn say through the stdlib `logging`, quoting secrets."""
    import logging

    logging.getLogger("urllib3.connectionpool").warning(
        "Retrying (Retry(total=2)) after connection broken by '%s': /oauth/token?refresh_token=%s",
        "ReadTimeoutError", REFRESH_TOKEN,
    )  # fmt: skip
    logging.getLogger("apscheduler.executors.default").warning(
        "Job %s raised with Authorization: Bearer %s", "acme:poll", ACCESS_TOKEN
    )
    try:
        raise RuntimeError(f"webhook secret {WEBHOOK_SECRET} refused; client_secret={CLIENT_SECRET}")
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    logging.getLogger("alembic.runtime.migration").info("Running upgrade, said below WARNING: not shown")


@pytest.mark.parametrize("json_output", [True, False], ids=["json", "console"])
def test_library_lines_are_redacted_like_ours(json_output: bool) -> None:
    text = capture(json_output, log_from_libraries)
    assert "Retrying" in text and "Exception in ASGI application" in text and "RuntimeError" in text
    assert leaked(text) == []
    assert "not shown" not in text  # libraries speak from WARNING up


def test_library_lines_are_json_lines_like_ours() -> None:
    def emit(log) -> None:
        log.info("job", firm="acme")
        log_from_libraries(log)

    lines = [json.loads(line) for line in capture(True, emit).splitlines()]  # every line parses
    assert [line.get("logger") for line in lines] == [
        None, "urllib3.connectionpool", "apscheduler.executors.default", "uvicorn.error"
    ]  # fmt: skip
    assert all(line["level"] in ("info", "warning", "error") and "timestamp" in line for line in lines)
    assert "Traceback" in lines[-1]["exception"] and REDACTED in lines[-1]["exception"]
