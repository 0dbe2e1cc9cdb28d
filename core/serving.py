"""Serving an ASGI app with uvicorn, from the command line or a test: loopback by default.

`serve` runs until SIGTERM or SIGINT and returns (the caller then shuts down its own work);
`run_in_thread` serves in the background for tests, demos and benchmarks.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Generator

import uvicorn
from starlette.types import ASGIApp

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Long requests (a simulated timeout, a slow vendor) must not hold a shutdown for their whole length.
GRACEFUL_SHUTDOWN_SECONDS = 5
THREAD_START_TIMEOUT_SECONDS = 10.0


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
        lifespan="off",  # no app here keeps lifespan state
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
        raise OSError(f"the server could not listen on {host}:{port}") from exc


def run_in_thread(app: ASGIApp, port: int = 0) -> tuple[int, Callable[[], None]]:
    """Serve app on loopback in a daemon thread; return (port, stop) once it is listening."""
    ready = threading.Event()
    server = _Server(_config(app, "127.0.0.1", port, "warning"), lambda _: ready.set())

    def run() -> None:
        # A failed bind ends uvicorn with SystemExit; here it only ends the thread, and the
        # caller below sees that the server never became ready.
        with contextlib.suppress(SystemExit):
            server.run()

    thread = threading.Thread(target=run, name="http-server", daemon=True)
    thread.start()
    # Poll the event so a thread that died on start-up is noticed at once, not after the timeout.
    waited = 0.0
    while not ready.wait(0.01):
        waited += 0.01
        if not thread.is_alive() or waited >= THREAD_START_TIMEOUT_SECONDS:
            server.should_exit = True
            thread.join(timeout=GRACEFUL_SHUTDOWN_SECONDS)
            raise OSError(f"the server did not start on 127.0.0.1:{port}")
    assert server.port is not None

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=GRACEFUL_SHUTDOWN_SECONDS + 1)

    return server.port, stop
