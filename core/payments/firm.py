"""One firm's payments, wired: settings, gateway, stores, and the ledger computed from them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from pydantic import ValidationError

from config.payments import PaymentsSettings
from config.settings import BillsyncSettings
from core.connector import BillMemoWriter, Context
from core.errors import BillsyncError, ConfigError
from core.gateway import GatewayAccount, GatewayConnector, GatewayTransaction, PaymentGateway
from core.http import HttpClient
from core.models import BillState, RemoteBill
from core.payments import references
from core.payments.headroom import Claims
from core.payments.ledger import Ledger, build_ledger
from core.payments.models import OPEN_INTENTS, AccountKind, Transaction
from core.payments.reconcile import Match, match_all
from core.payments.routing import AccountMap, verify_accounts
from core.plugins import CONNECTORS, load
from core.store.payments import PaymentStore
from core.store.store import Store
from core.tokens import TokenStore, fernet_from_key


@dataclass
class FirmPayments:
    """Everything a payment operation needs for one firm; injected, never global."""

    firm: str
    settings: PaymentsSettings
    gateway: PaymentGateway
    gateway_name: str  # the gateway connector's name ("lawpay"): settings and stored cursors use it
    gateway_vendor: str  # how people know the gateway ("LawPay"): messages, tasks and errors use it
    store: Store
    payments: PaymentStore
    firm_name: str = ""
    memo_writer: BillMemoWriter | None = None
    pms: str = "clio"
    log: structlog.stdlib.BoundLogger = field(default_factory=structlog.get_logger)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # The gateway's accounts as last verified, and when (time.monotonic): see verified_accounts().
    _verified: tuple[float, dict[str, GatewayAccount]] | None = field(default=None, init=False, repr=False)

    # Verified at most this often: a flag changed in LawPay is seen within a minute, and a burst of
    # links or charges does not ask the gateway for its accounts each time.
    ACCOUNTS_FRESH_SECONDS = 60.0

    @property
    def accounts(self) -> AccountMap:
        """The configured operating and trust accounts."""
        return AccountMap.from_settings(self.settings)

    def local(self, tx: GatewayTransaction) -> Transaction:
        """A gateway transaction as billsync stores it, with the account's role."""
        return Transaction(
            id=tx.id,
            kind=tx.kind,
            status=tx.status,
            account_id=tx.account_id,
            account_kind=self.accounts.kind(tx.account_id),
            amount=tx.amount,
            created=tx.created,
            reference=tx.reference,
            parent_id=tx.parent_id,
            plan_id=tx.plan_id,
            failure_code=tx.failure_code,
        )

    def verified_accounts(self) -> dict[str, GatewayAccount]:
        """The gateway's accounts, after checking the configured ones carry the trust flags their roles need.

        Called before any money moves (charges, refunds, links, plans, retainers): a configured
        operating account that the gateway flags as trust (or the reverse) stops everything with
        a ConfigError naming the setting.
        """
        now = time.monotonic()
        if self._verified is not None and now - self._verified[0] < self.ACCOUNTS_FRESH_SECONDS:
            return self._verified[1]
        at_gateway = list(self.gateway.accounts())
        verify_accounts(self.accounts, at_gateway)
        self._verified = (now, {a.id: a for a in at_gateway})
        return self._verified[1]

    def account_kind(self, account_id: str) -> AccountKind:
        """Trust or operating as the gateway flags the account (verified first); unknown if it does not say."""
        found = self.verified_accounts().get(account_id)
        if found is None or found.trust is None:
            return AccountKind.UNKNOWN
        return AccountKind.TRUST if found.trust else AccountKind.OPERATING

    def check_client(self, client_id: str, matter_id: str | None = None) -> None:
        """Trust money is held for a client (and one of its matters) the PMS knows: else it is nobody's."""
        reference = self.store.load_reference(self.firm)
        if client_id not in reference.clients:
            raise BillsyncError(
                f"no client {client_id[:80]!r} among the clients read from the PMS "
                "(has the sync run? is it the PMS's id?)"
            )
        if matter_id is not None:
            matter = reference.matters.get(matter_id)
            if matter is None or matter.client_id != client_id:
                raise BillsyncError(f"matter {matter_id[:80]!r} is not a matter of client {client_id!r} in the PMS")

    def claims(self) -> Claims:
        """The ledger and every open claim on it, read now (inside a movement: see core.payments.headroom).

        Open intents are read before transactions, on purpose: an intent settles (stops claiming,
        its transaction stored) in one commit that need not wait for the money lock, and it may
        land between two of these reads. Read in this order, a settlement in between is counted
        twice (refusing more), never not at all.
        """
        open_intents = self.payments.intents(self.firm, statuses=OPEN_INTENTS)
        plans = self.payments.plans(self.firm)
        transactions = self.payments.transactions(self.firm)
        bills = self.bills()
        matches = match_all(transactions, bills, plans)
        return Claims(
            ledger=build_ledger(bills, matches, self.payments.transfers(self.firm)),
            matches=matches,
            open_intents=open_intents,
            plans=plans,
            transactions=transactions,
        )

    def bills(self) -> list[RemoteBill]:
        """Bills read from the PMS (reference data)."""
        return self.store.load_bills(self.firm)

    def matches(self) -> list[Match]:
        """Every stored transaction matched by reference."""
        return match_all(self.payments.transactions(self.firm), self.bills(), self.payments.plans(self.firm))

    def ledger(self) -> Ledger:
        """Billed, paid, outstanding and trust, now."""
        return build_ledger(self.bills(), self.matches(), self.payments.transfers(self.firm))

    def invoice(self, number: str) -> RemoteBill:
        """An issued invoice by its number (or a PracticePanther bill id), or a clear error."""
        found = [b for b in self.bills() if references.invoice_key(b) == number or b.id == number]
        if not found:
            raise BillsyncError(f"no invoice {number!r} among the bills read from the PMS (has the bills stream run?)")
        bill = found[0]
        if bill.state is not BillState.AWAITING_PAYMENT:
            raise BillsyncError(
                f"invoice {number} is {bill.state.value}: only an issued (awaiting payment) invoice takes payments"
            )
        return bill

    def now(self) -> datetime:
        """The current time (UTC)."""
        return self.clock()


def build_firm_payments(
    settings: BillsyncSettings, firm_id: str, store: Store, *, http: HttpClient | None = None
) -> FirmPayments:
    """The firm's payments from its configuration: the gateway connector built through its entry point."""
    firm = settings.firm(firm_id)
    if firm.payments is None:
        raise ConfigError(f"firm {firm_id} has no [firms.{firm_id}.payments] section: payments are off")
    name = firm.payments.gateway
    connector_class = load(CONNECTORS, name)
    section = firm.connector_settings(name)
    if section is None:
        raise ConfigError(f"firm {firm_id}: no [firms.{firm_id}.connectors.{name}] settings for the payment gateway")
    try:
        connector_settings = connector_class.Settings(**section)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"firm {firm_id}, connector {name}: {problems}") from None
    log = structlog.get_logger().bind(firm=firm_id, connector=name)
    tokens = TokenStore(store.engine, fernet_from_key(settings.encryption_key()))
    ctx = Context(firm=firm_id, http=http or HttpClient(), tokens=tokens, log=log)
    connector = connector_class(connector_settings, ctx)
    if not isinstance(connector, GatewayConnector):
        raise ConfigError(f"connector {name} is not a payment gateway (it has no payments())")
    return FirmPayments(
        firm=firm_id,
        settings=firm.payments,
        gateway=connector.payments(),
        gateway_name=name,
        gateway_vendor=connector.vendor,
        store=store,
        payments=PaymentStore(store.engine),
        firm_name=firm.name,
        pms=firm.pms,
        log=log,
    )
