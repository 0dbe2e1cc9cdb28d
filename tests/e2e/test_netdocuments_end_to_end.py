"""End to end: `billsync sandbox` serving Clio and NetDocuments as real HTTP servers in a process of
their own; billsync reads the demo firm's document work from NetDocuments, finds each document's
matter in Clio from its Client and Matter profile, and writes the entries to Clio.

The lead's wiring polls every listed source each cycle; until then this test drives a SyncRunner
for NetDocuments beside the firm's Clio runner, over the same store, as that wiring will.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import structlog
from billsync_sandboxes.demo.data import generate_firm
from billsync_sandboxes.netdocuments.seed import netdocuments_seed
from sqlalchemy import select

from config.settings import load_settings
from connectors.netdocuments.connector import NetDocumentsConnector
from core.capture import engine_for
from core.cli.vendors import connect_account
from core.connector import Context
from core.http import HttpClient, RetryPolicy
from core.plugins import DEMO_SEEDS, load
from core.runtime import FirmRuntime, build_runtime
from core.store.schema import activities
from core.store.store import Store
from core.sync import SyncRunner
from tests.e2e.conftest import serve_sandbox

pytestmark = pytest.mark.e2e
CANARY = "CANARY-e2e-privileged-nd-8830"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass
class Served:
    config: Path
    base: str
    netdocuments_seed: dict[str, Any]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`billsync sandbox` with the demo firm in Clio and in NetDocuments; stopped with SIGTERM."""
    firm = generate_firm(timekeepers=5, clients=8, matters=16, activities=300, seed=11)
    nd = netdocuments_seed(firm, now=NOW)
    for document in nd["documents"]:
        document["contents"] = f"Client admitted everything. {CANARY}"
    for entry in nd["log"]:
        entry["activity"]["desc"] = CANARY
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"clio": load(DEMO_SEEDS, "clio")(firm, now=NOW), "netdocuments": nd}))
    config = tmp_path / "sandbox.toml"
    with serve_sandbox(seed, config, serving="clio, netdocuments") as base:
        yield Served(config, base, nd)


def firm_runtimes(served: Served) -> tuple[FirmRuntime, SyncRunner]:
    """The firm's Clio runtime (connected) and a NetDocuments runner over the same store."""
    settings = load_settings(served.config)
    http = HttpClient(policy=RetryPolicy(attempts=6), sleep=lambda _: None, timeout=(2.0, 10.0))
    runtime = build_runtime(settings, "demo", Store.open(settings.database_url), http=http, retry_delay=timedelta(0))
    connect_account(runtime, auto_approve=True)
    raw = settings.firm("demo").connector_settings("netdocuments") or {}
    ctx = Context(firm="demo", http=http, tokens=runtime.tokens, log=structlog.get_logger().bind(firm="demo"))
    connector = NetDocumentsConnector(NetDocumentsConnector.Settings(**raw), ctx)
    connector.check()  # the service account gets its own token: no person needed
    runner = SyncRunner(
        firm="demo",
        pms=connector,
        store=runtime.store,
        make_engine=lambda: engine_for("demo", runtime.settings, runtime.store),
        retry_delay=timedelta(0),
        tokens=runtime.tokens,
    )
    return runtime, runner


def expected_numbers(nd: dict[str, Any]) -> dict[str, str | None]:
    """Each document's matter number from its profile (the demo firm writes "{client}-{matter}")."""
    found: dict[str, str | None] = {}
    for document in nd["documents"]:
        values = {a["id"]: a["value"] for a in document["customAttributes"]}
        found[document["standardAttributes"]["id"]] = f"{values[1]}-{values[2]}" if values else None
    return found


def test_document_work_in_netdocuments_lands_on_the_right_clio_matters(served: Served) -> None:
    runtime, netdocuments_runner = firm_runtimes(served)
    store = runtime.store
    # The written config makes NetDocuments a source of the firm: one cycle reads Clio's reference data
    # (users, contacts, matters) and its own activity, then the document log.
    report = runtime.runner.run_once()
    assert report.records_read["netdocuments:documents"] > 0 and not report.record_errors

    reference = store.load_reference("demo")
    number_of = {m.id: m.number for m in reference.matters.values()}
    expected = expected_numbers(served.netdocuments_seed)
    with store.engine.connect() as conn:
        rows = conn.execute(select(activities).where(activities.c.source == "netdocuments")).mappings().all()
    assert rows
    placed = unprofiled = 0
    for row in rows:
        doc_id = row["external_id"].split("|")[0]
        assert row["title"].split(": ", 1)[0] in ("Created", "Revised", "New version")
        if row["matter_id"] is not None:
            assert number_of[row["matter_id"]] == expected[doc_id], row["external_id"]
            placed += 1
        elif expected[doc_id] is None and row["status"] == "unassigned":
            assert row["reason"] == "no matter link, matter number or known contact"
            unprofiled += 1
    assert placed >= 10 and unprofiled >= 1
    assert {row["actor"] for row in rows} <= {tk.email for tk in reference.timekeepers.values()}

    # The next Clio cycle writes the entries; Clio holds them on the documents' matters.
    runtime.runner.run_once()
    written = [e for e in store.entries("demo") if e.activity_key[0] == "netdocuments"]
    assert written and all(e.remote_id for e in written)
    clio = requests.get(f"{served.base}/_sandbox/clio/activities", timeout=10).json()
    by_id = {str(a["id"]): a for a in clio}
    for entry in written:
        remote = by_id[str(entry.remote_id)]
        assert str(remote["matter"]["id"]) == entry.matter_id
        assert entry.narrative in remote["note"] and "[bs:" in remote["note"]

    # A second cycle finds nothing new: the same windows read again are the same activities.
    again = netdocuments_runner.run_once()
    assert sum(again.capture.states.values()) == 0

    # Privilege: document contents and the log's free text reached nothing billsync keeps or sends.
    kept = json.dumps([rows for _, rows in store.iter_tables()], default=str)
    assert CANARY not in kept and CANARY not in json.dumps(clio)
    netdocuments_requests = requests.get(f"{served.base}/_sandbox/netdocuments/requests", timeout=10).json()
    assert netdocuments_requests and not [
        r for r in netdocuments_requests if r["path"].split("/")[-2:-1] == ["Document"]
    ]
    store.close()
