"""Crash: kill -9 `billsync sync --once` at random points, restart each time; nothing lost, nothing doubled.

Each run is a real `billsync` process (forked from tests/reliability/crash_child.py) against a
Clio sandbox served over loopback. Before each run a person logs new calls in Clio, so every
run has reading, capturing and writing to do. Runs die two ways: SIGKILL from this test after a
random delay, or a crash hook at a chosen point (the hook is in the test harness, never in
billsync), which is how "Clio stored the entry, its answer was never stored" is hit on purpose.
After the last kill, runs go on uninterrupted until the outbox is empty, and the result is
compared with a fault-free run over the same records: zero duplicate entries in Clio, zero lost
activities, the same entries in the store.
"""

from __future__ import annotations

import json
import random
import signal
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from core.store.store import Store
from core.store.sync_state import SyncState
from tests.reliability.conftest import report_figures, scale
from tests.reliability.crash_child import CRASH_EXIT, POINTS
from tests.reliability.firms import CLIO, FIRM, SandboxFirm, compare
from tests.reliability.forkserver import ForkServer

pytestmark = [pytest.mark.reliability, pytest.mark.e2e]

NEW_CALLS_PER_RUN = 2
# A killed run's outbox claims stay leased this long (production: 10 minutes); restarts wait it out.
LEASE_SECONDS = 1
CONFIG = f"\n[daemon]\nclaim_lease_seconds = {LEASE_SECONDS}\n"


def new_call(seed: dict[str, Any], number: int) -> dict[str, Any]:
    """A phone call a person logs in Clio; explicit ids, so the fault-free run gets the very same ones."""
    users = seed["users"]
    matters = [m for m in seed["matters"] if m.get("status") == "Open"]
    minute = number % (8 * 60)
    return {
        "id": 7_000_000 + number,
        "type": "PhoneCommunication",
        "subject": f"call {number}",
        "body": "privileged",
        "date": "2026-10-29",
        "received_at": f"2026-10-29T{9 + minute // 60:02d}:{minute % 60:02d}:00Z",
        "user": {"id": users[number % len(users)]["id"]},
        "matter": {"id": matters[number % len(matters)]["id"]},
        "senders": [],
        "receivers": [],
    }


def log_calls(firm: SandboxFirm, calls: list[dict[str, Any]], count: int) -> None:
    """A person logs `count` more calls in Clio."""
    for _ in range(count):
        calls.append(new_call(firm.seed, len(calls)))
        firm.admin("POST", "communications", json=calls[-1])


def settle(server: ForkServer, firm: SandboxFirm, log: Path) -> int:
    """Uninterrupted `sync --once` runs until the outbox is empty; returns how many it took."""
    for runs in range(1, 11):
        code, _ = server.run(["sync", "--once", "--config", str(firm.config)])
        assert code == 0, log.read_text()[-3000:]
        if not any(s in ("pending", "sending") for s in _outbox(firm)):
            return runs
        time.sleep(LEASE_SECONDS)  # the last killed run's claims run out
    raise AssertionError(f"the outbox did not drain: {_outbox(firm)}")


def check_against_fault_free(tmp_path: Path, firm: SandboxFirm, calls: list[dict[str, Any]], name: str,
                             **figures: Any) -> None:
    """The killed firm's final state equals a fault-free run over the same records."""
    reference = SandboxFirm(tmp_path / "fault-free", CLIO, extra_config=CONFIG)
    try:
        for call in calls:
            reference.admin("POST", "communications", json=call)
        reference.sync_until_settled()
        firm.store = Store.open(firm.settings.database_url)
        compared = compare(reference, firm)
        same_entries = reference.snapshot() == firm.snapshot()
        failed = SyncState(firm.store.engine).counts(FIRM).get("failed", 0)
        report_figures(name, new_calls=len(calls), same_entries_as_fault_free=same_entries, **figures, **compared)
        assert compared["duplicate_remote_entries"] == 0
        assert compared["duplicate_local_entries"] == 0
        assert compared["lost_activities"] == 0
        assert compared["entries_not_in_pms"] == 0
        assert compared["remote_entries_missing"] == 0
        assert failed == 0
        assert same_entries
    finally:
        reference.close()


def test_kill_minus_nine_at_random_points_loses_and_doubles_nothing(tmp_path: Path) -> None:
    kill_points = scale(12, 200)
    rng = random.Random(20261123)
    firm = SandboxFirm(tmp_path / "crashed", CLIO, extra_config=CONFIG)
    firm.store.close()  # the child processes own the database from here
    log = tmp_path / "billsync.log"
    server = ForkServer(log)
    sync = ["sync", "--once", "--config", str(firm.config)]
    calls: list[dict[str, Any]] = []
    kills: Counter[str] = Counter()
    runs = clean_runs = 0
    longest = 0.5  # seconds an uninterrupted run took, to spread the random kills over
    started = time.monotonic()
    try:
        while sum(kills.values()) < kill_points:
            log_calls(firm, calls, NEW_CALLS_PER_RUN)
            point = rng.choice((*POINTS, "sigkill", "sigkill", "sigkill"))
            runs += 1
            began = time.monotonic()
            if point == "sigkill":
                code, killed = server.run(sync, kill_after=rng.uniform(0.0, longest))
            else:
                code, killed = server.run(sync, crash_at=f"{point}:{rng.randint(1, 3)}")
            if killed or code in (-signal.SIGKILL, CRASH_EXIT):
                kills[point] += 1
            else:
                assert code == 0, log.read_text()[-3000:]
                clean_runs += 1
                longest = max(longest, time.monotonic() - began)
        settle_runs = settle(server, firm, log)
        seconds = time.monotonic() - started
    finally:
        server.close()
    try:
        assert sum(kills.values()) >= kill_points
        assert kills["remote_write_applied"] > 0, "the lost-response point was never hit"
        check_against_fault_free(
            tmp_path,
            firm,
            calls,
            "crash-sync-once",
            kill_points=sum(kills.values()),
            remote_write_done_response_lost=kills["remote_write_applied"],
            by_point=dict(sorted(kills.items())),
            runs=runs,
            uninterrupted_runs=clean_runs,
            settle_runs=settle_runs,
            recovered_by_lookup_in_finished_runs=_recovered(log),
            seconds=round(seconds, 1),
        )
    finally:
        firm.close()


def test_kill_minus_nine_of_the_daemon_loses_and_doubles_nothing(tmp_path: Path) -> None:
    """`billsync run` (scheduler and server) killed at random moments while people log calls."""
    kill_points = scale(3, 30)
    rng = random.Random(20261124)
    daemon_config = CONFIG + "poll_seconds = 0.3\ndrain_seconds = 0.2\n"
    firm = SandboxFirm(tmp_path / "crashed", CLIO, extra_config=daemon_config)
    firm.store.close()
    log = tmp_path / "billsync.log"
    server = ForkServer(log)
    calls: list[dict[str, Any]] = []
    kills = exits = 0
    started = time.monotonic()
    try:
        while kills < kill_points:
            log_calls(firm, calls, NEW_CALLS_PER_RUN)
            run = ["run", "--config", str(firm.config), "--port", str(free_port())]
            code, killed = server.run(run, kill_after=rng.uniform(0.2, 2.0))
            if killed:
                kills += 1
            else:
                exits += 1  # it must not stop on its own
                assert code == 0, log.read_text()[-3000:]
        settle_runs = settle(server, firm, log)
        seconds = time.monotonic() - started
    finally:
        server.close()
    try:
        assert exits == 0, log.read_text()[-3000:]
        check_against_fault_free(
            tmp_path, firm, calls, "crash-daemon", kill_points=kills, daemon_jobs_finished=_events(log, "job"),
            settle_runs=settle_runs, seconds=round(seconds, 1),
        )
    finally:
        firm.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _events(log: Path, name: str) -> int:
    """How many log lines of this event the runs wrote (a line cut short by kill -9 is not one)."""
    return sum(1 for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
               if line.startswith("{") and _event_of(line) == name)


def _event_of(line: str) -> object:
    try:
        return json.loads(line).get("event")
    except ValueError:  # half a line from a killed run, with the next run's line after it
        return None


def _recovered(log: Path) -> int:
    """Writes the runs found already in Clio after a lost answer (the summary lines' `recovered`)."""
    total = 0
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == "sync cycle":
                total += int(event.get("recovered", 0))
    return total


def _outbox(firm: SandboxFirm) -> dict[str, int]:
    """Outbox rows by status, read from the firm's database file."""
    store = Store.open(firm.settings.database_url)
    try:
        return SyncState(store.engine).counts(FIRM)
    finally:
        store.close()
