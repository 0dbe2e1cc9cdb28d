"""The sandbox of the LawPay (AffiniPay / 8am) payment gateway, kept to its documented behaviour.

See connectors/lawpay/README.md ("Sandbox") and docs/vendors/lawpay.md.
One merchant, two modes: every record carries the mode of the key that made it, and a key
only sees its own mode (docs/vendors/lawpay.md §2). Amounts are integer cents throughout.
"""

from __future__ import annotations

import base64
import calendar
import copy
import hashlib
import random
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import FastAPI

from billsync_sandboxes.kit import Clock
from billsync_sandboxes.kit.base import SandboxBase
from billsync_sandboxes.lawpay.admin import build_admin_app
from billsync_sandboxes.lawpay.api import build_api_app
from billsync_sandboxes.lawpay.auth import basic_user
from billsync_sandboxes.lawpay.errors import GatewayError, Json, stamp
from billsync_sandboxes.lawpay.state import rules

TEST_SECRET_KEY = "sandbox-lawpay-test-secret"  # noqa: S105 - public sandbox values
LIVE_SECRET_KEY = "sandbox-lawpay-live-secret"  # noqa: S105
PUBLIC_KEY = "m_sandbox-lawpay-public"
TOKEN_TTL = timedelta(minutes=5)  # docs/vendors/lawpay.md §5
SEARCH_INDEX_DELAY = timedelta(seconds=1)  # docs/vendors/lawpay.md §10: search is indexed asynchronously
REFUND_WINDOW = timedelta(days=183)  # docs/vendors/lawpay.md §6: refunds up to 6 months after the charge
MAX_REFERENCE = 128


class LawPaySandbox(SandboxBase):
    """One simulated merchant: accounts, hosted pages, tokens, saved methods, transactions, plans, events."""

    def __init__(self, seed: Mapping[str, Any] | None = None, *, clock: Clock | None = None, rng_seed: int = 0) -> None:
        super().__init__(clock=clock, rng_seed=rng_seed)
        self._rng = random.Random(f"lawpay-ids-{rng_seed}")  # noqa: S311 - ids, not secrets
        self.keys = {TEST_SECRET_KEY: "test", LIVE_SECRET_KEY: "live"}
        self.public_key = PUBLIC_KEY
        data = copy.deepcopy(dict(seed or {}))
        self.merchant: Json = data.get("merchant") or {"id": "merchant-sandbox", "name": "Sandbox Law LLP"}
        self.merchant.setdefault("status", "ACTIVE")
        self.merchant.setdefault("slug", "sandbox-law")
        self.merchant.setdefault("live_events_urls", None)
        self.merchant.setdefault("test_events_urls", None)
        self.accounts: list[Json] = data.get("accounts") or []
        self.pages: list[Json] = data.get("pages") or []  # {slug, card_account_id, bank_account_id, mode}
        self.tokens: dict[str, Json] = {}
        self.methods: dict[str, Json] = {m["id"]: m for m in data.get("saved_methods") or []}
        self.transactions: dict[str, Json] = {}
        self.recurring: dict[str, Json] = {}
        self.events: list[Json] = []
        for tx in data.get("transactions") or []:
            self.transactions[tx["id"]] = tx

    # -- identity ---------------------------------------------------------------------------------

    def new_id(self) -> str:
        """A 22-character id like the gateway's ("wKgFnjz8GamBPPzKzIsAAA")."""
        return base64.urlsafe_b64encode(self._rng.getrandbits(128).to_bytes(16, "big")).decode()[:22]

    def mode_for(self, authorization: str | None) -> str:
        """The mode of the secret key in an HTTP Basic header (key as user, empty password), or 401."""
        key = basic_user(authorization)
        if key is None or key not in self.keys:
            raise GatewayError(401, "not_authorized", "The credentials provided are not valid")
        return self.keys[key]

    # -- merchant ---------------------------------------------------------------------------------

    def merchant_view(self, mode: str) -> Json:
        """GET /v1/merchant: accounts of this mode, card and ACH apart (docs/vendors/lawpay.md §3)."""
        mine = [a for a in self.accounts if a.get("mode", "test") == mode]
        return {
            **{k: v for k, v in self.merchant.items() if k != "slug"},
            "merchant_accounts": [_public(a) for a in mine if a.get("method", "card") == "card"],
            "ach_accounts": [_public(a) for a in mine if a.get("method", "card") == "bank"],
        }

    def update_merchant(self, changes: Mapping[str, Any]) -> None:
        """PUT /v1/merchant: only the webhook URLs are simulated (max 1024 characters, docs/vendors/lawpay.md §11)."""
        for name in ("live_events_urls", "test_events_urls"):
            if name in changes:
                value = changes[name]
                if value is not None and (not isinstance(value, str) or len(value) > 1024):
                    raise GatewayError(422, "invalid_data", f"{name} must be at most 1024 characters", name)
                self.merchant[name] = value

    def account(self, mode: str, account_id: str) -> Json:
        """An active account of this mode, or the gateway's refusal."""
        for a in self.accounts:
            if a["id"] == account_id and a.get("mode", "test") == mode:
                if a.get("status", "ACTIVE") != "ACTIVE":
                    raise GatewayError(422, "account_not_active", "The account is not active", "account_id")
                return a
        raise GatewayError(422, "no_account_specified", "No such account", "account_id")

    def primary(self, mode: str, method_type: str) -> Json:
        """The primary account for a method type (used when a charge names none, docs/vendors/lawpay.md §3)."""
        for a in self.accounts:
            if a.get("mode", "test") == mode and a.get("method", "card") == method_type and a.get("primary"):
                return a
        raise GatewayError(422, "no_account_for_payment_method", "No account accepts this payment method")

    # -- tokens and saved methods (docs/vendors/lawpay.md §5, §9) ---------------------------------

    def create_token(self, public_key: str | None, body: Mapping[str, Any]) -> Json:
        """POST /v1/tokens with the public key: a one-time token (5 minutes, docs/vendors/lawpay.md §5)."""
        if public_key != self.public_key:
            raise GatewayError(401, "not_authorized", "The public key is not valid")
        method = _method_from(body)
        token = {"id": self.new_id(), "created": stamp(self.clock.now()), **method}
        self.tokens[token["id"]] = token
        return _masked(token)

    def save_method(self, mode: str, body: Mapping[str, Any]) -> Json:
        """POST /v1/cards or /v1/banks from a token: a reusable saved method."""
        token = self._spend_token(str(body.get("token_id") or body.get("method") or ""))
        saved = {**token, "id": ("card_" if token["type"] == "card" else "bank_") + self.new_id(), "mode": mode}
        saved["reference"] = body.get("reference")
        self.methods[saved["id"]] = saved
        return _masked(saved)

    def _spend_token(self, token_id: str) -> Json:
        token = self.tokens.pop(token_id, None)
        if token is None:
            raise GatewayError(404, "resource_not_found", "The token was not found")  # used or unknown
        created = datetime.fromisoformat(token["created"].replace("Z", "+00:00"))
        if self.clock.now() - created > TOKEN_TTL:
            raise GatewayError(404, "resource_not_found", "The token has expired")
        return token

    def _resolve_method(self, mode: str, method: Any) -> Json:
        if not isinstance(method, str) or not method:
            # docs/vendors/lawpay.md §5: inline card data needs non_tokenized_payment_enabled; the sandbox has it off.
            raise GatewayError(422, "invalid_data", "method must be a token or saved method id", "method")
        saved = self.methods.get(method)
        if saved is not None:
            if saved.get("mode", "test") != mode:
                raise GatewayError(404, "resource_not_found", "The payment method was not found")
            return saved
        return self._spend_token(method)

    # -- charges, refunds, voids (docs/vendors/lawpay.md §6) --------------------------------------

    def charge(self, mode: str, body: Mapping[str, Any], *, recurring: Json | None = None) -> Json:
        """POST /v1/charges. A decline makes no transaction: 422 with the code (docs/vendors/lawpay.md §6)."""
        amount = _amount(body.get("amount"))
        ref = _reference(body.get("reference"))
        method = self._resolve_method(mode, body.get("method"))
        account = (
            self.account(mode, str(body["account_id"]))
            if body.get("account_id")
            else self.primary(mode, method["type"])
        )
        if account.get("method", "card") != method["type"]:
            raise GatewayError(422, "no_account_for_payment_method", "The account does not accept this method")
        failure = _outcome(method)
        if failure is not None:
            raise GatewayError(422, failure, "The payment was declined", "method")
        now = self.clock.now()
        tx: Json = {
            "id": self.new_id(),
            "created": stamp(now),
            "modified": stamp(now),
            "type": "CHARGE",
            "mode": mode,
            "account_id": account["id"],
            "status": "AUTHORIZED",
            "amount": amount,
            "currency": str(body.get("currency") or "USD"),
            "auto_capture": True,
            "amount_refunded": 0,
            "authorization_code": self.new_id()[:6].upper(),
            "reference": ref,
            "method": _masked(method),
            "refunds": [],
            "recurring_charge_id": recurring["id"] if recurring else None,
        }
        self.transactions[tx["id"]] = tx
        self._event(mode, "transaction.authorized", tx)
        return self.render(tx)

    def refund(self, mode: str, charge_id: str, body: Mapping[str, Any]) -> Json:
        """POST /v1/charges/{id}/refund: partial and repeated, up to what is left (docs/vendors/lawpay.md §6)."""
        charge = self._transaction(mode, charge_id)
        amount = _amount(body.get("amount", charge["amount"] - charge["amount_refunded"]))
        if charge["type"] != "CHARGE" or charge["status"] not in ("AUTHORIZED", "COMPLETED"):
            raise GatewayError(422, "not_valid_for_transaction_status", "The charge cannot be refunded now")
        if self.clock.now() - _time(charge["created"]) > REFUND_WINDOW:
            raise GatewayError(422, "not_valid_for_transaction_status", "Refunds are allowed for 6 months")
        if amount > charge["amount"] - charge["amount_refunded"]:
            raise GatewayError(422, "refund_exceeds_transaction", "The refund exceeds the charge", "amount")
        now = self.clock.now()
        # docs/vendors/lawpay.md §7: the refund of an unsettled eCheck charge waits for the parent's settlement.
        deferred = charge["method"]["type"] == "bank" and charge["status"] != "COMPLETED"
        refund: Json = {
            "id": self.new_id(),
            "created": stamp(now),
            "modified": stamp(now),
            "type": "REFUND",
            "mode": mode,
            "account_id": charge["account_id"],
            "status": "PENDING" if deferred else "AUTHORIZED",
            "amount": amount,
            "currency": charge["currency"],
            "reference": _reference(body.get("reference")) if body.get("reference") else charge["reference"],
            "charge_id": charge["id"],
            "method": charge["method"],
        }
        self.transactions[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunds"].append(refund["id"])
        charge["modified"] = stamp(now)
        self._event(mode, "transaction.pending_parent_settlement" if deferred else "transaction.authorized", refund)
        return self.render(refund)

    def void(self, mode: str, transaction_id: str, body: Mapping[str, Any]) -> Json:
        """POST /v1/transactions/{id}/void: only AUTHORIZED, and not a charge with live refunds."""
        tx = self._transaction(mode, transaction_id)
        live_refunds = [r for r in tx.get("refunds", []) if self.transactions[r]["status"] not in ("VOIDED", "FAILED")]
        if tx["status"] != "AUTHORIZED" or live_refunds:
            raise GatewayError(422, "not_valid_for_transaction_status", "Only an authorized transaction can be voided")
        tx["status"] = "VOIDED"
        tx["void_reference"] = body.get("reference")
        tx["modified"] = stamp(self.clock.now())
        if tx["type"] == "REFUND":
            self.transactions[tx["charge_id"]]["amount_refunded"] -= tx["amount"]
        self._event(mode, "transaction.voided", tx)
        return self.render(tx)

    def get_transaction(self, mode: str, transaction_id: str) -> Json:
        """GET /v1/transactions/{id}."""
        return self.render(self._transaction(mode, transaction_id))

    def search(self, mode: str, params: Mapping[str, Any], qf: list[str]) -> list[Json]:
        """GET /v1/transactions: only what is indexed (a second after creation), filtered and ordered."""
        now = self.clock.now()
        found = [
            t
            for t in self.transactions.values()
            if t["mode"] == mode and now - _time(t["created"]) >= SEARCH_INDEX_DELAY
        ]
        for clause in qf:
            field, _, value = clause.partition(":")
            # Matching is UNCONFIRMED (docs/vendors/lawpay.md §10): case-insensitive prefix, the loose reading.
            found = [t for t in found if str(_dig(t, field) or "").lower().startswith(value.lower())]
        if params.get("account_id"):
            found = [t for t in found if t["account_id"] == params["account_id"]]
        if params.get("start_date"):
            found = [t for t in found if _time(t["created"]) >= _time(params["start_date"])]
        if params.get("end_date"):
            found = [t for t in found if _time(t["created"]) <= _time(params["end_date"])]
        newest_first = str(params.get("order_by") or "-created").strip() == "-created"
        found.sort(key=lambda t: (t["created"], t["id"]), reverse=newest_first)
        return [self.render(t) for t in found]

    def render(self, tx: Json) -> Json:
        """A transaction in the gateway's answer shape (no sandbox-only fields)."""
        return {k: v for k, v in tx.items() if k not in ("mode",)}

    def _transaction(self, mode: str, transaction_id: str) -> Json:
        tx = self.transactions.get(transaction_id)
        if tx is None or tx["mode"] != mode:
            raise GatewayError(404, "resource_not_found", "The transaction was not found")
        return tx

    # -- what happens later at the gateway (admin) -------------------------------------------------

    def capture(self) -> int:
        """The daily auto-capture: AUTHORIZED charges and refunds become COMPLETED (docs/vendors/lawpay.md §6)."""
        done = 0
        for tx in list(self.transactions.values()):
            if tx["status"] == "AUTHORIZED":
                tx["status"] = "COMPLETED"
                tx["modified"] = stamp(self.clock.now())
                self._event(tx["mode"], "transaction.completed", tx)
                done += 1
                for refund_id in tx.get("refunds", []):  # deferred eCheck refunds run once the parent settles
                    refund = self.transactions[refund_id]
                    if refund["status"] == "PENDING":
                        refund["status"] = "COMPLETED"
                        self._event(refund["mode"], "transaction.completed", refund)
        return done

    def reverse(self, transaction_id: str, code: str = "chargeback") -> Json:
        """A chargeback or eCheck return after settlement: the charge turns FAILED (UNCONFIRMED event)."""
        tx = self.transactions[transaction_id]
        tx["status"] = "FAILED"
        tx["failure_code"] = code
        tx["modified"] = stamp(self.clock.now())
        self._event(tx["mode"], "transaction.failed", tx)
        return self.render(tx)

    # -- hosted payment pages (docs/vendors/lawpay.md §15) ------------------------------------------

    def page(self, merchant_slug: str, page_slug: str) -> Json:
        """A hosted page of this merchant, or 404."""
        if merchant_slug != self.merchant["slug"]:
            raise GatewayError(404, "resource_not_found", "No such page")
        for page in self.pages:
            if page["slug"] == page_slug:
                return page
        raise GatewayError(404, "resource_not_found", "No such page")

    def pay_page(self, page: Json, fields: Mapping[str, str]) -> Json:
        """The payer submits the page: tokenize in the page, then charge the page's account."""
        mode = page.get("mode", "test")
        method = _method_from(fields)
        token = {"id": self.new_id(), "created": stamp(self.clock.now()), **method}
        self.tokens[token["id"]] = token
        account_id = page["card_account_id"] if method["type"] == "card" else page["bank_account_id"]
        body = {"amount": fields.get("amount"), "reference": fields.get("reference") or None}
        return self.charge(mode, {**body, "method": token["id"], "account_id": account_id})

    # -- recurring charges (docs/vendors/lawpay.md §8) ----------------------------------------------

    def create_recurring(self, mode: str, body: Mapping[str, Any]) -> Json:
        """POST /v1/recurring/charges: never due on its creation day (first_occurrence_due_immediately)."""
        amount = _amount(body.get("amount"))
        account = self.account(mode, str(body.get("account_id") or ""))
        if not account.get("recurring_charges_enabled"):
            raise GatewayError(422, "invalid_data", "Recurring charges are not enabled for the account", "account_id")
        method = self.methods.get(str(body.get("method") or ""))
        if method is None or method.get("mode", "test") != mode:
            raise GatewayError(422, "invalid_data", "method must be a saved card or bank id", "method")
        schedule = body.get("schedule") or {}
        unit = str(schedule.get("interval_unit") or "")
        if unit not in ("DAY", "WEEK", "MONTH"):
            raise GatewayError(422, "invalid_data", "interval_unit must be DAY, WEEK or MONTH", "schedule")
        try:
            start = date.fromisoformat(str(schedule.get("start")))
        except ValueError:
            raise GatewayError(422, "invalid_data", "start must be a date", "schedule.start") from None
        if start <= self.clock.now().date():
            raise GatewayError(422, "first_occurrence_due_immediately", "The first occurrence cannot be today")
        now = stamp(self.clock.now())
        plan: Json = {
            "id": self.new_id(),
            "created": now,
            "modified": now,
            "mode": mode,
            "status": "ACTIVE",
            "account_id": account["id"],
            "method": method["id"],
            "schedule": {
                "interval_unit": unit,
                "interval_delay": int(schedule.get("interval_delay") or 1),
                "start": start.isoformat(),
            },
            "amount": amount,
            "currency": "USD",
            "reference": _reference(body.get("reference")),
            "description": str(body.get("description") or ""),
            "max_occurrences": body.get("max_occurrences"),
            "max_amount": _amount(body["max_amount"]) if body.get("max_amount") is not None else None,
            "total_occurrences": 0,
            "total_amount": 0,
            "next_payment": start.isoformat(),
            "occurrences": [],
        }
        self.recurring[plan["id"]] = plan
        self._event(mode, "recurring_charge.created", plan)
        return self.render(plan)

    def get_recurring(self, mode: str, plan_id: str) -> Json:
        """GET /v1/recurring/charges/{id}."""
        plan = self.recurring.get(plan_id)
        if plan is None or plan["mode"] != mode:
            raise GatewayError(404, "resource_not_found", "The recurring charge was not found")
        return plan

    def cancel_recurring(self, mode: str, plan_id: str) -> Json:
        """POST /v1/recurring/charges/{id}/cancel."""
        plan = self.get_recurring(mode, plan_id)
        plan["status"], plan["status_reason"], plan["next_payment"] = "COMPLETED", "user_canceled", None
        self._event(mode, "recurring_charge.updated", plan)
        return self.render(plan)

    def run_recurring(self, through: date | None = None) -> int:
        """Charge every occurrence due by today, or by `through` (time passing); returns how many ran."""
        ran = 0
        today = through or self.clock.now().date()
        for plan in list(self.recurring.values()):
            while (
                plan["status"] == "ACTIVE"
                and plan["next_payment"]
                and date.fromisoformat(plan["next_payment"]) <= today
            ):
                self._occurrence(plan)
                ran += 1
        return ran

    def _occurrence(self, plan: Json) -> None:
        mode = plan["mode"]
        due = plan["next_payment"]
        amount = plan["amount"]
        if plan["max_amount"] is not None:  # docs/vendors/lawpay.md §8: the last occurrence is prorated to max_amount
            amount = min(amount, plan["max_amount"] - plan["total_amount"])
        occurrence: Json = {
            "id": self.new_id(),
            "recurring_charge_id": plan["id"],
            "due_date": due,
            "amount": amount,
            "attempts": 1,
            "last_attempt": stamp(self.clock.now()),
            "transactions": [],
        }
        method = self.methods[plan["method"]]
        failure = _outcome(method) or _expired(method, self.clock.now().date())
        if failure is None:
            body = {
                "amount": amount,
                "method": method["id"],
                "account_id": plan["account_id"],
                "reference": plan["reference"],
            }
            tx = self.charge(mode, body, recurring=plan)
            self.transactions[tx["id"]]["recurring_charge_occurrence_id"] = occurrence["id"]
            occurrence["transactions"].append(self.get_transaction(mode, tx["id"]))
            occurrence["status"] = "PAID"
            plan["total_occurrences"] += 1
            plan["total_amount"] += amount
            self._event(mode, "recurring_charge.occurrence.paid", occurrence)
        else:
            occurrence["status"] = "FAILED"
            self._event(mode, "recurring_charge.occurrence.failed", occurrence)
        plan["occurrences"].append(occurrence)
        plan["next_payment"] = _next_due(date.fromisoformat(due), plan["schedule"]).isoformat()
        finished = (plan["max_occurrences"] is not None and plan["total_occurrences"] >= plan["max_occurrences"]) or (
            plan["max_amount"] is not None and plan["total_amount"] >= plan["max_amount"]
        )
        if finished:
            plan["status"], plan["status_reason"], plan["next_payment"] = "COMPLETED", "schedule_complete", None
            self._event(mode, "recurring_charge.completed", plan)

    def expiring(self, method_id: str) -> int:
        """It is the 1st of a saved card's expiry month: tell the merchant (docs/vendors/lawpay.md §11)."""
        method = self.methods[method_id]
        self._event(method.get("mode", "test"), "payment_method.expiring", _masked(method))
        plans = [p for p in self.recurring.values() if p["method"] == method_id and p["status"] == "ACTIVE"]
        for plan in plans:
            self._event(plan["mode"], "recurring_charge.payment_method.expiring", plan)
        return len(plans)

    # -- events (docs/vendors/lawpay.md §11) --------------------------------------------------------

    def _event(self, mode: str, kind: str, data: Json) -> None:
        self.events.append(
            {
                "id": self.new_id(),
                "created": stamp(self.clock.now()),
                "type": kind,
                "mode": mode,
                "data": copy.deepcopy(self.render(data)),
            }
        )

    def list_events(self, mode: str, start_date: str | None) -> list[Json]:
        """Newest first; with start_date, chronological from it (inclusive) for syncing."""
        mine = [e for e in self.events if e["mode"] == mode]
        if start_date is None:
            return [self.render(e) for e in reversed(mine)]
        since = _time(start_date)
        return [self.render(e) for e in mine if _time(e["created"]) >= since]

    def get_event(self, mode: str, event_id: str) -> Json:
        """GET /v1/events/{id}."""
        for e in self.events:
            if e["id"] == event_id and e["mode"] == mode:
                return self.render(e)
        raise GatewayError(404, "resource_not_found", "The event was not found")

    # -- apps -----------------------------------------------------------------------------------------

    def api_app(self) -> FastAPI:
        """The gateway API (/v1/...) and hosted pages (/pages/...), mounted at /lawpay."""
        return build_api_app(self)

    def admin_app(self) -> FastAPI:
        """The admin API, mounted at /_sandbox/lawpay."""
        return build_admin_app(self)


def create_app(sandbox: LawPaySandbox) -> FastAPI:
    """Mount the API at /lawpay and the admin API at /_sandbox/lawpay."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.mount("/_sandbox/lawpay", sandbox.admin_app())
    app.mount("/lawpay", sandbox.api_app())
    return app


# -- helpers ------------------------------------------------------------------------------------------


def _public(account: Json) -> Json:
    return {k: v for k, v in account.items() if k not in ("mode", "method")}


def _amount(value: Any) -> int:
    # docs/vendors/lawpay.md §6: an integer number of cents; the docs send strings, clients send numbers.
    if isinstance(value, bool):
        raise GatewayError(422, "invalid_data", "amount must be a whole number of cents", "amount")
    try:
        cents = int(str(value))
    except ValueError:
        raise GatewayError(422, "invalid_data", "amount must be a whole number of cents", "amount") from None
    if not 0 < cents <= 10**14 - 1:
        raise GatewayError(422, "invalid_data", "amount is out of range", "amount")
    return cents


def _reference(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    if len(text) > MAX_REFERENCE:
        raise GatewayError(422, "invalid_data", "reference is longer than 128 characters", "reference")
    return text


def _method_from(body: Mapping[str, Any]) -> Json:
    kind = str(body.get("type") or ("bank" if body.get("routing_number") else "card"))
    name = str(body.get("name") or "")
    if kind == "bank":
        routing, account = str(body.get("routing_number") or ""), str(body.get("account_number") or "")
        if not routing or not account:
            raise GatewayError(422, "invalid_data", "routing_number and account_number are required", "method")
        return {
            "type": "bank",
            "routing_number": routing,
            "account_number": account,
            "name": name,
            "account_type": str(body.get("account_type") or "CHECKING"),
        }
    number = str(body.get("number") or "").replace(" ", "")
    if not number:
        raise GatewayError(422, "invalid_data", "number is required", "method.number")
    return {
        "type": "card",
        "number": number,
        "name": name,
        "exp_month": int(body.get("exp_month") or 12),
        "exp_year": int(body.get("exp_year") or 2030),
        "postal_code": str(body.get("postal_code") or ""),
    }


def _masked(method: Json) -> Json:
    shown = {k: v for k, v in method.items() if k not in ("number", "account_number", "routing_number", "cvv", "mode")}
    if method.get("type") == "card":
        shown["number"] = "*" * (len(method["number"]) - 4) + method["number"][-4:]
        shown["card_type"] = rules.card_type(method["number"])
        shown["fingerprint"] = hashlib.sha256(method["number"].encode()).hexdigest()[:20]
    else:
        shown["account_number"] = "*" * 6 + method["account_number"][-4:]
        shown["routing_number"] = "******" + method["routing_number"][-3:]
        shown["bank_name"] = "Sandbox Bank"
    return shown


def _outcome(method: Json) -> str | None:
    if method["type"] == "card":
        return rules.card_outcome(method["number"])
    return rules.bank_outcome(method["routing_number"], method["account_number"])


def _expired(method: Json, today: date) -> str | None:
    if method["type"] != "card":
        return None
    last_day = calendar.monthrange(int(method["exp_year"]), int(method["exp_month"]))[1]
    return "card_expired" if today > date(int(method["exp_year"]), int(method["exp_month"]), last_day) else None


def _next_due(due: date, schedule: Mapping[str, Any]) -> date:
    delay = int(schedule.get("interval_delay") or 1)
    unit = schedule["interval_unit"]
    if unit == "DAY":
        return due + timedelta(days=delay)
    if unit == "WEEK":
        return due + timedelta(weeks=delay)
    month = due.month - 1 + delay
    year, month = due.year + month // 12, month % 12 + 1
    return date(year, month, min(due.day, calendar.monthrange(year, month)[1]))


def _time(text: str) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def _dig(record: Json, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value
