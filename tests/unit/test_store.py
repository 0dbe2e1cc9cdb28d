"""The store: migrations match the tables, money and times round-trip exactly, errors are clear."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from core.models import EntryState
from core.store.schema import Money, metadata, time_entries
from core.store.store import Store
from tests.capture import capture_engine
from tests.factories import T0, client, matter, timekeeper


def test_migrations_create_exactly_the_declared_tables(store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_every_table_carries_the_firm_id(store) -> None:
    tables = set(inspect(store.engine).get_table_names()) - {"alembic_version"}
    assert tables == set(metadata.tables)
    for table in metadata.tables.values():
        assert "firm_id" in table.c and not table.c.firm_id.nullable
        assert "firm_id" in table.primary_key.columns


def test_opening_twice_migrates_once(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    Store.open(url).close()
    Store.open(url).close()  # already at head: nothing to do, no error


def test_sqlite_uses_write_ahead_logging(tmp_path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'wal.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_money_refuses_fractions_of_a_cent() -> None:
    money = Money()
    assert money.process_bind_param(Decimal("12.34"), None) == 1234  # type: ignore[arg-type]
    assert money.process_result_value(1234, None) == Decimal("12.34")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="whole number of cents"):
        money.process_bind_param(Decimal("0.005"), None)  # type: ignore[arg-type]


def test_reference_data_round_trips(store, firm_id) -> None:
    store.save_reference(
        firm_id, [timekeeper(), client(rates={"u1": Decimal("250.50")}), matter(cap_amount=Decimal("999.99"))]
    )
    store.save_reference(firm_id, [matter(name="renamed", cap_amount=Decimal("999.99"))])  # replaces, never duplicates
    reference = store.load_reference(firm_id)
    assert reference.clients["c1"].rates == {"u1": Decimal("250.50")}
    assert reference.matters["m1"].name == "renamed" and reference.matters["m1"].cap_amount == Decimal("999.99")
    assert reference.matters["m1"].updated_at == T0 - timedelta(days=10)


def test_times_come_back_aware_and_in_utc(store, firm_id) -> None:
    from tests.factories import activity

    store.save_reference(firm_id, [timekeeper(), client(), matter()])
    new_york = timezone(timedelta(hours=-4))
    start = datetime(2026, 10, 5, 10, 0, tzinfo=new_york)
    capture_engine(store, firm_id).capture([activity(started_at=start)])
    [entry] = store.entries(firm_id)
    assert entry.started_at == start and entry.started_at.tzinfo == UTC
    with store.engine.connect() as conn:
        assert conn.execute(select(time_entries.c.amount)).scalar() == Decimal("80.00")


def test_unknown_entry_is_a_clear_error(store, firm_id) -> None:
    with pytest.raises(KeyError, match="no entry nope"):
        store.set_entry_state(firm_id, "nope", EntryState.APPROVED)


def test_the_capture_insert_writes_every_column_of_its_tables() -> None:
    from core.store.schema import activities, outbox
    from core.store.store import ACTIVITY_COLUMNS, ENTRY_COLUMNS, OUTBOX_COLUMNS

    shared = {
        "activities": {"firm_id", "captured_at"},
        "time_entries": {"firm_id", "created_at", "updated_at", "remote_id", "rejection_reason"},
        "outbox": {
            "firm_id",
            "created_at",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "claimed_by",
            "lease_until",
            "fence",
        },
    }
    for table, columns in ((activities, ACTIVITY_COLUMNS), (time_entries, ENTRY_COLUMNS), (outbox, OUTBOX_COLUMNS)):
        assert len(set(columns)) == len(columns)
        assert set(columns) | shared[table.name] == {c.name for c in table.c}, table.name
