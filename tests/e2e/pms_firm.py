"""A small firm on its own practice-management sandbox, served over real HTTP, with billsync configured
against it: what the Clio and PracticePanther end-to-end files share.

Each vendor's file subclasses `PmsFirm`, naming the vendor, its seed and how billsync's own entries
are told apart in the vendor's records; the checks that read the same for both vendors live here
and are called from each file's tests, so each file still lists every behaviour it proves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import requests
from billsync_sandboxes.cli.sandbox import connect_to_sandbox
from billsync_sandboxes.demo.data import SyntheticFirm, generate_firm
from billsync_sandboxes.kit.server import build_server_app

from core.http import HttpClient, RetryPolicy
from core.models import EntryState
from core.plugins import SANDBOXES, load
from core.runtime import FirmRuntime
from core.serving import run_in_thread
from core.store.sync_state import PENDING, SENDING

# Six kinds at 5 % each: 30 % of API requests fail.
FAULT_KINDS = ("429", "500", "502", "timeout", "reset", "truncate")


class PmsFirm:
    """A firm on `vendor`'s sandbox; the seed carries `canary` in every message body."""

    vendor: ClassVar[str]
    canary: ClassVar[str]

    def __init__(self, tmp: Path, activities: int = 150) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        synthetic = generate_firm(
            timekeepers=5,
            clients=8,
            matters=16,
            activities=activities,
            seed=11,
            month_start=datetime(2026, 10, 1, tzinfo=UTC),
            body=f"Client admitted: {self.canary}",
        )
        self.synthetic = synthetic
        seed = self.seed(synthetic, now=datetime(2026, 11, 1, tzinfo=UTC))
        self.sandbox = load(SANDBOXES, self.vendor)(seed, rate_limit_per_minute=100_000)
        self.port, self._stop = run_in_thread(build_server_app({self.vendor: self.sandbox}))
        self.base = f"http://127.0.0.1:{self.port}"
        # No real sleeping in tests: backoff waits are skipped, bounded attempts stay.
        http = HttpClient(policy=RetryPolicy(attempts=6), sleep=lambda _: None, timeout=(2.0, 5.0))
        self.runtime: FirmRuntime = connect_to_sandbox(
            tmp / "billsync.toml", self.base, [self.vendor], http=http, retry_delay=timedelta(0)
        )
        self.store = self.runtime.store

    def seed(self, synthetic: SyntheticFirm, *, now: datetime) -> Any:
        """The vendor's sandbox records for `synthetic`."""
        raise NotImplementedError

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = requests.request(method, f"{self.base}/_sandbox/{self.vendor}/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response

    def remote_time_entries(self) -> list[dict]:
        """The vendor's time entries that billsync wrote (each carries billsync's marker)."""
        raise NotImplementedError

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


def snapshot(f: PmsFirm) -> Counter:
    """What a person checks: which activities have entries, with what time and words, in which state."""
    return Counter((e.activity_key, e.billed_seconds, e.narrative, e.state) for e in f.store.entries("demo"))


def check_a_second_sync_creates_nothing(firm: PmsFirm) -> None:
    first = firm.runtime.runner.run_once()
    assert first.written > 20 and first.ok
    written = len(firm.remote_time_entries())
    assert written == first.written
    second = firm.runtime.runner.run_once()
    assert sum(second.capture.states.values()) == 0 and second.written == 0
    assert len(firm.remote_time_entries()) == written


def check_each_remote_entry_is_linked_to_one_activity(firm: PmsFirm) -> list[dict]:
    """After one sync, every entry billsync wrote is linked from exactly one stored entry; returns
    the vendor's entries, for the vendor's own checks on them."""
    firm.runtime.runner.run_once()
    entries = firm.store.entries("demo")
    remote_ids = [e.remote_id for e in entries if e.remote_id]
    remote = firm.remote_time_entries()
    assert len(remote_ids) == len(set(remote_ids)) == len(remote)
    return remote


def check_a_deleted_entry_is_never_recreated(firm: PmsFirm, entry_path: str) -> None:
    """Deleting billsync's entry at `entry_path`/<remote id> in the vendor, then a sync, a backfill
    (every cursor cleared) and another sync: the entry stays deleted and nothing is written again."""
    firm.runtime.runner.run_once()
    victim = firm.store.entries("demo")[0]
    firm.admin("DELETE", f"{entry_path}/{victim.remote_id}")
    firm.runtime.runner.run_once()
    assert {e.id: e for e in firm.store.entries("demo")}[victim.id].state is EntryState.DELETED_REMOTELY
    before = len(firm.remote_time_entries())
    # A backfill reads all past activity again; then another ordinary sync.
    for stream in firm.runtime.runner.pms.streams():
        firm.runtime.runner.state.save_cursor("demo", firm.vendor, stream.name, None)
    firm.runtime.runner.run_once()
    assert len(firm.remote_time_entries()) == before
    assert {e.id: e for e in firm.store.entries("demo")}[victim.id].state is EntryState.DELETED_REMOTELY


def check_faults_give_the_same_final_state_as_none(
    make_firm: Callable[[Path], PmsFirm], tmp_path: Path, api_route: str, marker_text: Callable[[dict], str]
) -> None:
    """The same firm synced cleanly and under 30 % injected faults on `api_route` ends in the same
    store and with one remote entry per activity; `marker_text` is the remote field holding the marker."""
    clean = make_firm(tmp_path / "clean")
    try:
        clean.sync_until_settled()
        expected, expected_remote = snapshot(clean), len(clean.remote_time_entries())
    finally:
        clean.close()
    faulty = make_firm(tmp_path / "faulty")
    try:
        rules = [
            {"route": api_route, "kind": kind, "probability": 0.05, "delay_seconds": 0.05, "retry_after": 0}
            for kind in FAULT_KINDS
        ]
        faulty.admin("POST", "faults", json={"rules": rules, "seed": 7})
        faulty.sync_until_settled(cycles=60)
        log = faulty.admin("GET", "requests").json()
        faults = Counter(r["fault"] for r in log if r.get("fault"))
        assert sum(faults.values()) >= 0.2 * len(log) and len(faults) == 6, faults  # every kind, about 30 %
        faulty.admin("DELETE", "faults")
        faulty.sync_until_settled()
        assert snapshot(faulty) == expected
        remote = faulty.remote_time_entries()
        markers = Counter(marker_text(e).rsplit("[bs:", 1)[1] for e in remote)
        assert len(remote) == expected_remote and max(markers.values()) == 1  # one remote entry per activity
    finally:
        faulty.close()


def check_no_canary_in_the_store(firm: PmsFirm) -> None:
    for _table, rows in firm.store.iter_tables():
        for row in rows:
            assert firm.canary not in repr(row)
