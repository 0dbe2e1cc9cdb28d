"""The command line as IT staff use it: demo, capture from a file, review, config check."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.factories import T0, activity, client, matter, timekeeper


def billsync(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-c", "from core.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "billsync.toml"
    path.write_text(
        f'database_url = "sqlite:///{tmp_path / "cli.db"}"\n'
        '[firms.acme]\nname = "Acme Law"\n[firms.acme.capture]\nenabled = true\n'
    )
    return path


def test_demo_syncs_a_month_through_the_sandbox_and_a_second_cycle_creates_nothing() -> None:
    run = billsync("demo", "--activities", "400")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "activities seen" in run.stdout and "activity captured" in run.stdout
    assert "entry needs_review" in run.stdout and "written " in run.stdout
    assert "Second cycle: 0 new entries, 0 writes" in run.stdout
    # the sources beside Clio, and the month end: bills made in Clio followed, collected, reported
    assert "microsoft365:calendar_events" in run.stdout and "netdocuments:documents" in run.stdout
    # every clean pre-bill is billed (the ones with a Block finding wait), and each bill matches its pre-bill
    prebills = re.search(r"Month end 2026-10: (\d+) pre-bills; (\d+) with a Block finding wait", run.stdout)
    billed = re.search(r"(\d+) pre-bills approved and billed in Clio by a person; \1 matched and moved", run.stdout)
    assert prebills and billed and int(billed[1]) == int(prebills[1]) - int(prebills[2]) > 4, run.stdout[-4000:]
    assert f"Collection: 4 of {billed[1]} invoices paid through their LawPay links" in run.stdout
    totals = re.search(r"│ total\s+│\s+│\s+([\d,.]+) │\s+([\d,.]+) │\s+([\d,.]+) │", run.stdout)
    assert totals, run.stdout[-4000:]
    owed, paid, outstanding = (Decimal(totals[i].replace(",", "")) for i in (1, 2, 3))
    assert owed - paid == outstanding > 0  # four clients paid; the rest still owe
    assert "Capture funnel" in run.stdout


def test_demo_takes_pms_and_still_its_old_spelling_hidden_from_help() -> None:
    """`--pms` names the demo firm's PMS; `--system-of-record`, its old name, still works unlisted."""
    shown = billsync("demo", "--help", env={"COLUMNS": "200"})
    assert shown.returncode == 0 and "--pms" in shown.stdout and "system-of-record" not in shown.stdout
    for option in ("--pms", "--system-of-record"):
        run = billsync("demo", "--activities", "40", option, "practicepanther", "--source", "")
        assert run.returncode == 0, run.stdout + run.stderr
        assert "on a local practicepanther at" in run.stdout


def test_capture_from_a_file_reports_bad_records_and_keeps_the_good(tmp_path: Path, config: Path) -> None:
    good = json.loads(activity().model_dump_json())
    bad_time = good | {"external_id": "bad-1", "started_at": "yesterday"}
    bad_kind = good | {"external_id": "bad-2", "kind": "fax"}
    data = {
        "timekeepers": [json.loads(timekeeper().model_dump_json())],
        "clients": [json.loads(client().model_dump_json())],
        "matters": [json.loads(matter().model_dump_json())],
        "activities": [good, bad_time, bad_kind],
    }
    source = tmp_path / "activities.json"
    source.write_text(json.dumps(data))
    run = billsync("capture", str(source), "--config", str(config))
    assert run.returncode == 2  # some records were refused
    assert "activities[1]: started_at" in run.stdout and "activities[2]: kind" in run.stdout
    assert "activity captured" in run.stdout
    listed = billsync("entries", "--config", str(config))
    assert "Telephone call with P. Jones re: settlement terms" in listed.stdout
    assert T0.date().isoformat() in listed.stdout


def test_review_approve_and_reject(tmp_path: Path, config: Path) -> None:
    from config.settings import load_settings
    from core.models import EntryState
    from core.store.store import Store

    data = {
        "timekeepers": [json.loads(timekeeper().model_dump_json())],
        "clients": [json.loads(client().model_dump_json())],
        "matters": [json.loads(matter().model_dump_json())],
        "activities": [
            json.loads(activity().model_dump_json()),
            json.loads(activity(external_id="a2", title="offer", started_at=T0.replace(hour=18)).model_dump_json()),
        ],
    }
    source = tmp_path / "a.json"
    source.write_text(json.dumps(data))
    assert billsync("capture", str(source), "--config", str(config)).returncode == 0
    store = Store.open(load_settings(config).database_url)
    first, second = store.entries("acme")
    assert "showing 1-2 of 2 entries" in billsync("review", "list", "--config", str(config)).stdout
    assert billsync("review", "approve", first.id, "--config", str(config)).returncode == 0
    assert billsync("review", "reject", second.id, "--config", str(config)).returncode == 0
    assert [e.state for e in store.entries("acme")] == [EntryState.APPROVED, EntryState.REJECTED]
    missing = billsync("review", "approve", "no-such-entry", "--config", str(config))
    assert (missing.returncode, missing.stdout) == (2, "error: no such entry: no-such-entry\n")
    twice = billsync("review", "reject", first.id, "--config", str(config))
    assert (
        twice.returncode == 2 and "cannot reject" in twice.stdout and "it is approved, not needs_review" in twice.stdout
    )


def test_review_approve_a_matter_approves_its_waiting_entries_only(tmp_path: Path, config: Path) -> None:
    from config.settings import load_settings
    from core.models import EntryState
    from core.store.store import Store

    other = matter(id="m2", number="HARB-0002", name="Harbor lease")
    data = {
        "timekeepers": [json.loads(timekeeper().model_dump_json())],
        "clients": [json.loads(client().model_dump_json())],
        "matters": [json.loads(matter().model_dump_json()), json.loads(other.model_dump_json())],
        "activities": [
            json.loads(activity().model_dump_json()),
            json.loads(activity(external_id="a2", started_at=T0.replace(hour=18)).model_dump_json()),
            json.loads(activity(external_id="a3", matter_id="m2", started_at=T0.replace(hour=20)).model_dump_json()),
        ],
    }
    source = tmp_path / "a.json"
    source.write_text(json.dumps(data))
    assert billsync("capture", str(source), "--config", str(config)).returncode == 0
    approved = billsync("review", "approve", "--matter", "HARB-0001", "--config", str(config))  # by its number
    assert approved.returncode == 0, approved.stdout + approved.stderr
    store = Store.open(load_settings(config).database_url)
    states = {e.activity_key[1]: e.state for e in store.entries("acme")}
    assert states == {"a1": EntryState.APPROVED, "a2": EntryState.APPROVED, "a3": EntryState.NEEDS_REVIEW}
    by_id = billsync("review", "approve", "--matter", "m2", "--config", str(config))  # by its PMS id
    assert (by_id.returncode, by_id.stdout) == (0, "approved 1 entry on matter m2\n")
    done = billsync("review", "approve", "--matter", "m2", "--config", str(config))
    assert (done.returncode, done.stdout) == (2, "error: no entry waiting for review on matter m2\n")
    unknown = billsync("review", "approve", "--matter", "HARB-9999", "--config", str(config))
    assert unknown.returncode == 2 and "no matter 'HARB-9999'" in unknown.stdout


def test_config_errors_are_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[firms.a]\nname = "A"\n[firms.a.capture]\nreveiw = "all"\n')
    run = billsync("check-config", "--config", str(bad))
    assert run.returncode == 2
    assert "firms.a.capture.reveiw" in run.stdout and "Traceback" not in run.stdout + run.stderr


def test_check_config_names_each_bad_letterhead_key_on_its_own_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[firms.a]\nname = "A"\n[firms.a.billing.firm]\nname = "Acme\\u0000Law"\nemail = "billing at acme"\n'
        f'phone = "{"5" * 201}"\ncity = "Boston"\n'
    )
    run = billsync("check-config", "--config", str(bad))
    assert run.returncode == 2 and "Traceback" not in run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith(f"error: invalid configuration in {bad}: ") for line in lines)
    by_key = {line.split(": ")[2]: line for line in lines}
    assert set(by_key) == {"firms.a.billing.firm.name", "firms.a.billing.firm.email", "firms.a.billing.firm.phone"}
    assert "control character" in by_key["firms.a.billing.firm.name"]
    assert "name@domain" in by_key["firms.a.billing.firm.email"]
    assert "longer than 200 characters" in by_key["firms.a.billing.firm.phone"]
    # Elsewhere the same file is one clear line, every bad key named.
    other = billsync("bill", "list", "--config", str(bad))
    assert other.returncode == 2 and len(other.stdout.splitlines()) == 1
    assert other.stdout.count("firms.a.billing.firm.") == 3


def test_an_error_naming_a_toml_section_prints_it_on_one_line(config: Path) -> None:
    """Error text is data: `[firms.acme.payments]` was once taken for rich markup and vanished."""
    run = billsync("pay", "ledger", "--config", str(config))
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stdout == "error: firm acme has no [firms.acme.payments] section: payments are off\n"


def test_check_config_summarises_the_example() -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "examples" / "billsync.toml"
    run = billsync("check-config", "--config", str(example))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "firm acme (Acme Law LLP): capture on, review all" in run.stdout
    # No store yet: the increment is Clio's own, which only a sync or `billsync check` reads.
    assert "firm acme: increment follows clio's own time rounding, not read yet" in run.stdout
    assert "not a whole number" not in run.stdout  # nothing to judge blocks against yet


@pytest.mark.parametrize(
    ("firm", "increment_line", "warnings"),
    [
        # PracticePanther has no rounding setting of its own: 6 minutes, and the 15-minute blocks say so.
        (
            'pms = "practicepanther"\n[firms.acme.capture]\nenabled = true\n'
            '[firms.acme.capture.kinds.call]\nduration = "fixed"\nminutes = 15\n'
            "[firms.acme.capture.kinds.sms]\nminutes = 6\n[firms.acme.capture.kinds.email]\nminutes = 12\n"
            "[firms.acme.capture.kinds.document]\nenabled = false\n[firms.acme.capture.kinds.note]\nminutes = 30\n"
            "[firms.acme.capture.kinds.task]\nduration = \"actual\"\n",
            "firm acme: increment 6 min (practicepanther has no time rounding of its own)",
            ["firm acme: capture.kinds.call: 15 minutes is not a whole number of 6-minute increments: "
             "it will bill 18 minutes (0.3 h)",
             # Meetings and tasks take their own length, and this block when they have none.
             "firm acme: capture.kinds.event: 15 minutes (when the activity has no length of its own) is not a "
             "whole number of 6-minute increments: it will bill 18 minutes (0.3 h)",
             "firm acme: capture.kinds.task: 15 minutes (when the activity has no length of its own) is not a "
             "whole number of 6-minute increments: it will bill 18 minutes (0.3 h)"],
        ),
        # The firm's own increment wins over Clio's, with no store to read at all.
        (
            "[firms.acme.capture]\nenabled = true\nincrement_minutes = 10\n"
            "[firms.acme.capture.kinds.sms]\nminutes = 20\n[firms.acme.capture.kinds.email]\nenabled = false\n"
            "[firms.acme.capture.kinds.document]\nenabled = false\n[firms.acme.capture.kinds.note]\nenabled = false\n"
            "[firms.acme.capture.kinds.task]\nminutes = 25\n",
            "firm acme: increment 10 min (capture.increment_minutes)",
            # A Clio call has no length of its own: it bills the call block, rounded up to 20 minutes.
            ["firm acme: capture.kinds.call: 15 minutes (when the activity has no length of its own) is not a "
             "whole number of 10-minute increments: it will bill 20 minutes (0.3333 h)",
             "firm acme: capture.kinds.event: 15 minutes (when the activity has no length of its own) is not a "
             "whole number of 10-minute increments: it will bill 20 minutes (0.3333 h)",
             "firm acme: capture.kinds.task: 25 minutes is not a whole number of 10-minute increments: "
             "it will bill 30 minutes (0.5 h)"],
        ),
    ],
)  # fmt: skip
def test_check_config_names_each_block_the_increment_rounds_up(
    tmp_path: Path, firm: str, increment_line: str, warnings: list[str]
) -> None:
    path = tmp_path / "firm.toml"
    path.write_text(f'database_url = "sqlite:///{tmp_path / "none.db"}"\n[firms.acme]\nname = "Acme Law"\n{firm}')
    run = billsync("check-config", "--config", str(path))
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert increment_line in lines
    assert sorted(line for line in lines if "not a whole number" in line) == sorted(warnings)
    assert not (tmp_path / "none.db").exists()  # looking never creates a store


@pytest.mark.parametrize("damage", ["corrupt", "no folder"])
def test_a_store_that_cannot_be_opened_is_one_error_line_not_a_traceback(tmp_path: Path, damage: str) -> None:
    """The fresh-eyes trial: a half-copied database file, or a database_url naming a missing folder."""
    database = tmp_path / "billsync.db" if damage == "corrupt" else tmp_path / "nodir" / "x" / "billsync.db"
    if damage == "corrupt":
        database.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)  # a header, then garbage
    config = tmp_path / "billsync.toml"
    config.write_text(f'database_url = "sqlite:///{database}"\n[firms.acme]\nname = "Acme Law"\n')
    run = billsync("entries", "--config", str(config))
    output = (run.stdout + run.stderr).strip()
    assert run.returncode == 2 and "Traceback" not in output and len(output.splitlines()) == 1, output
    assert output.startswith("error: the database cannot be used: "), output
