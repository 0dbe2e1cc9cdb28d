"""The payments section of the configuration: the example is valid, and unsafe settings are refused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.payments import ClientPayments, PaymentsSettings
from config.settings import load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "billsync.toml"
PAGES = {"operating_page_url": "https://x.test/op", "trust_page_url": "https://x.test/trust"}


def test_the_example_payments_section_means_what_its_comments_say() -> None:
    payments = load_settings(EXAMPLE).firm("acme").payments
    assert payments is not None
    harbor = payments.client("c-harbor")
    assert (harbor.retainer_deduction, harbor.evergreen_minimum, harbor.evergreen_target) == (
        "auto",
        Decimal("2000.00"),
        Decimal("5000.00"),
    )
    assert (harbor.plans_allowed, harbor.plan_instalments, harbor.plan_interval) == (True, 4, "month")
    assert payments.client("anyone-else").retainer_deduction == "on_request"
    assert not payments.client("anyone-else").plans_allowed


def test_one_account_cannot_be_both_operating_and_trust() -> None:
    with pytest.raises(ValidationError, match="both operating and trust"):
        PaymentsSettings(operating_account="a", trust_account="b", trust_bank_account="a", **PAGES)


def test_an_evergreen_retainer_needs_a_target_above_its_minimum() -> None:
    with pytest.raises(ValidationError, match="go together"):
        ClientPayments(evergreen_minimum=Decimal("100.00"))
    with pytest.raises(ValidationError, match="above evergreen_minimum"):
        ClientPayments(evergreen_minimum=Decimal("100.00"), evergreen_target=Decimal("50.00"))
