"""`billsync run`: the long-running daemon, a scheduler and an HTTP server in one process."""

from __future__ import annotations

from typing import Annotated

import typer

from config.settings import BillsyncSettings
from core.cli.common import ConfigOption, app, say, settings_from
from core.daemon.metrics import DaemonMetrics
from core.daemon.scheduler import Daemon
from core.runtime import FirmRuntime, build_runtime, limiter_for
from core.server.app import build_app
from core.server.worker import BackgroundWork
from core.serving import serve
from core.store.store import Store

SHUTDOWN_SECONDS = 30.0


@app.command()
def run(
    config: ConfigOption = None,
    host: Annotated[str, typer.Option(help="Address the HTTP server listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the HTTP server (webhooks, ingest, health, metrics).")] = 8080,
    public_url: Annotated[
        str | None, typer.Option(help="Public base URL vendors reach this server at; enables webhooks.")
    ] = None,
) -> None:
    """Run the daemon: scheduled polls, write-back, reconciliation, and the webhook server, until SIGTERM."""
    settings = settings_from(config)
    store = Store.open(settings.database_url)
    metrics = DaemonMetrics()

    def build(settings: BillsyncSettings, firm: str, store: Store) -> FirmRuntime:
        vendor = settings.firm(firm).system_of_record
        return build_runtime(settings, firm, store, http=metrics.http_client(vendor, limiter_for(store, firm)))

    daemon = Daemon(settings, store, public_url=public_url, build=build)  # refuses to start without a key
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
    )
    daemon.start()
    try:
        serve(server, host=host, port=port, on_ready=lambda p: say(f"billsync running on {host}:{p}"))
    finally:
        finished = daemon.stop(timeout=SHUTDOWN_SECONDS)
        worker.close(timeout=5)
        store.close()
        say("billsync stopped" + ("" if finished else ": some work was cut short and resumes on restart"))
