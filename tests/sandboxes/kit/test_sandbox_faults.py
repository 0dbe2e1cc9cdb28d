"""Tests for fault rules, the seeded injector and the connection-dropping responses."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import uvicorn
from billsync_sandboxes.kit import (
    ConnectionDropped,
    DroppedConnection,
    FakeClock,
    FaultInjector,
    FaultKind,
    FaultRule,
    TruncatedResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.testclient import TestClient

BODY = {"data": [{"id": n, "note": "x" * 20} for n in range(20)]}


def test_rule_from_dict_and_back() -> None:
    rule = FaultRule.from_dict(
        {"route": "/api/*", "kind": "timeout", "probability": 0.25, "methods": ["get"], "delay_seconds": 5}
    )
    assert rule.kind is FaultKind.TIMEOUT and rule.methods == frozenset({"GET"})
    assert FaultRule.from_dict(rule.to_dict()) == rule
    assert FaultKind("502").status == 502 and FaultKind.RESET.status is None


@pytest.mark.parametrize(
    "raw",
    [
        {"route": "*", "kind": "418"},
        {"route": "*", "kind": "500", "probability": 1.5},
        {"kind": "500"},
        {"route": "*", "kind": "500", "methods": "GET"},
        {"route": "*", "kind": "500", "colour": "red"},
        {"route": "*", "kind": "timeout", "delay_seconds": -1},
    ],
)
def test_bad_rules_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FaultRule.from_dict(raw)


def test_matching_by_method_and_any_path_spelling() -> None:
    rule = FaultRule("/api/v4/activities*", FaultKind.SERVER_ERROR, methods=frozenset({"POST"}))
    assert rule.matches("post", ["/clio/api/v4/activities.json", "/api/v4/activities.json"])
    assert not rule.matches("GET", ["/api/v4/activities.json"])
    assert not rule.matches("POST", ["/api/v4/matters.json"])


def test_probability_one_always_and_zero_never() -> None:
    injector = FaultInjector(seed=3)
    injector.set_rules([FaultRule("*", FaultKind.SERVER_ERROR, probability=1.0)])
    assert all(injector.pick("GET", "/x") for _ in range(200))
    injector.set_rules([FaultRule("*", FaultKind.SERVER_ERROR, probability=0.0)])
    assert not any(injector.pick("GET", "/x") for _ in range(200))
    injector.clear()
    assert injector.rules == () and injector.pick("GET", "/x") is None


def test_draws_are_reproducible_from_the_seed() -> None:
    def draws(seed: int) -> list[bool]:
        injector = FaultInjector(seed=seed)
        injector.set_rules([FaultRule("*", FaultKind.RESET, probability=0.5)])
        return [injector.pick("GET", "/x") is not None for _ in range(50)]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)
    assert 10 < sum(draws(7)) < 40


def test_first_firing_rule_wins() -> None:
    injector = FaultInjector()
    injector.set_rules(
        [
            FaultRule("/a*", FaultKind.TOO_MANY_REQUESTS),
            FaultRule("*", FaultKind.BAD_GATEWAY),
        ]
    )
    assert injector.pick("GET", "/a/1").kind is FaultKind.TOO_MANY_REQUESTS  # type: ignore[union-attr]
    assert injector.pick("GET", "/b").kind is FaultKind.BAD_GATEWAY  # type: ignore[union-attr]


def make_app(clock: FakeClock) -> Starlette:
    def whole(request: Request) -> Response:
        return JSONResponse(BODY)

    def truncated(request: Request) -> Response:
        return TruncatedResponse(JSONResponse(BODY))

    def reset(request: Request) -> Response:
        return DroppedConnection(clock)

    def timeout(request: Request) -> Response:
        return DroppedConnection(clock, delay_seconds=120)

    return Starlette(
        routes=[
            Route("/whole", whole),
            Route("/truncated", truncated),
            Route("/reset", reset),
            Route("/timeout", timeout),
        ]
    )


def test_dropping_responses_in_process() -> None:
    clock = FakeClock()
    client = TestClient(make_app(clock))
    whole = client.get("/whole").content
    cut = client.get("/truncated").content
    assert whole.startswith(cut) and len(cut) == len(whole) // 2
    with pytest.raises(ConnectionDropped):
        client.get("/reset")
    before = clock.now()
    with pytest.raises(ConnectionDropped):
        client.get("/timeout")
    assert (clock.now() - before).total_seconds() == 120


@pytest.fixture(scope="module")
def live_server() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(make_app(FakeClock()), host="127.0.0.1", port=port, log_level="critical")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


@pytest.mark.parametrize("path", ["/truncated", "/reset", "/timeout"])
def test_a_real_server_aborts_the_connection(live_server: str, path: str) -> None:
    assert requests.get(f"{live_server}/whole", timeout=5).json() == BODY
    # The client sees a broken connection (IncompleteRead), not a readable error response.
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(f"{live_server}{path}", timeout=5)
