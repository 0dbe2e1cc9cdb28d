"""What the LawPay sandbox decides a payment method does: the documented test numbers (docs/vendors/lawpay.md §14)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# docs/vendors/lawpay.md §14, codes as §12 names them.
DECLINING_CARDS: Mapping[str, str] = MappingProxyType(
    {
        "4000000000000002": "card_declined",
        "4000000000000044": "card_declined_insufficient_funds",
        "4000000000000051": "card_declined_limit_exceeded",
        "4000000000000069": "card_expired",
        "4000000000000119": "card_declined_processing_error",
        "4000000000000127": "card_declined_hold",
        "4242424242424241": "card_number_invalid",
        "4000000000000135": "card_type_not_accepted",
    }
)
SUCCEEDING_CARDS = (
    "4242424242424242",
    "4012888888881881",
    "5105105105105100",
    "5499740000000057",
    "378282246310005",
    "6011111111111117",
)
# docs/vendors/lawpay.md §14: with routing 000000013, accounts 1000000001-1000000009 fail in this order.
DECLINING_ROUTING = "000000013"
DECLINING_ACH = (
    "ach_declined",
    "ach_declined_hold",
    "ach_declined_duplicate",
    "ach_invalid_account_number",
    "ach_insufficient_funds",
    "ach_account_not_found",
    "ach_account_closed",
    "ach_account_frozen",
    "ach_limit_exceeded",
)
SUCCEEDING_ROUTINGS = ("000000000", "000000013")
INVALID_ROUTING = "000000001"


def luhn_ok(number: str) -> bool:
    """The card-number checksum."""
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        digit = int(ch)
        if i % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def card_type(number: str) -> str:
    """VISA, MASTERCARD, AMERICAN_EXPRESS or DISCOVER from the number's prefix."""
    if number.startswith("4"):
        return "VISA"
    if number[:2] in {"51", "52", "53", "54", "55"}:
        return "MASTERCARD"
    if number[:2] in {"34", "37"}:
        return "AMERICAN_EXPRESS"
    return "DISCOVER"


def card_outcome(number: str) -> str | None:
    """None when a card charge succeeds, else the failure code."""
    if number in DECLINING_CARDS:
        return DECLINING_CARDS[number]
    if not luhn_ok(number):
        return "card_number_invalid"
    return None


def bank_outcome(routing: str, account: str) -> str | None:
    """None when an eCheck charge succeeds, else the failure code."""
    if routing == INVALID_ROUTING:
        return "ach_invalid_routing_number"
    if routing == DECLINING_ROUTING and account.isdigit() and 1000000001 <= int(account) <= 1000000009:
        return DECLINING_ACH[int(account) - 1000000001]
    if routing not in SUCCEEDING_ROUTINGS:
        return "ach_invalid_routing_number"
    return None
