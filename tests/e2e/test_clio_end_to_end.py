"""End to end against the local Clio: a real HTTP server, the real connector, the real store.

Each test runs whole sync cycles the way `billsync sync --once` does and checks what a firm
would check in Clio afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from billsync_sandboxes.demo.data import SyntheticFirm

from core.plugins import DEMO_SEEDS, load
from tests.e2e.pms_firm import (
    PmsFirm,
    check_a_deleted_entry_is_never_recreated,
    check_a_second_sync_creates_nothing,
    check_each_remote_entry_is_linked_to_one_activity,
    check_faults_give_the_same_final_state_as_none,
    check_no_canary_in_the_store,
)

CANARY = "CANARY-e2e-privileged-4411"
pytestmark = pytest.mark.e2e


class Firm(PmsFirm):
    """A small firm on its own Clio sandbox, with billsync configured against it."""

    vendor = "clio"
    canary = CANARY

    def seed(self, synthetic: SyntheticFirm, *, now: datetime) -> Any:
        return load(DEMO_SEEDS, "clio")(synthetic, now=now)

    def remote_time_entries(self) -> list[dict]:
        """TimeEntry activities in Clio that billsync wrote (they carry its marker in the note)."""
        everything = self.admin("GET", "activities").json()
        return [a for a in everything if a.get("type") == "TimeEntry" and "[bs:" in (a.get("note") or "")]


@pytest.fixture
def firm(tmp_path) -> Iterator[Firm]:
    f = Firm(tmp_path)
    yield f
    f.close()


def test_a_second_sync_creates_nothing(firm: Firm) -> None:
    check_a_second_sync_creates_nothing(firm)


def test_each_remote_entry_is_linked_to_one_activity(firm: Firm) -> None:
    remote = check_each_remote_entry_is_linked_to_one_activity(firm)
    assert all(a["non_billable"] is True for a in remote)  # review = all: non-billable


def test_a_deleted_entry_is_never_recreated_by_sync_or_backfill(firm: Firm) -> None:
    check_a_deleted_entry_is_never_recreated(firm, "activities")


def test_thirty_percent_faults_give_the_same_final_state_as_none(tmp_path: Path) -> None:
    check_faults_give_the_same_final_state_as_none(Firm, tmp_path, "/api/v4/*", lambda a: a["note"])


def test_message_bodies_never_reach_clio_or_the_store(firm: Firm) -> None:
    firm.runtime.runner.run_once()
    assert firm.remote_time_entries()
    assert all(CANARY not in (a.get("note") or "") for a in firm.admin("GET", "activities").json())
    check_no_canary_in_the_store(firm)
