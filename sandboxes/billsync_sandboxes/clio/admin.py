"""The sandbox's own admin API (mounted at /_sandbox/clio): seed, act as a person, inject faults."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, Response

from billsync_sandboxes.clio.errors import ClioError
from billsync_sandboxes.kit.admin import JsonBody, OptionalJsonBody
from billsync_sandboxes.kit.apps import build_control_app

if TYPE_CHECKING:
    from billsync_sandboxes.clio.state import ClioSandbox


def build_admin_app(sandbox: ClioSandbox) -> FastAPI:
    """Build the admin app; it is not rate-limited, authenticated or fault-injected."""
    app = build_control_app(
        sandbox.faults,
        sandbox.request_log,
        vendor_error=ClioError,
        rate_limiter=sandbox.rate_limiter,
        rate_limit_field="per_minute",
        invalid_input=lambda message: {"error": {"type": "Invalid", "message": message}},
    )

    def flushing(body: Any, status: int = 200) -> Response:
        # Webhooks fire after the answer, as they would after a click in Clio's UI.
        return JSONResponse(body, status, background=BackgroundTask(sandbox.flush_webhooks))

    @app.delete("/requests")
    def clear_requests() -> Response:
        sandbox.request_log.clear()
        return Response(status_code=204)

    @app.get("/deliveries")
    def get_deliveries() -> Response:
        with sandbox.lock:
            return JSONResponse(list(sandbox.webhooks.deliveries))

    @app.post("/webhooks/flush")
    def flush() -> Response:
        return JSONResponse({"attempts": sandbox.flush_webhooks()})

    @app.post("/tokens")
    def mint_token(payload: OptionalJsonBody = None) -> Response:
        user_id = (payload or {}).get("user_id")
        return JSONResponse(sandbox.issue_token(int(user_id) if user_id is not None else None))

    @app.post("/bills/generate")
    def generate(payload: JsonBody) -> Response:
        if "matter_id" not in payload:
            raise ValueError("matter_id is required")
        bill = sandbox.generate_bill(
            payload["matter_id"],
            state=str(payload.get("state", "draft")),
            issued_at=payload.get("issued_at"),
            due_at=payload.get("due_at"),
            activity_ids=payload.get("activity_ids"),
        )
        return flushing(bill, 201)

    @app.get("/{collection}")
    def list_records(collection: str) -> Response:
        return JSONResponse(sandbox.records(collection))

    @app.post("/{collection}")
    def add_record(collection: str, payload: JsonBody) -> Response:
        return flushing(sandbox.add(collection, payload), 201)

    @app.get("/{collection}/{record_id}")
    def get_record(collection: str, record_id: str) -> Response:
        with sandbox.lock:
            found = [r for r in sandbox.records(collection) if str(r["id"]) == record_id]
        if not found:
            return JSONResponse({"error": {"type": "NotFound", "message": "no such record"}}, 404)
        return JSONResponse(found[0])

    @app.patch("/{collection}/{record_id}")
    def update_record(
        collection: str,
        record_id: str,
        payload: JsonBody,
    ) -> Response:
        return flushing(sandbox.update(collection, record_id, payload))

    @app.delete("/{collection}/{record_id}")
    def delete_record(collection: str, record_id: str) -> Response:
        sandbox.delete(collection, record_id)
        return Response(status_code=204, background=BackgroundTask(sandbox.flush_webhooks))

    return app
