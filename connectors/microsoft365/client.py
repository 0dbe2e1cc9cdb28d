"""A plain Microsoft Graph client on core's HttpClient: paging, delta rounds, $batch, subscriptions.

Throttling (docs/vendors/microsoft365.md §8): every request carries a rate key per (tenant, mailbox), so a 429
with Retry-After on one mailbox holds back only that mailbox (core.http honours Retry-After and is
the one retry policy). Outlook allows 4 concurrent requests per app and mailbox: a semaphore of 4
per mailbox guards every request, shared by all threads that use this client (the scheduler's poll
and a webhook's re-poll may run at once); a $batch holds one slot of each mailbox it touches, and
never carries two requests for the same mailbox.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import requests

from connectors.microsoft365.auth import GraphAuth
from core.bearer import BearerAuth
from core.connector import Context
from core.errors import BillsyncError, Fatal, HttpAnswer
from core.http import Refusal, answer_error, json_answer

Json = dict[str, Any]

CONNECTOR = "microsoft365"
MAX_CONCURRENT_PER_MAILBOX = 4  # docs/vendors/microsoft365.md §8: per app x mailbox
MAX_BATCH = 20  # docs/vendors/microsoft365.md §9
TENANT_WIDE = "tenant"  # the rate key of requests that touch no mailbox (users, call records)


class GraphNotFound(Fatal):
    """404: the mailbox, item or subscription does not exist."""


class GraphForbidden(Fatal):
    """403: no consent, or an ApplicationAccessPolicy keeps the app out of this mailbox."""


class DeltaExpired(Fatal):
    """410 Gone or syncStateNotFound: the delta token is gone; start the round again (§4)."""


def _sync_state_gone(answer: HttpAnswer) -> bool:
    return error_code(answer.json()) == "syncstatenotfound"


def _forbidden(request: str, answer: HttpAnswer) -> str:
    return (
        f"{request}: access denied ({error_code(answer.json()) or 'forbidden'}); grant the app's permissions with "
        "admin consent, or add the mailbox to the ApplicationAccessPolicy group"
    )


_DELTA_EXPIRED = Refusal(DeltaExpired, "{request}: the delta token expired (HTTP {status}); a full resync follows")
_SYNC_STATE_GONE = Refusal(DeltaExpired, _DELTA_EXPIRED.message, when=_sync_state_gone)

# What Graph's refusals mean (docs/vendors/microsoft365.md §4, §10); any other 4xx stays core's Fatal.
REFUSALS: Mapping[int, Refusal | tuple[Refusal, ...]] = MappingProxyType(
    {
        400: _SYNC_STATE_GONE,
        403: (_SYNC_STATE_GONE, Refusal(GraphForbidden, _forbidden)),
        404: (_SYNC_STATE_GONE, Refusal(GraphNotFound, "{request}: not found")),
        410: _DELTA_EXPIRED,
    }
)


@dataclass(frozen=True)
class BatchAnswer:
    """One member of a $batch answer.

    `error` is None for a success (status below 400); for a refusal it is the error a request of
    its own would have raised (core.http.answer_error with Graph's REFUSALS), carrying the answer.
    """

    status: int
    body: Json = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    error: BillsyncError | None = None


class MailboxGate:
    """At most 4 requests in flight per mailbox, across threads."""

    def __init__(self, limit: int = MAX_CONCURRENT_PER_MAILBOX) -> None:
        self._limit = limit
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._guard = threading.Lock()

    def slot(self, mailbox: str) -> threading.BoundedSemaphore:
        """The semaphore of one mailbox (one per mailbox, made on first use)."""
        with self._guard:
            return self._slots.setdefault(mailbox.lower(), threading.BoundedSemaphore(self._limit))


class GraphClient:
    """Talks to one tenant's Microsoft Graph through the firm's HttpClient."""

    def __init__(self, ctx: Context, auth: GraphAuth, *, base_url: str, tenant_id: str, page_size: int) -> None:
        self._ctx = ctx
        self._auth = auth
        self.base_url = base_url.rstrip("/")
        self._tenant = tenant_id
        self.page_size = page_size
        self.gate = MailboxGate()
        # A token msal still holds as valid may be refused (revoked consent, clock skew): it is
        # renewed once, and a second refusal is final.
        self._bearer = BearerAuth(
            ctx.http,
            vendor=CONNECTOR,
            token=lambda force: auth.token(force=force),
            reconnect="Microsoft Graph rejected a fresh app-only token (HTTP 401): check the app's admin consent "
            "and the tenant",
            refusals=REFUSALS,
            headers={"Accept": "application/json"},
        )

    # -- reads ------------------------------------------------------------------------------------

    def get(
        self,
        path_or_url: str,
        *,
        mailbox: str = TENANT_WIDE,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Json:
        """GET one resource or page as JSON."""
        return _object(self.request("GET", path_or_url, mailbox=mailbox, params=params, headers=headers), "GET")

    def pages(
        self,
        path_or_url: str,
        *,
        mailbox: str = TENANT_WIDE,
        params: Mapping[str, str] | None = None,
        first: Json | None = None,
    ) -> Iterator[Json]:
        """Every page of a collection or delta round, following @odata.nextLink (first page may be given)."""
        body = (
            first
            if first is not None
            else self.get(path_or_url, mailbox=mailbox, params=params, headers=self.page_headers())
        )
        followed: set[str] = set()
        while True:
            yield body
            next_link = body.get("@odata.nextLink")
            if not isinstance(next_link, str):
                return
            if next_link in followed:
                raise Fatal("Graph repeated a nextLink; stopping instead of looping")
            followed.add(next_link)
            # Tokens in a nextLink carry the query: never re-send parameters (§4).
            body = self.get(next_link, mailbox=mailbox, headers=self.page_headers())

    def page_headers(self) -> dict[str, str]:
        """The page-size preference every list and delta request sends."""
        return {"Prefer": f"odata.maxpagesize={self.page_size}"}

    def batch(self, requests_by_id: Mapping[str, tuple[str, str]]) -> dict[str, BatchAnswer]:
        """GET several (mailbox, URL) requests in $batch calls of at most 20, one per mailbox each.

        Requests that touch no mailbox (TENANT_WIDE) may share a batch.

        Members Graph throttled on their own (429) are sent again one by one, through the one
        retry policy, which honours each member's Retry-After.
        """
        answers: dict[str, BatchAnswer] = {}
        pending = list(requests_by_id.items())
        while pending:
            chunk: list[tuple[str, tuple[str, str]]] = []
            mailboxes: set[str] = set()
            rest: list[tuple[str, tuple[str, str]]] = []
            for item in pending:
                mailbox = item[1][0].lower()
                if len(chunk) < MAX_BATCH and (mailbox == TENANT_WIDE or mailbox not in mailboxes):
                    chunk.append(item)
                    mailboxes.add(mailbox)
                else:
                    rest.append(item)
            answers.update(self._batch_once(chunk))
            pending = rest
        for request_id, answer in list(answers.items()):
            if answer.status == 429:
                mailbox, url = requests_by_id[request_id]
                answers[request_id] = self._single(mailbox, url)
        return answers

    def _batch_once(self, chunk: Sequence[tuple[str, tuple[str, str]]]) -> dict[str, BatchAnswer]:
        payload = {
            "requests": [
                {"id": request_id, "method": "GET", "url": self.relative(url), "headers": self.page_headers()}
                for request_id, (_, url) in chunk
            ]
        }
        touched = sorted({m.lower() for _, (m, _) in chunk} - {TENANT_WIDE})
        slots = [self.gate.slot(mailbox) for mailbox in touched]
        for slot in slots:  # sorted order: two batches never wait on each other's slots
            slot.acquire()
        try:
            # A $batch of GETs changes nothing, so it may be repeated like a GET.
            response = self.request("POST", "$batch", json=payload, idempotent=True)
        finally:
            for slot in reversed(slots):
                slot.release()
        body = _object(response, "POST", idempotent=True)
        found: dict[str, BatchAnswer] = {}
        urls = dict(chunk)
        for member in body.get("responses") or []:
            if isinstance(member, dict) and str(member.get("id")) in urls:
                request_id = str(member["id"])
                found[request_id] = self._member(urls[request_id][1], member)
        missing = [request_id for request_id, _ in chunk if request_id not in found]
        if missing:
            raise Fatal(f"Graph's $batch answer lacks members {missing}")
        return found

    def _member(self, url: str, member: Mapping[str, Any]) -> BatchAnswer:
        """One member of a $batch answer, its refusal classified as core classifies a GET's own."""
        status = int(member.get("status") or 0)
        body = member.get("body")
        headers = {str(k): str(v) for k, v in (member.get("headers") or {}).items()}
        answer = BatchAnswer(status=status, body=body if isinstance(body, dict) else {}, headers=headers)
        if status < 400:
            return answer
        text = json.dumps(body) if body is not None else ""
        error = answer_error("GET", self.url(url), status, headers, text, refusals=REFUSALS)
        return BatchAnswer(status=status, body=answer.body, headers=headers, error=error)

    def _single(self, mailbox: str, url: str) -> BatchAnswer:
        """A throttled member sent again on its own; Graph's named refusal becomes its answer."""
        try:
            return BatchAnswer(200, self.get(url, mailbox=mailbox, headers=self.page_headers()))
        except (DeltaExpired, GraphForbidden, GraphNotFound) as refused:
            answer = refused.answer
            if answer is None:
                raise
            body = answer.json()
            return BatchAnswer(
                answer.status, body if isinstance(body, dict) else {}, dict(answer.headers), error=refused
            )

    # -- writes (subscriptions) -------------------------------------------------------------------

    def post(self, path: str, body: Mapping[str, Any] | None = None) -> Json:
        """POST and return the JSON answer (empty for 202/204)."""
        response = self.request("POST", path, json=dict(body) if body is not None else None)
        return _object(response, "POST") if response.content else {}

    def patch(self, path: str, body: Mapping[str, Any]) -> Json:
        """PATCH and return the JSON answer."""
        return _object(self.request("PATCH", path, json=dict(body)), "PATCH")

    def delete(self, path: str) -> None:
        """DELETE; a resource already gone counts as deleted."""
        try:
            self.request("DELETE", path)
        except GraphNotFound:
            return

    # -- plumbing ---------------------------------------------------------------------------------

    def url(self, path_or_url: str) -> str:
        """An absolute URL under the Graph base; absolute links must stay under it."""
        if path_or_url.startswith(("http://", "https://")):
            if not path_or_url.startswith(self.base_url + "/"):
                raise Fatal(f"refusing to follow a link outside {self.base_url}: {urlsplit(path_or_url).path}")
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def relative(self, path_or_url: str) -> str:
        """The URL relative to the Graph version root, as $batch members need it (§9)."""
        return "/" + self.url(path_or_url)[len(self.base_url) + 1 :]

    def request(self, method: str, path_or_url: str, *, mailbox: str = TENANT_WIDE, **kwargs: Any) -> requests.Response:
        """Send one request within the mailbox's concurrency limit; renew a refused token once."""
        url = self.url(path_or_url)
        with self.gate.slot(mailbox):
            return self._bearer.request(method, url, rate_key=self.rate_key(mailbox), **kwargs)

    def rate_key(self, mailbox: str) -> str:
        """Limits are per app and mailbox (§8): one bucket each, named without personal data."""
        digest = hashlib.sha256(f"{self._tenant}|{mailbox.lower()}".encode()).hexdigest()[:16]
        return f"{CONNECTOR}:{digest}"


def error_code(body: Any) -> str:
    """Graph's error code from an error body ({"error": {"code": ...}}), lower-cased."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("code") or "").lower()
    return ""


def _object(response: requests.Response, method: str, *, idempotent: bool = False) -> Json:
    body = json_answer(response, method, idempotent=idempotent)
    if not isinstance(body, dict):
        raise Fatal("Graph answered with something other than a JSON object")
    return body
