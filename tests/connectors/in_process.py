"""The wiring every connector harness shares: a vendor's sandbox app answered in process, on simulated time.

A harness builds its vendor's sandbox and connector; this module gives it the HTTP side (a
requests.Session whose SandboxAdapter hands each request to the app, and an HttpClient whose
waits advance the FakeClock instead of sleeping) and an encrypted in-memory token store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from billsync_sandboxes.kit import FakeClock
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool

from core.http import HttpClient, RateLimiter
from core.store.schema import metadata, oauth_tokens
from core.tokens import TokenStore
from tests.sandbox_adapter import SandboxAdapter


@dataclass(frozen=True)
class InProcessHttp:
    """The app's TestClient, the adapter that records what was sent, and the connector's HttpClient.

    `sleeps` lists every wait the HttpClient asked for, in order; each one moved the clock."""

    app: TestClient
    adapter: SandboxAdapter
    http: HttpClient
    sleeps: list[float]


def in_process_http(asgi_app: Any, clock: FakeClock, base: str) -> InProcessHttp:
    """HTTP to `base` answered by `asgi_app` with no sockets; waiting advances `clock`, never real time."""
    app = TestClient(asgi_app, base_url=base)
    session = requests.Session()
    adapter = SandboxAdapter(app)
    session.mount(base, adapter)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)  # waiting moves simulated time, never real time

    def now_ts() -> float:
        return clock.now().timestamp()

    http = HttpClient(session=session, sleep=sleep, clock=now_ts, limiter=RateLimiter(clock=now_ts))
    return InProcessHttp(app, adapter, http, sleeps)


def token_store(clock: Callable[[], datetime]) -> TokenStore:
    """An encrypted TokenStore on a private in-memory SQLite database."""
    engine: Engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    metadata.create_all(engine, tables=[oauth_tokens])
    return TokenStore(engine, Fernet(Fernet.generate_key()), clock=clock)
