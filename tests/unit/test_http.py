"""The one retry policy: what is retried, how long it waits, and what is never re-sent."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

import pytest
import requests

from core.errors import AuthFailed, Fatal, Indeterminate, Retryable, ShuttingDown
from core.http import HttpClient, RateLimiter, RetryPolicy, Shutdown, retry_after_seconds


class ScriptedSession(requests.Session):
    """Answers each request with the next scripted outcome: a status (and headers) or an exception."""

    def __init__(self, script: list[object]) -> None:
        super().__init__()
        self.script = list(script)
        self.sent: list[str] = []

    def request(self, method, url, **kwargs):  # type: ignore[override]
        self.sent.append(method)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        status, headers = step if isinstance(step, tuple) else (step, {})
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        response._content = b"{}"
        response.url = url
        return response


def client(script: list[object], sleeps: list[float] | None = None, now: Callable[[], float] = lambda: 1000.0):
    session = ScriptedSession(script)
    waits = sleeps if sleeps is not None else []
    http = HttpClient(
        session=session, policy=RetryPolicy(attempts=4, base_seconds=1, cap_seconds=8), sleep=waits.append, clock=now
    )
    return http, session, waits


def test_get_is_retried_on_5xx_and_timeouts_then_succeeds() -> None:
    http, session, waits = client([500, requests.Timeout(), 503, 200])
    assert http.request("GET", "https://x.example/a").status_code == 200
    assert session.sent == ["GET"] * 4
    assert len(waits) == 3 and all(0 <= w <= 8 for w in waits)  # full jitter under the cap


def test_retries_are_bounded() -> None:
    http, session, _ = client([500, 500, 500, 500, 500])
    with pytest.raises(Retryable, match="HTTP 500"):
        http.request("GET", "https://x.example/a")
    assert len(session.sent) == 4


def test_retry_after_wins_over_the_backoff() -> None:
    http, _, waits = client([(429, {"Retry-After": "7"}), 200])
    http.request("GET", "https://x.example/a")
    assert 7 <= waits[0] <= 7.25


def test_a_post_whose_outcome_is_unknown_is_never_resent() -> None:
    for outcome in (500, requests.Timeout(), requests.exceptions.ChunkedEncodingError()):
        http, session, _ = client([outcome, 200])
        with pytest.raises(Indeterminate):
            http.request("POST", "https://x.example/activities", json={})
        assert session.sent == ["POST"]


def test_a_post_refused_with_429_is_safe_to_repeat() -> None:
    http, session, _ = client([(429, {"Retry-After": "1"}), 201])
    assert http.request("POST", "https://x.example/activities").status_code == 201
    assert session.sent == ["POST", "POST"]


def test_a_keyed_post_may_be_retried() -> None:
    http, _session, _ = client([502, 201])
    assert http.request("POST", "https://x.example/charges", idempotent=True).status_code == 201


def test_refused_connection_is_retried_even_for_a_post() -> None:
    http, _session, _ = client([requests.ConnectionError("Connection refused"), 201])
    assert http.request("POST", "https://x.example/a").status_code == 201


def test_client_errors_are_final_and_401_asks_for_reconnection() -> None:
    http, _session, _ = client([422])
    with pytest.raises(Fatal, match="HTTP 422"):
        http.request("GET", "https://x.example/a?token=secret")
    http, _, _ = client([401])
    with pytest.raises(AuthFailed, match="reconnect"):
        http.request("GET", "https://x.example/a")


def test_error_messages_never_carry_the_query_string() -> None:
    http, _, _ = client([404])
    with pytest.raises(Fatal) as caught:
        http.request("GET", "https://x.example/a?access_token=abc123")
    assert "abc123" not in str(caught.value)


def test_the_rate_limiter_slows_down_before_the_vendor_says_429() -> None:
    clock = {"now": 1000.0}
    limiter = RateLimiter(clock=lambda: clock["now"])
    limiter.observe("t1", 200, {"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "1060"})
    assert limiter.wait_seconds("t1") == 0
    limiter.observe("t1", 200, {"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "1060"})
    assert limiter.wait_seconds("t1") == 60 and limiter.wait_seconds("t2") == 0
    clock["now"] = 1061
    assert limiter.wait_seconds("t1") == 0


def test_requests_wait_for_the_window_to_reset() -> None:
    clock = {"now": 1000.0}
    http, _session, waits = client(
        [(200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1030"}), 200], now=lambda: clock["now"]
    )
    http.limiter = RateLimiter(clock=lambda: clock["now"])
    http.request("GET", "https://x.example/a", rate_key="t")
    http.request("GET", "https://x.example/a", rate_key="t")
    assert waits == [30.0]


def test_retry_after_as_an_http_date() -> None:
    assert retry_after_seconds({"Retry-After": "Thu, 01 Jan 1970 00:16:50 GMT"}, now=1000.0) == 10.0
    assert retry_after_seconds({"Retry-After": "soon"}, now=0) is None


def test_once_the_stop_began_no_request_is_sent_and_a_retry_wait_ends_at_once() -> None:
    shutdown = Shutdown()
    session = ScriptedSession([(429, {"Retry-After": "60"}), 200])
    http = HttpClient(session=session, policy=RetryPolicy(attempts=4, cap_seconds=120), shutdown=shutdown)
    # Answered 429 "retry in 60 s"; the stop begins 0.2 s into the wait.
    threading.Timer(0.2, shutdown.begin).start()
    began = time.monotonic()
    with pytest.raises(ShuttingDown):
        http.request("POST", "https://x.example/activities", idempotent=True)
    assert time.monotonic() - began < 5  # not the 60 s the vendor asked for
    assert session.sent == ["POST"]  # the retry was never sent

    with pytest.raises(ShuttingDown, match="billsync is stopping"):
        http.request("GET", "https://x.example/after")
    assert session.sent == ["POST"]


def test_a_client_told_to_stop_refuses_before_sending() -> None:
    shutdown = Shutdown()
    session = ScriptedSession([200])
    http = HttpClient(session=session, shutdown=shutdown)
    shutdown.begin()
    with pytest.raises(ShuttingDown, match=re.escape("POST https://x.example/activities: not sent, billsync is")):
        http.request("POST", "https://x.example/activities?token=abc")
    assert session.sent == []
