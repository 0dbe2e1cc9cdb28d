"""Serving an ASGI app with uvicorn, from the command line or a test: loopback by default.

`serve` runs until SIGTERM or SIGINT and returns (the caller then shuts down its own work), on
one listener or several (the daemon's metrics have their own); `run_in_thread` serves in the
background for tests, demos and benchmarks.

Every connection lives under `ConnectionLimits`. uvicorn itself times out only a kept-alive
connection idle after a response: a client that connects and sends nothing, or sends its headers
or body a byte at a time, would hold a file descriptor for ever, and it accepts any number of
connections. `_GuardedH11Protocol` adds a deadline whenever the server waits for request bytes
and a cap on the connections held at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import ClassVar

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Long requests (a simulated timeout, a slow vendor) must not hold a shutdown for their whole length.
GRACEFUL_SHUTDOWN_SECONDS = 5
THREAD_START_TIMEOUT_SECONDS = 10.0
# The app answers a body that is too slow itself (core/server/body.py: 408); the connection's own
# deadline comes this much later and closes connections whose body no route reads.
BODY_DEADLINE_GRACE_SECONDS = 1.0
_FULL = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


@dataclass(frozen=True)
class ConnectionLimits:
    """How long the server waits for a client's request, and how many connections it holds."""

    header_seconds: float = 10.0  # from connecting (or the previous response) to the end of the headers
    body_seconds: float = 30.0  # from the end of the headers to the end of the body
    keep_alive_seconds: int = 5  # idle between requests (uvicorn's own timer)
    max_connections: int = 256  # one more is answered 503 and closed at once
    max_header_bytes: int = 16 * 1024  # request line and headers (h11's limit)


DEFAULT_LIMITS = ConnectionLimits()


@dataclass(frozen=True)
class Listener:
    """A further address to serve another app on, in the same process and event loop."""

    app: ASGIApp
    host: str
    port: int
    on_ready: Callable[[int], None] | None = None


class _GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline while the client owes request bytes, and a connection cap.

    One timer at most runs per connection, by what the server waits for (h11's state of the client):
    - a request's headers (IDLE): `header_seconds` from the connection or the previous response;
    - its body (SEND_BODY): `body_seconds` and a grace from the end of the headers;
    - nothing while the app works on a complete request (DONE), however long that takes.
    A deadline is never pushed back by the bytes that trickle in; when it passes, the connection closes.
    """

    limits: ClassVar[ConnectionLimits]  # set by _protocol(): uvicorn builds protocols from a class
    _deadline: asyncio.TimerHandle | None = None
    _waiting_for: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        full = len(self.connections) >= self.limits.max_connections
        super().connection_made(transport)
        if full:
            transport.write(_FULL)
            transport.close()
            return
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _watch(self) -> None:
        state = self.conn.their_state
        if self.transport.is_closing():
            self._stop_waiting()
        elif state is h11.IDLE:
            self._wait_for("headers", self.limits.header_seconds)
        elif state is h11.SEND_BODY:
            self._wait_for("body", self.limits.body_seconds + BODY_DEADLINE_GRACE_SECONDS)
        else:
            self._stop_waiting()

    def _wait_for(self, what: str, seconds: float) -> None:
        if self._waiting_for == what:
            return  # the deadline set when this wait began stands
        self._stop_waiting()
        self._waiting_for = what
        self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _stop_waiting(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._waiting_for = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def _protocol(limits: ConnectionLimits) -> type[_GuardedH11Protocol]:
    return type("GuardedH11Protocol", (_GuardedH11Protocol,), {"limits": limits})


class _Server(uvicorn.Server):
    """uvicorn, reporting its port once listening and returning normally on SIGINT/SIGTERM."""

    def __init__(
        self,
        config: uvicorn.Config,
        on_ready: Callable[[int], None] | None,
        *,
        handles_signals: bool = True,
        on_signal: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(config)
        self._on_ready = on_ready
        self._handles_signals = handles_signals
        self._on_signal = on_signal
        self.port: int | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # In the signal handler: the caller's work stops taking new requests at once, while the
        # server still finishes the requests it is answering.
        if self._on_signal is not None:
            self._on_signal()
        super().handle_exit(sig, frame)

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
        if not self._handles_signals or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _config(
    app: ASGIApp, host: str, port: int, log_level: str, limits: ConnectionLimits, *, trusted_proxies: Sequence[str]
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        # Forwarded headers only from the proxies the firm named: by default the client is the
        # socket's peer (uvicorn would otherwise believe any loopback process's X-Forwarded-For).
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=list(trusted_proxies),
        lifespan="off",  # no app here keeps lifespan state
        log_config=None,  # uvicorn's lines go through the process's logging (core.logging): JSON like the rest
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        http=_protocol(limits),
        timeout_keep_alive=limits.keep_alive_seconds,
        h11_max_incomplete_event_size=limits.max_header_bytes,
        # The protocol caps connections; this caps requests still running after their client left.
        limit_concurrency=limits.max_connections + 1,
    )


def serve(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int,
    on_ready: Callable[[int], None] | None = None,
    log_level: str = "warning",
    limits: ConnectionLimits = DEFAULT_LIMITS,
    also: Sequence[Listener] = (),
    on_signal: Callable[[], None] | None = None,
    trusted_proxies: Sequence[str] = (),
) -> None:
    """Serve app until SIGTERM or SIGINT, then return; port 0 picks a free port, passed to on_ready.

    `also` serves further apps on their own addresses in the same event loop, under the same
    limits; they stop with the first, and the first stops if one of them cannot start.
    `on_signal` runs inside the signal handler (so: only set events), before the server drains.
    `trusted_proxies`: the peers (addresses or networks) whose X-Forwarded-For/-Proto name the
    client and its scheme; none: every request's client is its connection's peer.
    """
    servers = [
        _Server(
            _config(app, host, port, log_level, limits, trusted_proxies=trusted_proxies), on_ready, on_signal=on_signal
        )
    ] + [
        _Server(
            _config(more.app, more.host, more.port, log_level, limits, trusted_proxies=trusted_proxies),
            more.on_ready,
            handles_signals=False,
        )
        for more in also
    ]
    try:
        asyncio.run(_serve_together(servers))
    except SystemExit as exc:
        # uvicorn exits the process when it cannot bind; a library call should raise instead.
        addresses = [(host, port), *((more.host, more.port) for more in also)]
        failed = [f"{h}:{p}" for server, (h, p) in zip(servers, addresses, strict=True) if not server.started]
        raise OSError(f"the server could not listen on {' or '.join(failed or [f'{host}:{port}'])}") from exc


async def _serve_together(servers: Sequence[_Server]) -> None:
    async def one(server: _Server) -> None:
        try:
            await server.serve()
        finally:
            for each in servers:
                each.should_exit = True

    await asyncio.gather(*(one(server) for server in servers))


def run_in_thread(
    app: ASGIApp,
    port: int = 0,
    *,
    limits: ConnectionLimits = DEFAULT_LIMITS,
    trusted_proxies: Sequence[str] = (),
) -> tuple[int, Callable[[], None]]:
    """Serve app on loopback in a daemon thread; return (port, stop) once it is listening."""
    ready = threading.Event()
    server = _Server(
        _config(app, "127.0.0.1", port, "warning", limits, trusted_proxies=trusted_proxies), lambda _: ready.set()
    )

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
