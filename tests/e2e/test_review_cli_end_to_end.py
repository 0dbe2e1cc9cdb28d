"""Review from the command line as a billing clerk does it: filters, short ids, bulk approve, reject
with a reason and undo, edits priced and checked again, parked activities listed and assigned.

The firm is captured from a file (`billsync capture`), every figure below counted by hand:

| activity | who | matter | work date (New York) | length | what capture makes |
|---|---|---|---|---|---|
| a1 | Ava | HARB-0001 | 2026-10-05 | 10 min | needs_review, clean |
| a2 | Ava | HARB-0001 | 2026-10-06 | 10 min | needs_review, clean |
| a3 | Ava | HARB-0002 | 2026-10-07 10:00 | 10 min | needs_review, clean |
| a4 | Ava | HARB-0002 | 2026-10-07 15:00 | 10 min | needs_review, duplicate of a3 (same narrative, day, time) |
| a5 | Ava | HARB-0001 | 2026-10-09 | 9 h | blocked: max_entry_hours is 8 h here |
| b1 | Ben | GLOB-0004 | 2026-10-05 | 10 min | needs_review, clean |
| b2 | Ben | GLOB-0004 | 2026-10-08 | 10 min | needs_review, clean |
| b3 | Ben | none | 2026-10-06 | 10 min | parked: unassigned (no matter found) |
| x1 | a stranger | HARB-0001 | 2026-10-06 | 10 min | parked: not a timekeeper |

Ten minutes bill as 0.2 h (6-minute increments, rounded up once); Ava's rate is 300, Ben's 200.
Ben's client is named like a spreadsheet formula and his name holds Rich markup: printed as text.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from config.settings import load_settings
from core.models import EntryState
from core.store.schema import outbox
from core.store.store import Store
from core.store.sync_state import SyncState
from tests.e2e.conftest import RUN

pytestmark = pytest.mark.e2e
FIRM = "acme"
BEN = "Ben [/bold] Cole"
HOSTILE_CLIENT = '=HYPERLINK("https://evil.example","Globex")'


def billsync(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUN, *args, "--config", str(config)], capture_output=True, text=True, timeout=120, check=False
    )


def ok(*args: str, config: Path) -> str:
    done = billsync(*args, config=config)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def total(listed: str) -> int:
    """The count of the list's total line ("showing 1-5 of 7 entries", "showing 1 of 1 entry"; "no entries": 0)."""
    found = re.search(r"^(?:showing \d+(?:-\d+)? of (\d+)|no) (?:entr(?:y|ies)|parked activit(?:y|ies))", listed, re.M)
    assert found is not None, listed
    return int(found.group(1) or 0)


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 10, day, hour + 4, 0, tzinfo=UTC)  # New York is UTC-4 in October


def call(external_id: str, actor: str, matter: str | None, start: datetime, minutes: int, title: str) -> dict:
    return {
        "source": "phone",
        "external_id": external_id,
        "kind": "call",
        "actor": actor,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=minutes)).isoformat(),
        "duration_seconds": minutes * 60,
        "title": title,
        "counterpart": "Pat Jones",
        "matter_id": matter,
    }


@pytest.fixture
def firm(tmp_path: Path) -> Path:
    config = tmp_path / "billsync.toml"
    config.write_text(
        f'database_url = "sqlite:///{tmp_path / "review.db"}"\n'
        '[firms.acme]\nname = "Acme Law"\n[firms.acme.capture]\nenabled = true\n'
        '[firms.acme.rules.firm.max_entry_hours]\nhours = "8"\n'
    )
    updated = "2026-09-01T00:00:00+00:00"
    data = {
        "timekeepers": [
            {
                "id": "u-ava",
                "name": "Ava Stone",
                "email": "ava@acme.example",
                "default_rate": "300",
                "time_zone": "America/New_York",
            },
            {
                "id": "u-ben",
                "name": BEN,
                "email": "ben@acme.example",
                "default_rate": "200",
                "time_zone": "America/New_York",
            },
        ],
        "clients": [{"id": "c-harbor", "name": "Harbor Insurance"}, {"id": "c-globex", "name": HOSTILE_CLIENT}],
        "matters": [
            {"id": "m1", "client_id": "c-harbor", "number": "HARB-0001", "updated_at": updated},
            {"id": "m2", "client_id": "c-harbor", "number": "HARB-0002", "updated_at": updated},
            {"id": "m3", "client_id": "c-globex", "number": "OLD-0003", "status": "closed", "updated_at": updated},
            {"id": "m4", "client_id": "c-globex", "number": "GLOB-0004", "updated_at": updated},
        ],
        "activities": [
            call("a1", "ava@acme.example", "m1", at(5, 10), 10, "settlement terms"),
            call("a2", "ava@acme.example", "m1", at(6, 10), 10, "deposition schedule"),
            call("a3", "ava@acme.example", "m2", at(7, 10), 10, "lease renewal"),
            call("a4", "ava@acme.example", "m2", at(7, 15), 10, "lease renewal"),
            call("a5", "ava@acme.example", "m1", at(9, 8), 9 * 60, "trial preparation"),
            call("b1", "ben@acme.example", "m4", at(5, 11), 10, "board minutes"),
            call("b2", "ben@acme.example", "m4", at(8, 11), 10, "supply contract"),
            call("b3", "ben@acme.example", None, at(6, 11), 10, "a question"),
            call("x1", "stranger@else.example", "m1", at(6, 12), 10, "cold call"),
        ],
    }
    source = tmp_path / "week.json"
    source.write_text(json.dumps(data))
    ok("capture", str(source), config=config)
    return config


def entries_by_activity(config: Path) -> dict[str, object]:
    store = Store.open(load_settings(config).database_url)
    try:
        return {e.activity_key[1]: e for e in store.entries(FIRM)}
    finally:
        store.close()


def short_id(listed: str, narrative_part: str) -> str:
    """The id column of the row whose narrative holds `narrative_part`."""
    for line in listed.splitlines():
        if narrative_part in line:
            return line.split("│")[1].strip()
    raise AssertionError(f"{narrative_part!r} not listed:\n{listed}")


def test_filters_pick_the_hand_counted_entries(firm: Path) -> None:
    assert total(ok("review", "list", config=firm)) == 7  # six waiting for review, one blocked
    assert total(ok("review", "list", "--timekeeper", "ava@acme.example", config=firm)) == 5
    assert total(ok("review", "list", "--timekeeper", "ben [/BOLD] cole", config=firm)) == 2  # a name, any case
    assert total(ok("review", "list", "--timekeeper", "u-ben", config=firm)) == 2  # an id
    assert total(ok("review", "list", "--matter", "HARB-0002", config=firm)) == 2
    assert total(ok("review", "list", "--client", "Harbor Insurance", config=firm)) == 5
    assert total(ok("review", "list", "--client", "harbor", config=firm)) == 5  # a part of one client's name
    assert total(ok("review", "list", "--timekeeper", "stone", config=firm)) == 5  # Ava Stone
    assert total(ok("review", "list", "--matter", "glob", config=firm)) == 2  # GLOB-0004
    two = billsync("review", "list", "--matter", "harb", config=firm)
    assert (two.returncode, two.stdout) == (
        2,
        "error: 2 matters match 'harb': 'HARB-0001', 'HARB-0002'; type more of one\n",
    )
    assert total(ok("review", "list", "--from", "2026-10-06", "--to", "2026-10-07", config=firm)) == 3
    assert total(ok("review", "list", "--finding", "duplicate", config=firm)) == 1
    assert total(ok("review", "list", "--finding", "max_entry_hours", config=firm)) == 1
    assert total(ok("review", "list", "--clean", config=firm)) == 5
    assert total(ok("review", "list", "--state", "blocked", config=firm)) == 1
    assert total(ok("review", "list", "--state", "approved", config=firm)) == 0

    paged = ok("review", "list", "--limit", "3", "--offset", "3", config=firm)
    assert "showing 4-6 of 7 entries; --offset 6 for the next" in paged
    last = ok("review", "list", "--limit", "3", "--offset", "6", config=firm)
    assert "showing 7 of 7 entries\n" in last
    one = ok("review", "list", "--finding", "duplicate", config=firm)
    assert "showing 1 of 1 entry\n" in one

    unknown = billsync("review", "list", "--timekeeper", "zed@acme.example", config=firm)
    assert (unknown.returncode, unknown.stdout) == (
        2,
        "error: no timekeeper 'zed@acme.example' (give its id, e-mail or name)\n",
    )
    bad_date = billsync("review", "list", "--from", "10/06/2026", config=firm)
    assert (bad_date.returncode, bad_date.stdout) == (2, "error: --from '10/06/2026' is not a date (YYYY-MM-DD)\n")


def test_the_list_shows_short_ids_and_hostile_names_as_text(firm: Path) -> None:
    listed = ok("review", "list", "--timekeeper", "u-ben", config=firm)
    assert BEN in listed  # the markup is text, not a style that swallowed it
    everything = entries_by_activity(firm)
    shown = short_id(listed, "board minutes")
    assert 7 <= len(shown) < 32 and everything["b1"].id.endswith(shown)  # type: ignore[attr-defined]
    assert everything["b1"].id not in listed  # type: ignore[attr-defined]


def test_bulk_approve_of_clean_entries_approves_exactly_those(firm: Path) -> None:
    refused = billsync("review", "approve", config=firm)
    assert refused.returncode == 2 and refused.stdout.startswith(
        "error: name the entries to approve: their ids, or a filter"
    )
    assert "--clean" in refused.stdout

    done = ok("review", "approve", "--clean", "--timekeeper", "ava@acme.example", config=firm)
    assert done.startswith("approved 3 entries of ava@acme.example with no findings (")
    assert "1 skipped: findings" in done and "1 skipped: blocked" in done
    states = {key: e.state for key, e in entries_by_activity(firm).items()}  # type: ignore[attr-defined]
    assert states == {
        "a1": EntryState.APPROVED, "a2": EntryState.APPROVED, "a3": EntryState.APPROVED,
        "a4": EntryState.NEEDS_REVIEW, "a5": EntryState.BLOCKED,
        "b1": EntryState.NEEDS_REVIEW, "b2": EntryState.NEEDS_REVIEW,
    }  # fmt: skip
    again = billsync("review", "approve", "--clean", "--timekeeper", "ava@acme.example", config=firm)
    assert again.stdout.startswith("approved 0 entries of ava@acme.example with no findings (")


def test_an_approval_is_one_audit_line_per_action_not_per_entry(firm: Path) -> None:
    done = billsync("review", "approve", "--clean", "--timekeeper", "ava@acme.example", config=firm)
    assert done.returncode == 0, done.stdout + done.stderr
    logged = [json.loads(line) for line in done.stderr.splitlines()]
    # a1, a2 and a3 are Ava's clean waiting entries (a4 has a finding, a5 is blocked): one line for three.
    assert [line["event"] for line in logged] == ["entries approved"], logged
    (audit,) = logged
    assert audit["level"] == "info" and audit["count"] == 3 and audit["via"] == "command line"
    assert audit["filter"] == "of ava@acme.example with no findings" and audit["firm"] == FIRM
    assert "entry" not in audit  # which three: at DEBUG, per entry

    listed = ok("review", "list", "--timekeeper", "ben@acme.example", config=firm)
    by_ids = billsync(
        "review", "approve", short_id(listed, "board minutes"), short_id(listed, "supply contract"), config=firm
    )
    assert by_ids.returncode == 0, by_ids.stdout + by_ids.stderr
    (line,) = [json.loads(line) for line in by_ids.stderr.splitlines()]
    assert (line["event"], line["count"], line["via"]) == ("entries approved", 2, "command line")


def test_reject_with_a_reason_then_reopen(firm: Path) -> None:
    listed = ok("review", "list", "--finding", "duplicate", config=firm)
    duplicate = short_id(listed, "lease renewal")
    said = ok("review", "reject", duplicate, "--reason", "same call as the morning's", config=firm)
    assert said == f"{duplicate}: rejected\n"
    rejected = ok("review", "list", "--state", "rejected", config=firm)
    assert total(rejected) == 1 and "rejected: same call as the morning's" in rejected
    assert total(ok("review", "list", config=firm)) == 6

    assert ok("review", "reopen", duplicate, config=firm) == f"{duplicate}: needs_review\n"
    entry = entries_by_activity(firm)["a4"]
    assert entry.state is EntryState.NEEDS_REVIEW and entry.rejection_reason is None  # type: ignore[attr-defined]
    twice = billsync("review", "reopen", entry.id, config=firm)  # type: ignore[attr-defined]
    # the whole id typed (or pasted): what is said names it as `review list` shows it
    said = f"error: cannot reopen {duplicate}: it is needs_review, not rejected\n"
    assert (twice.returncode, twice.stdout) == (2, said)
    assert ok("review", "reject", entry.id, config=firm) == f"{duplicate}: rejected\n"  # type: ignore[attr-defined]


def test_bulk_reject_on_a_filter_keeps_the_reason_on_each(firm: Path) -> None:
    done = ok("review", "reject", "--matter", "GLOB-0004", "--reason", "pro bono after all", config=firm)
    assert done == "rejected 2 entries on matter GLOB-0004\n"
    kept = {key: e.rejection_reason for key, e in entries_by_activity(firm).items()}  # type: ignore[attr-defined]
    assert kept["b1"] == kept["b2"] == "pro bono after all" and kept["a1"] is None


def test_edit_hours_prices_again_and_matter_runs_the_rules_again(firm: Path) -> None:
    listed = ok("review", "list", "--timekeeper", "u-ben", config=firm)
    board, supply = short_id(listed, "board minutes"), short_id(listed, "supply contract")

    edited = ok(
        "review", "edit", board, "--hours", "1.5", "--narrative", "Board minutes: reviewed and revised", config=firm
    )
    # 1.5 h x 200 = 300.00; was 0.2 h x 200 = 40.00
    assert (
        edited == f"{board}: 1.50 h at 200.00 = 300.00 on GLOB-0004, needs_review"
        " (was 0.20 h = 40.00 on GLOB-0004, needs_review)\n"
    )
    b1 = entries_by_activity(firm)["b1"]
    assert (b1.billed_seconds, b1.raw_seconds, b1.amount) == (5400, 600, Decimal("300.00"))  # type: ignore[attr-defined]
    assert b1.narrative == "Board minutes: reviewed and revised"  # type: ignore[attr-defined]

    moved = ok("review", "edit", supply, "--matter", "OLD-0003", config=firm)
    assert moved.startswith(f"{supply}: 0.20 h at 200.00 = 40.00 on OLD-0003, blocked (was ")
    assert "block: matter OLD-0003 is closed" in moved
    b2 = entries_by_activity(firm)["b2"]
    assert (b2.matter_id, b2.state) == ("m3", EntryState.BLOCKED)  # type: ignore[attr-defined]
    back = ok("review", "edit", supply, "--matter", "GLOB-0004", config=firm)
    assert f"{supply}: 0.20 h at 200.00 = 40.00 on GLOB-0004, needs_review" in back

    uneven = ok("review", "edit", board, "--hours", "1.25", config=firm)  # 75 minutes: not whole tenths
    assert (
        "1.25 h at 200.00 = 250.00" in uneven
        and "review: 1.25 h is not a whole number of 6-minute increments" in uneven
    )
    too_long = ok("review", "edit", board, "--hours", "9", config=firm)
    assert "9.00 h at 200.00 = 1800.00 on GLOB-0004, blocked" in too_long


def test_unknown_ids_and_bad_edits_are_one_error_line(firm: Path) -> None:
    for verb in ("approve", "reject", "reopen", "edit"):
        done = billsync("review", verb, "ffffffffff", *(["--hours", "1"] if verb == "edit" else []), config=firm)
        assert (done.returncode, done.stdout) == (2, "error: no such entry: ffffffffff\n"), verb
    listed = ok("review", "list", "--timekeeper", "u-ben", config=firm)
    board = short_id(listed, "board minutes")
    for args, said in (
        (["--hours", "many"], "error: --hours 'many' is not a number of hours (e.g. 1.2)\n"),
        (["--hours", "0"], "error: hours must be more than 0 and at most 24 (e.g. 1.2)\n"),
        (
            ["--hours", "1.234"],  # 1.234 x 3600 = 4442.4 seconds
            "error: 1.234 h is 4442.4 seconds, and billsync bills whole seconds: give hours that come to whole"
            " seconds (any 2 decimals do, e.g. 1.23)\n",
        ),
        ([], "error: say what to change: --narrative, --hours or --matter\n"),
        (["--matter", "NOPE-1"], "error: no matter with id or number 'NOPE-1'\n"),
    ):
        done = billsync("review", "edit", board, *args, config=firm)
        assert (done.returncode, done.stdout) == (2, said), args
    not_parked = billsync("review", "assign", "ffffffffff", "--matter", "HARB-0001", config=firm)
    assert (not_parked.returncode, not_parked.stdout) == (2, "error: no such activity: ffffffffff\n")


def test_parked_activities_are_listed_and_an_unassigned_one_assigned(firm: Path) -> None:
    assert total(ok("review", "parked", config=firm)) == 2
    assert total(ok("review", "parked", "--status", "not_timekeeper", config=firm)) == 1
    unassigned = ok("review", "parked", "--status", "unassigned", "--timekeeper", "ben@acme.example", config=firm)
    assert total(unassigned) == 1
    activity = short_id(unassigned, "a question")
    assigned = ok("review", "assign", activity, "--matter", "HARB-0002", config=firm)
    entry = entries_by_activity(firm)["b3"]
    shown = assigned.split("entry ", 1)[1].split(",", 1)[0]
    assert entry.id.endswith(shown)  # type: ignore[attr-defined]
    assert assigned == f"{activity}: entry {shown}, 0.20 h = 40.00, needs_review\n"  # 0.2 h x 200
    assert total(ok("review", "parked", config=firm)) == 1
    assert total(ok("review", "list", "--matter", "HARB-0002", config=firm)) == 3


def test_an_edit_of_an_entry_in_the_pms_is_one_queued_update(firm: Path) -> None:
    """An entry the sync already wrote (its create done, its PMS id kept) changes in the PMS through
    the outbox: one update, however many edits before the next sync, a move to another matter
    included; a move that would block it (a closed matter) is refused, nothing changed."""
    store = Store.open(load_settings(firm).database_url)
    sync = SyncState(store.engine)
    b1 = entries_by_activity(firm)["b1"]
    o = outbox.c
    claimed = sync.claim(FIRM)  # as the sync's drain does: its write of b1 went through
    row = next(r for r in claimed if r.entry_id == b1.id)  # type: ignore[attr-defined]
    sync.complete(FIRM, row, "clio-activity-77", None)
    sync.release(FIRM, [r for r in claimed if r is not row])
    listed = ok("review", "list", "--timekeeper", "u-ben", config=firm)
    board = short_id(listed, "board minutes")
    ok("review", "edit", board, "--hours", "0.5", config=firm)
    ok("review", "edit", board, "--narrative", "Board minutes", config=firm)
    moved = ok("review", "edit", board, "--matter", "HARB-0001", config=firm)
    # Re-rated: Ben's own 200 on HARB-0001 (no matter or client rate); 0.5 h x 200 = 100.00.
    assert moved.startswith(f"{board}: 0.50 h at 200.00 = 100.00 on HARB-0001, needs_review (was ")
    with store.engine.connect() as conn:
        rows = [(r.operation, r.status) for r in conn.execute(select(outbox).where(o.entry_id == row.entry_id))]
    store.close()
    assert sorted(rows) == [("create", "done"), ("update", "pending")]
    closed = billsync("review", "edit", board, "--matter", "OLD-0003", config=firm)
    assert (closed.returncode, closed.stdout) == (
        2,
        f"error: entry {board} is in clio already and would be blocked on OLD-0003: matter OLD-0003 is closed;"
        " nothing changed\n",
    )
    assert entries_by_activity(firm)["b1"].matter_id == "m1"  # type: ignore[attr-defined]


def test_an_entry_in_clio_moves_to_another_matter_there_at_the_next_sync(sandbox: Path, tmp_path: Path) -> None:
    """The demo firm on the Clio sandbox: an entry the first sync wrote (non-billable, for review)
    is moved with `review edit --matter`; the next sync PATCHes the Clio activity's matter and its
    price is the new matter's rate, and the read-back keeps the move."""
    assert billsync("connect", "clio", "--auto-approve", config=sandbox).returncode == 0
    assert "written " in ok("sync", "--once", config=sandbox)
    seed = json.loads((tmp_path / "seed.json").read_text())["clio"]
    target = next(m for m in seed["matters"] if m["display_number"] == "0002-0010")
    # The seed's matter 0002-0010: open, hourly, one custom rate row per user, all 395; its client
    # has no rate, discount or approved rates of its own, so the entry's rate is 395.
    assert target["status"] == "Open" and target["custom_rate"]["type"] == "HourlyRate"
    assert {row["rate"] for row in target["custom_rate"]["rates"]} == {395.0}
    listed = ok("review", "list", "--matter", "0007-0007", "--limit", "1", config=sandbox)
    row = next(line for line in listed.splitlines() if re.match(r"│ [0-9a-f]{7,32} │", line))
    typed, hours = row.split("│")[1].strip(), Decimal(row.split("│")[5].strip())
    expected = (hours * Decimal("395")).quantize(Decimal("0.01"))

    moved = ok("review", "edit", typed, "--matter", "0002-0010", config=sandbox)
    assert moved.startswith(f"{typed}: {hours:.2f} h at 395.00 = {expected} on 0002-0010, needs_review (was ")
    store = Store.open(load_settings(sandbox).database_url)
    try:
        entry = next(e for e in store.entries("demo") if e.id.endswith(typed))
    finally:
        store.close()
    assert entry.remote_id is not None  # the first sync wrote it
    synced = ok("sync", "--once", config=sandbox)
    assert "updated 1" in synced and "failures" not in synced.lower().replace("failures 0", "")
    base = load_settings(sandbox).firms["demo"].connector_settings("clio")["base_url"].removesuffix("/clio")
    activity = requests.get(f"{base}/_sandbox/clio/activities/{entry.remote_id}", timeout=10).json()
    assert activity["matter"]["id"] == target["id"] and activity["price"] == 395.0
    ok("sync", "--once", config=sandbox)  # a second read-back changes nothing
    store = Store.open(load_settings(sandbox).database_url)
    try:
        after = store.entries("demo", ids=[entry.id])[0]
    finally:
        store.close()
    assert (after.matter_id, after.rate, after.amount) == (str(target["id"]), Decimal("395.00"), expected)
    assert after.state is EntryState.NEEDS_REVIEW


def test_assigning_a_closed_matter_is_refused_and_nothing_changes(firm: Path) -> None:
    unassigned = ok("review", "parked", "--status", "unassigned", config=firm)
    activity = short_id(unassigned, "a question")
    closed = billsync("review", "assign", activity, "--matter", "OLD-0003", config=firm)
    assert (closed.returncode, closed.stdout) == (
        2,
        f"error: cannot assign {activity} to matter OLD-0003: it is closed; nothing changed\n",
    )
    assert total(ok("review", "parked", "--status", "unassigned", config=firm)) == 1  # still parked, as it was
    assert "b3" not in entries_by_activity(firm)


def test_bulk_reopen_takes_the_filters_of_reject(firm: Path) -> None:
    ok("review", "reject", "--timekeeper", "u-ben", "--reason", "pro bono", config=firm)  # b1, b2
    ok("review", "reject", "--matter", "HARB-0002", config=firm)  # a3, a4 (Oct 7)
    refused = billsync("review", "reopen", config=firm)
    assert refused.returncode == 2 and refused.stdout.startswith("error: name the entries to reopen: their ids")
    done = ok("review", "reopen", "--from", "2026-10-06", "--to", "2026-12-31", config=firm)
    assert done == "reopened 3 entries dated 2026-10-06 to 2026-12-31\n"  # a3, a4 (Oct 7), b2 (Oct 8); not b1
    states = {key: e.state for key, e in entries_by_activity(firm).items()}  # type: ignore[attr-defined]
    assert (states["a3"], states["a4"], states["b2"], states["b1"]) == (
        EntryState.NEEDS_REVIEW, EntryState.NEEDS_REVIEW, EntryState.NEEDS_REVIEW, EntryState.REJECTED,
    )  # fmt: skip
    none_left = billsync("review", "reopen", "--matter", "HARB-0002", config=firm)
    assert (none_left.returncode, none_left.stdout) == (2, "error: no rejected entry on matter HARB-0002\n")


def test_parked_by_matter_finds_an_activity_its_closed_matter_parked(firm: Path, tmp_path: Path) -> None:
    late = tmp_path / "late.json"  # Ben calls on the closed OLD-0003: capture parks it, unassigned
    late.write_text(json.dumps({"activities": [call("b4", "ben@acme.example", "m3", at(9, 11), 10, "old file")]}))
    ok("capture", str(late), config=firm)
    on_old = ok("review", "parked", "--matter", "OLD-0003", config=firm)
    assert total(on_old) == 1 and "old file" in on_old and "matter OLD-0003 is closed" in on_old
    assert total(ok("review", "parked", "--client", "c-globex", config=firm)) == 1
    assert total(ok("review", "parked", "--matter", "HARB-0001", config=firm)) == 1  # x1, the stranger's call

    helped = subprocess.run(
        [*RUN, "review", "parked", "--help"], capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    listed = helped.stdout[helped.stdout.index("--status") :].split("--limit")[0]
    assert "unassigned" in listed and "not_timekeeper" in listed and "kind_disabled" in listed
    assert "captured" not in listed and "merged" not in listed
    captured = billsync("review", "parked", "--status", "captured", config=firm)
    assert captured.returncode == 2 and "'captured' is not one of" in captured.stdout + captured.stderr
