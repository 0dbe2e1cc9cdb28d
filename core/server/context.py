"""What every endpoint of one server instance shares: firms, the worker, metrics, the clock."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from config.settings import BillsyncSettings
from core.runtime import FirmRuntime
from core.server.body import BODY_TIMEOUT_SECONDS
from core.server.metrics import ServerMetrics
from core.server.page_access import SignInAttempts
from core.server.worker import BackgroundWork


@dataclass(frozen=True)
class ServerContext:
    """The dependencies of one app instance, injected into its endpoints."""

    firms: Mapping[str, FirmRuntime]
    ingest_keys: Mapping[str, bytes]  # firm -> Standard Webhooks HMAC key; absent: ingest is off
    worker: BackgroundWork
    metrics: ServerMetrics
    clock: Callable[[], float]  # Unix seconds, for webhook-timestamp tolerance
    log: structlog.stdlib.BoundLogger
    # Called for every verified delivery (firm, streams to re-poll). The daemon passes one that
    # records webhook health and runs the firm's scheduled poll, serialised with its other jobs;
    # without it, re-polls go through the background worker.
    doorbell: Callable[[str, frozenset[str]], None] | None = None
    # Called when a firm's payment gateway delivers a webhook (a doorbell for the payments job).
    # The daemon passes one that runs its scheduled payments job now; without it, the job runs
    # on the background worker.
    payments_doorbell: Callable[[str], None] | None = None
    settings: BillsyncSettings | None = None  # to build a firm's payments for the background worker
    body_timeout_seconds: float = BODY_TIMEOUT_SECONDS  # [server] body_timeout_seconds: then 408
    public_url: str | None = None  # where browsers and vendors reach the server (`billsync run --public-url`)
    sign_ins: SignInAttempts | None = None  # failed sign-ins per address at /reports/login; None: unlimited
