"""POST /hooks/{connector}/{firm}: verify a vendor's delivery, answer at once, re-poll in the background.

A path naming a firm or connector this server has no endpoint for is answered as a delivery that
is not validly signed (401), so firm ids cannot be found by probing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.connector import Connector, InboundRequest, WebhookResult
from core.errors import InvalidSignature
from core.payments.cycle import run_payments_cycle
from core.payments.firm import build_firm_payments
from core.runtime import FirmRuntime
from core.server.body import BodyRejected, read_body
from core.server.context import ServerContext
from core.sync import SyncReport


async def receive(ctx: ServerContext, connector: str, firm: str, request: Request) -> Response:
    """Answer a webhook delivery with the connector's reply; queue the re-poll it asks for."""
    started = time.perf_counter()
    runtime = ctx.firms.get(firm)
    gateway = runtime.payment_gateway if runtime is not None else None
    if gateway is not None and connector == gateway.name:
        return await _payments(ctx, gateway, firm, request, started)
    known = runtime is not None and connector in {c.name for c in runtime.runner.connectors}
    label = connector if known else "unknown"  # path text never becomes a label: bounded cardinality
    outcome = "error"
    try:
        try:
            inbound = await _inbound(ctx, request)  # for a path that names no endpoint too: the same limits
        except BodyRejected as exc:
            outcome = "too_large" if exc.status == 413 else "bad_request"
            return _error(exc.status, str(exc), exc.headers)
        if runtime is None or not known:
            outcome = "not_found"
            return _as_if_unsigned(ctx, connector, inbound)
        try:
            result, streams = await run_in_threadpool(runtime.runner.receive_webhook, inbound, connector)
        except InvalidSignature as exc:
            outcome = "rejected"
            ctx.log.warning("webhook rejected", connector=connector, firm=firm, reason=str(exc))
            return _error(401, "webhook verification failed")
        except RecursionError:
            # A body nested past what a parser can walk: the sender's fault, and retrying it is futile.
            outcome = "bad_request"
            return _error(400, "body nested too deeply")
        except Exception as exc:  # e.g. the database: the vendor retries a 503, so nothing is lost
            ctx.log.error("webhook not recorded", connector=connector, firm=firm, error=type(exc).__name__)
            return _error(503, "the delivery could not be recorded; retry later")
        outcome = _outcome(result, streams)
        if ctx.doorbell is not None:
            ctx.doorbell(firm, frozenset(streams))
        elif streams:
            ctx.worker.repoll(firm, streams, _poller(ctx, runtime))
        return Response(result.reply_body, status_code=result.reply_status, headers=dict(result.reply_headers))
    finally:
        ctx.metrics.webhooks.labels(connector=label, outcome=outcome).inc()
        ctx.metrics.webhook_seconds.labels(connector=label).observe(time.perf_counter() - started)


def _as_if_unsigned(ctx: ServerContext, connector: str, inbound: InboundRequest) -> Response:
    """The answer to a delivery for a firm (or connector) this server has no endpoint for.

    It is the answer an existing firm gives a delivery that is not validly signed, so a stranger
    cannot tell the firm ids served here from others by probing /hooks: 401 "webhook verification
    failed"; for a payment gateway whose deliveries are never signed (LawPay), that gateway's own
    reply, without ringing anything. Only the metrics (off the public listener) tell them apart.
    """
    for runtime in ctx.firms.values():
        gateway = runtime.payment_gateway
        handler = gateway.webhooks() if gateway is not None and gateway.name == connector else None
        if handler is None:
            continue
        try:
            result = handler.handle(inbound, None)  # a doorbell only: it reads the body, changes nothing
        except InvalidSignature:
            break
        return Response(result.reply_body, status_code=result.reply_status, headers=dict(result.reply_headers))
    return _error(401, "webhook verification failed")


async def _payments(ctx: ServerContext, gateway: Connector, firm: str, request: Request, started: float) -> Response:
    """A payment gateway's delivery: never trusted, only a doorbell for the firm's payments job.

    The job reads the gateway's events from its API and applies each once, so ringing it for a
    forged or repeated delivery costs one poll and changes nothing (docs/vendors/lawpay.md §11).
    """
    outcome = "error"
    try:
        handler = gateway.webhooks()
        if handler is None:
            outcome = "not_found"
            return _error(404, f"{gateway.name} sends no webhooks")
        try:
            inbound = await _inbound(ctx, request)
        except BodyRejected as exc:
            outcome = "too_large" if exc.status == 413 else "bad_request"
            return _error(exc.status, str(exc), exc.headers)
        try:
            result = handler.handle(inbound, None)
        except InvalidSignature:
            outcome = "rejected"
            return _error(401, "webhook verification failed")
        if result.streams:
            ring_payments(ctx, firm)
        outcome = "accepted" if result.streams else "no_action"
        return Response(result.reply_body, status_code=result.reply_status, headers=dict(result.reply_headers))
    finally:
        ctx.metrics.webhooks.labels(connector=gateway.name, outcome=outcome).inc()
        ctx.metrics.webhook_seconds.labels(connector=gateway.name).observe(time.perf_counter() - started)


async def _inbound(ctx: ServerContext, request: Request) -> InboundRequest:
    """The delivery as a connector's handler takes it; BodyRejected when its body cannot be read."""
    body = await read_body(request, timeout=ctx.body_timeout_seconds)
    headers = {k.lower(): v for k, v in request.headers.items()}
    return InboundRequest(headers=headers, body=body, query=dict(request.query_params))


def ring_payments(ctx: ServerContext, firm: str) -> None:
    """Run the firm's payments job soon: the daemon's scheduled one, else on the background worker."""
    if ctx.payments_doorbell is not None:
        ctx.payments_doorbell(firm)
        return
    runtime = ctx.firms[firm]

    def collect() -> None:
        ok = False
        try:
            assert ctx.settings is not None
            run_payments_cycle(build_firm_payments(ctx.settings, firm, runtime.store))
            ok = True
        finally:
            ctx.metrics.job_done("payments", ok)

    ctx.worker.submit(firm, "payments", collect, coalesce=True)


def _outcome(result: WebhookResult, streams: list[str]) -> str:
    if streams:
        return "accepted"
    if result.streams:
        return "duplicate"  # verified, but already seen: a redelivery asks for nothing
    return "no_action"  # a handshake, or an event no stream follows


def _poller(ctx: ServerContext, runtime: FirmRuntime) -> Callable[[frozenset[str]], None]:
    def poll(streams: frozenset[str]) -> None:
        report = SyncReport()
        ok = False
        try:
            runtime.runner.poll(report, only_streams=streams)
            ok = True
        finally:
            ctx.metrics.count_statuses(report.capture.statuses)
            ctx.metrics.job_done("repoll", ok)

    return poll


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)
