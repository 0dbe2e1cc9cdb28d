"""The command line as IT staff run it: sandbox, connect, sync, backfill, review, as processes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from config.settings import load_settings
from core.runtime import build_runtime
from core.store.store import Store
from core.sync import SyncReport
from tests.e2e.conftest import RUN

pytestmark = pytest.mark.e2e


def billsync(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RUN, *args], capture_output=True, text=True, timeout=300, check=False)


def test_connect_sync_review_and_backfill_twice(sandbox: Path) -> None:
    connected = billsync("connect", "clio", "--config", str(sandbox), "--auto-approve")
    assert connected.returncode == 0, connected.stdout + connected.stderr
    synced = billsync("sync", "--once", "--config", str(sandbox))
    assert synced.returncode == 0, synced.stdout + synced.stderr
    written = int(re.search(r"written (\d+)", synced.stdout).group(1))
    assert written > 20

    listed = billsync("review", "list", "--config", str(sandbox))
    entry_id = re.search(r"│ ([0-9a-f]{7,32}) │", listed.stdout).group(1)  # the short id people type
    assert billsync("review", "approve", entry_id, "--config", str(sandbox)).returncode == 0
    after = billsync("sync", "--once", "--config", str(sandbox))
    assert "updated 1" in after.stdout and "written 0" in after.stdout

    first = billsync("backfill", "--config", str(sandbox), "--since", "2026-10-01")
    second = billsync("backfill", "--config", str(sandbox), "--since", "2026-10-01")
    assert first.returncode == 0 and second.returncode == 0, first.stdout + first.stderr
    assert "backfill created 0 entries" in first.stdout  # sync already captured everything
    assert "backfill created 0 entries" in second.stdout
    assert "already known" in second.stdout

    dry = billsync("backfill", "--config", str(sandbox), "--since", "2026-10-01", "--dry-run")
    assert "backfill would create 0 entries" in dry.stdout


def test_sync_and_check_without_connecting_say_what_to_do_then_check_passes(sandbox: Path) -> None:
    run = billsync("sync", "--once", "--config", str(sandbox))
    assert run.returncode == 2
    # One line, the hint said once (it used to end "... `billsync connect clio` (run `billsync connect clio`)").
    assert run.stdout.splitlines() == ["error: clio is not connected for firm demo: run `billsync connect clio`"]
    assert "Traceback" not in run.stderr
    checked = billsync("check", "--config", str(sandbox))
    # The firm is named once, and the command is the one to type, with this configuration file.
    assert checked.returncode == 1
    connect = f"billsync connect clio --config {sandbox}"
    assert checked.stdout.splitlines() == [f"firm demo: clio is not connected yet: run `{connect}`"]
    assert billsync("connect", "clio", "--config", str(sandbox), "--auto-approve").returncode == 0
    checked = billsync("check", "--config", str(sandbox))
    assert checked.returncode == 0, checked.stdout
    assert "firm demo: clio reachable, credentials accepted" in checked.stdout
    # The demo's Clio rounds to 1 minute (Clio's default): billsync follows it and says so.
    assert "firm demo: increment 1 min (clio's own time rounding, read " in checked.stdout


def test_backfill_of_one_matter_then_all_then_again(sandbox: Path) -> None:
    assert billsync("connect", "clio", "--config", str(sandbox), "--auto-approve").returncode == 0
    # Reference data only (a sync would capture all activity), to learn a matter's id.
    settings = load_settings(sandbox)
    store = Store.open(settings.database_url)
    runtime = build_runtime(settings, "demo", store)
    runtime.runner.poll(SyncReport(), only_streams=["users", "contacts", "matters", "activity_descriptions"])
    matter_id = next(iter(store.load_reference("demo").matters))
    store.close()

    def created(*args: str) -> int:
        run = billsync("backfill", "--config", str(sandbox), "--since", "2026-10-01", *args)
        assert run.returncode == 0, run.stdout + run.stderr
        return int(re.search(r"backfill (?:would create|created) (\d+) entries", run.stdout).group(1))

    one_matter = created("--matter", matter_id, "--dry-run")
    everything = created("--dry-run")
    assert 0 < one_matter < everything
    assert created("--matter", matter_id) == one_matter
    assert created() == everything - one_matter  # that matter's entries exist already
    assert created() == 0
