"""Secrets and privilege: planted canaries never leave where they belong.

Canaries are planted in the OAuth access and refresh tokens the Clio sandbox issues, in the
OAuth client secret, in the Fernet key that encrypts tokens at rest, and in every message body
of the firm's activity. Then the firm is used the way IT staff and attorneys use it, each step a
real `billsync` process: `sync --once`, `review approve`, `billsync run` (with webhooks and
/metrics), `bill run`, `bill ledes`, `report` (JSON and HTML), `entries`. Afterwards none of the
canaries may appear in the logs and output of those processes, the metrics text, the LEDES files,
the report files, what billsync wrote into Clio (or anything Clio holds, for the secrets), or the
database file; and the tokens must be in the database, encrypted under the planted key. The
firm's users, clients and matters carry the hostile names (tests/reliability/firms.py), so every
command here also meets them.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from billsync_sandboxes.clio.state import DEFAULT_CLIENT_ID, ClioSandbox
from cryptography.fernet import Fernet
from sqlalchemy import select

from core.models import EntryState
from core.store.schema import oauth_tokens
from core.store.store import Store
from tests.reliability.conftest import report_figures
from tests.reliability.firms import CLIO, FIRM, SandboxFirm
from tests.reliability.forkserver import REPO, ForkServer

pytestmark = [pytest.mark.reliability, pytest.mark.e2e]

BODY = "CANARY-body-privileged-31d7"
CLIENT_SECRET = "CANARY-client-secret-8c21"
TOKEN = "CANARYtoken"  # every access and refresh token the sandbox issues starts with this
FERNET_KEY = "CANARYfernetKEY" + "A" * 28 + "="  # a valid Fernet key (32 bytes) that reads as a canary
SECRETS = {"token": TOKEN, "client_secret": CLIENT_SECRET, "fernet_key": FERNET_KEY}
EVERYTHING = {**SECRETS, "message_body": BODY}
CONFIG = """
[firms.demo.billing.firm]
ledes_id = "12-3456789"
name = "Sandbox Law LLP"
address_1 = "1 Main St"
city = "Springfield"
region = "IL"
postcode = "62701"
country = "US"

[daemon]
poll_seconds = 1
drain_seconds = 0.5
"""


def canary_clio(seed: dict[str, Any]) -> ClioSandbox:
    sandbox = ClioSandbox(
        seed, client_id=DEFAULT_CLIENT_ID, client_secret=CLIENT_SECRET, rate_limit_per_minute=100_000,
        allow_http_webhooks=True,
    )
    numbers = itertools.count(1)
    sandbox.tokens._random = lambda: f"{TOKEN}{next(numbers):037x}"  # type: ignore[method-assign]
    return sandbox


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def found_in(text: str | bytes, canaries: dict[str, str]) -> list[str]:
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
    return [name for name, canary in canaries.items() if canary.encode() in raw]


def run_daemon(firm: SandboxFirm, log: Path) -> str:
    """`billsync run` until the outbox is empty; returns its /metrics text."""
    port, metrics_port = free_port(), free_port()
    public = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        daemon = subprocess.Popen(
            [sys.executable, "-c", "from core.cli import main; main()", "run", "--config", str(firm.config),
             "--port", str(port), "--public-url", public, "--metrics-port", str(metrics_port)],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"},
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"{public}/readyz", timeout=2)
            except requests.ConnectionError:
                time.sleep(0.1)
                continue
            hooks = firm.admin("GET", "webhooks").json()
            if hooks and all(h["status"] == "enabled" for h in hooks) and firm.outbox_settled():
                break
            time.sleep(0.2)
        # A person logs a call: the webhook reaches the daemon, which captures and writes it.
        users = firm.admin("GET", "users").json()
        matter = next(m for m in firm.admin("GET", "matters").json() if m["status"] == "Open")
        before = len(firm.store.entries(FIRM))
        firm.admin("POST", "communications", json={
            "type": "PhoneCommunication", "subject": "call", "body": f"Transcript: {BODY}", "date": "2026-10-30",
            "received_at": "2026-10-30T15:00:00Z", "user": {"id": users[0]["id"]}, "matter": {"id": matter["id"]},
            "senders": [], "receivers": [],
        })
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (len(firm.store.entries(FIRM)) > before and firm.outbox_settled()):
            time.sleep(0.1)
        assert len(firm.store.entries(FIRM)) > before
        return requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    finally:
        daemon.send_signal(signal.SIGTERM)  # our own child, by its handle
        assert daemon.wait(timeout=40) == 0


def test_canaries_never_leave_where_they_belong(tmp_path: Path) -> None:
    home = tmp_path / "firm"
    home.mkdir()
    (home / "billsync.key").write_text(FERNET_KEY)
    (home / "billsync.key").chmod(0o600)
    firm = SandboxFirm(home, CLIO, activities=30, body=f"Client admitted: {BODY}", sandbox_factory=canary_clio,
                       client_secret=CLIENT_SECRET, extra_config=CONFIG, hostile_names=True)
    log = tmp_path / "billsync.log"
    server = ForkServer(log)
    config = ["--config", str(firm.config)]
    outputs: dict[str, str] = {}
    try:
        assert server.run(["sync", "--once", *config]) == (0, False), log.read_text()[-2000:]
        waiting = [e.id for e in firm.store.entries(FIRM) if e.state is EntryState.NEEDS_REVIEW]
        assert waiting
        assert server.run(["review", "approve", *waiting, *config]) == (0, False), log.read_text()[-2000:]
        outputs["metrics"] = run_daemon(firm, log)
        assert server.run(["bill", "run", "--period", "2026-10", *config]) == (0, False), log.read_text()[-2000:]
        from core.store.billing import BillingStore

        prebills = BillingStore(firm.store.engine).prebills(FIRM)
        assert prebills, "no pre-bill to write as LEDES"
        for prebill in prebills:
            for fmt in ("1998b", "98bi"):
                out = tmp_path / f"{prebill.number}.{fmt}.ledes"
                code, _ = server.run(["bill", "ledes", prebill.number, "--format", fmt, "--out", str(out), *config])
                assert code == 0, log.read_text()[-2000:]
                outputs[out.name] = out.read_text()
        html = tmp_path / "dashboard.html"
        assert server.run(["report", "--format", "json", "--html", str(html), *config])[0] == 0, log.read_text()[-2000:]
        assert server.run(["report", "--by", "matter", "--format", "csv", *config])[0] == 0
        assert server.run(["entries", *config])[0] == 0
        outputs["dashboard.html"] = html.read_text()
    finally:
        server.close()
    outputs["logs and command output"] = log.read_text(encoding="utf-8", errors="replace")
    try:
        leaks: dict[str, list[str]] = {}
        for name, text in outputs.items():
            if hits := found_in(text, EVERYTHING):
                leaks[name] = hits
        # The PMS: no secret anywhere in Clio; no message body in anything billsync wrote there.
        clio = firm.sandbox
        everything_in_clio = repr({name: clio.records(name) for name in clio.collections})
        assert found_in(everything_in_clio, {"body": BODY})  # the scan sees a canary where it belongs
        if hits := found_in(everything_in_clio, SECRETS):
            leaks["clio"] = hits
        # Billable entries lose the marker (it could print on a bill): find them by their remote ids.
        remote_ids = {e.remote_id for e in firm.store.entries(FIRM) if e.remote_id}
        written = [a for a in clio.records("activities") if str(a["id"]) in remote_ids]
        if hits := found_in(repr(written), EVERYTHING):
            leaks["entries written to clio"] = hits
        requests_seen = repr(firm.admin("GET", "requests").json())
        if hits := found_in(requests_seen, SECRETS):
            leaks["clio request log"] = hits
        # The database file (and its write-ahead log): no canary in clear text.
        firm.store.close()
        database = b"".join(p.read_bytes() for p in sorted(home.glob("billsync.db*")))
        if hits := found_in(database, EVERYTHING):
            leaks["database file"] = hits
        # ... and the tokens are there, encrypted under the planted key.
        store = Store.open(firm.settings.database_url)
        with store.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(oauth_tokens))]
        store.close()
        ciphertexts = [v for row in rows for k, v in row.items() if isinstance(v, str | bytes) and "cipher" in k]
        decrypted = [Fernet(FERNET_KEY).decrypt(c if isinstance(c, bytes) else c.encode()) for c in ciphertexts]
        report_figures(
            "secrets",
            canaries=len(EVERYTHING),
            places_scanned=len(outputs) + 4,
            ledes_files=sum(1 for n in outputs if n.endswith(".ledes")),
            log_bytes=len(outputs["logs and command output"]),
            entries_written_to_clio=len(written),
            encrypted_token_fields=len(ciphertexts),
            leaks=sum(len(h) for h in leaks.values()),
        )
        assert not leaks, leaks
        assert len(written) == len(remote_ids)
        assert any(e["non_billable"] is False for e in written)  # the approvals reached Clio
        assert ciphertexts and all(TOKEN.encode() in d for d in decrypted)
    finally:
        firm.close()
