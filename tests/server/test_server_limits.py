"""Slow and abusive clients on real loopback sockets: the daemon's app served as `billsync run` serves it.

A header or body sent a byte at a time, connections that send nothing, more connections than the
cap, and a client that hangs up mid-body. Each probe is a bounded loop that stops by itself; the
limits are made short ([server] settings of a second) so the whole file takes seconds.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from billsync_sandboxes.cli.sandbox import write_sandbox_config
from fastapi import FastAPI
from pydantic import SecretStr
from structlog.testing import capture_logs

from config.server import ServerSettings
from config.settings import load_settings
from core.cli.run import connection_limits
from core.runtime import build_runtime
from core.server import BackgroundWork, build_app
from core.serving import BODY_DEADLINE_GRACE_SECONDS, run_in_thread
from core.store.store import Store
from tests.server.conftest import INGEST_SECRET, with_ingest_secret

HEADER_SECONDS = 1.0
BODY_SECONDS = 1.0
MAX_CONNECTIONS = 5
SLACK = 0.5  # scheduling on a busy 2-core machine
GIVE_UP = 6.0  # no probe waits longer than this for the server to close


@dataclass
class Served:
    port: int
    app: FastAPI

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=2)


@dataclass
class Watched:
    closed_after: float | None  # seconds from the first byte sent (or the connection) to the server's close
    received: bytes


def watch(sock: socket.socket, chunks: list[bytes], every: float = 0.2) -> Watched:
    """Send one chunk every `every` seconds (none left: just wait) until the server closes, or GIVE_UP."""
    sock.settimeout(0.02)
    received = b""
    started = time.monotonic()
    next_send = started
    while time.monotonic() - started < GIVE_UP:
        if chunks and time.monotonic() >= next_send:
            try:
                sock.sendall(chunks.pop(0))
            except OSError:
                return Watched(time.monotonic() - started, received)
            next_send += every
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:  # reset: closed too
            return Watched(time.monotonic() - started, received)
        if not data:
            return Watched(time.monotonic() - started, received)
        received += data
    return Watched(None, received)


class UvicornErrors(logging.Handler):
    """What uvicorn logs (its logger does not propagate to pytest's caplog)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A firm whose Clio is never dialled (port 9), ingest and review actions on, its app on
    loopback under one-second limits."""
    config = tmp_path / "billsync.toml"
    write_sandbox_config(config, "http://127.0.0.1:9", ["clio"])
    limits = ServerSettings(
        header_timeout_seconds=HEADER_SECONDS, body_timeout_seconds=BODY_SECONDS, max_connections=MAX_CONNECTIONS
    )
    settings = with_ingest_secret(load_settings(config), "demo", INGEST_SECRET)
    firm = settings.firms["demo"]
    reports = firm.reports.model_copy(update={"review_token": SecretStr("review-token-of-the-demo-firm")})
    firms = {"demo": firm.model_copy(update={"reports": reports})}
    settings = settings.model_copy(update={"server": limits, "firms": firms})
    store = Store.open(settings.database_url)
    worker = BackgroundWork()
    app = build_app({"demo": build_runtime(settings, "demo", store)}, settings=settings, worker=worker)
    port, stop = run_in_thread(app, limits=connection_limits(settings.server))
    yield Served(port, app)
    stop()
    worker.close()
    store.close()


def headers_of(received: bytes) -> str:
    return received.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()


def test_a_header_sent_a_byte_at_a_time_is_cut_off_at_the_header_timeout(served: Served) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: billsync\r\nX-Slow: " + b"a" * 60 + b"\r\n\r\n"
    with served.connect() as sock:
        seen = watch(sock, [bytes([b]) for b in request])
    assert seen.closed_after is not None, f"still open after {GIVE_UP} s"
    assert HEADER_SECONDS - 0.1 <= seen.closed_after <= HEADER_SECONDS + SLACK
    assert seen.received == b""  # never a response to half a request


def test_a_connection_that_sends_nothing_is_closed_at_the_header_timeout(served: Served) -> None:
    with served.connect() as sock:
        seen = watch(sock, [])
    assert seen.closed_after is not None and seen.closed_after <= HEADER_SECONDS + SLACK


def test_a_body_sent_a_byte_at_a_time_gets_408_and_the_connection_closes(served: Served) -> None:
    head = b"POST /hooks/clio/demo HTTP/1.1\r\nHost: billsync\r\nContent-Length: 200\r\n\r\n"
    with served.connect() as sock:
        seen = watch(sock, [head] + [b" "] * 200)
    assert seen.closed_after is not None, f"still open after {GIVE_UP} s"
    assert BODY_SECONDS - 0.1 <= seen.closed_after <= BODY_SECONDS + SLACK
    assert seen.received.startswith(b"HTTP/1.1 408 ")
    assert "connection: close" in headers_of(seen.received)
    assert seen.received.endswith(b'{"error":"the body did not arrive within 1 s"}')


def test_a_slow_body_no_route_reads_is_cut_off_too(served: Served) -> None:
    """GET /healthz answers without reading the body; the connection still ends at the body deadline."""
    head = b"GET /healthz HTTP/1.1\r\nHost: billsync\r\nContent-Length: 200\r\n\r\n"
    with served.connect() as sock:
        seen = watch(sock, [head] + [b" "] * 200)
    assert seen.received.startswith(b"HTTP/1.1 200 ")
    assert seen.closed_after is not None, f"still open after {GIVE_UP} s"
    assert seen.closed_after <= BODY_SECONDS + BODY_DEADLINE_GRACE_SECONDS + SLACK


def test_connections_beyond_the_cap_get_503_at_once_and_idle_ones_time_out(served: Served) -> None:
    idle = [served.connect() for _ in range(MAX_CONNECTIONS)]
    time.sleep(0.2)  # the server has accepted them all
    try:
        refused = []
        for _ in range(3 * MAX_CONNECTIONS):
            with served.connect() as sock:
                refused.append(watch(sock, []))
        assert all(r.closed_after is not None and r.closed_after < SLACK for r in refused)
        assert all(r.received.startswith(b"HTTP/1.1 503 ") for r in refused)
        closed = [watch(sock, []) for sock in idle]  # each waits from its own connection: at most the timeout
        assert all(c.closed_after is not None and c.received == b"" for c in closed)
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.2)
    with served.connect() as sock:  # the cap counts open connections: once they are gone, service resumes
        seen = watch(sock, [b"GET /healthz HTTP/1.1\r\nHost: billsync\r\nConnection: close\r\n\r\n"])
    assert seen.received.startswith(b"HTTP/1.1 200 ")


def test_a_client_that_hangs_up_mid_body_gets_no_500_and_leaves_no_traceback(served: Served, capfd) -> None:
    uvicorn_log = UvicornErrors()
    logging.getLogger("uvicorn.error").addHandler(uvicorn_log)
    try:
        with capture_logs() as events:
            for path in (b"/hooks/clio/demo", b"/ingest/demo", b"/reports/demo/review/entries/e-1/approve"):
                sock = served.connect()
                sock.sendall(b"POST " + path + b" HTTP/1.1\r\nHost: billsync\r\nContent-Length: 500\r\n\r\n{\"a\":")
                time.sleep(0.1)
                sock.close()
            time.sleep(0.5)  # the app notices the hang-up and finishes
    finally:
        logging.getLogger("uvicorn.error").removeHandler(uvicorn_log)
    assert [e for e in events if e.get("log_level") in ("error", "critical")] == []
    assert not any(e["event"] == "unhandled error" for e in events)
    assert [r.getMessage() for r in uvicorn_log.records if r.levelno >= logging.ERROR] == []
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception in ASGI application" not in err
    metrics = served.app.state.metrics.render().decode()
    assert 'billsync_webhook_deliveries_total{connector="clio",outcome="bad_request"} 1.0' in metrics
    assert 'billsync_ingest_requests_total{outcome="bad_request"} 1.0' in metrics
    assert 'outcome="error"' not in metrics
