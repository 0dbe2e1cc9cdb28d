"""Migration 0010: PracticePanther's accounts stream keeps its vendor's name, and a firm's stored
cursor moves with it, so an upgraded store resumes where it stopped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from core.store import migrate
from core.store.store import Store, make_engine
from core.store.sync_state import SyncState
from core.sync import SyncReport, SyncRunner
from tests.conftest import fresh_postgres_schema
from tests.connectors.practicepanther.harness import FIRM as PRACTICEPANTHER_FIRM
from tests.connectors.practicepanther.harness import make_env

OLD_CURSOR = {"updated_since": "2026-03-10T00:00:00+00:00"}  # after every seeded account's change
STALE_CURSOR = {"updated_since": "2026-01-01T00:00:00+00:00"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it yet (the shared PostgreSQL schema is already at head)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    request.getfixturevalue("postgres_url")  # skips, or fails under CI, when none answers
    with fresh_postgres_schema("billsync_0010") as url:
        yield url


def _store_at_0009(url: str, rows: list[tuple[str, str, str, dict[str, str]]]) -> None:
    """A store as 0009 left it, with cursors (firm, connector, stream, cursor) stored by then."""
    engine = make_engine(url)
    migrate.upgrade(engine, "0009")
    with engine.begin() as conn:
        for firm, connector, stream, cursor in rows:
            conn.execute(
                text(
                    "INSERT INTO sync_cursors (firm_id, connector, stream, cursor, updated_at)"
                    " VALUES (:firm, :connector, :stream, :cursor, :at)"
                ),
                {
                    "firm": firm,
                    "connector": connector,
                    "stream": stream,
                    "cursor": json.dumps(cursor),
                    "at": "2026-03-10 00:00:00.000000",
                },
            )
    engine.dispose()


def _cursors(store: Store) -> set[tuple[str, str, str]]:
    with store.engine.connect() as conn:
        return {tuple(row) for row in conn.execute(text("SELECT firm_id, connector, stream FROM sync_cursors"))}


def test_0010_moves_practicepanthers_contacts_cursor_to_accounts_and_nothing_else(empty_url: str) -> None:
    _store_at_0009(
        empty_url,
        [
            ("acme", "practicepanther", "contacts", OLD_CURSOR),
            ("acme", "practicepanther", "accounts", STALE_CURSOR),  # the stream's first name: stale
            ("acme", "clio", "contacts", STALE_CURSOR),  # Clio's contacts are Clio's own name
            ("other", "practicepanther", "matters", STALE_CURSOR),
        ],
    )
    store = Store.open(empty_url)  # upgrades to head
    try:
        assert _cursors(store) == {
            ("acme", "practicepanther", "accounts"),
            ("acme", "clio", "contacts"),
            ("other", "practicepanther", "matters"),
        }
        state = SyncState(store.engine)
        assert state.cursor("acme", "practicepanther", "accounts") == OLD_CURSOR  # the newer one, kept
        assert state.cursor("acme", "clio", "contacts") == STALE_CURSOR
        command.downgrade(migrate.alembic_config(store.engine), "0009")
        assert ("acme", "practicepanther", "contacts") in _cursors(store)
        assert state.cursor("acme", "practicepanther", "contacts") == OLD_CURSOR
    finally:
        store.close()


def test_an_upgraded_store_resumes_practicepanthers_accounts_from_the_old_cursor(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pp.db'}"
    _store_at_0009(url, [(PRACTICEPANTHER_FIRM, "practicepanther", "contacts", OLD_CURSOR)])
    store = Store.open(url)
    env = make_env()
    runner = SyncRunner(
        firm=PRACTICEPANTHER_FIRM, pms=env.connector, store=store, make_engine=lambda: pytest.fail("no capture")
    )
    report = SyncReport()
    runner.refresh_reference(report)
    [query] = [e["query"] for e in env.requests_log() if e["path"] == "/api/v2/accounts"]
    assert "updated_since=2026-03-09T23%3A45%3A00Z" in query  # the old cursor, less the 15-minute overlap
    assert report.records_read["accounts"] == 0  # every account was read before: none read again
    assert report.records_read["users"] > 0  # the control: a stream without a cursor reads from the start
    assert SyncState(store.engine).cursor(PRACTICEPANTHER_FIRM, "practicepanther", "accounts") == OLD_CURSOR
    assert (PRACTICEPANTHER_FIRM, "practicepanther", "contacts") not in _cursors(store)
    store.close()
