"""Serve several vendor sandboxes on one loopback port (`billsync sandbox`, `billsync demo`).

Each vendor's API is mounted at `/{name}` and its admin API at `/_sandbox/{name}`;
`GET /_sandbox` lists what is mounted. Nothing here knows any vendor.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import threading
from collections.abc import Callable, Generator, Mapping
from typing import Protocol

import uvicorn
from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.types import ASGIApp

ADMIN_PREFIX = "/_sandbox"
# Lower-case names that cannot collide with the admin prefix or need URL escaping.
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Long fault delays (a simulated timeout) must not hold a shutdown for their whole length.
GRACEFUL_SHUTDOWN_SECONDS = 5
THREAD_START_TIMEOUT_SECONDS = 10.0


class VendorSandbox(Protocol):
    """A vendor's local stand-in: an API app and an admin app, both ASGI."""

    def api_app(self) -> ASGIApp:
        """Return the app that answers like the vendor's API."""
        ...

    def admin_app(self) -> ASGIApp:
        """Return the app that seeds records, acts as a person and injects faults."""
        ...


def build_server_app(sandboxes: Mapping[str, VendorSandbox]) -> FastAPI:
    """Mount each sandbox's API at /{name} and its admin API at /_sandbox/{name}."""
    for name in sandboxes:
        if not _NAME.match(name):
            raise ValueError(f"invalid sandbox name {name!r}: use lower-case letters, digits, '-' and '_'")
    names = sorted(sandboxes)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    # Registered before the mounts, so /_sandbox itself is never taken for a vendor path.
    @app.get(ADMIN_PREFIX)
    def list_sandboxes() -> JSONResponse:
        return JSONResponse({"sandboxes": [{"name": n, "api": f"/{n}", "admin": f"{ADMIN_PREFIX}/{n}"} for n in names]})

    for name in names:
        sandbox = sandboxes[name]
        app.mount(f"{ADMIN_PREFIX}/{name}", sandbox.admin_app())
        app.mount(f"/{name}", sandbox.api_app())
    return app


class _Server(uvicorn.Server):
    """uvicorn, reporting its port once listening and returning normally on SIGINT/SIGTERM."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[int], None] | None) -> None:
        super().__init__(config)
        self._on_ready = on_ready
        self.port: int | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.started:
            return
        # With port 0 only the listening socket knows which port the OS picked.
        self.port = int(self.servers[0].sockets[0].getsockname()[1])
        if self._on_ready is not None:
            self._on_ready(self.port)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # uvicorn re-raises the captured signal after shutting down, which would kill the
        # caller; a sandbox server's caller wants serve() to simply return.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _config(app: ASGIApp, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="off",  # mounted sandboxes keep no lifespan state
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


def serve(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int,
    on_ready: Callable[[int], None] | None = None,
    log_level: str = "warning",
) -> None:
    """Serve app until SIGTERM or SIGINT, then return; port 0 picks a free port, passed to on_ready."""
    server = _Server(_config(app, host, port, log_level), on_ready)
    try:
        server.run()
    except SystemExit as exc:
        # uvicorn exits the process when it cannot bind; a library call should raise instead.
        raise OSError(f"the sandbox server could not listen on {host}:{port}") from exc


def run_in_thread(app: ASGIApp, port: int = 0) -> tuple[int, Callable[[], None]]:
    """Serve app on loopback in a daemon thread; return (port, stop) once it is listening."""
    ready = threading.Event()
    server = _Server(_config(app, "127.0.0.1", port, "warning"), lambda _: ready.set())

    def run() -> None:
        # A failed bind ends uvicorn with SystemExit; here it only ends the thread, and the
        # caller below sees that the server never became ready.
        with contextlib.suppress(SystemExit):
            server.run()

    thread = threading.Thread(target=run, name="sandbox-server", daemon=True)
    thread.start()
    # Poll the event so a thread that died on start-up is noticed at once, not after the timeout.
    waited = 0.0
    while not ready.wait(0.01):
        waited += 0.01
        if not thread.is_alive() or waited >= THREAD_START_TIMEOUT_SECONDS:
            server.should_exit = True
            thread.join(timeout=GRACEFUL_SHUTDOWN_SECONDS)
            raise OSError(f"the sandbox server did not start on 127.0.0.1:{port}")
    assert server.port is not None

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=GRACEFUL_SHUTDOWN_SECONDS + 1)

    return server.port, stop
