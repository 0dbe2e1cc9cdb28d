"""One firm's payments, wired: settings, gateway, stores, and the ledger computed from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from pydantic import ValidationError

from config.payments import PaymentsSettings
from config.settings import BillsyncSettings
from core.connector import BillMemoWriter, Context
from core.errors import BillsyncError, ConfigError
from core.gateway import GatewayTransaction, PaymentGateway
from core.http import HttpClient
from core.models import BillState, RemoteBill
from core.payments import references
from core.payments.ledger import Ledger, build_ledger
from core.payments.models import Transaction
from core.payments.reconcile import Match, match_all
from core.payments.routing import AccountMap
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
    gateway_name: str
    store: Store
    payments: PaymentStore
    firm_name: str = ""
    memo_writer: BillMemoWriter | None = None
    system_of_record: str = "clio"
    log: structlog.stdlib.BoundLogger = field(default_factory=structlog.get_logger)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

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
    raw = firm.connectors.get(name)
    if raw is None:
        raise ConfigError(f"firm {firm_id}: no [firms.{firm_id}.connectors.{name}] settings for the payment gateway")
    try:
        connector_settings = connector_class.Settings(**raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"firm {firm_id}, connector {name}: {problems}") from None
    log = structlog.get_logger().bind(firm=firm_id, connector=name)
    tokens = TokenStore(store.engine, fernet_from_key(settings.encryption_key()))
    ctx = Context(firm=firm_id, http=http or HttpClient(), tokens=tokens, log=log)
    connector = connector_class(connector_settings, ctx)
    payments = getattr(connector, "payments", None)
    if not callable(payments):
        raise ConfigError(f"connector {name} is not a payment gateway (it has no payments())")
    return FirmPayments(
        firm=firm_id,
        settings=firm.payments,
        gateway=payments(),
        gateway_name=name,
        store=store,
        payments=PaymentStore(store.engine),
        firm_name=firm.name,
        system_of_record=firm.system_of_record,
        log=log,
    )
