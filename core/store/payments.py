"""The SQL of payments: intents, transactions, events read, transfers, plans, tasks and links.

Callers pass and get the dataclasses of core.payments.models; nothing outside this module builds
a payments query. An event batch is stored with its effects and the new read cursor in one
transaction, so the cursor never runs ahead of what was applied.

Money that billsync moves (a charge, a refund, a trust transfer) is checked and claimed inside
`movement(firm, client)`: one client's movements run one at a time across threads, processes and
replicas (a transaction-level advisory lock on PostgreSQL; SQLite's write lock, taken at BEGIN
IMMEDIATE). What a movement reads inside it includes every movement committed before it, and what
it claims (an intent, a transfer) is committed before the next one can read.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select, text, update
from sqlalchemy.engine import Connection

from core.ids import new_id
from core.payments.models import (
    AccountKind,
    Intent,
    IntentStatus,
    Link,
    Plan,
    Purpose,
    Task,
    Transaction,
    Transfer,
)
from core.store.schema import sync_cursors
from core.store.schema_payments import (
    PAYMENT_TABLES,
    payment_events,
    payment_intents,
    payment_links,
    payment_plans,
    payment_tasks,
    payment_transactions,
    trust_transfers,
)

if TYPE_CHECKING:
    from core.connector import Cursor  # a type only: the store imports no contract module

EVENTS_STREAM = "payment_events"  # the stream name of the gateway's event cursor in sync_cursors


class PaymentStore:
    """Payments state for every firm, on the store's database."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self._engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))

    # Intents ----------------------------------------------------------------------------------

    @contextmanager
    def movement(self, firm: str, client_id: str) -> Iterator[LockedPayments]:
        """Hold the client's money lock: check and claim inside, commit on leaving.

        Never call the gateway inside: the lock is for reading and claiming, and it is held only
        for as long as that takes. On SQLite every write inside must go through the object
        yielded (the database has one writer, and it is this connection).
        """
        with self._engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:space, :client)"),
                    {"space": _lock_key(f"payments:{firm}"), "client": _lock_key(client_id)},
                )
            else:  # take the write lock now, not at the first write: readers before it would race
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield LockedPayments(conn, firm, self._clock())
            conn.commit()

    def add_intent(self, firm: str, intent: Intent) -> None:
        """Store an intent before anything is sent; its reference is unique per firm."""
        with self._engine.begin() as conn:
            _add_intent(conn, firm, intent, self._clock())

    def set_intent(
        self,
        firm: str,
        intent_id: str,
        status: IntentStatus,
        *,
        transaction_id: str | None = None,
        error: str | None = None,
        transactions: Sequence[Transaction] = (),
    ) -> Intent:
        """Move an intent on, storing the transactions that settle it in the same transaction.

        Together, so no moment exists where the intent no longer claims its money and the
        transaction does not yet count it.
        """
        i = payment_intents.c
        with self._engine.begin() as conn:
            _upsert_transactions(conn, firm, transactions, self._clock())
            conn.execute(
                update(payment_intents)
                .where(i.firm_id == firm, i.id == intent_id)
                .values(status=status.value, transaction_id=transaction_id, error=error, updated_at=self._clock())
            )
        return self.intent(firm, intent_id)

    def intent(self, firm: str, intent_id: str) -> Intent:
        """One intent, or KeyError."""
        found = self.intents(firm, ids=[intent_id])
        if not found:
            raise KeyError(f"no payment intent {intent_id} for firm {firm}")
        return found[0]

    def intents(
        self,
        firm: str,
        *,
        statuses: Iterable[IntentStatus] | None = None,
        ids: Sequence[str] | None = None,
        bill_id: str | None = None,
        reference: str | None = None,
    ) -> list[Intent]:
        """Intents, oldest first, optionally filtered."""
        i = payment_intents.c
        query = select(payment_intents).where(i.firm_id == firm).order_by(i.created_at, i.id)
        if statuses is not None:
            query = query.where(i.status.in_([s.value for s in statuses]))
        if ids is not None:
            query = query.where(i.id.in_(list(ids)))
        if bill_id is not None:
            query = query.where(i.bill_id == bill_id)
        if reference is not None:
            query = query.where(i.reference == reference)
        with self._engine.connect() as conn:
            return [_intent(row._mapping) for row in conn.execute(query)]

    # Transactions -----------------------------------------------------------------------------

    def save_transactions(self, firm: str, transactions: Iterable[Transaction]) -> None:
        """Insert or update transactions as the gateway reports them now (posted marks are kept)."""
        with self._engine.begin() as conn:
            _upsert_transactions(conn, firm, transactions, self._clock())

    def transactions(self, firm: str) -> list[Transaction]:
        """Every transaction, oldest first."""
        t = payment_transactions.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(payment_transactions).where(t.firm_id == firm).order_by(t.created, t.id))
            return [_transaction(row._mapping) for row in rows]

    def mark_posted(self, firm: str, record_id: str) -> bool:
        """A person posted this transaction or transfer in the PMS; False when no such record."""
        t, x = payment_transactions.c, trust_transfers.c
        with self._engine.begin() as conn:
            done = conn.execute(
                update(payment_transactions).where(t.firm_id == firm, t.id == record_id).values(posted_in_pms=True)
            ).rowcount
            done += conn.execute(
                update(trust_transfers).where(x.firm_id == firm, x.id == record_id).values(posted_in_pms=True)
            ).rowcount
        return bool(done)

    # Events -----------------------------------------------------------------------------------

    def cursor(self, firm: str, gateway: str) -> Cursor:
        """Where event reading resumes (None: from the gateway's start)."""
        c = sync_cursors.c
        with self._engine.connect() as conn:
            found: Cursor = conn.execute(
                select(c.cursor).where(c.firm_id == firm, c.connector == gateway, c.stream == EVENTS_STREAM)
            ).scalar_one_or_none()
        return found

    def seen_events(self, firm: str, gateway: str, event_ids: Sequence[str]) -> set[str]:
        """Which of these events were applied already."""
        e = payment_events.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(e.event_id).where(e.firm_id == firm, e.gateway == gateway, e.event_id.in_(list(event_ids)))
            )
            return {event_id for (event_id,) in rows}

    def save_event_batch(
        self,
        firm: str,
        *,
        gateway: str,
        events: Sequence[tuple[str, str, datetime]],
        cursor: Mapping[str, Any],
        transactions: Sequence[Transaction],
        tasks: Sequence[tuple[str, str, str]],
    ) -> None:
        """Events (id, type, created), their transactions and tasks, and the cursor: one transaction."""
        now = self._clock()
        with self._engine.begin() as conn:
            _upsert_transactions(conn, firm, transactions, now)
            for task in tasks:
                _add_task(conn, firm, task, now)
            if events:
                conn.execute(
                    payment_events.insert(),
                    [
                        {
                            "firm_id": firm,
                            "gateway": gateway,
                            "event_id": event_id,
                            "type": kind,
                            "created": created,
                            "processed_at": now,
                        }
                        for event_id, kind, created in events
                    ],
                )
            key = {"firm_id": firm, "connector": gateway, "stream": EVENTS_STREAM}
            conn.execute(sync_cursors.delete().filter_by(**key))
            conn.execute(sync_cursors.insert().values(**key, cursor=dict(cursor), updated_at=now))

    # Trust transfers --------------------------------------------------------------------------

    def add_transfers(self, firm: str, transfers: Sequence[Transfer], tasks: Sequence[tuple[str, str, str]]) -> None:
        """Record trust -> operating transfers with the staff tasks they raise, together."""
        with self._engine.begin() as conn:
            _add_transfers(conn, firm, transfers, tasks, self._clock())

    def transfers(self, firm: str) -> list[Transfer]:
        """Every trust transfer, oldest first."""
        x = trust_transfers.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(trust_transfers).where(x.firm_id == firm).order_by(x.created_at, x.id))
            return [
                Transfer(
                    id=r.id,
                    bill_id=r.bill_id,
                    client_id=r.client_id,
                    matter_id=r.matter_id,
                    amount=r.amount,
                    reason=r.reason,
                    created_at=r.created_at,
                    posted_in_pms=r.posted_in_pms,
                )
                for r in rows
            ]

    # Plans ------------------------------------------------------------------------------------

    def save_plan(self, firm: str, plan: Plan) -> None:
        """Insert or replace a plan."""
        with self._engine.begin() as conn:
            _save_plan(conn, firm, plan, self._clock())

    def plans(self, firm: str) -> list[Plan]:
        """Every plan, oldest first."""
        p = payment_plans.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(payment_plans).where(p.firm_id == firm).order_by(p.start, p.id))
            return [
                Plan(
                    id=r.id,
                    bill_id=r.bill_id,
                    client_id=r.client_id,
                    intent_id=r.intent_id,
                    instalment=r.instalment,
                    total=r.total,
                    instalments=r.instalments,
                    interval=r.interval,
                    start=r.start,
                    status=r.status,
                    gateway_plan_id=r.gateway_plan_id,
                )
                for r in rows
            ]

    # Tasks ------------------------------------------------------------------------------------

    def add_tasks(self, firm: str, tasks: Sequence[tuple[str, str, str]]) -> None:
        """Raise tasks (kind, key, message); one already raised for the same kind and key is kept."""
        now = self._clock()
        with self._engine.begin() as conn:
            for task in tasks:
                _add_task(conn, firm, task, now)

    def tasks(self, firm: str, *, open_only: bool = True) -> list[Task]:
        """Tasks for the billing staff, oldest first."""
        t = payment_tasks.c
        query = select(payment_tasks).where(t.firm_id == firm).order_by(t.created_at, t.id)
        if open_only:
            query = query.where(t.status == "open")
        with self._engine.connect() as conn:
            return [
                Task(id=r.id, kind=r.kind, key=r.key, message=r.message, status=r.status, created_at=r.created_at)
                for r in conn.execute(query)
            ]

    def close_tasks(
        self, firm: str, *, task_id: str | None = None, kind: str | None = None, key: str | None = None
    ) -> int:
        """Mark tasks done, by id or by (kind, key); returns how many closed."""
        t = payment_tasks.c
        query = update(payment_tasks).where(t.firm_id == firm, t.status == "open")
        if task_id is not None:
            query = query.where(t.id == task_id)
        if kind is not None:
            query = query.where(t.kind == kind)
        if key is not None:
            query = query.where(t.key == key)
        with self._engine.begin() as conn:
            return conn.execute(query.values(status="done", closed_at=self._clock())).rowcount

    # Links ------------------------------------------------------------------------------------

    def save_link(self, firm: str, link: Link) -> None:
        """Remember the link issued for a bill (a new amount replaces the old link)."""
        with self._engine.begin() as conn:
            conn.execute(payment_links.delete().filter_by(firm_id=firm, bill_id=link.bill_id))
            conn.execute(
                payment_links.insert().values(
                    firm_id=firm,
                    bill_id=link.bill_id,
                    invoice_number=link.invoice_number,
                    amount=link.amount,
                    url=link.url,
                    delivered_via=link.delivered_via,
                    delivered_at=link.delivered_at,
                )
            )

    def link(self, firm: str, bill_id: str) -> Link | None:
        """The link last issued for a bill."""
        c = payment_links.c
        with self._engine.connect() as conn:
            row = conn.execute(select(payment_links).where(c.firm_id == firm, c.bill_id == bill_id)).first()
        if row is None:
            return None
        r = row._mapping
        return Link(
            bill_id=r["bill_id"],
            invoice_number=r["invoice_number"],
            amount=r["amount"],
            url=r["url"],
            delivered_via=r["delivered_via"],
            delivered_at=r["delivered_at"],
        )

    def iter_tables(self) -> Iterable[tuple[str, list[dict[str, Any]]]]:
        """Every payments table's rows as dicts (audits: the secret canary test)."""
        with self._engine.connect() as conn:
            for table in PAYMENT_TABLES:
                yield table.name, [dict(r._mapping) for r in conn.execute(select(table))]


class LockedPayments:
    """The writes a money movement makes while it holds the client's lock (`PaymentStore.movement`)."""

    def __init__(self, conn: Connection, firm: str, now: datetime) -> None:
        self._conn = conn
        self._firm = firm
        self._now = now

    def add_intent(self, intent: Intent) -> None:
        """Claim the intent's money: from here on it counts against what is free."""
        _add_intent(self._conn, self._firm, intent, self._now)

    def add_transfers(self, transfers: Sequence[Transfer], tasks: Sequence[tuple[str, str, str]]) -> None:
        """Record trust -> operating transfers with their tasks."""
        _add_transfers(self._conn, self._firm, transfers, tasks, self._now)

    def save_plan(self, plan: Plan) -> None:
        """Store a plan (its intent claims the invoice's money)."""
        _save_plan(self._conn, self._firm, plan, self._now)

    def add_tasks(self, tasks: Sequence[tuple[str, str, str]]) -> None:
        """Raise tasks for a person (kept once per kind and key)."""
        for task in tasks:
            _add_task(self._conn, self._firm, task, self._now)


def _save_plan(conn: Connection, firm: str, plan: Plan, now: datetime) -> None:
    values = {
        "firm_id": firm,
        "id": plan.id,
        "bill_id": plan.bill_id,
        "client_id": plan.client_id,
        "intent_id": plan.intent_id,
        "instalment": plan.instalment,
        "total": plan.total,
        "instalments": plan.instalments,
        "interval": plan.interval,
        "start": plan.start,
        "status": plan.status,
        "gateway_plan_id": plan.gateway_plan_id,
        "updated_at": now,
    }
    conn.execute(payment_plans.delete().filter_by(firm_id=firm, id=plan.id))
    conn.execute(payment_plans.insert().values(**values))


def _lock_key(name: str) -> int:
    """A stable signed 32-bit key for pg_advisory_xact_lock(int, int); a collision only serialises more."""
    return zlib.crc32(name.encode()) - 2**31


def _add_intent(conn: Connection, firm: str, intent: Intent, now: datetime) -> None:
    values = _intent_values(intent)
    conn.execute(payment_intents.insert().values(firm_id=firm, **values, created_at=now, updated_at=now))


def _add_transfers(
    conn: Connection, firm: str, transfers: Sequence[Transfer], tasks: Sequence[tuple[str, str, str]], now: datetime
) -> None:
    for transfer in transfers:
        conn.execute(
            trust_transfers.insert().values(
                firm_id=firm,
                id=transfer.id,
                bill_id=transfer.bill_id,
                client_id=transfer.client_id,
                matter_id=transfer.matter_id,
                amount=transfer.amount,
                reason=transfer.reason,
                created_at=transfer.created_at,
                posted_in_pms=transfer.posted_in_pms,
            )
        )
    for task in tasks:
        _add_task(conn, firm, task, now)


def _add_task(conn: Connection, firm: str, task: tuple[str, str, str], now: datetime) -> None:
    kind, key, message = task
    t = payment_tasks.c
    exists = conn.execute(
        select(t.id).where(t.firm_id == firm, t.kind == kind, t.key == key[:255])
    ).scalar_one_or_none()
    if exists is None:
        conn.execute(
            payment_tasks.insert().values(
                firm_id=firm, id=new_id(), kind=kind, key=key[:255], message=message, status="open", created_at=now
            )
        )


def _upsert_transactions(conn: Connection, firm: str, transactions: Iterable[Transaction], now: datetime) -> None:
    t = payment_transactions.c
    for tx in transactions:
        values = {
            "kind": tx.kind,
            "status": tx.status,
            "account_id": tx.account_id,
            "account_kind": tx.account_kind.value,
            "amount": tx.amount,
            "reference": tx.reference,
            "parent_id": tx.parent_id,
            "plan_id": tx.plan_id,
            "failure_code": tx.failure_code,
            "created": tx.created,
            "updated_at": now,
        }
        done = conn.execute(update(payment_transactions).where(t.firm_id == firm, t.id == tx.id).values(**values))
        if done.rowcount == 0:
            conn.execute(
                payment_transactions.insert().values(firm_id=firm, id=tx.id, posted_in_pms=tx.posted_in_pms, **values)
            )


def _intent_values(intent: Intent) -> dict[str, Any]:
    return {
        "id": intent.id,
        "reference": intent.reference,
        "purpose": intent.purpose.value,
        "client_id": intent.client_id,
        "matter_id": intent.matter_id,
        "bill_id": intent.bill_id,
        "account_id": intent.account_id,
        "account_kind": intent.account_kind.value,
        "method": intent.method,
        "amount": intent.amount,
        "status": intent.status.value,
        "transaction_id": intent.transaction_id,
        "error": intent.error,
        "parent_id": intent.parent_id,
    }


def _intent(row: Any) -> Intent:
    return Intent(
        id=row["id"],
        reference=row["reference"],
        purpose=Purpose(row["purpose"]),
        client_id=row["client_id"],
        matter_id=row["matter_id"],
        bill_id=row["bill_id"],
        account_id=row["account_id"],
        account_kind=AccountKind(row["account_kind"]),
        method=row["method"],
        amount=row["amount"],
        status=IntentStatus(row["status"]),
        transaction_id=row["transaction_id"],
        error=row["error"],
        parent_id=row["parent_id"],
    )


def _transaction(row: Any) -> Transaction:
    return Transaction(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        account_id=row["account_id"],
        account_kind=AccountKind(row["account_kind"]),
        amount=row["amount"],
        created=row["created"],
        reference=row["reference"],
        parent_id=row["parent_id"],
        plan_id=row["plan_id"],
        failure_code=row["failure_code"],
        posted_in_pms=row["posted_in_pms"],
    )
