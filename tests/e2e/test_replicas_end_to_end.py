"""Three `billsync run` replicas on one PostgreSQL, one killed midway: the same entries one replica makes.

Each replica is a real process polling the local Clio and draining the shared outbox. Outbox rows
are claimed with FOR UPDATE SKIP LOCKED and leases, periodic jobs with job leases; a replica
killed with SIGKILL leaves claims that the others take over once their leases run out.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from billsync_sandboxes.cli.sandbox import connect_to_sandbox
from billsync_sandboxes.demo.data import generate_firm
from billsync_sandboxes.kit.server import build_server_app

from core.http import HttpClient, RetryPolicy
from core.plugins import DEMO_SEEDS, SANDBOXES, load
from core.serving import run_in_thread
from core.store.store import Store
from core.store.sync_state import SyncState
from tests.e2e.conftest import RUN

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
LEASE_SECONDS = 3  # short, so the killed replica's claims come back within the test


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed() -> dict:
    firm = generate_firm(timekeepers=5, clients=8, matters=16, activities=240, seed=5)
    return load(DEMO_SEEDS, "clio")(firm, now=datetime(2026, 11, 1, tzinfo=UTC))


def snapshot(store: Store) -> Counter:
    """What a person checks: which activities have entries, with what time and words, in which state."""
    return Counter((e.activity_key, e.billed_seconds, e.narrative, e.state) for e in store.entries("demo"))


def one_replica_baseline(tmp: Path) -> Counter:
    """The same firm synced by one process on SQLite: the state the replicas must reach."""
    sandbox = load(SANDBOXES, "clio")(seed(), rate_limit_per_minute=100_000)
    port, stop = run_in_thread(build_server_app({"clio": sandbox}))
    try:
        http = HttpClient(policy=RetryPolicy(attempts=4), sleep=lambda _: None)
        runtime = connect_to_sandbox(tmp / "baseline.toml", f"http://127.0.0.1:{port}", ["clio"], http=http)
        runtime.runner.run_once()
        result = snapshot(runtime.store)
        runtime.store.close()
        return result
    finally:
        stop()


def marked(base: str) -> list[dict]:
    activities = requests.get(f"{base}/_sandbox/clio/activities", timeout=10).json()
    return [a for a in activities if "[bs:" in (a.get("note") or "")]


def test_three_replicas_with_one_killed_make_exactly_one_replicas_entries(tmp_path: Path, postgres_url: str) -> None:
    expected = one_replica_baseline(tmp_path)
    assert sum(expected.values()) > 100

    sandbox = load(SANDBOXES, "clio")(seed(), rate_limit_per_minute=100_000)
    port, stop = run_in_thread(build_server_app({"clio": sandbox}))
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "replicas.toml"
    runtime = connect_to_sandbox(config, base, ["clio"])  # writes the config, connects the account
    runtime.store.close()
    sqlite_line = next(line for line in config.read_text().splitlines() if line.startswith("database_url = "))
    text = config.read_text().replace(sqlite_line, f"database_url = {json.dumps(postgres_url)}", 1)
    text += f"\n[daemon]\npoll_seconds = 1\ndrain_seconds = 0.5\nclaim_lease_seconds = {LEASE_SECONDS}\n"
    config.write_text(text)
    # The account connected above lives in the SQLite store; connect again into PostgreSQL.
    connect = subprocess.run(
        [*RUN, "connect", "clio", "--config", str(config), "--auto-approve"],
        timeout=120,
        capture_output=True,
        text=True,
        check=False,
    )
    assert connect.returncode == 0, connect.stdout + connect.stderr

    replicas = [
        subprocess.Popen(
            [*RUN, "run", "--config", str(config), "--port", str(free_port())],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "COLUMNS": "200"},
        )
        for _ in range(3)
    ]
    killed = replicas[0]
    try:
        deadline = time.monotonic() + 60
        while len(marked(base)) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        written_before_kill = len(marked(base))
        print(f"written before the kill: {written_before_kill} of {sum(expected.values())}")
        assert written_before_kill >= 20, "the replicas did not start writing"
        killed.send_signal(signal.SIGKILL)  # midway: it may hold claims, even mid-request
        killed.wait(timeout=10)

        store = Store.open(postgres_url)
        state = SyncState(store.engine)
        deadline = time.monotonic() + 90
        settled = False
        while time.monotonic() < deadline and not settled:
            counts = state.counts("demo")
            entries = store.entries("demo")
            settled = (
                sum(expected.values()) == len(entries)
                and not counts.get("pending")
                and not counts.get("sending")
                and all(e.remote_id for e in entries)
            )
            time.sleep(0.5)
        assert settled, f"did not settle: {state.counts('demo')}"
        assert written_before_kill < len(marked(base))  # the survivors finished the work
        result = snapshot(store)
        remote = marked(base)
        store_refs = sorted(e.remote_id for e in store.entries("demo") if e.remote_id)
        store.close()
    finally:
        for replica in replicas[1:]:
            replica.send_signal(signal.SIGTERM)
        codes = [replica.wait(timeout=40) for replica in replicas[1:]]
        stop()
    assert codes == [0, 0]
    assert result == expected  # exactly the entries one replica makes
    markers = [a["note"].split("[bs:")[1].split("]")[0] for a in remote]
    assert len(markers) == len(set(markers)) == len(store_refs)  # no duplicate remote entry
    assert sorted(str(a["id"]) for a in remote) == store_refs  # and none lost or orphaned
    # One token's limit, shared through the database: the replicas together drew no 429.
    assert [r.status for r in sandbox.request_log.entries() if r.status == 429] == []

