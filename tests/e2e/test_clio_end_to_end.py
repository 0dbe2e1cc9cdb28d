"""End to end against the local Clio: a real HTTP server, the real connector, the real store.

Each test runs whole sync cycles the way `billsync sync --once` does and checks what a firm
would check in Clio afterwards.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from core.cli.vendors import connect_to_sandbox
from core.demo_data import generate_firm
from core.http import HttpClient, RetryPolicy
from core.models import EntryState
from core.plugins import DEMO_SEEDS, SANDBOXES, load
from core.runtime import FirmRuntime
from core.sandbox.server import build_server_app
from core.serving import run_in_thread
from core.store.sync_state import PENDING, SENDING

CANARY = "CANARY-e2e-privileged-4411"
pytestmark = pytest.mark.e2e


class Firm:
    """A small firm on its own sandbox, with billsync configured against it."""

    def __init__(self, tmp: Path, activities: int = 150) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        synthetic = generate_firm(
            timekeepers=5,
            clients=8,
            matters=16,
            activities=activities,
            seed=11,
            month_start=datetime(2026, 10, 1, tzinfo=UTC),
            body=f"Client admitted: {CANARY}",
        )
        seed = load(DEMO_SEEDS, "clio")(synthetic, now=datetime(2026, 11, 1, tzinfo=UTC))
        self.sandbox = load(SANDBOXES, "clio")(seed, rate_limit_per_minute=100_000)
        self.port, self._stop = run_in_thread(build_server_app({"clio": self.sandbox}))
        self.base = f"http://127.0.0.1:{self.port}"
        # No real sleeping in tests: backoff waits are skipped, bounded attempts stay.
        http = HttpClient(policy=RetryPolicy(attempts=6), sleep=lambda _: None, timeout=(2.0, 5.0))
        self.runtime: FirmRuntime = connect_to_sandbox(
            tmp / "billsync.toml", self.base, ["clio"], http=http, retry_delay=timedelta(0)
        )
        self.store = self.runtime.store

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        response = requests.request(method, f"{self.base}/_sandbox/clio/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response

    def remote_time_entries(self) -> list[dict]:
        """TimeEntry activities in Clio that billsync wrote (they carry its marker in the note)."""
        everything = self.admin("GET", "activities").json()
        return [a for a in everything if a.get("type") == "TimeEntry" and "[bs:" in (a.get("note") or "")]

    def sync_until_settled(self, cycles: int = 30) -> None:
        for _ in range(cycles):
            try:
                self.runtime.runner.run_once()
            except Exception:  # a cycle may fail on injected faults; the next one resumes
                continue
            if not any(status in (PENDING, SENDING) for status in self.runtime.runner.state.counts("demo")):
                return
        raise AssertionError(f"outbox did not drain: {self.runtime.runner.state.counts('demo')}")

    def close(self) -> None:
        self.store.close()
        self._stop()


@pytest.fixture
def firm(tmp_path) -> Iterator[Firm]:
    f = Firm(tmp_path)
    yield f
    f.close()


def snapshot(f: Firm) -> Counter:
    """What a person checks: which activities have entries, with what time and words, in which state."""
    return Counter((e.activity_key, e.billed_seconds, e.narrative, e.state) for e in f.store.entries("demo"))


def test_a_second_sync_creates_nothing(firm: Firm) -> None:
    first = firm.runtime.runner.run_once()
    assert first.written > 20 and first.ok
    written = len(firm.remote_time_entries())
    assert written == first.written
    second = firm.runtime.runner.run_once()
    assert sum(second.capture.states.values()) == 0 and second.written == 0
    assert len(firm.remote_time_entries()) == written


def test_each_remote_entry_is_linked_to_one_activity(firm: Firm) -> None:
    firm.runtime.runner.run_once()
    entries = firm.store.entries("demo")
    remote_ids = [e.remote_id for e in entries if e.remote_id]
    assert len(remote_ids) == len(set(remote_ids)) == len(firm.remote_time_entries())
    assert all(a["non_billable"] is True for a in firm.remote_time_entries())  # review = all: non-billable


def test_a_deleted_entry_is_never_recreated_by_sync_or_backfill(firm: Firm) -> None:
    firm.runtime.runner.run_once()
    victim = firm.store.entries("demo")[0]
    firm.admin("DELETE", f"activities/{victim.remote_id}")
    firm.runtime.runner.run_once()
    assert {e.id: e for e in firm.store.entries("demo")}[victim.id].state is EntryState.DELETED_REMOTELY
    before = len(firm.remote_time_entries())
    # A backfill reads all past activity again; then another ordinary sync.
    for stream in firm.runtime.runner.pms.streams():
        firm.runtime.runner.state.save_cursor("demo", "clio", stream.name, None)
    firm.runtime.runner.run_once()
    assert len(firm.remote_time_entries()) == before
    assert {e.id: e for e in firm.store.entries("demo")}[victim.id].state is EntryState.DELETED_REMOTELY


def test_thirty_percent_faults_give_the_same_final_state_as_none(tmp_path: Path) -> None:
    clean = Firm(tmp_path / "clean")
    try:
        clean.sync_until_settled()
        expected, expected_remote = snapshot(clean), len(clean.remote_time_entries())
    finally:
        clean.close()
    faulty = Firm(tmp_path / "faulty")
    try:
        rules = [
            {"route": "/api/v4/*", "kind": kind, "probability": 0.05, "delay_seconds": 0.05, "retry_after": 0}
            for kind in ("429", "500", "502", "timeout", "reset", "truncate")
        ]  # six kinds at 5 % each: 30 % of API requests fail
        faulty.admin("POST", "faults", json={"rules": rules, "seed": 7})
        faulty.sync_until_settled(cycles=60)
        log = faulty.admin("GET", "requests").json()
        faults = Counter(r["fault"] for r in log if r.get("fault"))
        assert sum(faults.values()) >= 0.2 * len(log) and len(faults) == 6, faults  # every kind, about 30 %
        faulty.admin("DELETE", "faults")
        faulty.sync_until_settled()
        assert snapshot(faulty) == expected
        remote = faulty.remote_time_entries()
        markers = Counter(a["note"].rsplit("[bs:", 1)[1] for a in remote)
        assert len(remote) == expected_remote and max(markers.values()) == 1  # one remote entry per activity
    finally:
        faulty.close()


def test_message_bodies_never_reach_clio_or_the_store(firm: Firm) -> None:
    firm.runtime.runner.run_once()
    assert firm.remote_time_entries()
    assert all(CANARY not in (a.get("note") or "") for a in firm.admin("GET", "activities").json())
    for _table, rows in firm.store.iter_tables():
        for row in rows:
            assert CANARY not in repr(row)
