"""The one HTTP client every connector uses: timeouts, one retry policy, rate limits.

Retries live here and nowhere else. Only requests that are safe to repeat are retried: GET,
HEAD, PUT, DELETE and OPTIONS, anything the caller marks idempotent (it carries a key the vendor
honours), and any request the server refused without doing it (429, or a connection that never
opened). A POST whose outcome is unknown (a timeout after sending, a 5xx) is never re-sent
blindly: it raises `Indeterminate`, and the caller looks the write up before trying again.

A refused request's error carries the vendor's answer (`HttpAnswer`: status, headers, the start
of the body). A vendor client names its refusals as data (`Refusal`, by status) and hands them to
`request`: core then raises the vendor's error where it would have raised `Fatal`. What is
retried, and what raises AuthFailed, Retryable or Indeterminate, stays core's alone; `answer_error`
classifies, by the same code, a refusal that arrived inside another answer (a batch member).

Once the process begins to stop (`Shutdown.begin`, on SIGTERM), a client given the `Shutdown`
starts no new request: it raises `ShuttingDown` before sending, and its waits (rate limit,
backoff) end at once the same way. A request already in flight finishes or times out.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from core.errors import AuthFailed, BillsyncError, Fatal, HttpAnswer, Indeterminate, Retryable, ShuttingDown

SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read (seconds)
# Characters of a refused answer's body kept on its error: room for a vendor's error object
# (a code, field names), not for whatever a misbehaving server sends.
ANSWER_BODY_LIMIT = 4096


@dataclass(frozen=True)
class Refusal:
    """A vendor's name for one refusal: the error core raises instead of its `Fatal`.

    `message` is a template with `{request}` (method and URL path, e.g. "PATCH /api/v4/activities/1.json"),
    `{status}` and `{fatal}` (the message of the Fatal it replaces, the default), or a function of the
    request line and the answer, for a message that quotes an error code or field names (never
    record content). `when`, if given, must hold for the answer
    (e.g. an error code in its body). The error carries the answer as `answer`.
    """

    error: type[BillsyncError]
    message: str | Callable[[str, HttpAnswer], str] = "{fatal}"
    when: Callable[[HttpAnswer], bool] | None = None

    def applies(self, answer: HttpAnswer) -> bool:
        """Whether this refusal names that answer."""
        return self.when is None or self.when(answer)

    def raised(self, request: str, answer: HttpAnswer, fatal: str) -> BillsyncError:
        """The vendor's error for this answer, carrying it."""
        if callable(self.message):
            text = self.message(request, answer)
        else:
            text = self.message.format(request=request, status=answer.status, fatal=fatal)
        return _carrying(self.error(text), answer)


# A vendor's refusals by HTTP status; several for one status are tried in order, the first that
# applies wins, and when none does core's Fatal stands. Only statuses core refuses as Fatal may be
# named: 401 (AuthFailed), 429 and the 5xx core retries keep core's meaning.
Refusals = Mapping[int, Refusal | Sequence[Refusal]]

_E = TypeVar("_E", bound=BillsyncError)


# Who else hears of a rate-limit wait in this thread: the run under way (its progress), bound by
# `waits_told_to`. A firm's client is shared by its jobs; the wait belongs to the thread that waits.
_RUN_WAITS: ContextVar[Callable[[float], None] | None] = ContextVar("billsync_run_waits", default=None)


@contextmanager
def waits_told_to(listener: Callable[[float], None]) -> Iterator[None]:
    """Inside the block, each wait this thread makes for a vendor's rate limit is told to `listener`
    too (the daemon's drain logs it as progress, as the command line does off a terminal)."""
    token = _RUN_WAITS.set(listener)
    try:
        yield
    finally:
        _RUN_WAITS.reset(token)


class Shutdown:
    """Set once, when the process begins to stop; shared by every HTTP client of the process.

    Setting it is one `threading.Event.set`, safe from a signal handler."""

    def __init__(self) -> None:
        self._begun = threading.Event()

    def begin(self) -> None:
        """From now on no client given this starts a vendor request."""
        self._begun.set()

    @property
    def begun(self) -> bool:
        """Whether the process is stopping."""
        return self._begun.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, less when the stop begins meanwhile; True when it has begun."""
        return self._begun.wait(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Full-jitter exponential backoff, bounded; a server's Retry-After wins (up to the cap)."""

    attempts: int = 6
    base_seconds: float = 1.0
    cap_seconds: float = 120.0


def retry_after_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date), if any."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        try:
            return max(parsedate_to_datetime(value).timestamp() - now, 0.0)
        except (TypeError, ValueError):
            return None


_LIMITER_ASKS = 3


class Limiter(Protocol):
    """Paces requests per rate key: in this process (RateLimiter) or shared by replicas (core.store.rate_windows)."""

    shared: bool  # True: other processes take from the same window

    def wait_seconds(self, key: str) -> float:
        """0 when a request with this key may go now, else seconds to wait before asking again."""
        ...

    def observe(self, key: str, status: int, headers: Mapping[str, str]) -> None:
        """Learn from a response's status and rate-limit headers."""
        ...


class RateLimiter:
    """Slows down before a vendor says 429, from its X-RateLimit-* headers, per token.

    Thread-safe; one instance per vendor so every stream and writer using a token shares it.
    """

    shared = False

    def __init__(self, *, reserve: int = 1, clock: Callable[[], float] = time.time) -> None:
        self._reserve = reserve  # requests kept back for other work in the same window
        self._clock = clock
        self._lock = threading.Lock()
        self._blocked_until: dict[str, float] = {}

    def wait_seconds(self, key: str) -> float:
        """How long a request with this key must wait before it may go."""
        with self._lock:
            return max(self._blocked_until.get(key, 0.0) - self._clock(), 0.0)

    def observe(self, key: str, status: int, headers: Mapping[str, str]) -> None:
        """Learn from a response: an empty window or a 429 blocks the key until its reset."""
        now = self._clock()
        until: float | None = None
        if status == 429:
            delay = retry_after_seconds(headers, now)
            until = now + (delay if delay is not None else 60.0)
        remaining, reset = headers.get("X-RateLimit-Remaining"), headers.get("X-RateLimit-Reset")
        if remaining is not None and reset is not None:
            try:
                if int(remaining) <= self._reserve:
                    until = max(until or 0.0, float(reset))  # a Unix time: the window's end
            except ValueError:
                pass
        if until is not None:
            with self._lock:
                self._blocked_until[key] = max(self._blocked_until.get(key, 0.0), until)


class HttpClient:
    """A requests session with the firm's retry policy and a rate limiter per vendor token."""

    def __init__(
        self,
        *,
        session: requests.Session | None = None,
        policy: RetryPolicy | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        limiter: Limiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        on_response: Callable[[str, int], None] | None = None,
        on_wait: Callable[[float], None] | None = None,
        shutdown: Shutdown | None = None,
    ) -> None:
        self.session = session or requests.Session()
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.limiter: Limiter = limiter or RateLimiter(clock=clock)
        self._sleep = sleep
        self._clock = clock
        self._on_response = on_response  # metrics hook: (method, status)
        self._on_wait = on_wait  # metrics hook: seconds slept because of the vendor's rate limit
        self._random = random.Random()  # noqa: S311 - jitter, not secrecy
        self._shutdown = shutdown  # when it begins: no new request, no more waiting

    def request(
        self,
        method: str,
        url: str,
        *,
        rate_key: str = "",
        idempotent: bool = False,
        refusals: Refusals | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send with retries; returns a 2xx/3xx response or raises a classified error.

        An error for an answer the server gave carries it as `answer`; `refusals` turn the Fatal
        ones into the vendor's own errors.
        """
        method = method.upper()
        if refusals:
            _check_refusals(refusals)
        repeatable = method in SAFE_METHODS or idempotent
        kwargs.setdefault("timeout", self.timeout)
        retrying = Retrying(
            stop=stop_after_attempt(self.policy.attempts),
            wait=self._wait,
            retry=retry_if_exception(lambda exc: isinstance(exc, Retryable) and not isinstance(exc, Indeterminate)),
            sleep=self._pause,
            reraise=True,
        )
        try:
            return retrying(self._send_once, method, url, rate_key, repeatable, kwargs)
        except Fatal as refused:
            # Named after the retrying, so a vendor error that is Retryable (a 412's "read it
            # again") is the caller's to act on, never repeated here as it was sent.
            named = _named(refused, refusals, request_line(method, url)) if refusals else None
            if named is None:
                raise
            raise named from None

    def _send_once(
        self, method: str, url: str, rate_key: str, repeatable: bool, kwargs: dict[str, Any]
    ) -> requests.Response:
        # A limiter shared by replicas is asked again after a wait (another replica may have
        # taken the window meanwhile). Bounded: past that, the vendor's 429 and the retry policy
        # take over.
        for _ in range(_LIMITER_ASKS if self.limiter.shared else 1):
            pause = self.limiter.wait_seconds(rate_key)
            if pause <= 0:
                break
            if self._on_wait is not None:
                self._on_wait(pause)
            told = _RUN_WAITS.get()
            if told is not None:
                told(pause)
            self._pause(pause)
        if self._shutdown is not None and self._shutdown.begun:
            raise ShuttingDown(f"{method} {_path(url)}: not sent, billsync is stopping")
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.ConnectionError as exc:
            # A refused connection sent nothing; anything else may have reached the server.
            if repeatable or _never_sent(exc):
                raise Retryable(f"{method} {_path(url)}: connection failed ({type(exc).__name__})") from None
            raise Indeterminate(f"{method} {_path(url)}: connection lost, outcome unknown") from None
        except requests.Timeout:
            if repeatable:
                raise Retryable(f"{method} {_path(url)}: timed out") from None
            raise Indeterminate(f"{method} {_path(url)}: timed out, outcome unknown") from None
        except requests.RequestException as exc:
            # The answer broke off mid-body (ChunkedEncodingError and friends): the server acted.
            if repeatable:
                raise Retryable(f"{method} {_path(url)}: answer cut off ({type(exc).__name__})") from None
            raise Indeterminate(f"{method} {_path(url)}: answer cut off, outcome unknown") from None
        self.limiter.observe(rate_key, response.status_code, response.headers)
        if self._on_response is not None:
            self._on_response(method, response.status_code)
        if response.status_code < 400:
            return response
        answer = HttpAnswer(
            response.status_code, CaseInsensitiveDict(response.headers), response.text[:ANSWER_BODY_LIMIT]
        )
        raise _classified(method, url, answer, repeatable=repeatable, now=self._clock(), reason=response.reason or "")

    def _pause(self, seconds: float) -> None:
        """Sleep before a retry or for the rate limit; a stop cuts the sleep short (ShuttingDown)."""
        if self._shutdown is None:
            self._sleep(seconds)
        elif self._shutdown.wait(seconds):
            raise ShuttingDown("a vendor request waiting to be sent was dropped: billsync is stopping")

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        cap = self.policy.cap_seconds
        if isinstance(exc, Retryable) and exc.retry_after is not None:
            delay = min(exc.retry_after, cap) + self._random.uniform(0, 0.25)
            told = _RUN_WAITS.get()
            if told is not None:
                told(delay)  # the vendor said when (a 429's Retry-After): a wait for its limit, too
            return delay
        # Full jitter: uniform between 0 and the exponential ceiling.
        ceiling = min(cap, self.policy.base_seconds * 2 ** (state.attempt_number - 1))
        return self._random.uniform(0, ceiling)


def answer_error(
    method: str,
    url: str,
    status: int,
    headers: Mapping[str, str],
    body: str,
    *,
    idempotent: bool = False,
    refusals: Refusals | None = None,
    now: float | None = None,
) -> BillsyncError:
    """The error `HttpClient.request` would raise had it received this refusal (status 400 or more)
    itself: for an answer that reached billsync inside another one (a member of a batch call).

    The same classification, by the same code: AuthFailed for 401; Retryable (with the answer's
    Retry-After) for 429 and the 5xx core retries when the request may be repeated, else
    Indeterminate; the vendor's `refusals` where core's answer is Fatal; else Fatal. Nothing is
    retried here: the caller acts on the error. `now` is the Unix time a Retry-After date is read
    against (default: the clock). The error carries the answer, its body cut as core cuts it.
    """
    if status < 400:
        raise ValueError(f"HTTP {status} is not a refusal")
    method = method.upper()
    if refusals:
        _check_refusals(refusals)
    answer = HttpAnswer(status, CaseInsensitiveDict(headers), body[:ANSWER_BODY_LIMIT])
    repeatable = method in SAFE_METHODS or idempotent
    error = _classified(method, url, answer, repeatable=repeatable, now=time.time() if now is None else now)
    if isinstance(error, Fatal) and refusals:
        return _named(error, refusals, request_line(method, url)) or error
    return error


def _classified(
    method: str, url: str, answer: HttpAnswer, *, repeatable: bool, now: float, reason: str = ""
) -> BillsyncError:
    """Core's error for a refused answer, before any vendor naming: the one classification."""
    status = answer.status
    detail = f"{method} {_path(url)}: HTTP {status}"
    if status == 401:
        return _carrying(AuthFailed(f"{detail}: credentials rejected; reconnect the account"), answer)
    if status in RETRY_STATUSES:
        retry_after = retry_after_seconds(answer.headers, now)
        if status == 429 or repeatable:  # a 429 was refused, not done: always safe to repeat
            return _carrying(Retryable(detail, retry_after=retry_after), answer)
        return _carrying(Indeterminate(f"{detail}, outcome unknown"), answer)
    return _carrying(Fatal(f"{detail}: {_snippet(answer.body, reason)}"), answer)


def request_line(method: str, url: str) -> str:
    """The request as messages name it, "METHOD /path": the URL's path only (hosts are configuration,
    queries can carry personal data)."""
    return f"{method.upper()} {urlsplit(url).path or _path(url)}"


def json_answer(response: requests.Response, method: str, *, idempotent: bool = False) -> Any:
    """The JSON of an answer `request` returned. An unreadable body is Retryable when the request
    may be repeated (as `request` decides it), else Indeterminate: the write may have happened."""
    try:
        return response.json()
    except ValueError:
        detail = f"{request_line(method, response.url or '')}: HTTP {response.status_code} with an unreadable body"
        if method.upper() in SAFE_METHODS or idempotent:
            raise Retryable(detail) from None
        raise Indeterminate(f"{detail}, outcome unknown") from None


def _carrying(error: _E, answer: HttpAnswer) -> _E:
    error.answer = answer
    return error


def _check_refusals(refusals: Refusals) -> None:
    for status in refusals:
        if status < 400 or status == 401 or status in RETRY_STATUSES:
            raise ValueError(f"HTTP {status} is core's to classify; a vendor names only answers core refuses as Fatal")


def _named(refused: Fatal, refusals: Refusals, request: str) -> BillsyncError | None:
    answer = refused.answer
    if answer is None:
        return None
    named = refusals.get(answer.status)
    for refusal in (named,) if isinstance(named, Refusal) else (named or ()):
        if refusal.applies(answer):
            return refusal.raised(request, answer, str(refused))
    return None


def _never_sent(exc: requests.ConnectionError) -> bool:
    text = str(exc)
    return "Connection refused" in text or "NewConnectionError" in text or "Name or service not known" in text


def _path(url: str) -> str:
    # Only the path: query strings can carry tokens or personal data.
    return url.split("?", 1)[0]


def _snippet(body: str, reason: str) -> str:
    text = body[:200].replace("\n", " ")
    return text or reason or "no body"
