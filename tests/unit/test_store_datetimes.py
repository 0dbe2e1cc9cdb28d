"""SQLite keeps datetimes as text: every path that writes one must write the same text.

The capture batch insert (`Store.save_capture`) and every ordinary statement must store an
instant identically, or SQLite's text comparison skips rows in a range filter and misorders
them. Migration 0007 rewrites rows stored in the old batch format.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select, update

from core.models import EntryState
from core.store import migrate
from core.store.schema import activities, time_entries
from core.store.store import Store, make_engine
from tests.capture import capture_engine
from tests.factories import activity, client, matter, timekeeper

FIRM = "acme"
NEW_YORK = timezone(timedelta(hours=-4))  # October: daylight time
START = datetime(2026, 10, 5, 10, 0, tzinfo=NEW_YORK)  # 14:00 UTC
SQLALCHEMY_FORMAT = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}"  # '2026-10-05 14:00:00.000000'


def _capture(store: Store, **kw: object) -> None:
    store.save_reference(FIRM, [timekeeper(), client(), matter()])
    capture_engine(store, FIRM).capture([activity(started_at=START, **kw)])


def _raw(store: Store, sql: str) -> list[tuple[object, ...]]:
    with store.engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(sql)]


def test_the_capture_batch_stores_datetimes_as_every_other_statement_does(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'b.db'}")
    _capture(store)  # the batch insert writes started_at
    [entry_id] = [e.id for e in store.entries(FIRM)]
    with store.engine.begin() as conn:  # an ordinary statement writes the same instant to updated_at
        conn.execute(update(time_entries).where(time_entries.c.id == entry_id).values(updated_at=START))
    [(by_batch, by_statement, ended)] = _raw(store, "SELECT started_at, updated_at, ended_at FROM time_entries")
    assert by_batch == by_statement == "2026-10-05 14:00:00.000000"
    assert ended == "2026-10-05 14:10:00.000000"
    [(a_started, a_ended, captured)] = _raw(store, "SELECT started_at, ended_at, captured_at FROM activities")
    assert (a_started, a_ended) == ("2026-10-05 14:00:00.000000", "2026-10-05 14:10:00.000000")
    [(created,)] = _raw(store, "SELECT created_at FROM time_entries")
    [(outbox_created,)] = _raw(store, "SELECT created_at FROM outbox")
    for stamp in (captured, created, outbox_created):  # "now" at capture: the format, not the value
        assert isinstance(stamp, str)
        assert re.fullmatch(SQLALCHEMY_FORMAT, stamp), stamp
    # What the mixture broke: a range that starts at the entry's own start must include it.
    with store.engine.connect() as conn:
        found = conn.execute(select(time_entries.c.id).where(time_entries.c.started_at >= START)).scalars().all()
    assert found == [entry_id]


def test_an_entry_changed_later_keeps_one_format_in_its_row(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'c.db'}")
    _capture(store)
    [entry] = store.entries(FIRM)
    store.set_entry_state(FIRM, entry.id, EntryState.APPROVED)  # an ordinary UPDATE of updated_at
    [(created, updated)] = _raw(store, "SELECT created_at, updated_at FROM time_entries")
    assert len(str(created)) == len(str(updated)) == 26
    assert str(created) <= str(updated)  # text order is time order once the format is one


# Migration 0007 -------------------------------------------------------------------------------

OLD_ROWS = {
    # the value the batch insert used to store -> what 0007 must leave, by hand
    "2026-10-05 14:00:00+00:00": "2026-10-05 14:00:00.000000",
    "2026-12-07 14:52:14.503149+00:00": "2026-12-07 14:52:14.503149",
    "2026-10-05 10:00:00-04:00": "2026-10-05 14:00:00.000000",  # an offset, should one ever appear
    "2026-10-05 14:10:00.000000": "2026-10-05 14:10:00.000000",  # already right: untouched
}


def _store_at_0005(url: str) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine, "0005")
    with engine.begin() as conn:
        for number, (old, _) in enumerate(OLD_ROWS.items()):
            conn.exec_driver_sql(
                "INSERT INTO activities (firm_id, id, source, external_id, kind, actor, started_at, ended_at,"
                " raw_seconds, title, status, reason, captured_at) VALUES (?, ?, 'test', ?, 'call', 'u1', ?, ?,"
                " 600, 't', 'not_timekeeper', 'r', ?)",
                (FIRM, f"a{number}", f"x{number}", old, None, old),
            )
        conn.exec_driver_sql(
            "INSERT INTO sync_cursors (firm_id, connector, stream, cursor, updated_at)"
            " VALUES (?, 'clio', 'activities', '{}', '2026-10-05 14:00:00+00:00')",
            (FIRM,),
        )
    engine.dispose()


def test_migration_0007_rewrites_old_rows_to_the_one_format(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _store_at_0005(url)
    store = Store.open(url)  # upgrades to head
    rows = _raw(store, "SELECT external_id, started_at, ended_at, captured_at FROM activities ORDER BY external_id")
    expected = list(OLD_ROWS.values())
    assert rows == [(f"x{n}", new, None, new) for n, new in enumerate(expected)]
    assert _raw(store, "SELECT updated_at FROM sync_cursors") == [("2026-10-05 14:00:00.000000",)]
    # The instants did not move, and a range filter now sees the rows at its boundary.
    with store.engine.connect() as conn:
        at_two = conn.execute(
            select(activities.c.external_id).where(activities.c.started_at >= datetime(2026, 10, 5, 14, tzinfo=UTC))
        ).scalars()
        assert sorted(at_two) == ["x0", "x1", "x2", "x3"]
        read = conn.execute(select(activities.c.started_at).where(activities.c.external_id == "x2")).scalar_one()
    assert read == datetime(2026, 10, 5, 14, tzinfo=UTC)
