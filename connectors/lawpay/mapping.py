"""LawPay gateway JSON <-> core's vendor-free payment types. Amounts: integer cents <-> Decimal.

docs/vendors/lawpay.md §6: amounts are integers in the currency's smallest unit (USD cents). A Decimal that
is not a whole number of cents is refused here, never rounded silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from core.gateway import GatewayAccount, GatewayEvent, GatewayPlan, GatewayTransaction, PlanRequest

Json = Mapping[str, Any]
HUNDRED = Decimal(100)
# docs/vendors/lawpay.md §6: reference is free text of at most 128 characters.
MAX_REFERENCE = 128
_INTERVAL_UNITS = {"week": "WEEK", "month": "MONTH"}


def to_cents(amount: Decimal) -> int:
    """Dollars to whole cents; a fraction of a cent or a non-positive amount is a bug upstream."""
    scaled = amount * HUNDRED
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of cents")
    if scaled <= 0:
        raise ValueError(f"{amount} is not a positive amount")
    return int(scaled)


def from_cents(value: Any) -> Decimal:
    """Integer cents (the docs also show strings, docs/vendors/lawpay.md §6) to Decimal dollars with two places."""
    if value is None:
        return Decimal("0.00")
    return (Decimal(int(value)) / HUNDRED).quantize(Decimal("0.01"))


def reference(value: str) -> str:
    """A reference the gateway accepts, or a clear error."""
    if not value or len(value) > MAX_REFERENCE:
        raise ValueError(f"a LawPay reference must be 1 to {MAX_REFERENCE} characters: {value!r}")
    return value


def parse_time(text: Any) -> datetime:
    """The gateway's ISO-8601 times (with Z); naive ones are UTC."""
    value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def format_time(when: datetime) -> str:
    """yyyy-MM-dd'T'HH:mm:ss.SSS'Z' (docs/vendors/lawpay.md §10)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def account(raw: Json, method: str) -> GatewayAccount:
    """A merchant_account (card) or ach_account (bank). `trust_account` is omitted when unknown and
    is a string "true"/"false" in chargeio_credentials (docs/vendors/lawpay.md §2, §3)."""
    flag = raw.get("trust_account")
    trust = None if flag is None else (flag if isinstance(flag, bool) else str(flag).lower() == "true")
    return GatewayAccount(
        id=str(raw["id"]),
        name=str(raw.get("name") or ""),
        trust=trust,
        method=method,
        primary=bool(raw.get("primary")),
        recurring_enabled=bool(raw.get("recurring_charges_enabled")),
    )


def accounts(merchant: Json) -> list[GatewayAccount]:
    """Every active deposit account of the merchant."""
    found = [account(a, "card") for a in merchant.get("merchant_accounts") or [] if _active(a)]
    found += [account(a, "bank") for a in merchant.get("ach_accounts") or [] if _active(a)]
    return found


def _active(raw: Json) -> bool:
    return str(raw.get("status") or "ACTIVE").upper() == "ACTIVE"


def transaction(raw: Json) -> GatewayTransaction:
    """A charge or refund (docs/vendors/lawpay.md §6 "Charge / transaction response")."""
    return GatewayTransaction(
        id=str(raw["id"]),
        kind=str(raw.get("type") or "CHARGE").lower(),
        status=str(raw.get("status") or "").lower(),
        account_id=str(raw.get("account_id") or ""),
        amount=from_cents(raw.get("amount")),
        created=parse_time(raw["created"]),
        reference=raw.get("reference") or None,
        amount_refunded=from_cents(raw.get("amount_refunded")),
        parent_id=str(raw["charge_id"]) if raw.get("charge_id") else None,
        plan_id=str(raw["recurring_charge_id"]) if raw.get("recurring_charge_id") else None,
        failure_code=raw.get("failure_code") or None,
    )


def plan(raw: Json) -> GatewayPlan:
    """A recurring charge (docs/vendors/lawpay.md §8)."""
    next_payment = raw.get("next_payment")
    return GatewayPlan(
        id=str(raw["id"]),
        status=str(raw.get("status") or "").lower(),
        account_id=str(raw.get("account_id") or ""),
        amount=from_cents(raw.get("amount")),
        max_amount=from_cents(raw["max_amount"]) if raw.get("max_amount") is not None else None,
        max_occurrences=int(raw["max_occurrences"]) if raw.get("max_occurrences") is not None else None,
        reference=raw.get("reference") or None,
        next_payment=date.fromisoformat(str(next_payment)[:10]) if next_payment else None,
    )


def plan_body(request: PlanRequest) -> dict[str, Any]:
    """POST /v1/recurring/charges. The last occurrence is prorated to max_amount (docs/vendors/lawpay.md §8)."""
    return {
        "account_id": request.account_id,
        "method": request.method,
        "amount": to_cents(request.amount),
        "max_amount": to_cents(request.max_amount),
        "max_occurrences": request.max_occurrences,
        "currency": "USD",
        "reference": reference(request.reference),
        "description": request.description,
        "schedule": {
            "interval_unit": _INTERVAL_UNITS[request.interval],
            "interval_delay": 1,
            "start": request.start.isoformat(),
        },
    }


def event(raw: Json) -> GatewayEvent:
    """An event: `data` is the full object of its type (docs/vendors/lawpay.md §11)."""
    kind = str(raw.get("type") or "")
    data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    assert isinstance(data, dict)
    tx = transaction(data) if kind.startswith("transaction.") and data.get("id") else None
    recurring = (
        plan(data) if kind.startswith("recurring_charge.") and "occurrence" not in kind and data.get("id") else None
    )
    plan_id: str | None = None
    failure: str | None = None
    if "occurrence" in kind:
        plan_id = str(data.get("recurring_charge_id") or "") or None
        txs = data.get("transactions") or []
        last = txs[-1] if txs and isinstance(txs[-1], dict) else {}
        failure = last.get("failure_code") or None
    elif recurring is not None:
        plan_id = recurring.id
    elif kind.startswith("payment_method."):
        plan_id = None
    return GatewayEvent(
        id=str(raw["id"]),
        type=kind,
        created=parse_time(raw["created"]),
        transaction=tx,
        plan=recurring,
        plan_id=plan_id,
        failure_code=failure or (tx.failure_code if tx else None),
    )


def page_link(page_url: str, amount: Decimal, payment_reference: str) -> str:
    """A hosted payment page pre-filled and locked (docs/vendors/lawpay.md §15): amount in cents."""
    query = urlencode(
        {"amount": to_cents(amount), "reference": reference(payment_reference), "readOnlyFields": "amount,reference"}
    )
    separator = "&" if "?" in page_url else "?"
    return f"{page_url}{separator}{query}"
