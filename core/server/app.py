"""The daemon's HTTP app: vendor webhooks, signed ingest, health, readiness, report pages; metrics.

The listener vendors reach from the internet serves this app, so what a stranger could read is
off unless the configuration turns it on (`[server]`, config/server.py): `/openapi.json` and
`/metrics` (which `metrics_app` serves on a listener of its own), and the report pages need a
firm's token (core/server/page_access.py). Every answer carries the security headers of
core/server/headers.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from config.settings import BillsyncSettings
from core.errors import ConfigError
from core.ingest_secret import secret_key
from core.runtime import FirmRuntime
from core.server import hooks, ingest, reports
from core.server.context import ServerContext
from core.server.headers import SecurityHeaders
from core.server.metrics import ServerMetrics
from core.server.page_access import SignInAttempts
from core.server.worker import BackgroundWork

_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}
_WEBHOOK_DOC: dict[str, Any] = {
    "requestBody": {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}},
    "responses": {
        "200": {"description": "Delivery verified (or handshake answered)"},
        "401": {"description": "Signature did not verify", **_ERROR},
        "404": {"description": "Unknown connector or firm", **_ERROR},
        "413": {"description": "Body larger than 1 MiB", **_ERROR},
        "503": {"description": "Could not be recorded; retry", **_ERROR},
    },
}
_INGEST_DOC: dict[str, Any] = {
    "parameters": [
        {"name": name, "in": "header", "required": False, "schema": {"type": "string"}}
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["activities"],
                    "properties": {"activities": {"type": "array", "items": {"type": "object"}}},
                }
            }
        },
    },
    "responses": {
        "200": {"description": "A replay of a webhook-id already accepted: ignored"},
        "202": {"description": "Accepted; invalid records are listed under `rejected`"},
        "400": {"description": "Malformed or too deeply nested JSON", **_ERROR},
        "401": {"description": "Missing, stale or bad signature", **_ERROR},
        "404": {"description": "Unknown firm, or ingest is off for it", **_ERROR},
        "413": {"description": "Body larger than 1 MiB", **_ERROR},
        "415": {"description": "Not application/json", **_ERROR},
        "422": {"description": "Not an activity batch, or no valid record", **_ERROR},
    },
}


def build_app(
    firms: Mapping[str, FirmRuntime],
    *,
    settings: BillsyncSettings,
    worker: BackgroundWork,
    clock: Callable[[], float] = time.time,
    doorbell: Callable[[str, frozenset[str]], None] | None = None,
    payments_doorbell: Callable[[str], None] | None = None,
    registry: CollectorRegistry | None = None,
    public_url: str | None = None,
) -> FastAPI:
    """The daemon's HTTP app over already-built firm runtimes; the caller owns and closes `worker`.

    `public_url`: where browsers reach the server (`billsync run --public-url`); an https one
    makes the report pages' sign-in cookie Secure even when a proxy in front does not say so."""
    unknown = sorted(set(firms) - set(settings.firms))
    if unknown:
        raise ConfigError(f"firms not in the configuration: {', '.join(unknown)}")
    metrics = ServerMetrics(worker.depth, registry)
    ctx = ServerContext(
        firms=dict(firms),
        ingest_keys=_ingest_keys(firms),
        worker=worker,
        metrics=metrics,
        clock=clock,
        log=structlog.get_logger().bind(component="server"),
        doorbell=doorbell,
        payments_doorbell=payments_doorbell,
        settings=settings,
        body_timeout_seconds=settings.server.body_timeout_seconds,
        public_url=public_url,
        sign_ins=SignInAttempts(clock),
    )
    openapi_url = "/openapi.json" if settings.server.openapi else None
    app = FastAPI(title="billsync", docs_url=None, redoc_url=None, openapi_url=openapi_url)
    app.add_middleware(SecurityHeaders)
    _add_error_handlers(app)

    @app.post("/hooks/{connector}/{firm}", openapi_extra=_WEBHOOK_DOC, response_class=Response)
    async def webhook(connector: str, firm: str, request: Request) -> Response:
        """Receive a vendor webhook delivery."""
        return await hooks.receive(ctx, connector, firm, request)

    @app.post("/ingest/{firm}", openapi_extra=_INGEST_DOC, response_class=JSONResponse)
    async def ingest_batch(firm: str, request: Request) -> JSONResponse:
        """Receive a Standard Webhooks-signed batch of activities."""
        return await ingest.receive(ctx, firm, request)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """The process is alive."""
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", responses={503: {"description": "A firm's database does not answer", **_ERROR}})
    def readyz() -> JSONResponse:
        """Every firm's database answers a trivial query."""
        failing = _unready(ctx)
        if failing:
            return JSONResponse(
                {"error": f"database not answering for firm(s): {', '.join(failing)}", "firms": failing}, 503
            )
        return JSONResponse({"status": "ready", "firms": sorted(ctx.firms)})

    if settings.server.metrics_on_main_listener:

        @app.get("/metrics", response_class=Response)
        def prometheus() -> Response:
            """Prometheus text exposition."""
            return Response(metrics.render(), media_type=metrics.content_type)

    app.include_router(reports.reports_router(ctx), include_in_schema=False)  # /reports: dashboard, review

    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        schema = original_openapi()
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = _ERROR_SCHEMA
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.metrics = metrics  # for tests and embedding code
    return app


def _ingest_keys(firms: Mapping[str, FirmRuntime]) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for firm_id, runtime in firms.items():
        secret = runtime.settings.ingest_secret
        if secret is None:
            continue
        try:
            keys[firm_id] = secret_key(secret.get_secret_value())
        except ConfigError as exc:
            raise ConfigError(f"firm {firm_id}: ingest_secret {exc}") from None  # at start-up, not per request
    return keys


def _unready(ctx: ServerContext) -> list[str]:
    answers: dict[int, bool] = {}  # firms often share one store: ask each database once
    failing: list[str] = []
    for firm_id, runtime in sorted(ctx.firms.items()):
        engine = runtime.store.engine
        if id(engine) not in answers:
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                answers[id(engine)] = True
            except Exception as exc:  # any driver error means "not ready"; its text may hold a URL
                ctx.log.warning("database not ready", firm=firm_id, error=type(exc).__name__)
                answers[id(engine)] = False
        if not answers[id(engine)]:
            failing.append(firm_id)
    return failing


def _add_error_handlers(app: FastAPI) -> None:
    # Every error is {"error": "..."}: no FastAPI "detail", no stack trace.
    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers) if exc.headers else None
        return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=headers)

    async def invalid(_request: Request, _exc: Exception) -> Response:
        return JSONResponse({"error": "invalid request"}, 422)

    async def client_gone(_request: Request, _exc: Exception) -> Response:
        # A client that hung up mid-request is nobody's error: no log line, nobody reads this.
        return JSONResponse({"error": "the client disconnected"}, 400, headers={"Connection": "close"})

    async def unexpected(request: Request, exc: Exception) -> Response:
        structlog.get_logger().error("unhandled error", path=request.url.path, error=type(exc).__name__)
        return JSONResponse({"error": "internal error"}, 500)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(ClientDisconnect, client_gone)
    app.add_exception_handler(Exception, unexpected)
