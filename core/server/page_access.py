"""Who may read a firm's report pages, and the one-time messages the review page shows.

The pages show client names, narratives and amounts, on a listener vendors' webhooks reach from
the internet, so reading them needs one of the firm's tokens (`[firms.<id>.reports] read_token`
or `review_token`), compared in constant time. A script sends it as `Authorization: Bearer
<token>`; a browser signs in once at `/reports/login` and keeps a cookie. The cookie holds a
read credential derived from the token, never the token: it opens the pages of the firms whose
token it came from, allows no action (actions still need the review token itself), and
cannot be turned back into the token. No token ever appears in a link.

What the review page says after an action ("approved", or why not) travels in a cookie signed
with a key derived from the firm's review token, so only the server can choose it: a link
carries no message of its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response

from config.settings import FirmSettings

READ_COOKIE = "billsync_reports"
FLASH_COOKIE = "billsync_flash"
READ_COOKIE_SECONDS = 12 * 3600  # a working day; signing in again costs a token paste
_FLASH_SECONDS = 120  # from the action's redirect to the page it lands on
_FLASH_TEXT_LIMIT = 500  # characters: a cookie holds about 4 KB


def page_tokens(firm: FirmSettings) -> list[SecretStr]:
    """The tokens that open the firm's pages (none: nobody reads them)."""
    reports = firm.reports
    return [token for token in (reports.read_token, reports.review_token) if token is not None]


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header, if any."""
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def read_credential(token: str) -> str:
    """What the sign-in cookie holds for `token`: an HMAC of a fixed text under it."""
    return hmac.new(token.encode(), b"billsync report pages: read", hashlib.sha256).hexdigest()


def opens(firm: FirmSettings, request: Request) -> bool:
    """The request's token (header) or sign-in cookie opens this firm's pages."""
    given = bearer_token(request)
    cookie = request.cookies.get(READ_COOKIE)
    found = False
    for token in page_tokens(firm):
        secret = token.get_secret_value()
        # Every comparison runs, so the time taken does not say which token nearly matched.
        if given is not None:
            found |= hmac.compare_digest(given.encode(), secret.encode())
        if cookie is not None:
            found |= hmac.compare_digest(cookie.encode(), read_credential(secret).encode())
    return found


def presents_credentials(request: Request) -> bool:
    """The request carries a token or a sign-in cookie (right or wrong)."""
    return bearer_token(request) is not None or READ_COOKIE in request.cookies


def opened_by(firms: Iterable[tuple[str, FirmSettings]], token: str) -> list[str]:
    """The firms whose pages `token` opens."""
    opened = []
    for firm_id, firm in firms:
        matches = [hmac.compare_digest(token.encode(), t.get_secret_value().encode()) for t in page_tokens(firm)]
        if any(matches):
            opened.append(firm_id)
    return opened


def over_https(request: Request, public_url: str | None) -> bool:
    """Whether the browser reaches the pages over https.

    Said by the request's scheme or by the public URL the daemon was given. The scheme is the
    connection's, or a trusted proxy's `X-Forwarded-Proto` (`[server] trusted_proxies`, applied by
    core.serving before the app sees the request): a header from any other peer is ignored, as it
    is for the client's address.
    """
    return request.url.scheme == "https" or (public_url or "").lower().startswith("https://")


def sign_in(response: Response, token: str, *, secure: bool) -> None:
    """Give the browser the read credential for `token`, for the report pages only (Secure over https)."""
    response.set_cookie(
        READ_COOKIE,
        read_credential(token),
        max_age=READ_COOKIE_SECONDS,
        path="/reports",
        httponly=True,
        samesite="strict",
        secure=secure,
    )


class SignInAttempts:
    """Failed sign-ins per client address; after `allowed` of them within `window` seconds, it waits.

    A token is long and random, but the sign-in form is on the listener the internet reaches:
    guessing is slowed to `allowed` tries per window and address. The address is the connection's
    peer, or the client a proxy in `[server] trusted_proxies` names in X-Forwarded-For: never a
    header from any other peer. Memory stays bounded:
    at most `max_addresses` addresses are remembered, the longest quiet first forgotten.
    """

    def __init__(
        self, clock: Callable[[], float], *, allowed: int = 10, window: float = 600, max_addresses: int = 10_000
    ) -> None:
        self._clock = clock
        self._allowed = allowed
        self._window = window
        self._max = max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait_seconds(self, address: str) -> int:
        """How long `address` must wait before its next try (0: it may try now)."""
        with self._lock:
            recent = self._recent(address)
            if len(recent) < self._allowed:
                return 0
            return max(1, math.ceil(recent[0] + self._window - self._clock()))

    def failed(self, address: str) -> None:
        """Count a failed sign-in from `address`."""
        with self._lock:
            recent = self._recent(address)
            recent.append(self._clock())
            self._failures[address] = recent
            self._failures.move_to_end(address)
            while len(self._failures) > self._max:
                self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        """A right token: the address starts afresh."""
        with self._lock:
            self._failures.pop(address, None)

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.get(address, deque())
        cutoff = self._clock() - self._window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures


def sign_out(response: Response) -> None:
    """Forget the browser's read credential."""
    response.delete_cookie(READ_COOKIE, path="/reports", httponly=True, samesite="strict")


def set_flash(response: Response, firm: FirmSettings, review_path: str, kind: str, text: str) -> None:
    """Have the review page show `text` once (kind "done" or "error"), signed with the firm's review token."""
    key = _flash_key(firm)
    if key is None:
        return
    payload = base64.urlsafe_b64encode(json.dumps([kind, text[:_FLASH_TEXT_LIMIT]]).encode()).decode()
    signature = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    value = f"{payload}.{signature}"
    response.set_cookie(FLASH_COOKIE, value, max_age=_FLASH_SECONDS, path=review_path, httponly=True, samesite="strict")


def read_flash(request: Request, firm: FirmSettings) -> tuple[str, str] | None:
    """The message an action left for the review page: (kind, text); None if none, or not the server's."""
    value = request.cookies.get(FLASH_COOKIE)
    if value is None:
        return None
    key = _flash_key(firm)
    payload, _, signature = value.partition(".")
    expected = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest() if key is not None else ""
    if not key or not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    try:
        kind, text = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except (ValueError, TypeError):  # signed by us, so only a change of format gets here
        return None
    if kind not in ("done", "error") or not isinstance(text, str):
        return None
    return kind, text


def clear_flash(request: Request, response: Response, review_path: str) -> None:
    """Show a message once: the answer that showed it deletes it."""
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path=review_path, httponly=True, samesite="strict")


def _flash_key(firm: FirmSettings) -> bytes | None:
    # From the review token: every replica of the daemon derives the same key, and actions
    # (the only makers of messages) exist only where the token does.
    token = firm.reports.review_token
    if token is None:
        return None
    return hmac.new(token.get_secret_value().encode(), b"billsync review page: messages", hashlib.sha256).digest()
