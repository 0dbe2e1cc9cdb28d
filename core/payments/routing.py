"""Trust-safe routing (ABA Model Rule 1.15): which account money may go to, and what is refused.

- Invoice payments (and plan instalments) are earned fees: operating.
- Retainers and evergreen top-ups are unearned, client money: trust.
- A charge to trust for an invoice is refused; trust pays an invoice only by a recorded transfer.
- Processing fees never touch trust: the gateway takes them from operating (docs/vendors/lawpay.md §4), and
  billsync records trust deposits gross and never nets a fee off them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from config.payments import PaymentsSettings
from core.errors import BillsyncError, ConfigError
from core.gateway import GatewayAccount
from core.payments.models import AccountKind, Purpose

TRUST_PURPOSES = frozenset({Purpose.RETAINER, Purpose.EVERGREEN})
OPERATING_PURPOSES = frozenset({Purpose.INVOICE, Purpose.PLAN})


class TrustViolation(BillsyncError):
    """Money would reach the wrong account: refused before anything is sent."""


@dataclass(frozen=True)
class AccountMap:
    """The firm's configured deposit accounts."""

    operating_card: str
    trust_card: str
    operating_bank: str | None = None
    trust_bank: str | None = None

    @classmethod
    def from_settings(cls, settings: PaymentsSettings) -> AccountMap:
        """From [firms.<id>.payments]."""
        return cls(
            operating_card=settings.operating_account,
            trust_card=settings.trust_account,
            operating_bank=settings.operating_bank_account,
            trust_bank=settings.trust_bank_account,
        )

    def kind(self, account_id: str) -> AccountKind:
        """Operating, trust, or unknown (an account the configuration does not name)."""
        if account_id in (self.operating_card, self.operating_bank):
            return AccountKind.OPERATING
        if account_id in (self.trust_card, self.trust_bank):
            return AccountKind.TRUST
        return AccountKind.UNKNOWN

    def for_purpose(self, purpose: Purpose, method: str = "card") -> tuple[str, AccountKind]:
        """The account a purpose's money goes to, for a card or bank payment."""
        kind = AccountKind.TRUST if purpose in TRUST_PURPOSES else AccountKind.OPERATING
        if kind is AccountKind.TRUST:
            account = self.trust_card if method == "card" else self.trust_bank
        else:
            account = self.operating_card if method == "card" else self.operating_bank
        if account is None:
            raise ConfigError(f"no {kind.value} account for {method} payments: set {kind.value}_bank_account")
        return account, kind


def check_charge(purpose: Purpose, account_kind: AccountKind, what: str) -> None:
    """Refuse money headed for the wrong account, with what to do instead."""
    if purpose in OPERATING_PURPOSES and account_kind is not AccountKind.OPERATING:
        raise TrustViolation(
            f"refused: {what} is earned money and must go to the operating account, not {account_kind.value}. "
            f"Trust funds pay an invoice only through a recorded transfer: `billsync pay transfer {what}`"
        )
    if purpose in TRUST_PURPOSES and account_kind is not AccountKind.TRUST:
        raise TrustViolation(
            f"refused: {what} is a {purpose.value}, unearned client money, and must go to trust, "
            f"not {account_kind.value}"
        )


def verify_accounts(accounts: AccountMap, at_gateway: Sequence[GatewayAccount]) -> None:
    """The configured ids exist at the gateway and carry the trust flag their role needs."""
    by_id = {a.id: a for a in at_gateway}
    wanted = [
        (accounts.operating_card, False, "operating_account"),
        (accounts.trust_card, True, "trust_account"),
        (accounts.operating_bank, False, "operating_bank_account"),
        (accounts.trust_bank, True, "trust_bank_account"),
    ]
    for account_id, trust, setting in wanted:
        if account_id is None:
            continue
        found = by_id.get(account_id)
        if found is None:
            raise ConfigError(f"payments.{setting} = {account_id!r} is not an active account at the gateway")
        if found.trust is None:
            raise ConfigError(
                f"payments.{setting}: the gateway does not say whether {found.name!r} is a trust account; "
                "billsync will not route money to it until it does"
            )
        if found.trust is not trust:
            role = "a trust" if found.trust else "an operating"
            raise ConfigError(f"payments.{setting} names {found.name!r}, which the gateway reports as {role} account")
