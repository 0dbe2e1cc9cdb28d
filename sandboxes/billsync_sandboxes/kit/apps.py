"""The two ASGI apps every vendor's sandbox builds, wired the same way for every vendor.

The API app logs each request (billsync_sandboxes.kit.requestlog) and publishes no docs of its own; the
admin app answers the vendor's own errors in the vendor's shape and carries the shared control
routes (faults, request log). What a vendor does differently is added to the returned app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from billsync_sandboxes.kit.admin import JsonBody, add_control_routes
from billsync_sandboxes.kit.clock import Clock
from billsync_sandboxes.kit.faults import FaultInjector
from billsync_sandboxes.kit.ratelimit import FixedWindowRateLimiter
from billsync_sandboxes.kit.requestlog import RequestLog, RequestLogMiddleware


@runtime_checkable
class VendorError(Protocol):
    """An error a sandbox answers with: an HTTP status and the vendor's body for it."""

    status: int

    def body(self) -> Any:
        """The JSON body, in the vendor's documented error shape."""
        ...


def build_logged_api_app(request_log: RequestLog, clock: Clock) -> FastAPI:
    """An API app whose every request lands in request_log; no OpenAPI or docs pages (vendors serve none)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.add_middleware(RequestLogMiddleware, log=request_log, clock=clock)
    return app


def build_control_app(
    faults: FaultInjector,
    request_log: RequestLog,
    *,
    vendor_error: type[Exception] | None = None,
    rate_limiter: FixedWindowRateLimiter | None = None,
    rate_limit_field: str = "per_window",
    invalid_input: Callable[[str], Any] | None = None,
) -> FastAPI:
    """An admin app with the shared control routes; a raised vendor_error is answered in its own shape.

    With invalid_input, a ValueError (bad input to the admin API) is answered 422 with the body
    invalid_input makes of its message, in the vendor's error shape.

    With a rate_limiter, `PUT /rate_limit {rate_limit_field: n}` sets its limit and echoes it back
    under the same field (the field names the vendor's window: "per_minute", "per_window").
    """
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    if vendor_error is not None:

        @app.exception_handler(vendor_error)
        def answer_vendor_error(_: Request, error: Exception) -> Response:
            assert isinstance(error, VendorError)
            return JSONResponse(error.body(), status_code=error.status)

    if invalid_input is not None:
        describe = invalid_input

        @app.exception_handler(ValueError)
        def answer_invalid_input(_: Request, error: Exception) -> Response:
            return JSONResponse(describe(str(error)), 422)

    add_control_routes(app, faults=faults, request_log=request_log)
    if rate_limiter is not None:
        limiter = rate_limiter

        @app.put("/rate_limit")
        def set_rate_limit(payload: JsonBody) -> Response:
            limiter.set_limit(int(payload[rate_limit_field]))
            return JSONResponse({rate_limit_field: limiter.limit})

    return app
