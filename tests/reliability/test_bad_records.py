"""Bad records in the PMS: each gets a clear per-record error, the good ones still sync.

Both sandboxes are seeded with the demo firm's records plus copies of real activity records
broken four ways: a required field missing, a field of the wrong type, a value outside the
vendor's enum, and an absurd duration (ending before it starts, or lasting years). A sync must
finish, name every bad record in `SyncReport.record_errors` (its stream and id, and what is
wrong), and give the good records exactly the entries a clean firm gets.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.sync import SyncReport
from tests.reliability.conftest import report_figures
from tests.reliability.firms import CLIO, PRACTICEPANTHER, SandboxFirm, Vendor

pytestmark = [pytest.mark.reliability, pytest.mark.e2e]

Breakage = tuple[str, str, Callable[[dict[str, Any]], None]]  # collection, what is wrong, how


def _drop(*fields: str) -> Callable[[dict[str, Any]], None]:
    def edit(record: dict[str, Any]) -> None:
        for name in fields:
            record.pop(name, None)

    return edit


def _set(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda record: record.update(values)


CLIO_BREAKAGES: list[Breakage] = [
    ("communications", "missing received_at and date", _drop("received_at", "date")),
    ("communications", "wrong type: user is a string", _set(user="Ava Nguyen")),
    ("communications", "wrong type: received_at is a number", _set(received_at=1761750000)),
    ("communications", "unknown enum: type", _set(type="CarrierPigeonCommunication")),
    ("calendar_entries", "missing start_at", _drop("start_at")),
    ("calendar_entries", "absurd duration: ends before it starts",
     _set(start_at="2026-10-31T21:46:00+00:00", end_at="2026-10-30T21:46:00+00:00")),
    ("calendar_entries", "absurd duration: lasts ten years",
     _set(start_at="2026-10-31T22:46:00+00:00", end_at="2036-10-31T22:46:00+00:00")),
    ("tasks", "unknown enum: status", _set(status="teleported")),
    ("tasks", "wrong type: completed_at is a list", _set(completed_at=["2026-10-22"])),
]
PRACTICEPANTHER_BREAKAGES: list[Breakage] = [
    ("emails", "missing date", _drop("date")),
    ("emails", "wrong type: from is a number", _set(**{"from": 42})),
    ("messages", "unknown enum: type", _set(type="Fax")),
    ("messages", "wrong type: sent_date is a bool", _set(sent_date=True)),
    ("events", "missing start_date_time", _drop("start_date_time")),
    ("events", "absurd duration: ends before it starts",
     _set(start_date_time="2026-10-31T21:46:00", end_date_time="2026-10-30T21:46:00")),
    ("events", "absurd duration: lasts five years",
     _set(start_date_time="2026-10-31T22:46:00", end_date_time="2031-10-31T22:46:00")),
    ("tasks", "unknown enum: status", _set(status="Exploded")),
    ("calllogs", "absurd duration: negative", _set(duration=-1.0)),  # hours
    ("calllogs", "absurd duration: a year", _set(duration=24.0 * 365)),
]
BREAKAGES = {CLIO.name: CLIO_BREAKAGES, PRACTICEPANTHER.name: PRACTICEPANTHER_BREAKAGES}


_STAMP = re.compile(r"2026-10-\d\d(T\d\d:\d\d)?")


def _relocated(record: dict[str, Any], number: int) -> dict[str, Any]:
    """A copy of `record` moved to 31 October, one hour per breakage: it overlaps no good record."""
    hour = f"T{number % 20 + 1:02d}:00"
    text = _STAMP.sub(lambda m: "2026-10-31" + (hour if m.group(1) else ""), json.dumps(record))
    moved: dict[str, Any] = json.loads(text)
    return moved


def add_bad_records(vendor: Vendor, planted: list[tuple[str, str, str]]) -> Callable[[dict[str, Any]], None]:
    """A seed edit that appends a broken copy of a real record for each breakage; notes what it planted."""

    def edit(seed: dict[str, Any]) -> None:
        for number, (collection, problem, breakage) in enumerate(BREAKAGES[vendor.name]):
            bad = _relocated(seed[collection][0], number)
            original = bad["id"]
            bad["id"] = 990_000 + number if isinstance(original, int) else f"bad-{number}-{original}"[:36]
            breakage(bad)
            seed[collection].append(bad)
            planted.append((collection, str(bad["id"]), problem))

    return edit


# Records a stream never receives, because it asks the vendor only for what it can bill: an
# unknown task status is filtered out at the vendor (`status=complete` in Clio, `status=Completed`
# in PracticePanther), so there is nothing to name; such a record must simply make no entry.
FILTERED_AT_THE_VENDOR = {("clio", "unknown enum: status"), ("practicepanther", "unknown enum: status")}


@dataclass
class Outcome:
    """One vendor's clean and broken firms after a sync."""

    report: SyncReport
    planted: list[tuple[str, str, str]]
    clean: Counter[tuple[Any, ...]]
    broken: Counter[tuple[Any, ...]]
    clean_remote: int
    broken_remote: int

    def errors_naming(self, record_id: str) -> list[str]:
        return [e for e in self.report.record_errors if record_id in e]

    def good(self) -> Counter[tuple[Any, ...]]:
        """The broken firm's entries that come from good records."""
        planted_keys = {(vendor_key, f"{kind}:{rid}") for vendor_key in VENDOR_KEYS for kind in KINDS
                        for _, rid, _ in self.planted}
        return Counter({k: n for k, n in self.broken.items() if k[0] not in planted_keys})


VENDOR_KEYS = (CLIO.name, PRACTICEPANTHER.name)
KINDS = ("communication", "calendar_entry", "task", "email", "message", "event", "calllog", "note", "document")
OUTCOMES: dict[str, Outcome] = {}


def outcome(vendor: Vendor, tmp: Path) -> Outcome:
    """Sync a clean firm and the same firm with bad records (once per vendor per session)."""
    if vendor.name not in OUTCOMES:
        clean = SandboxFirm(tmp / "clean", vendor, activities=30)
        planted: list[tuple[str, str, str]] = []
        broken = SandboxFirm(tmp / "broken", vendor, activities=30, seed_edit=add_bad_records(vendor, planted))
        try:
            clean.sync_until_settled()
            report = broken.runtime.runner.run_once()  # finishes, whatever the records hold
            broken.sync_until_settled()
            OUTCOMES[vendor.name] = Outcome(
                report, planted, clean.snapshot(), broken.snapshot(),
                sum(clean.remote_markers().values()), sum(broken.remote_markers().values()),
            )
        finally:
            broken.close()
            clean.close()
        result = OUTCOMES[vendor.name]
        named = sum(1 for _, rid, _ in planted if result.errors_naming(rid))
        report_figures(
            f"bad-records-{vendor.name}",
            bad_records=len(planted),
            bad_records_named_in_errors=named,
            record_errors=len(report.record_errors),
            good_entries=sum(result.clean.values()),
            good_entries_unchanged=result.good() == result.clean,
        )
        for error in report.record_errors:
            print(f"  record error: {error}")
    return OUTCOMES[vendor.name]


@pytest.mark.parametrize("vendor", [CLIO, PRACTICEPANTHER], ids=lambda v: v.name)
def test_a_sync_over_bad_records_finishes_and_the_good_records_sync_as_in_a_clean_firm(
    tmp_path_factory: pytest.TempPathFactory, vendor: Vendor
) -> None:
    result = outcome(vendor, tmp_path_factory.mktemp(vendor.name))
    assert result.report.ok
    assert result.good() == result.clean
    planted_entries = sum(result.broken.values()) - sum(result.good().values())
    assert result.broken_remote == result.clean_remote + planted_entries  # each entry once in the PMS


@pytest.mark.parametrize(
    ("vendor", "problem"),
    [
        pytest.param(vendor, problem, id=f"{vendor.name}-{problem}")
        for vendor in (CLIO, PRACTICEPANTHER)
        for _, problem, _ in BREAKAGES[vendor.name]
    ],
)
def test_each_bad_record_gets_a_clear_error_naming_it(
    tmp_path_factory: pytest.TempPathFactory, vendor: Vendor, problem: str
) -> None:
    result = outcome(vendor, tmp_path_factory.mktemp(vendor.name))
    collection, record_id, _ = next(p for p in result.planted if p[2] == problem)
    errors = result.errors_naming(record_id)
    if (vendor.name, problem) in FILTERED_AT_THE_VENDOR:
        assert not errors and not [k for k in result.broken if record_id in k[0][1]]  # never read, no entry
        return
    assert errors, f"{collection} {record_id} ({problem}): no per-record error"
    assert all(e.startswith(f"{collection}: ") and len(e) > len(collection) + len(record_id) + 6 for e in errors)
