"""`billsync run` as IT staff deploy it: webhooks from the local Clio reach it and become entries fast."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import tomllib
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import RUN

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def entries_for(config: Path) -> int:
    from config.settings import load_settings
    from core.store.store import Store

    store = Store.open(load_settings(config).database_url)
    try:
        return len(store.entries("demo"))
    finally:
        store.close()


def wait_until_answering(url: str, seconds: float = 60) -> None:
    """Poll `url` until it answers 200 (the daemon is up); fail the test after `seconds`."""
    deadline = time.monotonic() + seconds
    ready = False
    while time.monotonic() < deadline and not ready:
        try:
            ready = requests.get(url, timeout=1).status_code == 200
        except requests.ConnectionError:
            time.sleep(0.1)
    assert ready, "daemon did not become ready"


def test_the_daemon_turns_a_webhook_into_an_entry_within_two_seconds_and_stops_cleanly(sandbox: Path) -> None:
    connect = subprocess.run(
        [*RUN, "connect", "clio", "--config", str(sandbox), "--auto-approve"],
        timeout=120,
        check=False,
        capture_output=True,
        text=True,
    )
    assert connect.returncode == 0, connect.stdout + connect.stderr
    port, metrics_port = free_port(), free_port()
    public = f"http://127.0.0.1:{port}"
    listeners = ["--port", str(port), "--public-url", public, "--metrics-port", str(metrics_port)]
    daemon = subprocess.Popen(
        [*RUN, "run", "--config", str(sandbox), *listeners],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        wait_until_answering(f"{public}/readyz")
        clio_url = tomllib.loads(sandbox.read_text())["firms"]["demo"]["connectors"]["clio"]["base_url"]
        base = clio_url.removesuffix("/clio")
        # The first poll and the webhook subscription happen at start; wait until both are done.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            hooks = requests.get(f"{base}/_sandbox/clio/webhooks", timeout=5).json()
            if hooks and all(h["status"] == "enabled" for h in hooks) and entries_for(sandbox) > 0:
                break
            time.sleep(0.2)
        assert hooks and all(h["status"] == "enabled" for h in hooks), hooks
        before = entries_for(sandbox)
        time.sleep(0.5)
        assert entries_for(sandbox) == before  # settled

        users = requests.get(f"{base}/_sandbox/clio/users", timeout=5).json()
        matters = [m for m in requests.get(f"{base}/_sandbox/clio/matters", timeout=5).json() if m["status"] == "Open"]
        call = {
            "type": "PhoneCommunication",
            "subject": "settlement position",
            "date": "2026-10-30",
            "received_at": "2026-10-30T15:00:00Z",
            "user": {"id": users[0]["id"]},
            "matter": {"id": matters[0]["id"]},
            "senders": [],
            "receivers": [],
        }
        started = time.monotonic()
        requests.post(f"{base}/_sandbox/clio/communications", json=call, timeout=5).raise_for_status()
        while entries_for(sandbox) == before and time.monotonic() - started < 10:
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        assert entries_for(sandbox) == before + 1
        assert elapsed < 2.0, f"event to entry took {elapsed:.2f} s"
        assert requests.get(f"{public}/metrics", timeout=5).status_code == 404  # not on the public listener
        metrics = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        for family in (
            'billsync_vendor_http_requests_total{status="200",vendor="clio"}',
            'billsync_entries{firm="demo",state="needs_review"}',
            'billsync_webhook_lag_seconds{firm="demo"}',
            'billsync_webhook_deliveries_total{connector="clio",outcome="accepted"}',
            "billsync_webhook_handling_seconds_bucket",
        ):
            assert family in metrics, family
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=35)
    output = daemon.stdout.read() if daemon.stdout else ""
    assert code == 0, output
    lines = [json.loads(line) for line in output.splitlines()]  # off a terminal every line is JSON
    assert lines[-1]["event"] == "billsync stopped"
    assert {"event": "metrics listening", "url": f"http://127.0.0.1:{metrics_port}/metrics"}.items() <= next(
        line for line in lines if line["event"] == "metrics listening"
    ).items()


def test_a_taken_metrics_port_is_one_error_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*RUN, "run", "--port", "0", "--metrics-port", str(port)],
            capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
        )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert (done.stdout + done.stderr).splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port} (Address already in use): choose another --metrics-port"
    ]


READ_TOKEN = "read-token-of-the-firm-0123456789"


@pytest.mark.parametrize("trusted", [None, '["127.0.0.1"]'], ids=["no-proxy-trusted", "nginx-on-loopback-trusted"])
def test_the_sign_in_limit_believes_x_forwarded_for_only_from_a_trusted_proxy(
    tmp_path: Path, trusted: str | None
) -> None:
    """Ten wrong tokens from one machine, each claiming another address: only a trusted proxy's header counts."""
    from billsync_sandboxes.cli.sandbox import write_sandbox_config

    config = tmp_path / "billsync.toml"
    write_sandbox_config(config, "http://127.0.0.1:9", ["clio"])  # no vendor needed for sign-in
    extra = f'\n[firms.demo.reports]\nread_token = "{READ_TOKEN}"\n'
    if trusted is not None:
        extra += f"\n[server]\ntrusted_proxies = {trusted}\n"
    config.write_text(config.read_text() + extra)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    daemon = subprocess.Popen(
        [*RUN, "run", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def login(token: str, forwarded_for: str) -> int:
        answer = requests.post(
            f"{base}/reports/login",
            data={"token": token},
            headers={"X-Forwarded-For": forwarded_for},
            allow_redirects=False,
            timeout=10,
        )
        return answer.status_code

    try:
        wait_until_answering(f"{base}/healthz")
        assert [login("wrong-token", f"10.0.0.{i}") for i in range(10)] == [401] * 10
        if trusted is None:  # all ten came from 127.0.0.1, whatever they claimed
            assert [login("wrong-token", f"10.0.0.{i}") for i in range(10, 25)] == [429] * 15
            assert login(READ_TOKEN, "198.51.100.7") == 429
        else:  # the proxy's clients are told apart: 10.0.0.0 has failed once, 10.0.0.9 once
            assert [login("wrong-token", "10.0.0.9") for _ in range(9)] == [401] * 9
            assert login(READ_TOKEN, "10.0.0.9") == 429
            assert login(READ_TOKEN, "198.51.100.7") == 303
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=35)
    output = daemon.stdout.read() if daemon.stdout else ""
    assert code == 0, output
