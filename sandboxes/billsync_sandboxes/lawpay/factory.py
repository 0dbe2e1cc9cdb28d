"""Build the LawPay sandbox for `billsync sandbox` / `billsync demo`, and settings that reach it.

The `lawpay` entry point of `billsync.sandboxes` and `billsync.sandbox_settings`: core's sandbox
server mounts what `build_sandbox` returns at /lawpay (API and hosted pages) and /_sandbox/lawpay.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billsync_sandboxes.kit import Clock
from billsync_sandboxes.kit.server import api_root
from billsync_sandboxes.lawpay.errors import Json
from billsync_sandboxes.lawpay.state import TEST_SECRET_KEY, LawPaySandbox


def build_sandbox(
    seed: Mapping[str, Any], *, rate_limit_per_minute: int | None = None, clock: Clock | None = None
) -> LawPaySandbox:
    """A sandbox loaded with `seed`. LawPay documents no rate limit, so none is applied.

    `clock`: the sandbox's clock (the demo's: its month's end, running on); None: the real clock.
    """
    del rate_limit_per_minute  # docs/vendors/lawpay.md: no documented limit; the sandbox invents none
    return LawPaySandbox(seed, clock=clock)


def connector_settings(base_url: str) -> dict[str, Any]:
    """The connector settings (test mode) that point at a sandbox server at base_url."""
    return {"secret_key": TEST_SECRET_KEY, "mode": "test", "base_url": api_root(base_url, "lawpay")}


def firm_settings(sandbox: LawPaySandbox, base_url: str) -> dict[str, Any]:
    """What a firm on this sandbox configures (`billsync sandbox --write-config`): the connector and payments.

    The payments section names the merchant's test-mode deposit accounts by their trust flag
    (docs/vendors/lawpay.md §3: card and eCheck deposits have their own account ids) and the hosted pages that
    deposit into them (§15). A merchant without an operating and a trust card account, or without
    a page for each, cannot take payments as billsync requires: then only the connector is written.
    """
    written: dict[str, Any] = {"connectors": {"lawpay": connector_settings(base_url)}}
    usable = [a for a in sandbox.accounts if a.get("mode", "test") == "test"]  # the connector's key is a test key
    accounts = [a for a in usable if a.get("status", "ACTIVE") == "ACTIVE"]
    operating_card = _account(accounts, trust=False, method="card")
    trust_card = _account(accounts, trust=True, method="card")
    if operating_card is None or trust_card is None:
        return written
    pages = api_root(base_url, "lawpay") + f"/pages/{sandbox.merchant['slug']}"
    operating_page = _page(sandbox.pages, operating_card)
    trust_page = _page(sandbox.pages, trust_card)
    if operating_page is None or trust_page is None:
        return written
    payments = {
        "gateway": "lawpay",
        "operating_account": operating_card["id"],
        "trust_account": trust_card["id"],
        "operating_page_url": f"{pages}/{operating_page}",
        "trust_page_url": f"{pages}/{trust_page}",
    }
    for role, trust in (("operating_bank_account", False), ("trust_bank_account", True)):
        bank = _account(accounts, trust=trust, method="bank")
        if bank is not None:
            payments[role] = bank["id"]
    return {**written, "payments": payments}


def _account(accounts: list[Json], *, trust: bool, method: str) -> Json | None:
    """The account of that kind, the primary one first."""
    fitting = [a for a in accounts if bool(a.get("trust_account")) is trust and a.get("method", "card") == method]
    return next(iter(sorted(fitting, key=lambda a: not a.get("primary"))), None)


def _page(pages: list[Json], card_account: Json) -> str | None:
    """The slug of the test-mode hosted page depositing cards into that account."""
    test_pages = [p for p in pages if p.get("mode", "test") == "test"]
    return next((str(p["slug"]) for p in test_pages if p.get("card_account_id") == card_account["id"]), None)
