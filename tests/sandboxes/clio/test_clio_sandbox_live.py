"""The Clio sandbox behind a real uvicorn server, with real webhook HTTP deliveries."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from billsync_sandboxes.clio.state import ClioSandbox, create_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

CLIO_FIXTURES = Path(__file__).resolve().parents[2] / "connectors" / "clio" / "fixtures"  # the connector's too
SEED = json.loads((CLIO_FIXTURES / "clio_seed.json").read_text())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> Response:
        received.append({"headers": dict(request.headers), "body": await request.body()})
        secret = request.headers.get("x-hook-secret")
        return Response(status_code=200, headers={"X-Hook-Secret": secret} if secret else {})

    receiver = serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
    # Real clock and real HTTP delivery; http is allowed only because the receiver is local.
    sandbox = ClioSandbox(json.loads(json.dumps(SEED)), allow_http_webhooks=True)
    clio = serve(create_app(sandbox))
    yield clio[2], receiver[2], received
    for server, thread, _ in (clio, receiver):
        server.should_exit = True
        thread.join(timeout=5)


def test_end_to_end_over_http(servers: tuple[str, str, list[dict[str, Any]]]) -> None:
    base, receiver_url, received = servers
    token = requests.post(f"{base}/_sandbox/clio/tokens", json={}, timeout=5).json()
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    listed = requests.get(
        f"{base}/clio/api/v4/activities.json?fields=id&order=id(asc)&limit=2", headers=auth, timeout=5
    )
    assert listed.status_code == 200
    assert listed.headers["X-RateLimit-Limit"] == "50"
    assert listed.json()["meta"]["paging"]["next"].startswith(f"{base}/clio/api/v4/activities.json")

    hook = requests.post(
        f"{base}/clio/api/v4/webhooks.json?fields=id",
        headers=auth,
        timeout=5,
        json={"data": {"url": f"{receiver_url}/hook", "model": "activity", "fields": "id,etag"}},
    )
    assert hook.status_code == 201
    hook_url = f"{base}/clio/api/v4/webhooks/{hook.json()['data']['id']}.json?fields=status"
    # The handshake runs after the create answer; events only flow once it is enabled.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if requests.get(hook_url, headers=auth, timeout=5).json()["data"]["status"] == "enabled":
            break
        time.sleep(0.02)
    created = requests.post(
        f"{base}/clio/api/v4/activities.json",
        headers=auth,
        timeout=5,
        json={"data": {"type": "TimeEntry", "date": "2026-04-06", "quantity": 600, "matter": {"id": 1001}}},
    )
    assert created.status_code == 201
    deadline = time.monotonic() + 5
    while len(received) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "x-hook-secret" in received[0]["headers"]
    assert "x-hook-signature" in received[1]["headers"]
    assert json.loads(received[1]["body"])["data"]["id"] == created.json()["data"]["id"]

    requests.post(f"{base}/_sandbox/clio/faults", timeout=5, json={"route": "/api/v4/matters*", "kind": "reset"})
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(f"{base}/clio/api/v4/matters.json", headers=auth, timeout=5)
    log = requests.get(f"{base}/_sandbox/clio/requests", timeout=5).json()
    assert log[-1]["fault"] == "reset" and log[-1]["status"] is None
