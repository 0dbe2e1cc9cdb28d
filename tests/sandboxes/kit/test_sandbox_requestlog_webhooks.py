"""Tests for the request log middleware and the webhook delivery helpers."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from billsync_sandboxes.kit import (
    ConnectionDropped,
    DroppedConnection,
    FakeClock,
    RequestLog,
    RequestLogMiddleware,
    deliver_with,
    hmac_sha256_hex,
    http_deliver,
    note,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.testclient import TestClient


def make_client(log: RequestLog, clock: FakeClock) -> TestClient:
    def ok(request: Request) -> Response:
        note(request.scope, token_id="tok-9")
        return JSONResponse({"ok": True}, status_code=201)

    def dropped(request: Request) -> Response:
        note(request.scope, token_id="tok-9", fault="reset")
        return DroppedConnection(clock)

    def injected(request: Request) -> Response:
        note(request.scope, fault="502")
        return JSONResponse({}, status_code=502)

    app = Starlette(
        routes=[Route("/ok", ok, methods=["POST"]), Route("/dropped", dropped), Route("/injected", injected)]
    )
    app.add_middleware(RequestLogMiddleware, log=log, clock=clock)
    return TestClient(app)


def test_request_log_records_status_notes_and_drops() -> None:
    log, clock = RequestLog(), FakeClock()
    client = make_client(log, clock)
    client.post("/ok?a=1&b=two", headers={"Authorization": "Bearer secret-token"})
    with pytest.raises(ConnectionDropped):
        client.get("/dropped")
    client.get("/injected")
    client.get("/missing")
    entries = [e.to_dict() for e in log.entries()]
    assert [(e["method"], e["path"], e["status"], e["fault"]) for e in entries] == [
        ("POST", "/ok", 201, None),
        ("GET", "/dropped", None, "reset"),
        ("GET", "/injected", 502, "502"),
        ("GET", "/missing", 404, None),
    ]
    assert entries[0]["query"] == "a=1&b=two" and entries[0]["token_id"] == "tok-9"
    assert entries[0]["at"] == clock.now().isoformat()
    assert "secret-token" not in repr(entries)
    log.clear()
    assert log.entries() == []


def test_hmac_is_lowercase_hex_of_the_raw_body() -> None:
    body = b'{"data":{"id":1}}'
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert hmac_sha256_hex("s3cret", body) == expected


def test_deliver_with_normalises_answers() -> None:
    assert deliver_with(lambda u, h, b: 204, "https://x", {}, b"").status == 204
    result = deliver_with(lambda u, h, b: (200, {"x-hook-secret": "abc"}), "https://x", {}, b"")
    assert result.status == 200 and result.header("X-Hook-Secret") == "abc"

    def broken(url: str, headers: object, body: bytes) -> int:
        raise OSError("receiver down")

    assert deliver_with(broken, "https://x", {}, b"").status == 0


def test_http_deliver_reports_unreachable_receivers_as_zero() -> None:
    status, headers = http_deliver("http://127.0.0.1:9/hook", {}, b"{}", timeout=0.5)
    assert (status, dict(headers)) == (0, {})
