"""Shared fixtures: stores on SQLite and PostgreSQL, and small model factories."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

from core.store.store import Store

POSTGRES_URL = os.environ.get("BILLSYNC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any driver or network failure means "not reachable"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections use a fresh schema of their own; skipped if none answers."""
    problem = _postgres_reachable()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL must be reachable under CI at {POSTGRES_URL}: {problem}")
        pytest.skip(f"no PostgreSQL reachable at {POSTGRES_URL} ({problem}); set BILLSYNC_TEST_POSTGRES_URL")
    with fresh_postgres_schema("billsync_test") as url:
        yield url


@contextmanager
def fresh_postgres_schema(prefix: str) -> Iterator[str]:
    """A URL whose connections use a new, empty PostgreSQL schema named `prefix`_<random>; the
    schema and everything in it are dropped on exit. The caller has made sure PostgreSQL answers."""
    schema = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Store]:
    """A migrated store on SQLite and, where reachable, on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'billsync.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    opened = Store.open(url)
    yield opened
    opened.close()


@pytest.fixture
def firm_id() -> str:
    """A firm id of its own for each test, so tests sharing a PostgreSQL schema never collide."""
    return f"firm-{secrets.token_hex(4)}"
