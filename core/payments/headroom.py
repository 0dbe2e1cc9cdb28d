"""What is free to move now: the ledger less what open intents and live plans have claimed.

Every money movement reads this inside `PaymentStore.movement` (one lock per client) and stores
its own claim before leaving it, so two movements never both count the same dollars:

- an invoice: its balance, less the open charges for it and what live plans on it have yet to charge;
- a trust pool (one matter's, or the client's general pool): what it holds, less open refunds from it;
- a charge: its amount, less what has been refunded and the open refunds of it.

An intent whose outcome becomes known stops claiming and its transaction counts instead, both in
one database transaction (`PaymentStore.set_intent`); an event may bring the transaction first,
and then the same dollars count twice for a while, which only ever refuses more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.models import RemoteBill
from core.payments.ledger import ZERO, Ledger
from core.payments.models import COUNTED, AccountKind, Intent, Plan, Purpose, Transaction
from core.payments.reconcile import Match

LIVE_PLANS = ("requested", "active", "held")


@dataclass(frozen=True, slots=True)
class Headroom:
    """What is there, what is claimed by movements under way, and what is free."""

    held: Decimal
    claimed: Decimal

    @property
    def free(self) -> Decimal:
        """What one more movement may take."""
        return max(self.held - self.claimed, ZERO)

    def figures(self) -> str:
        """The numbers a person needs to see why a movement was refused."""
        claim = f"; ${self.claimed} claimed by payments under way" if self.claimed else ""
        return f"${self.held}{claim}; ${self.free} free"


@dataclass(frozen=True)
class Claims:
    """The firm's ledger and everything that claims money in it, read at one moment."""

    ledger: Ledger
    matches: Sequence[Match]
    open_intents: Sequence[Intent]
    plans: Sequence[Plan]
    transactions: Sequence[Transaction]

    def invoice(self, bill: RemoteBill) -> Headroom:
        """What may still be charged to an issued invoice."""
        balance = self.ledger.invoices[bill.id].balance
        charging = sum(
            (i.amount for i in self.open_intents if i.purpose is Purpose.INVOICE and i.bill_id == bill.id), ZERO
        )
        planned = sum((self._plan_left(p) for p in self.plans if p.bill_id == bill.id and p.status in LIVE_PLANS), ZERO)
        return Headroom(held=balance, claimed=charging + planned)

    def trust(self, client_id: str, matter_id: str | None) -> Headroom:
        """What a client's trust pool holds that no refund under way has claimed."""
        refunding = sum(
            (
                i.amount
                for i in self.open_intents
                if i.purpose is Purpose.REFUND
                and i.account_kind is AccountKind.TRUST
                and i.client_id == client_id
                and i.matter_id == matter_id
            ),
            ZERO,
        )
        return Headroom(held=self.ledger.trust(client_id, matter_id), claimed=refunding)

    def refundable(self, charge_id: str, amount: Decimal, refunded_at_gateway: Decimal) -> Headroom:
        """What is left of a charge to refund: by the gateway's count or ours, whichever is larger."""
        ours = sum(
            (
                t.amount
                for t in self.transactions
                if t.kind == "refund" and t.parent_id == charge_id and t.status in COUNTED
            ),
            ZERO,
        )
        refunding = sum(
            (i.amount for i in self.open_intents if i.purpose is Purpose.REFUND and i.parent_id == charge_id), ZERO
        )
        return Headroom(held=amount - max(ours, refunded_at_gateway), claimed=refunding)

    def match_of(self, transaction_id: str) -> Match | None:
        """How a stored transaction was matched (what it paid, whose trust it is)."""
        return next((m for m in self.matches if m.transaction.id == transaction_id), None)

    def _plan_left(self, plan: Plan) -> Decimal:
        if plan.gateway_plan_id is None:
            return plan.total
        paid = sum((m.signed for m in self.matches if m.transaction.plan_id == plan.gateway_plan_id), ZERO)
        return max(plan.total - paid, ZERO)
