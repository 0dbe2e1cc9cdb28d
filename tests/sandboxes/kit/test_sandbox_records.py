"""Tests for the in-memory record collection."""

from __future__ import annotations

import pytest
from billsync_sandboxes.kit import FakeClock, RecordCollection, RecordNotFound, id_sort_key


def test_insert_assigns_id_etag_and_timestamps() -> None:
    clock = FakeClock()
    records = RecordCollection("things", clock)
    first = records.insert({"name": "a"})
    assert first["id"] == 1
    assert first["created_at"] == first["updated_at"] == clock.now().isoformat()
    assert first["etag"].startswith('"') and first["etag"].endswith('"') and len(first["etag"]) == 34
    assert records.insert({"name": "b"})["id"] == 2


def test_seed_keeps_ids_etags_and_continues_numbering() -> None:
    records = RecordCollection("things", FakeClock())
    records.seed([{"id": 40, "etag": '"kept"', "updated_at": "2025-01-01T00:00:00+00:00"}])
    assert records.get(40)["etag"] == '"kept"'
    assert records.get("40")["updated_at"] == "2025-01-01T00:00:00+00:00"
    assert records.insert({})["id"] == 41
    with pytest.raises(ValueError, match="duplicate"):
        records.insert({"id": 40})


def test_update_changes_etag_and_updated_at_but_not_identity() -> None:
    clock = FakeClock()
    records = RecordCollection("things", clock)
    stored = records.insert({"name": "a"})
    clock.advance(10)
    before, after = records.update(stored["id"], {"name": "a", "id": 99, "created_at": "x"})
    assert before == stored
    assert after["etag"] != stored["etag"]  # even when nothing else changed
    assert after["id"] == stored["id"] and after["created_at"] == stored["created_at"]
    assert after["updated_at"] == clock.now().isoformat()


def test_copies_protect_the_store() -> None:
    records = RecordCollection("things", FakeClock())
    stored = records.insert({"tags": ["a"]})
    stored["tags"].append("b")
    records.get(stored["id"])["tags"].append("c")
    assert records.get(stored["id"])["tags"] == ["a"]


def test_string_ids_sort_numerically() -> None:
    records = RecordCollection("calendar", FakeClock(), string_ids=True)
    records.seed([{"id": "10"}, {"id": "9"}])
    assert records.insert({})["id"] == "11"
    assert [r["id"] for r in records.all()] == ["9", "10", "11"]
    assert 9 in records and "9" in records
    assert sorted(["b", "10", "9"], key=id_sort_key) == ["9", "10", "b"]


def test_missing_records() -> None:
    records = RecordCollection("things", FakeClock())
    assert records.find(1) is None and records.peek("x") is None
    assert "abc" not in records
    with pytest.raises(RecordNotFound):
        records.get(1)
    with pytest.raises(RecordNotFound):
        records.delete(1)
    stored = records.insert({})
    assert records.delete(stored["id"])["id"] == stored["id"]
    assert len(records) == 0
