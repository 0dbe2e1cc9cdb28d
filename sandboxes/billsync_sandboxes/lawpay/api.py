"""The HTTP face of the LawPay sandbox: /v1/... (secret-key Basic auth) and hosted /pages/... (mounted at /lawpay)."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, JSONResponse, Response

from billsync_sandboxes.kit import DroppedConnection, FaultKind, TruncatedResponse, note
from billsync_sandboxes.kit.apps import build_logged_api_app
from billsync_sandboxes.lawpay.auth import basic_user
from billsync_sandboxes.lawpay.errors import GatewayError, stamp

if TYPE_CHECKING:
    from billsync_sandboxes.lawpay.state import LawPaySandbox

Json = dict[str, Any]
DEFAULT_PAGE_SIZE = 20  # docs/vendors/lawpay.md §10


def build_api_app(sandbox: LawPaySandbox) -> FastAPI:
    """Build the app serving the gateway's /v1 API and the merchant's hosted payment pages."""
    app = build_logged_api_app(sandbox.request_log, sandbox.clock)
    api = _Api(sandbox)

    @app.api_route("/v1/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def gateway(path: str, request: Request) -> Response:
        body = await request.body()
        return await run_in_threadpool(api.handle, request, path.strip("/"), body)

    @app.get("/pages/{merchant}/{page}")
    def show_page(merchant: str, page: str, request: Request) -> Response:
        return api.show_page(merchant, page, request)

    @app.post("/pages/{merchant}/{page}")
    async def pay_page(merchant: str, page: str, request: Request) -> Response:
        body = await request.body()
        return await run_in_threadpool(api.pay_page, merchant, page, request, body)

    return app


class _Api:
    def __init__(self, sandbox: LawPaySandbox) -> None:
        self.sandbox = sandbox

    def handle(self, request: Request, path: str, body: bytes) -> Response:
        """Authenticate, maybe inject a fault, route. Faults on writes: see the README."""
        with self.sandbox.lock:
            fault = self.sandbox.faults.pick(request.method, request.url.path, "/v1/" + path)
            if fault is not None:
                note(request.scope, fault=fault.kind.value)
                if fault.kind is FaultKind.RESET:  # dropped before the gateway saw it: nothing done
                    return DroppedConnection(self.sandbox.clock)
                if fault.kind.status is not None:
                    headers = {"Retry-After": str(fault.retry_after)} if fault.kind.status == 429 else {}
                    error = {"messages": [{"code": "server_error", "level": "error", "message": "Try again later"}]}
                    return JSONResponse(error, fault.kind.status, headers=headers)
            try:
                response = self._route(request, path, body)
            except GatewayError as error:
                response = JSONResponse(error.body(), error.status)
            if fault is None:
                return response
            if fault.kind is FaultKind.TIMEOUT:  # the gateway acted; the answer never arrives
                return DroppedConnection(self.sandbox.clock, fault.delay_seconds)
            return TruncatedResponse(response)

    def _route(self, request: Request, path: str, body: bytes) -> Response:
        s = self.sandbox
        method = request.method
        parts = path.split("/")
        if parts == ["tokens"] and method == "POST":  # public key, not the secret key (docs/vendors/lawpay.md §5)
            payload = _payload(body, request)
            public = payload.pop("public_key", None) or _basic_user_or_none(request)
            return JSONResponse(s.create_token(str(public) if public else None, payload))
        mode = s.mode_for(request.headers.get("authorization"))
        note(request.scope, token_id=f"{mode}-key")
        params = request.query_params
        if parts == ["merchant"]:
            if method == "GET":
                return JSONResponse(s.merchant_view(mode))
            if method in ("PUT", "PATCH"):
                s.update_merchant(_payload(body, request))
                return JSONResponse(s.merchant_view(mode))
        if parts in (["cards"], ["banks"]) and method == "POST":
            return JSONResponse(s.save_method(mode, _payload(body, request)))
        if parts == ["charges"] and method == "POST":
            return JSONResponse(s.charge(mode, _payload(body, request)))
        if len(parts) == 3 and parts[0] == "charges" and parts[2] == "refund" and method == "POST":
            return JSONResponse(s.refund(mode, parts[1], _payload(body, request)))
        if parts == ["transactions"] and method == "GET":
            found = s.search(mode, dict(params), params.getlist("qf"))
            return JSONResponse(_page(found, params))
        if len(parts) == 2 and parts[0] == "transactions" and method == "GET":
            return JSONResponse(s.get_transaction(mode, parts[1]))
        if len(parts) == 3 and parts[0] == "transactions" and parts[2] == "void" and method == "POST":
            return JSONResponse(s.void(mode, parts[1], _payload(body, request)))
        if parts == ["recurring", "charges"] and method == "POST":
            return JSONResponse(s.create_recurring(mode, _payload(body, request)))
        if len(parts) == 3 and parts[:2] == ["recurring", "charges"] and method == "GET":
            return JSONResponse(s.render(s.get_recurring(mode, parts[2])))
        if len(parts) == 4 and parts[:2] == ["recurring", "charges"] and parts[3] == "cancel" and method == "POST":
            return JSONResponse(s.cancel_recurring(mode, parts[2]))
        if len(parts) == 4 and parts[:2] == ["recurring", "charges"] and parts[3] == "occurrences":
            return JSONResponse(_page(s.get_recurring(mode, parts[2])["occurrences"], params))
        if parts == ["events"] and method == "GET":
            return JSONResponse(_page(s.list_events(mode, params.get("start_date")), params))
        if len(parts) == 2 and parts[0] == "events" and method == "GET":
            return JSONResponse(s.get_event(mode, parts[1]))
        raise GatewayError(404, "resource_not_found", f"No route for {method} /v1/{path}")

    # -- hosted pages -------------------------------------------------------------------------------

    def show_page(self, merchant: str, page_slug: str, request: Request) -> Response:
        """The pre-filled form (docs/vendors/lawpay.md §15); fields in readOnlyFields cannot be changed."""
        try:
            page = self.sandbox.page(merchant, page_slug)
        except GatewayError as error:
            return JSONResponse(error.body(), error.status)
        params = request.query_params
        locked = set(filter(None, (params.get("readOnlyFields") or "").split(",")))
        amount = params.get("amount") or ""
        dollars = f"{int(amount) / 100:.2f}" if amount.isdigit() else ""
        rows = [
            _field("amount", amount, "amount" in locked, label=f"Amount (cents) ${dollars}"),
            _field("reference", params.get("reference") or "", "reference" in locked),
            *(_field(name, params.get(name) or "", name in locked) for name in ("name", "email")),
            _field("number", "", False, label="Card number"),
            _field("exp_month", "", False),
            _field("exp_year", "", False),
            _field("routing_number", "", False, label="or bank routing number"),
            _field("account_number", "", False),
        ]
        title = html.escape(str(page.get("title") or page["slug"]))
        query = html.escape(str(request.url.query))
        form = f'<form method="post" action="?{query}">{"".join(rows)}<button>Pay</button></form>'
        return HTMLResponse(f"<html><body><h1>{title}</h1>{form}</body></html>")

    def pay_page(self, merchant: str, page_slug: str, request: Request, body: bytes) -> Response:
        """The payer submits the page; read-only fields come from the link, whatever the form sends."""
        with self.sandbox.lock:
            try:
                page = self.sandbox.page(merchant, page_slug)
                fields = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                params = request.query_params
                for name in filter(None, (params.get("readOnlyFields") or "").split(",")):
                    if params.get(name) is not None:
                        fields[name] = params[name]
                tx = self.sandbox.pay_page(page, fields)
            except GatewayError as error:
                if "application/json" in request.headers.get("accept", ""):
                    return JSONResponse(error.body(), error.status)
                return HTMLResponse(f"<html><body><p>Payment failed: {html.escape(error.code)}</p></body></html>", 422)
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(tx)
        reference = html.escape(str(tx["reference"]))
        receipt = f"Paid ${tx['amount'] / 100:.2f}, reference {reference}, at {stamp(self.sandbox.clock.now())}"
        return HTMLResponse(f"<html><body><p>{receipt}</p><p>Transaction {tx['id']}</p></body></html>")


def _field(name: str, value: str, locked: bool, *, label: str | None = None) -> str:
    readonly = " readonly" if locked else ""
    return f'<label>{html.escape(label or name)} <input name="{name}" value="{html.escape(value)}"{readonly}></label>'


def _page(records: list[Json], params: Mapping[str, str]) -> Json:
    page = int(params.get("page") or 1)
    size = int(params.get("page_size") or DEFAULT_PAGE_SIZE)
    if page < 1 or size < 1:
        raise GatewayError(400, "invalid_data", "page and page_size must be positive")
    start = (page - 1) * size
    return {"page": page, "page_size": size, "total_entries": len(records), "results": records[start : start + size]}


def _payload(body: bytes, request: Request) -> Json:
    if not body:
        return {}
    if "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
        return {k: v[0] for k, v in parse_qs(body.decode()).items()}
    try:
        payload = json.loads(body)
    except ValueError:
        raise GatewayError(400, "invalid_data", "The body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise GatewayError(400, "invalid_data", "A JSON object is required")
    return payload


def _basic_user_or_none(request: Request) -> str | None:
    return basic_user(request.headers.get("authorization"))
