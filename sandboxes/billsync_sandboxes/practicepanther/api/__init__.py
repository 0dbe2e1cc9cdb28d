"""The HTTP face of the PracticePanther sandbox: /oauth/* and /api/v2/* (mounted at /practicepanther)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from billsync_sandboxes.kit import (
    FaultKind,
    FaultRule,
    Record,
    TruncatedResponse,
    connection_fault,
    note,
    parse_timestamp,
)
from billsync_sandboxes.kit.apps import build_logged_api_app
from billsync_sandboxes.practicepanther.api.resources import BY_PATH, USERS, Resource, field_values, has_zone
from billsync_sandboxes.practicepanther.errors import OAuthError, PracticePantherError

if TYPE_CHECKING:
    from billsync_sandboxes.practicepanther.state import PracticePantherSandbox

API_PREFIX = "/api/v2/"
_TIME_PARAMS = ("created_since", "updated_since", "date_from", "date_to", "due_date_from", "due_date_to")
# docs/vendors/practicepanther.md §4: $select, $count and $inlinecount are UNCONFIRMED, so the sandbox refuses them.
_UNCONFIRMED_ODATA = ("$select", "$count", "$inlinecount")


def build_api_app(sandbox: PracticePantherSandbox) -> FastAPI:
    """Build the app serving PP's OAuth and REST endpoints."""
    app = build_logged_api_app(sandbox.request_log, sandbox.clock)
    api = _Api(sandbox)

    # docs/vendors/practicepanther.md §2: /oauth/... and /OAuth/... both work; OAuth paths are case-insensitive.
    @app.api_route("/{prefix}/{action}", methods=["GET", "POST"])
    async def oauth(prefix: str, action: str, request: Request) -> Response:
        body = await request.body()
        if prefix.lower() != "oauth":
            return JSONResponse({"message": "No HTTP resource was found that matches the request URI."}, 404)
        if action.lower() == "authorize" and request.method == "GET":
            return api.authorize(request)
        if action.lower() == "token" and request.method == "POST":
            return await run_in_threadpool(api.token, request, body)
        return JSONResponse({"message": "No HTTP resource was found that matches the request URI."}, 404)

    @app.api_route("/api/v2/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def rest(path: str, request: Request) -> Response:
        body = await request.body()
        return await run_in_threadpool(api.handle, request, path, body)

    return app


class _Api:
    """Authentication, rate limiting, faults and routing for /api/v2."""

    def __init__(self, sandbox: PracticePantherSandbox) -> None:
        self.sandbox = sandbox

    # -- OAuth (docs/vendors/practicepanther.md §2) --------------------------------------------

    def authorize(self, request: Request) -> Response:
        """Auto-approve: all four parameters are required; redirect back with code and state."""
        params = request.query_params
        redirect_uri, state = params.get("redirect_uri"), params.get("state")
        if params.get("client_id") != self.sandbox.client_id or not redirect_uri:
            return _oauth_error(OAuthError(400, "invalid_client"))
        if params.get("response_type") != "code" or not state:
            return _oauth_error(OAuthError(400, "invalid_request"))
        with self.sandbox.lock:
            try:
                code = self.sandbox.tokens.authorize(self.sandbox.authorizing_user_id(), redirect_uri)
            except PracticePantherError as error:  # e.g. a seed without users: say so, not a bare 500
                return JSONResponse(error.body(), status_code=error.status)
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode({'code': code, 'state': state})}", 302)

    def token(self, request: Request, body: bytes) -> Response:
        """POST /oauth/token, form-encoded: authorization_code and refresh_token grants."""
        form = {k: v[0] for k, v in parse_qs(body.decode("latin-1")).items()}
        client_ok = hmac.compare_digest(form.get("client_id", ""), self.sandbox.client_id)
        secret_ok = hmac.compare_digest(form.get("client_secret", ""), self.sandbox.client_secret)
        try:
            if not (client_ok and secret_ok):
                raise OAuthError(400, "invalid_client")
            with self.sandbox.lock:
                grant = form.get("grant_type")
                if grant == "authorization_code":
                    issued = self.sandbox.tokens.exchange(form.get("code", ""), form.get("redirect_uri"))
                elif grant == "refresh_token":
                    issued = self.sandbox.tokens.refresh(form.get("refresh_token", ""))
                else:
                    raise OAuthError(400, "unsupported_grant_type")
                note(request.scope, token_id=issued.token_id)
                return JSONResponse(self.sandbox.tokens.response(issued))
        except OAuthError as error:
            return _oauth_error(error)

    # -- /api/v2 -----------------------------------------------------------------------------------

    def handle(self, request: Request, path: str, body: bytes) -> Response:
        """Authenticate, rate-limit, maybe inject a fault, then route."""
        with self.sandbox.lock:
            try:
                token = self.sandbox.tokens.authenticate(request.headers.get("authorization"))
            except PracticePantherError as error:
                return JSONResponse(error.body(), status_code=error.status)
            note(request.scope, token_id=token.token_id)
            decision = self.sandbox.rate_limiter.hit(token.token_id)
            if not decision.allowed:
                # docs/vendors/practicepanther.md §5: the limit and its headers are UNCONFIRMED; only Retry-After is
                # sent.
                return JSONResponse(
                    {"message": "API calls quota exceeded."},
                    status_code=429,
                    headers={"Retry-After": str(decision.retry_after)},
                )
            fault = self.sandbox.faults.pick(request.method, request.url.path, API_PREFIX + path)
            if fault is not None:
                note(request.scope, fault=fault.kind.value)
                if fault.kind is not FaultKind.TRUNCATE:
                    return self._fault_response(fault)
            try:
                response = self._route(request, path.strip("/"), body, token.user_id)
            except PracticePantherError as error:
                response = JSONResponse(error.body(), status_code=error.status)
            if fault is not None:  # only TRUNCATE gets here: it needs the real answer
                return TruncatedResponse(response)
            return response

    def _fault_response(self, fault: FaultRule) -> Response:
        dropped = connection_fault(fault, self.sandbox.clock)
        if dropped is not None:
            return dropped
        status = fault.kind.status or 500
        headers = {"Retry-After": str(fault.retry_after)} if status == 429 else {}
        return JSONResponse({"message": "An error has occurred."}, status_code=status, headers=headers)

    def _route(self, request: Request, path: str, body: bytes, user_id: str) -> Response:
        segments = path.split("/") if path else []
        method = request.method
        if segments == ["users", "me"] and method == "GET":
            return self._json(self.sandbox.existing(USERS, user_id))
        resource = BY_PATH.get(segments[0]) if segments else None  # exact casing (docs/vendors/practicepanther.md §3)
        if resource is None or len(segments) > 2:
            raise PracticePantherError(
                404, f"No HTTP resource was found that matches the request URI '/api/v2/{path}'."
            )
        if len(segments) == 2:
            if method != "GET":
                raise _unsupported(method)
            return self._json(self.sandbox.existing(resource, segments[1]))
        if method == "GET":
            return self._list(request, resource)
        if method == "DELETE":
            self.sandbox.remove(resource, _query_id(request))
            return Response(status_code=204)
        if method in ("POST", "PUT") and resource.writable:
            payload = _payload(body)
            if method == "POST":
                return self._json(self.sandbox.create(resource, payload))
            return self._json(self.sandbox.replace(resource, _query_id(request), payload))
        raise _unsupported(method)

    def _json(self, record: Record) -> Response:
        return JSONResponse(self.sandbox.render(record))

    def _list(self, request: Request, resource: Resource) -> Response:
        params = request.query_params
        for name in _UNCONFIRMED_ODATA:
            if name in params:
                raise PracticePantherError(400, f"The query parameter {name} is not supported.")
        if "$filter" in params:
            raise PracticePantherError(501, "The sandbox does not simulate $filter; use the declared query filters.")
        records = list(self.sandbox.collections[resource.name].all())
        if resource.filterable:
            records = [r for r in records if _matches(resource, r, params)]
        records = _ordered(records, params.get("$orderby"))
        skip, top = _count(params, "$skip") or 0, _count(params, "$top")
        page = records[skip:] if top is None else records[skip : skip + top]
        return JSONResponse([self.sandbox.render(r) for r in page])


def _matches(resource: Resource, record: Record, params: Mapping[str, str]) -> bool:
    times = {name: _moment(params[name], name) for name in _TIME_PARAMS if params.get(name)}
    try:
        # updated_since and created_since match strictly after the given time (conservative).
        if "updated_since" in times and not _at(record.get("updated_at")) > times["updated_since"]:
            return False
        if "created_since" in times and not _at(record.get("created_at")) > times["created_since"]:
            return False
        if resource.date_field is not None:
            when = record.get(resource.date_field)
            if "date_from" in times and not _at(when) >= times["date_from"]:
                return False
            if "date_to" in times and not _at(when) <= times["date_to"]:
                return False
    except ValueError:
        return False
    for param, path in resource.filters.items():
        wanted = params.get(param)
        if wanted and wanted.lower() not in {str(v).lower() for v in field_values(record, path) if v is not None}:
            return False
    return True


def _moment(text: str, name: str) -> datetime:
    # docs/vendors/practicepanther.md §3: datetime literals without a zone give 400 (observed for $filter; the sandbox
    # applies it to every datetime parameter, the conservative reading).
    if not has_zone(text):
        raise PracticePantherError(400, "The request is invalid.", {name: [f"{name} must carry a time zone."]})
    try:
        return parse_timestamp(text)
    except ValueError:
        raise PracticePantherError(400, "The request is invalid.", {name: [f"{name} is not a datetime."]}) from None


def _at(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("no timestamp")
    return parse_timestamp(value)


def _ordered(records: list[Record], orderby: str | None) -> list[Record]:
    if not orderby:
        # Without $orderby the order is unspecified (docs/vendors/practicepanther.md §4): the sandbox scrambles it.
        return sorted(records, key=lambda r: hashlib.sha256(str(r["id"]).encode()).hexdigest())
    result = list(records)
    clauses = [c.split() for c in orderby.split(",") if c.strip()]
    for clause in reversed(clauses):
        name = clause[0]
        direction = clause[1].lower() if len(clause) > 1 else "asc"
        if direction not in ("asc", "desc") or len(clause) > 2:
            raise PracticePantherError(400, f"The $orderby clause '{' '.join(clause)}' is invalid.")
        if result and not any(name in r for r in result):
            raise PracticePantherError(400, f"Could not find a property named '{name}'.")
        result.sort(key=_by(name), reverse=direction == "desc")
    return result


def _by(name: str) -> Callable[[Record], tuple[int, float, str]]:
    return lambda record: _sort_key(record.get(name))


def _sort_key(value: Any) -> tuple[int, float, str]:
    if value is None:
        return (0, 0.0, "")
    if isinstance(value, bool | int | float):
        return (1, float(value), "")
    return (2, 0.0, str(value))


def _count(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise PracticePantherError(400, f"Invalid value '{raw}' for {name}.")
    return int(raw)


def _query_id(request: Request) -> str:
    record_id = request.query_params.get("id")
    if not record_id:
        raise PracticePantherError(400, "The request is invalid.", {"id": ["The id query parameter is required."]})
    return record_id.lower()


def _payload(body: bytes) -> Mapping[str, Any]:
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        raise PracticePantherError(400, "The request is invalid.", {"value": ["The body is not valid JSON."]}) from None
    if not isinstance(payload, dict):
        raise PracticePantherError(400, "The request is invalid.", {"value": ["A JSON object is required."]})
    return payload


def _unsupported(method: str) -> PracticePantherError:
    # ASP.NET Web API's answer for a route without that verb (invoices and payments,
    # docs/vendors/practicepanther.md §11).
    return PracticePantherError(405, f"The requested resource does not support http method '{method}'.")


def _oauth_error(error: OAuthError) -> Response:
    return JSONResponse(error.body(), status_code=error.status)
