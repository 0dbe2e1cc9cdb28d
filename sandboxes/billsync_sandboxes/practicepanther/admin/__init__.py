"""The sandbox's own admin API (mounted at /_sandbox/practicepanther): seed, act as a person, faults."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.responses import JSONResponse, Response

from billsync_sandboxes.kit.admin import JsonBody, OptionalJsonBody
from billsync_sandboxes.kit.apps import build_control_app
from billsync_sandboxes.practicepanther.admin.billing import generate_invoice, record_payment
from billsync_sandboxes.practicepanther.errors import PracticePantherError

if TYPE_CHECKING:
    from billsync_sandboxes.practicepanther.state import PracticePantherSandbox


def build_admin_app(sandbox: PracticePantherSandbox) -> FastAPI:
    """Build the admin app; it is not rate-limited, authenticated or fault-injected."""
    app = build_control_app(
        sandbox.faults,
        sandbox.request_log,
        vendor_error=PracticePantherError,
        rate_limiter=sandbox.rate_limiter,
        rate_limit_field="per_window",
        invalid_input=lambda message: {"message": message},
    )

    @app.delete("/requests")
    def clear_requests() -> Response:
        sandbox.request_log.clear()
        return Response(status_code=204)

    @app.post("/tokens")
    def mint_token(payload: OptionalJsonBody = None) -> Response:
        user_id = (payload or {}).get("user_id")
        return JSONResponse(sandbox.issue_token(str(user_id) if user_id is not None else None))

    @app.post("/tokens/revoke")
    def revoke_tokens() -> Response:
        with sandbox.lock:
            sandbox.tokens.revoke_all()
        return Response(status_code=204)

    @app.post("/actions/generate_invoice")
    def invoice_matter(payload: JsonBody) -> Response:
        issued = payload.get("issue_date")
        invoice = generate_invoice(
            sandbox,
            str(payload["matter_id"]),
            issue_date=date.fromisoformat(str(issued)) if issued else None,
            due_days=int(payload.get("due_days", 30)),
        )
        return JSONResponse(invoice, 201)

    @app.post("/actions/record_payment")
    def receive_payment(payload: JsonBody) -> Response:
        return JSONResponse(record_payment(sandbox, payload), 201)

    @app.get("/{collection}")
    def list_records(collection: str) -> Response:
        return JSONResponse(sandbox.records(collection))

    @app.post("/{collection}")
    def add_record(collection: str, payload: JsonBody) -> Response:
        return JSONResponse(sandbox.add(collection, payload), 201)

    @app.get("/{collection}/{record_id}")
    def get_record(collection: str, record_id: str) -> Response:
        found = [r for r in sandbox.records(collection) if str(r["id"]) == record_id.lower()]
        if not found:
            return JSONResponse({"message": "no such record"}, 404)
        return JSONResponse(found[0])

    @app.patch("/{collection}/{record_id}")
    def update_record(collection: str, record_id: str, payload: JsonBody) -> Response:
        return JSONResponse(sandbox.update(collection, record_id, payload))

    @app.delete("/{collection}/{record_id}")
    def delete_record(collection: str, record_id: str) -> Response:
        sandbox.delete(collection, record_id)
        return Response(status_code=204)

    return app
