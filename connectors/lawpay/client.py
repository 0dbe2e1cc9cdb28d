"""A plain client for the LawPay (AffiniPay / 8am) payment gateway API v1, on core.http.

It knows HTTP and the gateway's JSON, nothing of billsync's models (mapping.py does that).
Vendor facts are cited as "docs/vendors/lawpay.md §n".

Authentication is HTTP Basic with the merchant's secret key as the user name and an empty
password (docs/vendors/lawpay.md §2). The key goes to requests as `auth` and is never put in a message,
a log line or a URL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from pydantic import SecretStr

from core.connector import Context
from core.errors import Fatal, HttpAnswer
from core.gateway import PaymentDeclined
from core.http import Refusal, json_answer

DEFAULT_BASE_URL = "https://api.8am.com"  # docs/vendors/lawpay.md §1: the host of the current docs; configurable
DEFAULT_PAGE_SIZE = 20  # docs/vendors/lawpay.md §10
MAX_PAGE_SIZE = 100  # no documented maximum: a conservative bound
EVENT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"  # docs/vendors/lawpay.md §10: yyyy-MM-dd'T'HH:mm:ss.SSS'Z' (3 digits kept)

Json = dict[str, Any]


class LawPayNotFound(Fatal):
    """404: no such record (also a one-time token used twice, docs/vendors/lawpay.md §5)."""


class LawPayRejected(Fatal):
    """422 (or 400, 409) on anything but a charge: the gateway refused the request (its code says why)."""

    @property
    def code(self) -> str:
        """The gateway's error code for the refusal (docs/vendors/lawpay.md §12), "unknown" when it gave none."""
        return first_message(self.answer)[0]


def _refused(request: str, answer: HttpAnswer) -> str:
    code, message = first_message(answer)
    # Codes and the gateway's own message only: it never echoes card numbers (docs/vendors/lawpay.md §12).
    return f"{request}: refused with {code}" + (f": {message}" if message else "")


def _not_found(request: str, answer: HttpAnswer) -> str:
    return f"{request}: not found ({first_message(answer)[0]})"


# What the gateway's refusals mean (docs/vendors/lawpay.md §12); any other 4xx stays core's Fatal.
REFUSALS: Mapping[int, Refusal] = MappingProxyType(
    {
        400: Refusal(LawPayRejected, _refused),
        404: Refusal(LawPayNotFound, _not_found),
        409: Refusal(LawPayRejected, _refused),
        422: Refusal(LawPayRejected, _refused),
    }
)


class LawPayClient:
    """Talks to one merchant's gateway account with one secret key (test or live)."""

    def __init__(
        self, ctx: Context, *, secret_key: SecretStr, base_url: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        self._ctx = ctx
        self._secret_key = secret_key
        self.page_size = page_size
        self.api_root = (base_url or DEFAULT_BASE_URL).rstrip("/") + "/v1"

    # -- reads ------------------------------------------------------------------------------------

    def merchant(self) -> Json:
        """The merchant with its card (merchant_accounts) and eCheck (ach_accounts) deposit accounts."""
        return self._object("GET", "merchant")

    def transaction(self, transaction_id: str) -> Json:
        """One charge or refund: GET /v1/transactions/{id}."""
        return self._object("GET", f"transactions/{transaction_id}")

    def search_transactions(self, params: Mapping[str, str | list[str]]) -> Iterator[list[Json]]:
        """Every page of GET /v1/transactions for these filters (page/page_size envelope,
        docs/vendors/lawpay.md §10)."""
        yield from self._pages("transactions", params)

    def events(self, start_date: str | None) -> Iterator[list[Json]]:
        """Events from `start_date` on, oldest first (with start_date the order is chronological, §11)."""
        params: dict[str, str | list[str]] = {"start_date": start_date} if start_date else {}
        yield from self._pages("events", params)

    def event(self, event_id: str) -> Json:
        """One event, fetched from the API: how a webhook delivery is confirmed (docs/vendors/lawpay.md §11)."""
        return self._object("GET", f"events/{event_id}")

    def recurring_charge(self, recurring_id: str) -> Json:
        """One recurring charge with its schedule."""
        return self._object("GET", f"recurring/charges/{recurring_id}")

    # -- writes (POST: never retried blindly, core.http raises Indeterminate) --------------------

    def charge(self, body: Mapping[str, Any]) -> Json:
        """POST /v1/charges. A decline is a 422 with no transaction (docs/vendors/lawpay.md §6): PaymentDeclined."""
        try:
            return self._object("POST", "charges", json_body=body)
        except LawPayRejected as exc:
            raise PaymentDeclined(str(exc), exc.code) from None

    def refund(self, charge_id: str, body: Mapping[str, Any]) -> Json:
        """POST /v1/charges/{id}/refund: partial and repeated refunds are allowed (docs/vendors/lawpay.md §6)."""
        return self._object("POST", f"charges/{charge_id}/refund", json_body=body)

    def void(self, transaction_id: str, body: Mapping[str, Any]) -> Json:
        """POST /v1/transactions/{id}/void: only while AUTHORIZED (docs/vendors/lawpay.md §6)."""
        return self._object("POST", f"transactions/{transaction_id}/void", json_body=body)

    def create_recurring_charge(self, body: Mapping[str, Any]) -> Json:
        """POST /v1/recurring/charges (docs/vendors/lawpay.md §8)."""
        return self._object("POST", "recurring/charges", json_body=body)

    def cancel_recurring_charge(self, recurring_id: str) -> Json:
        """POST /v1/recurring/charges/{id}/cancel."""
        return self._object("POST", f"recurring/charges/{recurring_id}/cancel", json_body={})

    # -- plumbing ---------------------------------------------------------------------------------

    def _pages(self, path: str, params: Mapping[str, str | list[str]]) -> Iterator[list[Json]]:
        page = 1
        while True:
            query = {**params, "page": str(page), "page_size": str(self.page_size)}
            body = self._object("GET", path, params=query)
            results = body.get("results")
            if not isinstance(results, list):
                raise Fatal(f"GET {path}: the gateway answered a list request without `results`")
            yield [r for r in results if isinstance(r, dict)]
            total = body.get("total_entries")
            seen = (page - 1) * self.page_size + len(results)
            if len(results) < self.page_size or (isinstance(total, int) and seen >= total):
                return
            page += 1

    def _object(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | list[str]] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> Json:
        response = self._ctx.http.request(
            method,
            f"{self.api_root}/{path}",
            rate_key=self._rate_key(),
            refusals=REFUSALS,
            params=dict(params) if params else None,
            json=dict(json_body) if json_body is not None else None,
            auth=(self._secret_key.get_secret_value(), ""),  # docs/vendors/lawpay.md §2: key as user, empty password
            headers={"Accept": "application/json"},
        )
        body = json_answer(response, method)
        if not isinstance(body, dict):
            raise Fatal(f"{method} /v1/{path}: expected a JSON object")
        return body

    def _rate_key(self) -> str:
        # No documented rate limit; one bucket per firm, named without the key.
        return "lawpay:" + hashlib.sha256(self._ctx.firm.encode()).hexdigest()[:16]


def first_message(answer: HttpAnswer | None) -> tuple[str, str]:
    """The gateway's first error (code, message) from `{"messages": [...]}` (docs/vendors/lawpay.md §12)."""
    body = answer.json() if answer is not None else None
    messages = body.get("messages") if isinstance(body, dict) else None
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        first = messages[0]
        return str(first.get("code") or "unknown"), str(first.get("message") or "")
    return "unknown", ""
