"""`billsync run`: the long-running daemon, a scheduler and an HTTP server in one process.

Everything it says is a log line (JSON off a terminal), so a log collector reads one format.
On SIGTERM or SIGINT no new vendor request starts (core.http.Shutdown), the runs under way end
at their next request, and the last line says what finished and what resumes on the next start.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Annotated

import structlog
import typer

from config.server import ServerSettings
from config.settings import BillsyncSettings
from core.cli.common import ConfigOption, app, settings_from
from core.daemon.metrics import DaemonMetrics
from core.daemon.scheduler import Daemon
from core.daemon.skipped import SkippedRuns
from core.errors import BillsyncError
from core.http import Shutdown
from core.runtime import FirmRuntime, build_runtime, limiter_for
from core.server.app import build_app
from core.server.metrics import metrics_app
from core.server.worker import BackgroundWork
from core.serving import ConnectionLimits, Listener, serve
from core.store.store import Store

SHUTDOWN_SECONDS = 30.0  # the README's promise, from the signal to the process's exit
# The worst case is JOBS_GRACE_SECONDS + BACKGROUND_GRACE_SECONDS (20 s): the runs under way get
# 15 s counted from the signal (the server's own drain, core.serving.GRACEFUL_SHUTDOWN_SECONDS,
# 5 s, runs within it), then the background work 5 s; a request still in flight is abandoned.
JOBS_GRACE_SECONDS = 15.0
BACKGROUND_GRACE_SECONDS = 5.0


@app.command()
def run(
    config: ConfigOption = None,
    host: Annotated[str, typer.Option(help="Address the HTTP server listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the HTTP server (webhooks, ingest, health, report pages).")] = 8080,
    public_url: Annotated[
        str | None, typer.Option(help="Public base URL vendors reach this server at; enables webhooks.")
    ] = None,
    metrics_host: Annotated[
        str | None, typer.Option(help="Address of the /metrics listener (default [server] metrics_host: 127.0.0.1).")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve /metrics on a listener of its own at this port (0: any free port).")
    ] = None,
) -> None:
    """Run the daemon: scheduled polls, write-back, reconciliation, and the webhook server, until SIGTERM."""
    settings = settings_from(config)
    flags = {"metrics_host": metrics_host, "metrics_port": metrics_port}
    server_settings = settings.server.model_copy(update={k: v for k, v in flags.items() if v is not None})
    _refuse_taken(host, port, "--port")
    if server_settings.metrics_port is not None:
        _refuse_taken(server_settings.metrics_host, server_settings.metrics_port, "--metrics-port")
    store = Store.open(settings.database_url)
    shutdown = Shutdown()  # set by the signal: from then on no HTTP client starts a vendor request
    metrics = DaemonMetrics(shutdown=shutdown)
    log = structlog.get_logger()
    for warning in settings.renamed_key_warnings():
        log.warning(warning)

    def build(settings: BillsyncSettings, firm: str, store: Store) -> FirmRuntime:
        vendor = settings.firm(firm).pms
        return build_runtime(settings, firm, store, http=metrics.http_client(vendor, limiter_for(store, firm)))

    skipped = SkippedRuns(metrics.count_skipped)
    # Refuses to start without a key.
    daemon = Daemon(settings, store, public_url=public_url, build=build, shutdown=shutdown, skipped=skipped)
    metrics.watch_store(store, list(daemon.runtimes), daemon.webhook_lag_seconds)

    def doorbell(firm: str, streams: frozenset[str]) -> None:
        daemon.webhook_seen(firm)
        if streams:
            daemon.run_soon(firm, "poll")  # the scheduled poll: never alongside the firm's other jobs

    worker = BackgroundWork()

    def payments_doorbell(firm: str) -> None:
        daemon.run_soon(firm, "payments")  # gateway events are read from its API by the job, never from the body

    server = build_app(
        daemon.runtimes,
        settings=settings,
        worker=worker,
        doorbell=doorbell,
        payments_doorbell=payments_doorbell,
        registry=metrics.registry,
        public_url=public_url,
    )
    also = []
    if server_settings.metrics_port is not None:  # the public listener never serves them unless told to
        at = server_settings.metrics_host

        def metrics_ready(actual_port: int) -> None:
            log.info("metrics listening", url=f"http://{at}:{actual_port}/metrics")

        also.append(Listener(metrics_app(metrics.registry), at, server_settings.metrics_port, on_ready=metrics_ready))
    elif not server_settings.metrics_on_main_listener:
        log.info("metrics not served", hint="--metrics-port, or [server] metrics_port, serves them")
    signal = StopSignal(daemon, log)
    daemon.start()
    try:
        serve(
            server,
            host=host,
            port=port,
            on_ready=lambda p: log.info("billsync running", host=host, port=p),
            limits=connection_limits(server_settings),
            also=also,
            on_signal=signal.received,  # in the handler: no new run, no new vendor request
            trusted_proxies=server_settings.trusted_proxies,
        )
    finally:
        report = daemon.shut_down(timeout=signal.grace_left())
        worker.close(timeout=BACKGROUND_GRACE_SECONDS)
        message = report.sentence()
        if report.still_running:
            message += _left_in_flight(daemon, settings)
        log.info(
            "billsync stopped",
            message=message,
            seconds=round(report.seconds, 1),
            finished=list(report.finished),
            cut_short=list(report.cut_short + report.still_running),
            failed=list(report.failed),
            writes_waiting=report.writes_waiting,
        )
        if report.still_running:
            # A vendor request still in flight would hold the exit until its read timeout (30 s):
            # its run is abandoned like a crash, which the store is built for (an outbox row in
            # "sending" is looked up at the vendor before anything is sent again).
            logging.shutdown()
            os._exit(0)
        store.close()


class StopSignal:
    """The first SIGTERM or SIGINT: stop taking work at once, say so, and time the runs' grace from it."""

    def __init__(self, daemon: Daemon, log: structlog.stdlib.BoundLogger) -> None:
        self._daemon = daemon
        self._log = log
        self._at: float | None = None  # time.monotonic() of the first signal

    def received(self) -> None:
        """In the signal handler: only events are set here. The line is said from a thread of its
        own, since this thread may have been interrupted holding the logging lock."""
        self._daemon.stopping_begins()  # no new run, no new vendor request
        if self._at is None:
            self._at = time.monotonic()
            threading.Thread(target=self._say, name="billsync-stopping", daemon=True).start()

    def grace_left(self) -> float:
        """What is left of the runs' grace: it counts from the signal, so the server's drain is not added."""
        waited = 0.0 if self._at is None else time.monotonic() - self._at
        return max(0.0, JOBS_GRACE_SECONDS - waited)

    def _say(self) -> None:
        running = self._daemon.running_jobs()
        waiting_for = ", ".join(running) if running else "no running job"
        self._log.info(
            "stopping",
            message=f"stopping: no new work or vendor request; waiting up to {JOBS_GRACE_SECONDS:.0f} s for "
            f"{waiting_for}",
            running=list(running),
            grace_seconds=JOBS_GRACE_SECONDS,
        )


def _left_in_flight(daemon: Daemon, settings: BillsyncSettings) -> str:
    """Hand back the writes claimed behind a request still in flight (due at once on the next start);
    the clause for the stop line when that request is a write (a read leaves nothing behind)."""
    in_flight = 0
    for runtime in daemon.runtimes.values():
        runtime.runner.state.release_unsent(runtime.firm_id)
        in_flight += runtime.runner.state.sending_now(runtime.firm_id)
    if not in_flight:
        return ""
    lease = round(settings.daemon.claim_lease_seconds / 60)
    return f"; a write still in flight is looked up at the vendor once its claim ends ({lease} min)"


def connection_limits(server: ServerSettings) -> ConnectionLimits:
    """The [server] section's timeouts and connection cap, for every listener of the daemon."""
    return ConnectionLimits(
        header_seconds=server.header_timeout_seconds,
        body_seconds=server.body_timeout_seconds,
        keep_alive_seconds=server.keep_alive_seconds,
        max_connections=server.max_connections,
    )


def _refuse_taken(host: str, port: int, option: str) -> None:
    """One error line for an address already in use, before anything starts (uvicorn would log and exit)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise BillsyncError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another {option}") from None
