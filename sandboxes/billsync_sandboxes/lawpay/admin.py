"""The LawPay sandbox's admin API (mounted at /_sandbox/lawpay): what happens at the gateway later, and faults."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.responses import JSONResponse, Response

from billsync_sandboxes.kit.admin import OptionalJsonBody
from billsync_sandboxes.kit.apps import build_control_app
from billsync_sandboxes.lawpay.errors import GatewayError, stamp

if TYPE_CHECKING:
    from billsync_sandboxes.lawpay.state import LawPaySandbox


def build_admin_app(sandbox: LawPaySandbox) -> FastAPI:
    """Build the admin app; it is not authenticated or fault-injected."""
    app = build_control_app(sandbox.faults, sandbox.request_log, vendor_error=GatewayError)

    @app.exception_handler(KeyError)
    def missing(_: object, error: Exception) -> Response:
        return JSONResponse({"message": f"no such record: {error}"}, 404)

    @app.post("/capture")
    def capture() -> Response:
        """The daily auto-capture runs: authorized transactions settle."""
        with sandbox.lock:
            return JSONResponse({"completed": sandbox.capture()})

    @app.post("/recurring/run")
    def run_recurring(payload: OptionalJsonBody = None) -> Response:
        """Occurrences due by today (or by {"through": "YYYY-MM-DD"}) are charged."""
        through = (payload or {}).get("through")
        with sandbox.lock:
            ran = sandbox.run_recurring(date.fromisoformat(through) if through else None)
        return JSONResponse({"occurrences": ran})

    @app.post("/transactions/{transaction_id}/reverse")
    def reverse(transaction_id: str, payload: OptionalJsonBody = None) -> Response:
        """A chargeback or eCheck return after settlement."""
        with sandbox.lock:
            return JSONResponse(sandbox.reverse(transaction_id, str((payload or {}).get("code") or "chargeback")))

    @app.post("/accounts/{account_id}/trust")
    def flag_trust(account_id: str, payload: OptionalJsonBody = None) -> Response:
        """The merchant's account set up in LawPay as a trust (IOLTA) account or not, e.g. by its support."""
        with sandbox.lock:
            account = sandbox.account(str((payload or {}).get("mode") or "test"), account_id)
            account["trust_account"] = bool((payload or {}).get("trust_account", True))
            return JSONResponse(dict(account))

    @app.post("/saved_methods")
    def save_method(payload: OptionalJsonBody = None) -> Response:
        """The firm saves a client's card or bank in LawPay's UI (no token round trip)."""
        body = payload or {}
        mode = str(body.pop("mode", "test"))
        with sandbox.lock:
            token = sandbox.create_token(sandbox.public_key, body)
            return JSONResponse(sandbox.save_method(mode, {"token_id": token["id"]}), 201)

    @app.post("/saved_methods/{method_id}/expiring")
    def expiring(method_id: str) -> Response:
        """The 1st of the card's expiry month: expiring events for it and its plans."""
        with sandbox.lock:
            return JSONResponse({"plans": sandbox.expiring(method_id)})

    @app.get("/transactions")
    def transactions() -> Response:
        with sandbox.lock:
            return JSONResponse([sandbox.render(t) | {"mode": t["mode"]} for t in sandbox.transactions.values()])

    @app.get("/events")
    def events() -> Response:
        with sandbox.lock:
            return JSONResponse(list(sandbox.events))

    @app.get("/clock")
    def clock() -> Response:
        return JSONResponse({"now": stamp(sandbox.clock.now())})

    return app
