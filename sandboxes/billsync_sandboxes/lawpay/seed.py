"""The demo firm's LawPay merchant: deposit accounts with trust flags, hosted pages, saved cards.

Shapes follow docs/vendors/lawpay.md §3 (merchant_accounts / ach_accounts with `trust_account`) and §15
(hosted pages). Card and eCheck deposits into the same bank account have different account ids
(docs/vendors/lawpay.md §3), so each of operating and trust has a card and a bank account id. A few clients
keep a card on file (one of the documented test cards, docs/vendors/lawpay.md §14) for payment plans; one of
them is the card that always declines, so the demo shows a failed plan payment becoming a task.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from billsync_sandboxes.demo.data import SyntheticFirm

MERCHANT_SLUG = "sandbox-law"
OPERATING_CARD, OPERATING_BANK = "acct_operating_card", "acct_operating_bank"
TRUST_CARD, TRUST_BANK = "acct_trust_card", "acct_trust_bank"
GOOD_CARD, DECLINING_CARD = "4242424242424242", "4000000000000002"
CARDS_ON_FILE = 3


def _account(
    account_id: str, name: str, *, trust: bool, method: str, primary: bool, mode: str = "test"
) -> dict[str, Any]:
    return {
        "id": account_id,
        "name": name,
        "primary": primary,
        "status": "ACTIVE",
        "trust_account": trust,
        "currency": "USD",
        "recurring_charges_enabled": not trust,  # plans pay invoices, so only operating takes them
        "required_payment_fields": "name,postal_code" if method == "card" else "name",
        "method": method,  # sandbox-only: card (merchant_accounts) or bank (ach_accounts)
        "mode": mode,
    }


def lawpay_seed(firm: SyntheticFirm, *, now: datetime) -> dict[str, Any]:
    """The seed for `LawPaySandbox`: merchant, accounts in both modes, two hosted pages, cards on file."""
    del now  # the merchant predates the demo month; nothing in it is dated
    accounts = [
        _account(OPERATING_CARD, "Operating (card)", trust=False, method="card", primary=True),
        _account(OPERATING_BANK, "Operating (eCheck)", trust=False, method="bank", primary=True),
        _account(TRUST_CARD, "IOLTA Trust (card)", trust=True, method="card", primary=False),
        _account(TRUST_BANK, "IOLTA Trust (eCheck)", trust=True, method="bank", primary=False),
        _account("live_operating_card", "Operating (card)", trust=False, method="card", primary=True, mode="live"),
        _account("live_trust_card", "IOLTA Trust (card)", trust=True, method="card", primary=False, mode="live"),
    ]
    pages = [
        {
            "slug": "operating",
            "title": "Pay an invoice",
            "card_account_id": OPERATING_CARD,
            "bank_account_id": OPERATING_BANK,
            "mode": "test",
        },
        {
            "slug": "trust",
            "title": "Deposit to trust",
            "card_account_id": TRUST_CARD,
            "bank_account_id": TRUST_BANK,
            "mode": "test",
        },
    ]
    methods = [
        {
            "id": f"card_demo_{client.id}",
            "type": "card",
            "number": DECLINING_CARD if i == CARDS_ON_FILE - 1 else GOOD_CARD,
            "exp_month": 12,
            "exp_year": 2029,
            "name": client.name,
            "postal_code": "78730",
            "reference": client.id,
            "mode": "test",
        }
        for i, client in enumerate(firm.clients[:CARDS_ON_FILE])
    ]
    merchant = {"id": "merchant-sandbox-law", "name": "Sandbox Law LLP", "slug": MERCHANT_SLUG, "timezone": "UTC"}
    return {"merchant": merchant, "accounts": accounts, "pages": pages, "saved_methods": methods}
