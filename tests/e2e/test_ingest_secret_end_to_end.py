"""The firm's `ingest_secret`: what `billsync check-config` accepts, `billsync run` accepts too, and the reverse.

Both read the secret with one function (core.ingest_secret), as the Standard Webhooks reference
library reads it; a batch that library signs with the firm's secret is accepted by the running
daemon. The commands run as processes, through the `billsync` script `make` installs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook

pytestmark = pytest.mark.e2e
BILLSYNC = str(Path(sys.executable).with_name("billsync"))
UNPADDED = "whsec_aW5nZXN0LXNlY3JldC1rZXktb2YtYWNtZQ"  # base64 of "ingest-secret-key-of-acme", its "==" left off
PASSPHRASE = "correct horse battery staple"  # the reference library refuses it: 25 base64 letters


def firm_config(tmp_path: Path, secret: str) -> Path:
    key = tmp_path / "billsync.key"
    key.write_text(Fernet.generate_key().decode())
    config = tmp_path / "billsync.toml"
    config.write_text(
        f'database_url = "sqlite:///{tmp_path / "b.db"}"\n'
        f'secret_key_file = "{key}"\n'
        "[firms.acme]\n"
        'name = "Acme Law"\n'
        f"ingest_secret = {json.dumps(secret)}\n"
        "[firms.acme.connectors.clio]\n"  # never reached in these tests: the port is closed
        'client_id = "id"\nclient_secret = "secret"\nbase_url = "http://127.0.0.1:9/clio"\n'
    )
    return config


def billsync(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BILLSYNC, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_an_unpadded_secret_passes_check_config_and_run_takes_batches_signed_with_it(tmp_path: Path) -> None:
    config = firm_config(tmp_path, UNPADDED)
    checked = billsync("check-config", "--config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    daemon = subprocess.Popen(
        [BILLSYNC, "run", "--config", str(config), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        line, deadline = "", time.monotonic() + 60
        while '"billsync running"' not in line and time.monotonic() < deadline and daemon.poll() is None:
            line = daemon.stdout.readline() if daemon.stdout else ""
        assert '"billsync running"' in line, line + (daemon.stdout.read() if daemon.poll() is not None else "")
        port = int(json.loads(line)["port"])  # off a terminal every line is JSON
        body = json.dumps({"activities": []})
        stamp = datetime.now(UTC)
        signed = {
            "content-type": "application/json",
            "webhook-id": "msg_reference",
            "webhook-timestamp": str(int(stamp.timestamp())),
            "webhook-signature": Webhook(UNPADDED).sign("msg_reference", stamp, body),  # the reference library
        }
        answer = requests.post(f"http://127.0.0.1:{port}/ingest/acme", data=body, headers=signed, timeout=10)
        assert answer.status_code != 401, answer.text  # the signature checked out: the batch itself is judged
        forged = {**signed, "webhook-signature": Webhook("whsec_b3RoZXIta2V5").sign("msg_reference", stamp, body)}
        refused = requests.post(f"http://127.0.0.1:{port}/ingest/acme", data=body, headers=forged, timeout=10)
        assert refused.status_code == 401, refused.text
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)


def test_a_secret_run_would_refuse_is_refused_by_check_config_with_the_same_line(tmp_path: Path) -> None:
    config = firm_config(tmp_path, PASSPHRASE)
    checked = billsync("check-config", "--config", str(config))
    ran = billsync("run", "--config", str(config), "--port", "0")
    for done in (checked, ran):
        assert done.returncode == 2, done.stdout + done.stderr
        lines = (done.stdout + done.stderr).strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, lines
        assert "firms.acme.ingest_secret" in lines[0] and "must be 'whsec_' followed by base64" in lines[0]
        assert "horse" not in lines[0]  # the secret itself is never printed
    assert checked.stdout == ran.stdout
