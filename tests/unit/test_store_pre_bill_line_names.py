"""Migration 0011: a pre-bill line's PMS entry id moves from `entry_ref` to `remote_id` with its
value, on SQLite (batch mode copies the table) and on PostgreSQL (renamed in place)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import bindparam, inspect, text

from core.store import migrate
from core.store.billing import BillingStore
from core.store.schema import UtcDateTime
from core.store.store import Store, make_engine
from tests.conftest import fresh_postgres_schema

FIRM = "acme"
PRE_BILL = "pb-1"
# (line number, billsync entry id, its id in the PMS); the expense line bills no entry.
LINES = [(1, "e-1", "clio-9001"), (2, "e-2", "clio-9002"), (3, None, None)]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it yet (the shared PostgreSQL schema is already at head)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    request.getfixturevalue("postgres_url")  # skips, or fails under CI, when none answers
    with fresh_postgres_schema("billsync_0011") as url:
        yield url


def _store_at_0010(url: str) -> None:
    """A store as 0010 left it: one pre-bill whose lines keep their PMS entry ids in `entry_ref`."""
    engine = make_engine(url)
    migrate.upgrade(engine, "0010")
    at = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO pre_bills (firm_id, id, number, client_id, matter_id, period_start, period_end,"
                " invoice_date, currency, description, status, subtotal, tax, total, findings, differences,"
                " created_at, updated_at) VALUES (:firm, :id, 'INV-1', 'c1', 'm1', :start, :end, :end, 'USD',"
                " 'October', 'draft', 30000, 0, 30000, '[]', '[]', :at, :at)"
            ).bindparams(bindparam("at", type_=UtcDateTime)),
            {"firm": FIRM, "id": PRE_BILL, "start": date(2026, 10, 1), "end": date(2026, 10, 31), "at": at},
        )
        for number, entry_id, remote_id in LINES:
            conn.execute(
                text(
                    "INSERT INTO pre_bill_lines (firm_id, pre_bill_id, number, type, work_date, narrative, units,"
                    " unit_cost, adjustment, amount, tax_rate, tax, timekeeper_name, classification, entry_id,"
                    " entry_ref, note) VALUES (:firm, :pre_bill, :number, :type, :day, 'Work', '0.5', 20000, 0,"
                    " 10000, '0', 0, 'Jane Doe', 'partner', :entry_id, :remote_id, '')"
                ),
                {
                    "firm": FIRM,
                    "pre_bill": PRE_BILL,
                    "number": number,
                    "type": "F" if entry_id else "E",
                    "day": date(2026, 10, number),
                    "entry_id": entry_id,
                    "remote_id": remote_id,
                },
            )
    engine.dispose()


def _columns(store: Store) -> set[str]:
    return {column["name"] for column in inspect(store.engine).get_columns("pre_bill_lines")}


def _stored(store: Store, column: str) -> list[tuple[int, str | None]]:
    with store.engine.connect() as conn:
        query = text(f"SELECT number, {column} FROM pre_bill_lines ORDER BY number")
        return [(row[0], row[1]) for row in conn.execute(query)]


def test_0011_keeps_each_lines_pms_entry_id_under_remote_id_and_back(empty_url: str) -> None:
    _store_at_0010(empty_url)
    store = Store.open(empty_url)  # upgrades to head
    try:
        assert {"remote_id", "entry_id"} <= _columns(store) and "entry_ref" not in _columns(store)
        expected = [(number, remote_id) for number, _, remote_id in LINES]
        assert _stored(store, "remote_id") == expected
        [prebill] = BillingStore(store.engine).prebills(FIRM)  # billsync reads them under the new name
        assert [(ln.number, ln.entry_id, ln.remote_id) for ln in prebill.lines] == LINES
        command.downgrade(migrate.alembic_config(store.engine), "0010")
        assert "entry_ref" in _columns(store) and "remote_id" not in _columns(store)
        assert _stored(store, "entry_ref") == expected
    finally:
        store.close()
