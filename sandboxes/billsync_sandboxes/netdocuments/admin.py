"""The sandbox's own admin API (mounted at /_sandbox/netdocuments): act as a person, tokens, limits, faults."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.responses import JSONResponse, Response

from billsync_sandboxes.kit import parse_timestamp
from billsync_sandboxes.kit.admin import JsonBody, OptionalJsonBody
from billsync_sandboxes.kit.apps import build_control_app
from billsync_sandboxes.netdocuments.errors import NetDocumentsError

if TYPE_CHECKING:
    from billsync_sandboxes.netdocuments.state import NetDocumentsSandbox


def build_admin_app(sandbox: NetDocumentsSandbox) -> FastAPI:
    """Build the admin app; it is not rate-limited, authenticated or fault-injected."""
    app = build_control_app(
        sandbox.faults,
        sandbox.request_log,
        vendor_error=NetDocumentsError,
        rate_limiter=sandbox.rate_limiter,
        rate_limit_field="per_window",
        invalid_input=lambda message: {"error": "invalid", "message": message},
    )

    @app.put("/log_row_cap")
    def set_log_row_cap(payload: JsonBody) -> Response:
        rows = int(payload["rows"])
        if rows < 1:
            raise ValueError("rows must be at least 1")
        sandbox.log_row_cap = rows
        return JSONResponse({"rows": rows})

    @app.post("/tokens")
    def mint_token(payload: OptionalJsonBody = None) -> Response:
        return JSONResponse(sandbox.issue_service_token(str((payload or {}).get("scope", "full"))))

    @app.post("/tokens/revoke")
    def revoke_tokens() -> Response:
        with sandbox.lock:
            sandbox.tokens.revoke_all()
        return Response(status_code=204)

    @app.get("/users")
    def list_users() -> Response:
        return JSONResponse(sandbox.users)

    @app.get("/documents")
    def list_documents() -> Response:
        with sandbox.lock:
            return JSONResponse(list(sandbox.documents.values()))

    @app.post("/documents")
    def add_document(payload: JsonBody) -> Response:
        return JSONResponse(sandbox.add_document(payload), 201)

    @app.patch("/documents/{doc_id}")
    def update_document(doc_id: str, payload: JsonBody) -> Response:
        return JSONResponse(sandbox.update_profile(doc_id, payload))

    @app.get("/log")
    def get_log() -> Response:
        with sandbox.lock:
            return JSONResponse(sandbox.log)

    @app.post("/log")
    def add_log_entry(payload: JsonBody) -> Response:
        return JSONResponse(sandbox.append_log(payload), 201)

    @app.post("/act")
    def act(payload: JsonBody) -> Response:
        """{"user": id or e-mail, "action": "Edit", "document": "4824-...", "at"?: ISO time}."""
        at: datetime | None = parse_timestamp(payload["at"]) if payload.get("at") else None
        entry = sandbox.act(str(payload["user"]), str(payload["action"]), str(payload["document"]), at)
        return JSONResponse(entry, 201)

    return app
