"""The one transport: what a refused request's error carries, vendor refusals as data, and bearer renewal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
import requests
from pydantic import SecretStr

from core import oauth
from core.bearer import BearerAuth, token_rate_key
from core.errors import AuthFailed, Fatal, HttpAnswer, Indeterminate, NotConnected, Retryable
from core.http import ANSWER_BODY_LIMIT, HttpClient, RateLimiter, Refusal, RetryPolicy, answer_error
from core.tokens import OAuthToken

URL = "https://vendor.example/api/records/7?email=someone%40example.com"


class Step:
    """One scripted answer: a status, headers and a body (or an exception to raise)."""

    def __init__(self, status: int, body: str = "{}", headers: Mapping[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, dict(headers or {})


class Vendor(requests.Session):
    """Answers each request with the next step and remembers what was sent (method, Authorization)."""

    def __init__(self, *steps: Step | Exception) -> None:
        super().__init__()
        self.steps = list(steps)
        self.sent: list[tuple[str, str | None]] = []

    def request(self, method, url, **kwargs):  # type: ignore[no-untyped-def,override]
        self.sent.append((method, (kwargs.get("headers") or {}).get("Authorization")))
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        response = requests.Response()
        response.status_code = step.status
        response.headers.update(step.headers)
        response._content = step.body.encode()
        response.url = url
        return response


class KeySpy(RateLimiter):
    """The real limiter, remembering every rate key it was asked about."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []

    def wait_seconds(self, key: str) -> float:
        self.keys.append(key)
        return super().wait_seconds(key)


def http_for(vendor: Vendor, limiter: RateLimiter | None = None) -> HttpClient:
    return HttpClient(session=vendor, policy=RetryPolicy(attempts=3), sleep=lambda _s: None, limiter=limiter)


# -- what an error carries ------------------------------------------------------------------------


def test_a_refusal_carries_status_headers_and_the_start_of_the_body() -> None:
    body = '{"error": "' + "x" * (2 * ANSWER_BODY_LIMIT) + '"}'
    vendor = Vendor(Step(400, body, {"X-Request-Id": "r-1"}))
    with pytest.raises(Fatal) as raised:
        http_for(vendor).request("GET", URL)
    answer = raised.value.answer
    assert answer is not None and answer.status == 400
    assert answer.headers["x-request-id"] == "r-1"  # headers keep their case-insensitivity
    assert answer.body == body[:ANSWER_BODY_LIMIT] and answer.json() is None  # cut: no longer JSON
    assert "x" * 10 not in repr(answer)  # the body may hold personal data: the repr shows the status


def test_every_kind_of_refusal_carries_its_answer_and_unsent_requests_carry_none() -> None:
    cases: list[tuple[str, Step, type[Exception]]] = [
        ("GET", Step(401), AuthFailed),
        ("GET", Step(503, headers={"Retry-After": "1"}), Retryable),
        ("POST", Step(500), Indeterminate),
    ]
    for method, step, kind in cases:
        vendor = Vendor(step, step, step)
        with pytest.raises(kind) as raised:
            http_for(vendor).request(method, URL)
        assert raised.value.answer is not None and raised.value.answer.status == step.status
        assert "someone" not in str(raised.value)  # messages: method, path, status; never the query
    vendor = Vendor(requests.Timeout(), requests.Timeout(), requests.Timeout())
    with pytest.raises(Retryable) as raised:
        http_for(vendor).request("GET", URL)
    assert raised.value.answer is None


def test_http_answer_reads_json_bodies() -> None:
    assert HttpAnswer(400, {}, '{"error": "invalid_grant"}').json() == {"error": "invalid_grant"}
    assert HttpAnswer(400, {}, "<html>").json() is None


# -- a vendor's refusals as data ------------------------------------------------------------------


class Gone(Fatal):
    pass


class Conflict(Retryable):
    pass


class Rejected(Fatal):
    pass


def test_a_vendor_names_its_refusals_and_the_error_carries_the_answer() -> None:
    refusals = {
        410: Refusal(Gone, "{request}: version gone (HTTP {status})"),
        422: Refusal(Rejected),  # the default keeps core's message
    }
    vendor = Vendor(Step(410), Step(422, "{}"), Step(418))
    http = http_for(vendor)
    with pytest.raises(Gone, match=r"^GET /api/records/7: version gone \(HTTP 410\)$") as gone:
        http.request("GET", URL, refusals=refusals)
    assert gone.value.answer is not None and gone.value.answer.status == 410
    with pytest.raises(Rejected, match=r"GET https://vendor.example/api/records/7: HTTP 422"):
        http.request("GET", URL, refusals=refusals)
    with pytest.raises(Fatal) as unnamed:  # a status the vendor does not name stays core's
        http.request("GET", URL, refusals=refusals)
    assert type(unnamed.value) is Fatal


def test_refusals_of_one_status_are_tried_in_order_by_what_the_body_says() -> None:
    def says_expired(answer: HttpAnswer) -> bool:
        body = answer.json()
        return isinstance(body, dict) and body.get("error") == "expired"

    def fields(request: str, answer: HttpAnswer) -> str:
        return f"{request}: bad fields {sorted(answer.json()['fields'])}"

    refusals = {400: (Refusal(AuthFailed, "{request}: token expired", when=says_expired), Refusal(Rejected, fields))}
    vendor = Vendor(Step(400, '{"error": "expired"}'), Step(400, '{"fields": {"b": "Jane", "a": "x"}}'))
    with pytest.raises(AuthFailed, match="token expired"):
        http_for(vendor).request("POST", URL, refusals=refusals)
    with pytest.raises(Rejected, match=r"bad fields \['a', 'b'\]") as rejected:
        http_for(vendor).request("POST", URL, refusals=refusals)
    assert "Jane" not in str(rejected.value)


def test_a_retryable_vendor_error_is_not_resent_by_core() -> None:
    vendor = Vendor(Step(412), Step(200))
    with pytest.raises(Conflict):
        http_for(vendor).request("PUT", URL, refusals={412: Refusal(Conflict)})
    assert [method for method, _ in vendor.sent] == ["PUT"]  # the caller reads again; core does not repeat


def test_core_keeps_401_429_and_5xx_whatever_a_vendor_says() -> None:
    for status in (401, 429, 500, 503, 302):
        with pytest.raises(ValueError, match=f"HTTP {status}"):
            http_for(Vendor(Step(200))).request("GET", URL, refusals={status: Refusal(Rejected)})
    vendor = Vendor(Step(503), Step(200))  # refusals given: the retry policy is unchanged
    assert http_for(vendor).request("GET", URL, refusals={404: Refusal(Rejected)}).status_code == 200
    assert len(vendor.sent) == 2


# -- an answer core did not receive itself (a batch member) ---------------------------------------


def test_a_batch_members_refusal_is_classified_as_core_classifies_its_own() -> None:
    """answer_error gives, for each status, the error `request` raises for the same answer."""
    refusals = {410: Refusal(Gone, "{request}: version gone (HTTP {status})")}
    cases: list[tuple[str, Step]] = [
        ("GET", Step(401)),
        ("GET", Step(429, headers={"Retry-After": "7"})),
        ("GET", Step(503, headers={"Retry-After": "2"})),
        ("POST", Step(500)),
        ("GET", Step(410)),
        ("GET", Step(418, "teapot")),
    ]
    for method, step in cases:
        vendor = Vendor(step, step, step)
        with pytest.raises(Exception) as raised:
            http_for(vendor).request(method, URL, refusals=refusals)
        got = answer_error(method, URL, step.status, step.headers, step.body, refusals=refusals, now=0.0)
        assert type(got) is type(raised.value) and str(got) == str(raised.value)
        assert got.answer is not None and got.answer.status == step.status
        if isinstance(got, Retryable):
            assert got.retry_after == raised.value.retry_after  # type: ignore[attr-defined]


def test_a_batch_members_error_carries_its_answer_cut_as_cores_and_retry_after_read_against_now() -> None:
    body = "y" * (2 * ANSWER_BODY_LIMIT)
    error = answer_error("get", URL, 429, {"retry-after": "Thu, 01 Jan 1970 00:01:40 GMT"}, body, now=40.0)
    assert isinstance(error, Retryable) and error.retry_after == 60.0  # a date: seconds from `now`
    assert error.answer is not None and error.answer.body == body[:ANSWER_BODY_LIMIT]
    assert error.answer.headers["Retry-After"]  # headers are case-insensitive, as on core's own answers
    post = answer_error("POST", URL, 503, {}, "", idempotent=True)
    assert type(post) is Retryable  # a POST the caller marks repeatable is Retryable, not Indeterminate
    with pytest.raises(ValueError, match="HTTP 200"):
        answer_error("GET", URL, 200, {}, "")
    with pytest.raises(ValueError, match="HTTP 429"):
        answer_error("GET", URL, 404, {}, "", refusals={429: Refusal(Rejected)})


# -- one bearer-auth piece ------------------------------------------------------------------------


class Tokens:
    """Hands out access tokens; a forced call renews (or fails to, when told)."""

    def __init__(self, *, renewal_fails: bool = False) -> None:
        self.calls: list[bool] = []
        self.current = "access-one-SECRET"
        self.renewal_fails = renewal_fails

    def __call__(self, force: bool) -> str:
        self.calls.append(force)
        if force:
            if self.renewal_fails:
                raise AuthFailed("the vendor refused the refresh token: reconnect")
            self.current = "access-two-SECRET"
        return self.current


def bearer(vendor: Vendor, tokens: Tokens, limiter: RateLimiter | None = None, **kwargs: object) -> BearerAuth:
    return BearerAuth(
        http_for(vendor, limiter),
        vendor="acme",
        token=tokens,
        reconnect="Acme refused a fresh token: run `billsync connect acme`",
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_refused_token_is_renewed_once_and_the_request_sent_again() -> None:
    vendor, tokens = Vendor(Step(401), Step(200)), Tokens()
    assert bearer(vendor, tokens).request("GET", URL).status_code == 200
    assert tokens.calls == [False, True]
    assert vendor.sent == [("GET", "Bearer access-one-SECRET"), ("GET", "Bearer access-two-SECRET")]


def test_a_post_refused_with_401_is_sent_again_once_and_never_twice() -> None:
    vendor, tokens = Vendor(Step(401), Step(201)), Tokens()
    assert bearer(vendor, tokens).request("POST", URL, json={}).status_code == 201
    assert [method for method, _ in vendor.sent] == ["POST", "POST"]

    vendor, tokens = Vendor(Step(401), Step(401), Step(201)), Tokens()
    with pytest.raises(AuthFailed, match="connect acme") as raised:
        bearer(vendor, tokens).request("POST", URL, json={})
    assert [method for method, _ in vendor.sent] == ["POST", "POST"]
    assert tokens.calls == [False, True]
    assert raised.value.answer is not None and raised.value.answer.status == 401

    vendor, tokens = Vendor(Step(401), Step(500), Step(201)), Tokens()
    with pytest.raises(Indeterminate):  # the resent POST's outcome is unknown: never a third send
        bearer(vendor, tokens).request("POST", URL, json={})
    assert len(vendor.sent) == 2


def test_a_failed_renewal_is_its_own_auth_failure_and_nothing_is_resent() -> None:
    vendor, tokens = Vendor(Step(401), Step(200)), Tokens(renewal_fails=True)
    with pytest.raises(AuthFailed, match="refresh token") as raised:
        bearer(vendor, tokens).request("GET", URL)
    assert raised.value.answer is None
    assert len(vendor.sent) == 1


def test_no_connected_account_is_not_a_refusal_to_renew() -> None:
    def not_connected(force: bool) -> str:
        raise NotConnected("acme", "firm-1")

    vendor = Vendor(Step(200))
    with pytest.raises(NotConnected):
        BearerAuth(http_for(vendor), vendor="acme", token=not_connected, reconnect="x").request("GET", URL)
    assert vendor.sent == []


def test_a_refusal_the_vendor_names_auth_failed_renews_like_a_401() -> None:
    refusals = {400: Refusal(AuthFailed, "{request}: token expired")}
    vendor, tokens = Vendor(Step(400), Step(200)), Tokens()
    assert bearer(vendor, tokens, refusals=refusals).request("GET", URL).status_code == 200
    assert tokens.calls == [False, True]


def test_the_token_is_never_in_a_rate_key_or_a_message() -> None:
    limiter = KeySpy()
    vendor, tokens = Vendor(Step(401), Step(401)), Tokens()
    with pytest.raises(AuthFailed) as raised:
        bearer(vendor, tokens, limiter).request("GET", URL)
    assert limiter.keys == [token_rate_key("acme", "access-one-SECRET"), token_rate_key("acme", "access-two-SECRET")]
    assert len(set(limiter.keys)) == 2  # per token: a renewed token has its own bucket
    assert all("SECRET" not in key for key in limiter.keys)
    assert "SECRET" not in str(raised.value) and "SECRET" not in repr(raised.value.answer)

    vendor, limiter = Vendor(Step(200)), KeySpy()
    bearer(vendor, Tokens(), limiter).request("GET", URL, rate_key="acme:mailbox-1")
    assert limiter.keys == ["acme:mailbox-1"]  # a vendor keying by something else says so


# -- the refresh grant ----------------------------------------------------------------------------


def refresh_with(vendor: Vendor, token: OAuthToken, *, repeatable: bool) -> OAuthToken:
    app = oauth.OAuthApp(
        vendor="Acme",
        connector="acme",
        client_id="app",
        client_secret=SecretStr("client-SECRET"),
        authorize_endpoint="https://vendor.example/oauth/authorize",
        token_url="https://vendor.example/oauth/token",
        rate_key="acme-oauth",
    )
    return app.refresh(
        http_for(vendor),
        token,
        repeatable=repeatable,
        refused="Acme refused the refresh token: run `billsync connect acme`",
        now=datetime(2026, 4, 1, tzinfo=UTC),
    )


def test_a_refresh_keeps_a_refresh_token_the_answer_leaves_out() -> None:
    vendor = Vendor(Step(200, '{"access_token": "new", "expires_in": 3600}'))
    fresh = refresh_with(vendor, OAuthToken("old", "refresh-1"), repeatable=False)
    assert (fresh.access_token, fresh.refresh_token) == ("new", "refresh-1")
    assert fresh.expires_at == datetime(2026, 4, 1, 1, tzinfo=UTC)


def test_a_refused_or_missing_refresh_token_is_auth_failed() -> None:
    vendor = Vendor(Step(400, '{"error": "invalid_grant"}'))
    with pytest.raises(AuthFailed, match="refused the refresh token") as raised:
        refresh_with(vendor, OAuthToken("old", "refresh-1"), repeatable=True)
    assert "SECRET" not in str(raised.value)
    with pytest.raises(AuthFailed, match="no refresh token: run `billsync connect acme`"):
        refresh_with(Vendor(), OAuthToken("old"), repeatable=True)


def test_a_lost_refresh_answer_is_asked_again_only_where_refresh_tokens_survive_use() -> None:
    vendor = Vendor(Step(500), Step(200, '{"access_token": "new"}'))
    assert refresh_with(vendor, OAuthToken("old", "r"), repeatable=True).access_token == "new"
    assert len(vendor.sent) == 2
    vendor = Vendor(Step(500), Step(200, '{"access_token": "new"}'))
    with pytest.raises(Indeterminate):  # a rotating refresh token may already be spent
        refresh_with(vendor, OAuthToken("old", "r"), repeatable=False)
    assert len(vendor.sent) == 1
    with pytest.raises(Indeterminate, match="unreadable"):
        refresh_with(Vendor(Step(200, "<html>")), OAuthToken("old", "r"), repeatable=False)
    with pytest.raises(Retryable, match="unreadable"):
        refresh_with(Vendor(Step(200, "<html>")), OAuthToken("old", "r"), repeatable=True)
