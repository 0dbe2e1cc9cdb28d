"""The Microsoft 365 sandbox's admin API (mounted at /_sandbox/microsoft365): what people and Microsoft do."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.responses import JSONResponse, Response

from billsync_sandboxes.kit.admin import JsonBody
from billsync_sandboxes.kit.apps import build_control_app
from billsync_sandboxes.microsoft365.api import public_subscription
from billsync_sandboxes.microsoft365.errors import GraphError

if TYPE_CHECKING:
    from billsync_sandboxes.microsoft365.state import Microsoft365Sandbox


def build_admin_app(sandbox: Microsoft365Sandbox) -> FastAPI:
    """What people and Microsoft do: add mail and meetings, end calls, evict sync state, lifecycle events."""
    app = build_control_app(sandbox.faults, sandbox.request_log)

    def guarded(call: Callable[[], Any]) -> Response:
        try:
            result = call()
        except GraphError as exc:
            return JSONResponse(exc.body(sandbox.clock.now()), status_code=exc.status)
        return JSONResponse(result if result is not None else {"ok": True})

    @app.post("/events/{mailbox}")
    def add_event(mailbox: str, payload: JsonBody) -> Response:
        return guarded(lambda: sandbox.put("events", mailbox, payload))

    @app.delete("/events/{mailbox}/{item_id}")
    def delete_event(mailbox: str, item_id: str) -> Response:
        return guarded(lambda: sandbox.remove("events", mailbox, item_id))

    @app.post("/messages/{mailbox}")
    def add_message(mailbox: str, payload: JsonBody) -> Response:
        return guarded(lambda: sandbox.put("messages", mailbox, payload))

    @app.post("/callRecords")
    def add_call_record(payload: JsonBody) -> Response:
        return guarded(lambda: sandbox.put_call_record(payload))

    @app.post("/delta/expire")
    def expire(payload: JsonBody) -> Response:
        return guarded(lambda: sandbox.expire_delta_tokens(payload.get("mailbox")))

    @app.get("/subscriptions")
    def subscriptions() -> Response:
        return guarded(lambda: [public_subscription(s) for s in sandbox.live_subscriptions()])

    @app.post("/subscriptions/{subscription_id}/lifecycle")
    def lifecycle(subscription_id: str, payload: JsonBody) -> Response:
        return guarded(lambda: {"delivered": sandbox.lifecycle(subscription_id, str(payload.get("event")))})

    @app.post("/consent/revoke")
    def revoke() -> Response:
        sandbox.revoked = True
        return JSONResponse({"ok": True})

    @app.post("/consent/grant")
    def grant() -> Response:
        sandbox.revoked = False
        return JSONResponse({"ok": True})

    return app
